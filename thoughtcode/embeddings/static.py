"""Static (model2vec) sentence embeddings from a model folder shipped inside the package.

Why static: thoughtcode must embed whole corpora offline, on a laptop CPU, without torch. A
model2vec model is a token-vector table distilled from a sentence-transformer (here
all-MiniLM-L6-v2, see ``models/minilm-static/README.md`` and ``scripts/distill_embedder.py``);
encoding is tokenise + average, tens of thousands of texts per second.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from model2vec import StaticModel

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_STATIC_PATH = MODELS_DIR / "minilm-static"
DEFAULT_STATIC_NAME = "minilm-static"

# Files StaticModel.from_pretrained reads from a model2vec folder.
_REQUIRED_FILES = ("model.safetensors", "tokenizer.json", "config.json")


@runtime_checkable
class Embedder(Protocol):
    """What analyses need from an embedding model, whichever backend provides it."""

    @property
    def name(self) -> str:
        """Stable identifier of the model, recorded with results for provenance."""
        ...

    @property
    def dim(self) -> int:
        """Number of columns of :meth:`encode`'s output."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``: float32 array of shape ``(len(texts), dim)`` with L2-normalised rows."""
        ...


def check_texts(texts: Sequence[str]) -> list[str]:
    """Reject a bare string (a common slip that would embed its characters one by one)."""
    if isinstance(texts, str):
        raise TypeError("encode() takes a sequence of texts, not a single str; wrap it in a list")
    return list(texts)


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Float32 copy with unit-length rows; all-zero rows stay zero instead of becoming NaN."""
    out = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)


_CACHE: dict[Path, StaticModel] = {}
_CACHE_LOCK = threading.Lock()


def _load_static_model(path: Path) -> StaticModel:
    """Load a model2vec folder once per process.

    The path is checked first: model2vec falls back to downloading from a model hub when a
    path does not exist, and this loader must never touch the network.
    """
    missing = [f for f in _REQUIRED_FILES if not (path / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{path} is not a model2vec model folder (missing: {', '.join(missing)})")
    with _CACHE_LOCK:
        model = _CACHE.get(path)
        if model is None:
            from model2vec import StaticModel

            model = StaticModel.from_pretrained(path, force_download=False)
            _CACHE[path] = model
        return model


class StaticEmbedder:
    """Embedder backed by a local model2vec folder (default: the shipped ``minilm-static``).

    The model is loaded on first use and shared by all instances with the same path.
    Texts with no known token (e.g. the empty string) get an all-zero row.
    """

    def __init__(
        self, path: str | Path | None = None, *, batch_size: int = 1024, max_length: int | None = 512
    ):
        self.path = Path(path).expanduser().resolve() if path is not None else DEFAULT_STATIC_PATH
        self.batch_size = batch_size
        # Tokens per text that are averaged; None means the whole text.
        self.max_length = max_length
        self._name = DEFAULT_STATIC_NAME if self.path == DEFAULT_STATIC_PATH else f"model2vec:{self.path}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def model(self) -> StaticModel:
        return _load_static_model(self.path)

    @property
    def dim(self) -> int:
        return int(self.model.dim)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        items = check_texts(texts)
        model = self.model
        if not items:
            return np.zeros((0, model.dim), dtype=np.float32)
        # Normalise here rather than in model2vec: a float16 model would return float16 rows.
        raw = model.encode(
            items,
            batch_size=self.batch_size,
            max_length=self.max_length,
            normalize=False,
            use_multiprocessing=False,
        )
        return l2_normalise(raw)

    def __repr__(self) -> str:
        return f"StaticEmbedder(path={str(self.path)!r})"
