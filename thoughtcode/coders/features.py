"""Features of a thought for the local coder: embeddings of its text and context, position, lexical cues.

:class:`ThoughtFeaturizer` is a scikit-learn transformer. It takes a list of
:class:`~thoughtcode.corpus.units.ThoughtUnit` (or the DataFrame of ``units_frame``) and returns a dense
float32 matrix whose columns are, in order:

* ``text``: the embedding of the thought text (what the user wrote about the message),
* ``message``: the embedding of the message the thought is attached to,
* ``context``: the embedding of a neighbouring message; ``"auto"`` picks the most telling one per kind:
  for a reason the assistant reply it answers (``previous_message``), for a reaction the user's next
  message (``next_message``), which often voices the same (dis)satisfaction,
* ``position``: stage one-hot, first user turn, log user-turn index, normalised position ``p``,
* ``lexical``: simple cues in the thought text (question mark, thanks/praise words, contrast and negation
  words, "too"/"more"/"less" words, first-person want words, length).

The embedder is referred to by its spec string (``"static"``) and loaded lazily through
:func:`thoughtcode.embeddings.load_embedder`; it is never pickled, so a saved model stays small and picks up
the packaged embedder on load. Everything is deterministic: the same units give the same matrix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from thoughtcode.corpus.units import STAGE_NAMES

CONTEXT_CHOICES = ("auto", "previous", "next", "none")

_WORD = re.compile(r"[a-z']+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


LEXICON: dict[str, frozenset[str]] = {
    "thanks": _words("thanks thank thx ty appreciate appreciated grateful hello hi hey greet greeting bye goodbye"),
    "praise": _words(
        "good great excellent perfect nice helpful useful satisfied satisfying love loved like liked liking amazing "
        "awesome clear happy wonderful fantastic exactly informative detailed impressed accurate fine ok okay well "
        "best brilliant glad cool"
    ),
    "contrast": _words("but however although though yet while except still somewhat bit partially"),
    "negation": _words(
        "not no don't didn't doesn't isn't wasn't wasnt didnt dont doesnt isnt never nothing without lack lacks "
        "lacking missing unhelpful wrong irrelevant useless generic vague confusing"
    ),
    "amount": _words("too long short lengthy brief more less much many overwhelming concise verbose"),
    "style": _words(
        "tone format formatting structure list bullet bullets table style wording words language simple simpler "
        "casual formal friendly robotic emojis emoji"
    ),
    "want": _words("want wanted wanting need needed needing would like wish hope hoping looking"),
    "continue": _words(
        "more further follow next also another again elaborate expand deeper details detail continue clarify "
        "clarification specific"
    ),
    "change": _words("instead different change changed switch other else new rather actually"),
    "context": _words(
        "my i'm im i've ive because since have has am live budget kids family wife husband friend son daughter job work"
    ),
}
LEXICAL_NAMES = ["question", "exclamation", *LEXICON, "log_chars", "log_words"]
POSITION_NAMES = [*(f"stage={s}" for s in STAGE_NAMES), "first_user_turn", "log_user_turn", "p"]

_EMBEDDERS: dict[str, Any] = {}


def get_embedder(spec: str) -> Any:
    """The embedder for a spec string, loaded once per process (embedders are read-only)."""
    if spec not in _EMBEDDERS:
        from thoughtcode.embeddings import load_embedder

        _EMBEDDERS[spec] = load_embedder(spec)
    return _EMBEDDERS[spec]


def unit_columns(units: Sequence[Any] | pd.DataFrame, names: Sequence[str]) -> dict[str, list[Any]]:
    """Columns of a list of units (dataclasses or objects) or of a ``units_frame`` DataFrame."""
    if isinstance(units, pd.DataFrame):
        missing = [n for n in names if n not in units.columns]
        if missing:
            raise ValueError(f"units frame lacks column(s): {', '.join(missing)}")
        return {n: [None if _is_missing(v) else v for v in units[n].tolist()] for n in names}
    return {n: [getattr(u, n, None) for u in units] for n in names}


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def lexical_features(texts: Sequence[str]) -> np.ndarray:
    """Counts of cue words (capped at 3) and length features of each text."""
    out = np.zeros((len(texts), len(LEXICAL_NAMES)), dtype=np.float32)
    for i, text in enumerate(texts):
        text = text or ""
        words = _WORD.findall(text.lower())
        out[i, 0] = float("?" in text)
        out[i, 1] = float("!" in text)
        for j, vocabulary in enumerate(LEXICON.values(), start=2):
            out[i, j] = min(sum(w in vocabulary for w in words), 3)
        out[i, -2] = math.log1p(len(text))
        out[i, -1] = math.log1p(len(words))
    return out


def position_features(stages: Sequence[str], turns: Sequence[int], positions: Sequence[float]) -> np.ndarray:
    """Stage one-hot, first user turn, log(1 + user-turn index) and normalised position of each unit."""
    out = np.zeros((len(stages), len(POSITION_NAMES)), dtype=np.float32)
    index = {name: i for i, name in enumerate(STAGE_NAMES)}
    for i, (stage, turn, p) in enumerate(zip(stages, turns, positions, strict=True)):
        if stage in index:
            out[i, index[stage]] = 1.0
        turn = int(turn or 0)
        out[i, len(STAGE_NAMES)] = float(turn == 0)
        out[i, len(STAGE_NAMES) + 1] = math.log1p(turn)
        out[i, len(STAGE_NAMES) + 2] = float(p or 0.0)
    return out


class ThoughtFeaturizer(TransformerMixin, BaseEstimator):
    """Turn thought units into a dense feature matrix (see the module docstring for the blocks).

    Parameters
    ----------
    embedder:
        Spec of the embedder for :func:`thoughtcode.embeddings.load_embedder` (default ``"static"``).
    text, message:
        Include the embedding of the thought text / of its message.
    context:
        Neighbouring message to embed: ``"auto"`` (reason: previous assistant reply; reaction: next user
        message), ``"previous"``, ``"next"`` or ``"none"``.
    position, lexical:
        Include the position features / the lexical cues of the thought text.
    max_chars:
        Messages are cut to this many characters before embedding (long assistant replies carry their
        gist early; the cut bounds the cost per unit).
    """

    def __init__(
        self,
        embedder: str = "static",
        text: bool = True,
        message: bool = True,
        context: str = "auto",
        position: bool = True,
        lexical: bool = True,
        max_chars: int = 2000,
    ) -> None:
        self.embedder = embedder
        self.text = text
        self.message = message
        self.context = context
        self.position = position
        self.lexical = lexical
        self.max_chars = max_chars

    # sklearn API -----------------------------------------------------------------------------------------
    def fit(self, units: Sequence[Any] | pd.DataFrame, y: Any = None) -> ThoughtFeaturizer:
        """Check the parameters and record the feature layout (nothing is learnt from the data)."""
        if self.context not in CONTEXT_CHOICES:
            raise ValueError(f"context must be one of {', '.join(CONTEXT_CHOICES)}, not {self.context!r}")
        if not any((self.text, self.message, self.context != "none", self.position, self.lexical)):
            raise ValueError("ThoughtFeaturizer needs at least one feature block")
        dim = int(get_embedder(self.embedder).dim) if self._uses_embeddings else 0
        names: list[str] = []
        blocks: dict[str, tuple[int, int]] = {}
        for block, width, labels in self._layout(dim):
            blocks[block] = (len(names), len(names) + width)
            names.extend(labels)
        self.embedding_dim_ = dim
        self.blocks_ = blocks
        self.feature_names_ = np.asarray(names, dtype=object)
        self.n_features_out_ = len(names)
        return self

    def transform(self, units: Sequence[Any] | pd.DataFrame) -> np.ndarray:
        """The feature matrix, float32, one row per unit."""
        if not hasattr(self, "blocks_"):
            raise RuntimeError("ThoughtFeaturizer is not fitted; call fit first")
        cols = unit_columns(
            units,
            ["text", "message", "previous_message", "next_message", "kind", "stage", "user_turn_index", "position"],
        )
        n = len(cols["text"])
        parts: list[np.ndarray] = []
        to_embed: dict[str, list[str]] = {}
        if self.text:
            to_embed["text"] = [t or "" for t in cols["text"]]
        if self.message:
            to_embed["message"] = [self._cut(m) for m in cols["message"]]
        if self.context != "none":
            to_embed["context"] = [self._cut(c) for c in self._context_texts(cols)]
        embedded = self._embed_unique(to_embed, n)
        for block in ("text", "message", "context"):
            if block in embedded:
                parts.append(embedded[block])
        if self.position:
            parts.append(position_features(cols["stage"], cols["user_turn_index"], cols["position"]))
        if self.lexical:
            parts.append(lexical_features(cols["text"]))
        matrix = np.hstack(parts).astype(np.float32, copy=False) if parts else np.zeros((n, 0), np.float32)
        if matrix.shape[1] != self.n_features_out_:
            raise ValueError(
                f"embedder {self.embedder!r} now gives {matrix.shape[1]} features, the model was fitted with "
                f"{self.n_features_out_}; retrain the model"
            )
        return matrix

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return self.feature_names_

    # helpers ---------------------------------------------------------------------------------------------
    @property
    def _uses_embeddings(self) -> bool:
        return bool(self.text or self.message or self.context != "none")

    def _layout(self, dim: int) -> list[tuple[str, int, list[str]]]:
        layout = []
        for block, on in (("text", self.text), ("message", self.message), ("context", self.context != "none")):
            if on:
                layout.append((block, dim, [f"{block}_emb_{i}" for i in range(dim)]))
        if self.position:
            layout.append(("position", len(POSITION_NAMES), list(POSITION_NAMES)))
        if self.lexical:
            layout.append(("lexical", len(LEXICAL_NAMES), [f"lex_{n}" for n in LEXICAL_NAMES]))
        return layout

    def _cut(self, text: str | None) -> str:
        text = text or ""
        return text[: self.max_chars] if self.max_chars and len(text) > self.max_chars else text

    def _context_texts(self, cols: dict[str, list[Any]]) -> list[str | None]:
        if self.context == "previous":
            return cols["previous_message"]
        if self.context == "next":
            return cols["next_message"]
        return [
            nxt if kind == "reaction" else prev
            for kind, prev, nxt in zip(cols["kind"], cols["previous_message"], cols["next_message"], strict=True)
        ]

    def _embed_unique(self, to_embed: dict[str, list[str]], n: int) -> dict[str, np.ndarray]:
        """Embed every distinct non-empty text once (messages repeat across the thoughts they carry)."""
        if not to_embed:
            return {}
        embedder = get_embedder(self.embedder)
        unique = sorted({t for texts in to_embed.values() for t in texts if t.strip()})
        vectors = np.asarray(embedder.encode(unique), dtype=np.float32) if unique else None
        row = {t: i for i, t in enumerate(unique)}
        out = {}
        for block, texts in to_embed.items():
            matrix = np.zeros((n, self.embedding_dim_), dtype=np.float32)  # an absent text embeds as zeros
            for i, t in enumerate(texts):
                j = row.get(t)
                if j is not None:
                    matrix[i] = vectors[j]
            out[block] = matrix
        return out


class UnitTexts(TransformerMixin, BaseEstimator):
    """One text field of each unit as a list of strings (for a TF-IDF step); missing texts become ``""``."""

    def __init__(self, field: str = "text") -> None:
        self.field = field

    def fit(self, units: Sequence[Any] | pd.DataFrame, y: Any = None) -> UnitTexts:
        self.fitted_field_ = self.field
        return self

    def transform(self, units: Sequence[Any] | pd.DataFrame) -> list[str]:
        return [t or "" for t in unit_columns(units, [self.field])[self.field]]
