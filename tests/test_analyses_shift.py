"""Shift metrics on synthetic arrays against independent computations, and the pairs of a real corpus."""

from __future__ import annotations

import importlib.util
import itertools

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from test_analyses_support import SAMPLE, dialogue_messages, raw_records

from thoughtcode.analyses import (
    centroid_l2,
    distance_percentiles,
    load_inputs,
    mmd_rbf,
    pair_frames,
    probe_auc,
    shift_analysis,
)
from thoughtcode.analyses.shift import bootstrap_median, grouped_folds, projection_2d


def naive_mmd2(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    def k(a, b):
        return float(np.exp(-np.sum((a - b) ** 2) / (2 * sigma**2)))

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def test_distance_percentiles_and_centroid():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 6)), rng.normal(size=(40, 6))
    norms = [np.sqrt(sum((b[i, d] - a[i, d]) ** 2 for d in range(6))) for i in range(40)]
    got = distance_percentiles(a, b)
    assert got["p25"] == pytest.approx(np.percentile(norms, 25))
    assert got["p50"] == pytest.approx(np.median(norms))
    assert got["p75"] == pytest.approx(np.percentile(norms, 75))
    centre = np.sqrt(sum((a[:, d].mean() - b[:, d].mean()) ** 2 for d in range(6)))
    assert centroid_l2(a, b) == pytest.approx(centre)


def test_mmd_matches_naive_formula_with_median_bandwidth():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(15, 4)), rng.normal(0.8, 1.0, size=(15, 4))
    sigma = float(np.median(pdist(np.vstack([a, b]))))
    got = mmd_rbf(a, b, n_permutations=0)
    assert got["bandwidth"] == pytest.approx(sigma)
    assert got["mmd2"] == pytest.approx(naive_mmd2(a, b, sigma))
    unpaired = mmd_rbf(a, b[:10], n_permutations=0, paired=False)
    assert unpaired["mmd2"] == pytest.approx(naive_mmd2(a, b[:10], float(np.median(pdist(np.vstack([a, b[:10]]))))))


def test_mmd_permutation_p_value_matches_exact_enumeration():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(7, 3)), rng.normal(0.5, 1.0, size=(7, 3))
    sigma = float(np.median(pdist(np.vstack([a, b]))))
    observed = naive_mmd2(a, b, sigma)
    exceed = 0
    for swaps in itertools.product([False, True], repeat=7):
        s = np.array(swaps)
        x = np.where(s[:, None], b, a)
        y = np.where(s[:, None], a, b)
        exceed += naive_mmd2(x, y, sigma) >= observed - 1e-12
    exact = exceed / 2**7
    got = mmd_rbf(a, b, n_permutations=4000, seed=5)
    assert got["p_value"] == pytest.approx(exact, abs=0.03)


def test_mmd_separates_shifted_samples_and_is_calibrated_under_the_null():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(60, 5))
    shifted = mmd_rbf(a, rng.normal(1.0, 1.0, size=(60, 5)), n_permutations=300, seed=0)
    assert shifted["p_value"] == pytest.approx(1 / 301)
    null_p = [mmd_rbf(rng.normal(size=(30, 5)), rng.normal(size=(30, 5)), n_permutations=100, seed=k)["p_value"]
              for k in range(30)]
    assert np.mean(np.array(null_p) < 0.05) <= 0.2  # about 5% expected
    assert 0.3 < np.mean(null_p) < 0.7  # p-values roughly uniform
    assert shifted["mmd2"] > np.median([mmd_rbf(a, rng.normal(size=(60, 5)), n_permutations=0)["mmd2"] for _ in range(5)])


def test_probe_auc_grouped_folds():
    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(30), 4)
    a = rng.normal(size=(120, 8))
    separable = probe_auc(a, rng.normal(2.0, 1.0, size=(120, 8)), groups)
    assert separable["auc_mean"] > 0.97 and separable["folds"] == 5
    null = probe_auc(a, rng.normal(size=(120, 8)), groups)
    assert 0.3 < null["auc_mean"] < 0.7
    # the same folds, computed by hand
    b = rng.normal(0.5, 1.0, size=(120, 8))
    x = np.vstack([a, b])
    y = np.r_[np.zeros(120), np.ones(120)]
    g = np.r_[groups, groups]
    aucs = []
    for train, test in grouped_folds(g, 5, seed=0):
        assert not set(g[train]) & set(g[test])
        model = LogisticRegression(max_iter=2000).fit(x[train], y[train])
        aucs.append(roc_auc_score(y[test], model.decision_function(x[test])))
    assert probe_auc(a, b, groups)["auc_mean"] == pytest.approx(np.mean(aucs))


