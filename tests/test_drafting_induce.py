"""Induce a draft codebook from data: pipeline parts, keywords, names, outliers, stability, CLI."""

from __future__ import annotations

import json
import re
import sys
import time

import numpy as np
import pytest
import yaml

from thoughtcode.cli import main
from thoughtcode.corpus import load_corpus, units_for
from thoughtcode.drafting import (
    InduceConfig,
    class_tfidf,
    cluster_embeddings,
    clustering_stability,
    induce,
    induce_from_corpus,
    resolve_unit_kind,
)
from thoughtcode.drafting.induce import (
    ClusterSummary,
    DraftingError,
    KeywordNamer,
    distinct_keywords,
    snake_id,
)
from thoughtcode.embeddings import load_embedder
from thoughtcode.taxonomy import load_codebook_file
from thoughtcode.taxonomy.model import CATEGORY_ID


@pytest.fixture(scope="module")
def embedder():
    return load_embedder("static")


def _check_draft(result, path):
    """The draft written to ``path`` validates and looks like a draft should."""
    result.write(path)
    codebook = load_codebook_file(path)
    assert codebook.content_hash == result.codebook.content_hash
    assert codebook.version == "0.1.0"
    ids = [c.id for c in codebook.categories]
    assert len(ids) == len(set(ids))
    assert all(CATEGORY_ID.match(i) for i in ids)
    names = [c.name.casefold() for c in codebook.categories]
    assert len(names) == len(set(names))
    return codebook


def test_sample_reasons_default_pipeline_validates_fast_and_reports_stability(sample_file, embedder, tmp_path):
    started = time.perf_counter()
    result = induce_from_corpus(sample_file, "reasons", embedder=embedder)
    elapsed = time.perf_counter() - started
    assert elapsed < 60
    assert result.config.clusterer == "hdbscan"  # the light default without --n-categories
    assert result.n_units == 53
    codebook = _check_draft(result, tmp_path / "draft.yaml")
    assert codebook.unit == "reason" and codebook.name == "reasons_draft"
    assert len(codebook.categories) >= 2
    # names are readable keyword lists, definitions say what the units are about
    for category, candidate in zip(codebook.categories, result.categories, strict=True):
        assert re.fullmatch(r"[A-Z][\w'-]*( / [\w'-]+){0,2}( \(\d+\))?", category.name), category.name
        assert category.definition.startswith("Reasons about ")
        assert "typical words:" in category.definition
        assert 1 <= len(category.examples) <= 3
        assert all(e.source in candidate.members for e in category.examples)
        assert candidate.size == len(candidate.members)
    # outliers are reported, not put into a category
    n_outliers = int((result.labels < 0).sum())
    assert len(result.outliers) == n_outliers
    assert sum(c.size for c in result.categories) + n_outliers == result.n_units
    assert not any("other" in c.id or "outlier" in c.id for c in codebook.categories)
    # stability: ARI of 5 runs (10 pairs), per-category Jaccard with a verdict
    stability = result.stability
    assert stability is not None and len(stability.pairwise) == 10
    assert -1 <= stability.min_ari <= stability.mean_ari <= stability.max_ari <= 1
    assert "mean ARI" in stability.headline()
    assert all(0 <= c.stability <= 1 and c.verdict in {"stable", "unclear", "dissolved"} for c in result.categories)
    # the YAML carries each category's size and stability as comments, and the report the rest
    text = (tmp_path / "draft.yaml").read_text()
    assert text.count("# size ") == len(result.categories)
    assert "stability: mean ARI" in text
    report = json.loads(json.dumps(result.report(), default=str))
    assert report["outliers"]["count"] == n_outliers
    assert report["stability"]["mean_ari"] == pytest.approx(stability.mean_ari)


def test_kmeans_makes_exactly_k_categories_and_is_deterministic(sample_file, embedder, tmp_path):
    config = InduceConfig(n_categories=4, seed=3, stability_runs=3)
    first = induce_from_corpus(sample_file, "reasons", config, embedder=embedder)
    second = induce_from_corpus(sample_file, "reasons", config, embedder=embedder)
    assert len(first.categories) == 4 and not first.outliers
    assert first.codebook.content_hash == second.codebook.content_hash
    assert first.stability.to_dict() == second.stability.to_dict()
    assert sorted(c.size for c in first.categories) == sorted(np.bincount(first.labels).tolist())
    assert [c.size for c in first.categories] == sorted((c.size for c in first.categories), reverse=True)
    _check_draft(first, tmp_path / "k4.yaml")


