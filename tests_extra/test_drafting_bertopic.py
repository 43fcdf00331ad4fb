"""The optional engines of ``taxonomy induce``: BERTopic and UMAP (``pip install 'thoughtcode[topics]'``).

Not part of ``make test``: run with ``python -m pytest tests_extra/test_drafting_bertopic.py`` in an
environment with the topics extra. UMAP compiles with numba on first use (about 15 s per process).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("bertopic", reason="needs the topics extra: pip install 'thoughtcode[topics]'")
pytest.importorskip("umap", reason="needs the topics extra: pip install 'thoughtcode[topics]'")

from thoughtcode.drafting import InduceConfig, induce_from_corpus
from thoughtcode.taxonomy import load_codebook_file

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "thoughtcode" / "data" / "thoughttrace_sample.jsonl"
DEV = ROOT / "tests" / "data" / "thoughttrace_dev.jsonl"


def test_bertopic_engine_with_our_embeddings_pca_and_kmeans(tmp_path):
    config = InduceConfig(engine="bertopic", n_categories=4, stability_runs=3)
    result = induce_from_corpus(SAMPLE, "reasons", config)
    assert len(result.categories) == 4 and not result.outliers
    assert result.settings["keywords"] == "class-based TF-IDF (BERTopic)"
    assert all(c.keywords and c.examples for c in result.categories)
    assert sum(c.size for c in result.categories) == result.n_units
    result.write(tmp_path / "bertopic.yaml")
    assert load_codebook_file(tmp_path / "bertopic.yaml").version == "0.1.0"
    assert result.stability is not None and result.stability.mean_ari is not None


def test_bertopic_engine_with_umap_and_hdbscan_reports_outliers(tmp_path):
    config = InduceConfig(engine="bertopic", reducer="umap", stability_runs=0, min_cluster_size=10)
    result = induce_from_corpus(DEV, "reasons", config)
    assert len(result.categories) >= 2
    assert len(result.outliers) == int((result.labels < 0).sum())
    result.write(tmp_path / "umap.yaml")
    load_codebook_file(tmp_path / "umap.yaml")


def test_native_engine_with_umap_is_seeded():
    config = InduceConfig(reducer="umap", n_categories=5, stability_runs=0)
    first = induce_from_corpus(DEV, "reasons", config)
    second = induce_from_corpus(DEV, "reasons", config)
    assert first.codebook.content_hash == second.codebook.content_hash