def test_bootstrap_median_and_projection():
    values = np.arange(100, dtype=float)
    groups = np.repeat(np.arange(20), 5)
    low, high = bootstrap_median(values, groups, n_boot=300, seed=0)
    assert low < np.median(values) < high
    diffs = np.random.default_rng(0).normal(size=(50, 6))
    axes = projection_2d(diffs)
    assert axes.shape == (6, 2)
    assert np.allclose(axes.T @ axes, np.eye(2), atol=1e-9)  # orthonormal, and zero maps to zero
    assert np.allclose(np.zeros(6) @ axes, 0)


def test_pairs_of_the_sample_match_the_raw_file():
    inputs = load_inputs(SAMPLE)
    pairs = pair_frames(inputs)
    consecutive = reasons = reaction_next = 0
    for record in raw_records(SAMPLE):
        messages = dialogue_messages(record)
        users = [m for m in messages if m["type"] == "user"]
        consecutive += sum(1 for p, n in zip(users, users[1:], strict=False) if p["content"].strip() and n["content"].strip())
        for i, message in enumerate(messages):
            for reason in message.get("reasons") or []:
                reasons += bool(reason["content"].strip() and message["content"].strip())
            later = [m for m in messages[i + 1 :] if m["type"] == "user"]
            for reaction in message.get("reactions") or []:
                reaction_next += bool(later and reaction["content"].strip() and later[0]["content"].strip())
    assert len(pairs["consecutive"]) == consecutive
    assert len(pairs["message_reason"]) == reasons
    assert len(pairs["reaction_next"]) == reaction_next


def test_shift_analysis_on_the_sample_with_the_offline_embedder():
    inputs = load_inputs(SAMPLE)
    result = shift_analysis(inputs, n_permutations=50, n_boot=50)
    data = result.to_dict()
    assert data["embedder"]
    types = data["pair_types"]
    assert set(types) == {"consecutive", "message_reason", "reaction_next"}
    for entry in types.values():
        d = entry["distance"]
        assert 0 <= d["p25"] <= d["p50"] <= d["p75"] <= 2.0
        assert 0 <= entry["probe"]["auc_mean"] <= 1
        assert 0 < entry["mmd"]["p_value"] <= 1
    assert data["paper_ordering"]["holds"] in (True, False)
    table = result.tables["shift_metrics"].set_index("pair_type")
    assert table.loc["message_reason", "distance_median"] == pytest.approx(types["message_reason"]["distance"]["p50"], abs=1e-4)
    assert set(result.figures) == {"shift_differences", "shift_distances"}
    assert result.data["settings"]["projection"] == "pca"
    assert "PCA" in result.captions["shift_differences"]


def test_umap_projection_without_the_topics_extra_is_a_clear_error(tmp_path, capsys):
    if importlib.util.find_spec("umap") is not None:
        pytest.skip("umap-learn is installed here; tests_extra/test_analyses_umap.py covers the projection")
    with pytest.raises(ValueError, match=r"pip install 'thoughtcode\[topics\]'"):
        shift_analysis(load_inputs(SAMPLE), projection="umap")
    with pytest.raises(ValueError, match="unknown projection"):
        shift_analysis(load_inputs(SAMPLE), projection="tsne")
    from thoughtcode.cli import main

    for command in (["analyze", "shift", str(SAMPLE)], ["analyze", "all", str(SAMPLE), "--out", str(tmp_path / "out")]):
        assert main([*command, "--projection", "umap"]) == 2
        err = capsys.readouterr().err
        assert "UMAP" in err and "pip install 'thoughtcode[topics]'" in err
    assert not (tmp_path / "out").exists()  # refused before any analysis ran