def test_hierarchical_draft_on_dev_reactions(dev_file, embedder, tmp_path):
    config = InduceConfig(n_categories=8, hierarchical=True, n_parents=3, stability_runs=0)
    result = induce_from_corpus(dev_file, "reactions", config, embedder=embedder)
    codebook = _check_draft(result, tmp_path / "tree.yaml")
    assert codebook.is_hierarchical and result.parents
    assert set(codebook.label_ids) == {c.id for c in result.categories}
    for parent in result.parents:
        assert len(parent.children) >= 2
        assert parent.definition.startswith("Groups ")
        assert parent.size == sum(c.size for c in result.categories if c.parent == parent.id)
    assert result.stability is None


def test_other_unit_kinds_and_names(sample_file, embedder):
    conversations = load_corpus(sample_file)
    units = list(units_for(conversations, "user_turn"))
    result = induce([u.text for u in units], [u.unit_id for u in units], "turns", InduceConfig(n_categories=3, stability_runs=0), embedder=embedder)
    assert result.codebook.unit == "user_turn" and result.codebook.name == "turns_draft"
    assert result.codebook.categories[0].definition.startswith("User turns about ")
    assert resolve_unit_kind("conversations") == "conversation"
    with pytest.raises(DraftingError, match="unknown unit"):
        resolve_unit_kind("messages")


def test_empty_and_unembeddable_texts_are_skipped_and_reported(embedder):
    texts = ["I want a recipe for dinner"] * 4 + ["help me fix my python code"] * 4 + ["", "   ", "🙂🙂"]
    ids = [f"u{i}" for i in range(len(texts))]
    result = induce(texts, ids, "reasons", InduceConfig(n_categories=2, stability_runs=0), embedder=embedder)
    skipped = {s["unit_id"]: s["reason"] for s in result.skipped}
    assert skipped["u8"] == skipped["u9"] == "empty text"
    assert result.n_units + len(skipped) == len(texts)
    assert sorted(c.size for c in result.categories) == [4, 4]


def test_too_few_units_and_bad_settings_are_user_errors(embedder):
    with pytest.raises(DraftingError, match="too few units"):
        induce(["a recipe", "some code"], ["a", "b"], "reasons", embedder=embedder)
    with pytest.raises(DraftingError, match="k-means"):
        InduceConfig(n_categories=4, clusterer="hdbscan")
    with pytest.raises(DraftingError, match="at least 2 runs"):
        InduceConfig(stability_runs=1)


def test_optional_engines_name_the_extra_when_missing(sample_file, embedder, monkeypatch):
    monkeypatch.setitem(sys.modules, "bertopic", None)  # as if the topics extra were not installed
    monkeypatch.setitem(sys.modules, "umap", None)
    with pytest.raises(DraftingError, match=re.escape("pip install 'thoughtcode[topics]'")):
        induce_from_corpus(sample_file, "reasons", InduceConfig(engine="bertopic", n_categories=3), embedder=embedder)
    with pytest.raises(DraftingError, match=re.escape("pip install 'thoughtcode[topics]'")):
        induce_from_corpus(sample_file, "reasons", InduceConfig(reducer="umap", n_categories=3), embedder=embedder)


def test_class_tfidf_finds_each_cluster_words_and_skips_stop_words():
    texts = [
        "I wanted a recipe for a quick dinner: zucchini, zucchini, zucchini, zucchini",
        "a dinner recipe with rice",
        "cooking dinner tonight, need a recipe",
        "my python code throws an error",
        "fix the python error in this code",
        "python code review please",
        "the weather today",
    ]
    labels = [0, 0, 0, 1, 1, 1, -1]
    keywords = class_tfidf(texts, labels, n_keywords=3)
    # "zucchini" has the highest frequency in cluster 0 but occurs in one unit only: it ranks after the
    # words found in several units of the cluster
    assert {w for w, _ in keywords[0][:2]} == {"recipe", "dinner"} and keywords[0][2][0] == "zucchini"
    assert {w for w, _ in keywords[1]} == {"python", "code", "error"}
    assert {w for w, _ in keywords[-1]} == {"weather", "today"}  # outliers get their words too
    assert all(w not in {"wanted", "need", "the", "a", "i"} for c in keywords.values() for w, _ in c)
    assert all(s > 0 for c in keywords.values() for _, s in c)
    assert class_tfidf(["the and of", "it is"], [0, 1]) == {0: [], 1: []}


