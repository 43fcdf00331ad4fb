"""Offline sentence embeddings for thoughtcode.

Why this room exists: similarity, clustering and topic analyses need text vectors, and they
must work offline and without torch. The default is a static model2vec model distilled from
all-MiniLM-L6-v2 and shipped in ``models/minilm-static``; the full MiniLM is available with the
``distill`` extra. This package imports no other thoughtcode module.

    >>> emb = load_embedder()            # "static": the shipped model
    >>> vectors = emb.encode(["hello there", "hi"])   # float32, (2, emb.dim), unit rows
"""

from __future__ import annotations

from pathlib import Path

from .minilm import SentenceTransformerEmbedder  # torch etc. are imported only when it is created
from .static import DEFAULT_STATIC_PATH, Embedder, StaticEmbedder, l2_normalise

__all__ = [
    "DEFAULT_STATIC_PATH",
    "Embedder",
    "SentenceTransformerEmbedder",
    "StaticEmbedder",
    "l2_normalise",
    "load_embedder",
]

SPECS = ("static", "minilm")


def load_embedder(spec: str = "static") -> Embedder:
    """Pick an embedder by name.

    ``"static"`` (default): the shipped model2vec model, no torch needed.
    ``"minilm"``: the full all-MiniLM-L6-v2; raises ImportError naming the extra to install
    (``pip install 'thoughtcode[distill]'``) when torch / sentence-transformers are missing.
    Anything else is taken as the path of a local model2vec model folder.
    """
    key = spec.strip()
    if key.lower() == "static":
        return StaticEmbedder()
    if key.lower() == "minilm":
        return SentenceTransformerEmbedder()
    path = Path(key).expanduser()
    if path.is_dir():
        return StaticEmbedder(path)
    raise ValueError(f"unknown embedder {spec!r}: use one of {', '.join(SPECS)} or a model2vec model folder")
