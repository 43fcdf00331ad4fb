"""The full all-MiniLM-L6-v2 embedder; needs the ``distill`` extra (torch, sentence-transformers).

Kept outside ``tests/`` so the default suite never skips it silently. Run it in an environment
with the extra installed, e.g.::

    pip install -e '.[distill,test]'
    python -m pytest tests_extra/test_minilm_embedder.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from thoughtcode.embeddings import Embedder, SentenceTransformerEmbedder, StaticEmbedder, load_embedder

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FILE = REPO_ROOT / "thoughtcode" / "data" / "thoughttrace_sample.jsonl"


@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    emb = load_embedder("minilm")
    assert isinstance(emb, SentenceTransformerEmbedder)
    return emb


@pytest.fixture(scope="module")
def texts() -> list[str]:
    with SAMPLE_FILE.open(encoding="utf-8") as fh:
        convs = [json.loads(line) for line in fh]
    return [m["content"] for c in convs for m in c["messages"] if m["type"] == "user"][:60]


def test_contract(minilm, texts):
    vectors = minilm.encode(texts)
    assert isinstance(minilm, Embedder)
    assert minilm.name == "all-MiniLM-L6-v2"
    assert minilm.dim == 384
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert minilm.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        minilm.encode("bare string")


def test_deterministic(minilm, texts):
    np.testing.assert_allclose(minilm.encode(texts[:20]), minilm.encode(texts[:20]), atol=1e-6)


def test_paraphrase_beats_unrelated(minilm):
    a, b, c = minilm.encode(
        [
            "How do I get motivated to clean the house?",
            "Any tips for finding the energy to tidy my home?",
            "Explain the difference between TCP and UDP.",
        ]
    )
    assert a @ b > a @ c + 0.3


def test_static_model_agrees_with_minilm_on_neighbours(minilm, texts):
    """The distilled model should rank texts roughly like its teacher (well above chance)."""
    full = minilm.encode(texts)
    static = StaticEmbedder().encode(texts)
    iu = np.triu_indices(len(texts), k=1)
    a, b = (full @ full.T)[iu], (static @ static.T)[iu]
    ranks_a, ranks_b = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    rho = float(np.corrcoef(ranks_a, ranks_b)[0, 1])
    print(f"spearman(static, minilm) over {len(a)} pairs: {rho:.3f}")
    assert rho > 0.1


def test_minilm_loads_without_network():
    probe = textwrap.dedent(
        """
        import socket

        attempts = []

        def refuse(*args, **kwargs):
            attempts.append(args[1:] or args)
            raise OSError("network access attempted")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse

        from thoughtcode.embeddings import load_embedder

        v = load_embedder("minilm").encode(["offline check"])
        print(v.shape, "network attempts:", len(attempts), attempts[:3])
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    proc = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "(1, 384) network attempts: 0 []" in proc.stdout