def test_keyword_names_and_ids():
    namer = KeywordNamer()
    naming = namer.describe(
        ClusterSummary("reason", 10, 0.1, ["recipe", "recipes", "cook", "ai", "dinner"], [])
    )
    assert naming.name == "Recipe / cook / AI"
    assert naming.definition.startswith("Reasons about recipe, cook or AI; typical words: recipe, cook, AI, dinner")
    assert distinct_keywords(["plan", "plans", "planning", "trip"]) == ["plan", "trip"]
    assert snake_id("Recipe / cook / AI") == "recipe_cook_ai"
    assert snake_id("3D / print") == "c_3d_print"
    assert snake_id("✓✓") == "category"
    assert namer.describe(ClusterSummary("reaction", 3, 0.1, [], [])).name == "Unnamed cluster"


def test_duplicate_names_are_made_unique(embedder, tmp_path):
    class SameNamer:
        label = "same"

        def describe(self, cluster):
            from thoughtcode.drafting.induce import Naming

            return Naming("Recipe", "Reasons about recipes.")

    texts = [f"recipe number {i} for dinner" for i in range(6)] + [f"python bug {i} in my code" for i in range(6)]
    result = induce(texts, [f"u{i}" for i in range(12)], "reasons", InduceConfig(n_categories=2, stability_runs=0), embedder=embedder, namer=SameNamer())
    assert [c.name for c in result.categories] == ["Recipe", "Recipe (2)"]
    assert [c.id for c in result.categories] == ["recipe", "recipe_2"]
    _check_draft(result, tmp_path / "same.yaml")


def test_stability_separates_real_clusters_from_noise():
    rng = np.random.default_rng(0)
    centres = np.eye(6)[:3] * 5
    blobs = np.vstack([c + rng.normal(scale=0.3, size=(40, 6)) for c in centres])
    config = InduceConfig(n_categories=3, reducer="none")
    reference = cluster_embeddings(blobs, config)
    real = clustering_stability(blobs, lambda x, s: cluster_embeddings(x, config, s), seeds=range(4), reference=reference)
    assert real.mean_ari > 0.95 and all(v > 0.9 for v in real.category_jaccard.values())
    assert {real.verdict(c) for c in real.category_jaccard} == {"stable"}
    noise = rng.normal(size=(120, 6))
    config = InduceConfig(n_categories=6, reducer="none")
    fake = clustering_stability(noise, lambda x, s: cluster_embeddings(x, config, s), seeds=range(4), subsample=0.7)
    assert fake.mean_ari < real.mean_ari - 0.3
    assert fake.pairwise[0]["shared_units"] < 120


def test_cli_induce_writes_a_draft_that_validates(sample_file, tmp_path, capsys):
    out = tmp_path / "draft.yaml"
    assignments = tmp_path / "units.csv"
    code = main(
        ["taxonomy", "induce", str(sample_file), "--unit", "reasons", "--n-categories", "4", "--seed", "1",
         "--out", str(out), "--assignments", str(assignments)]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    assert "stability: mean ARI" in printed and "wrote draft" in printed
    assert main(["taxonomy", "validate", str(out)]) == 0
    report = json.loads((tmp_path / "draft.report.json").read_text())
    assert len(report["categories"]) == 4 and "members" in report["categories"][0]
    assert assignments.read_text().startswith("unit_id,cluster,category,outlier,text")
    data = yaml.safe_load(out.read_text())
    assert data["version"] == "0.1.0" and len(data["categories"]) == 4
    # HDBSCAN that finds nothing is a one-line user error, not a crash
    code = main(["taxonomy", "induce", str(sample_file), "--unit", "reasons", "--min-cluster-size", "40", "--out", str(out)])
    assert code == 2
    assert "--n-categories" in capsys.readouterr().err
