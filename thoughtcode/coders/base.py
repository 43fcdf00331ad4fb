"""What every coder is: something that turns units into label records under one codebook.

A coder never writes files or computes agreement; the runner (``coders.run``) does the bookkeeping
(output, resume, cache, summary) for every coder alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from thoughtcode.corpus.units import Unit
from thoughtcode.labels import LabelRecord
from thoughtcode.taxonomy import Codebook


@runtime_checkable
class Coder(Protocol):
    """A coder labels units with the categories of one codebook.

    ``name`` is the coder spec as the user wrote it (``local``, ``openai:gpt-4o-mini``, ...), ``model`` the
    model identifier recorded in provenance, ``settings`` the parameters that change its output.

    A coder whose model depends on the codebook (the local coder: a trained model or zero-shot) may also
    define ``model_for(codebook) -> str | None``, the model its labels of that codebook will carry; the runner
    uses it (else ``model``) to refuse resuming into an output file labelled by another model.
    """

    name: str
    model: str | None
    settings: dict[str, Any]

    def code(self, units: Sequence[Unit], codebook: Codebook, scheme: str) -> list[LabelRecord]:
        """One record per unit, in the order given; failures are records with status 'failed'."""
        ...
