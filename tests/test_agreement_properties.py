"""Property tests: invariances, perfect agreement, and agreement with peer implementations.

Peers: the ``krippendorff`` package (alpha at four levels, random data with missing values) and
statsmodels (Fleiss' kappa, Randolph's free-marginal kappa, Cohen's kappa and its SE, weighted
kappas). statsmodels takes no missing values, so its comparisons use complete data.
"""

from __future__ import annotations

import os

import krippendorff
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from statsmodels.stats.inter_rater import cohens_kappa, fleiss_kappa

from thoughtcode.agreement import RatingData, agree

# AGREEMENT_EXAMPLES=500 for a deeper search; the default keeps this file well under 30 s.
SETTINGS = settings(
    max_examples=int(os.environ.get("AGREEMENT_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def rating_grids(draw, missing: bool = True, min_coders: int = 2, max_coders: int = 5):
    """A units x coders grid of integer categories 1..q with NaN for missing ratings."""
    n_units = draw(st.integers(3, 25))
    n_coders = draw(st.integers(min_coders, max_coders))
    q = draw(st.integers(2, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, q + 1, n_units)
    noise = rng.integers(1, q + 1, (n_units, n_coders))
    agree_p = draw(st.floats(0.0, 1.0))
    grid = np.where(rng.random((n_units, n_coders)) < agree_p, truth[:, None], noise).astype(float)
    if missing:
        p_missing = draw(st.floats(0.0, 0.4))
        grid[rng.random(grid.shape) < p_missing] = np.nan
    return grid


def values_of(result) -> dict[str, float | None]:
    d = result.to_dict()
    out = {k: v["value"] for k, v in d["coefficients"].items()}
    out.update({f"w_{k}": v["value"] for k, v in d["weighted"].items()})
    for cat, v in d["per_category"].items():
        out[f"kappa_{cat}"] = v["fleiss_kappa"]["value"]
        out[f"specific_{cat}"] = v["specific_agreement"]["value"]
    return out


def assert_same(a: dict[str, float | None], b: dict[str, float | None], tol: float = 1e-10) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if a[key] is None or b[key] is None:
            assert a[key] is None and b[key] is None, key
        else:
            assert abs(a[key] - b[key]) <= tol, (key, a[key], b[key])


def has_ratings(grid: np.ndarray) -> bool:
    return bool((~np.isnan(grid)).any())


@SETTINGS
@given(rating_grids(), st.integers(0, 10**6), st.sampled_from(["nominal", "ordinal", "interval"]))
def test_invariant_to_order_of_units_and_coders(grid: np.ndarray, seed: int, level: str) -> None:
    assume(has_ratings(grid))
    rng = np.random.default_rng(seed)
    rows, cols = rng.permutation(grid.shape[0]), rng.permutation(grid.shape[1])
    base = agree(RatingData.from_wide(grid, level=level), level=level)
    shuffled = agree(RatingData.from_wide(grid[rows][:, cols], level=level), level=level)
    assert_same(values_of(base), values_of(shuffled))


@SETTINGS
@given(rating_grids(), st.integers(0, 10**6))
def test_bootstrap_invariant_to_order_of_units(grid: np.ndarray, seed: int) -> None:
    assume(has_ratings(grid))
    rows = np.random.default_rng(seed).permutation(grid.shape[0])
    a = agree(RatingData.from_wide(grid), bootstrap=100, seed=4).to_dict()["coefficients"]
    b = agree(RatingData.from_wide(grid[rows]), bootstrap=100, seed=4).to_dict()["coefficients"]
    for name in a:
        if a[name]["ci"] is None:
            assert b[name]["ci"] is None
        else:
            assert np.allclose(a[name]["ci"], b[name]["ci"], atol=1e-12), name


@SETTINGS
@given(rating_grids(), st.permutations(["alpha", "beta", "gamma", "delta", "eps"]))
def test_invariant_to_renaming_nominal_labels(grid: np.ndarray, names: list[str]) -> None:
    assume(has_ratings(grid))
    mapping = {float(i + 1): names[i] for i in range(5)}
    renamed = np.array([[mapping.get(v) if v == v else None for v in row] for row in grid], dtype=object)
    base = values_of(agree(RatingData.from_wide(grid)))
    other = values_of(agree(RatingData.from_wide(renamed)))
    base = {k: v for k, v in base.items() if not k.startswith(("kappa_", "specific_"))}
    renamed_cats = {k: v for k, v in other.items() if k.startswith(("kappa_", "specific_"))}
    other = {k: v for k, v in other.items() if not k.startswith(("kappa_", "specific_"))}
    assert_same(base, other)
    # per-category values follow their category through the renaming
    full = values_of(agree(RatingData.from_wide(grid)))
    for key, value in full.items():
        if key.startswith(("kappa_", "specific_")):
            prefix, cat = key.split("_", 1)
            new_key = f"{prefix}_{mapping[float(cat)]}"
            assert_same({key: value}, {key: renamed_cats[new_key]})


@SETTINGS
@given(st.integers(2, 30), st.integers(2, 6), st.integers(2, 5), st.integers(0, 10**6))
def test_perfect_agreement_gives_one(n_units: int, n_coders: int, q: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, q + 1, n_units)
    assume(len(np.unique(truth)) >= 2)
    grid = np.repeat(truth[:, None], n_coders, axis=1).astype(float)
    for level in ("nominal", "ordinal", "interval", "ratio"):
        result = agree(RatingData.from_wide(grid, level=level), level=level)
        coefs = {k: v.value for k, v in result.coefficients.items()}
        for name, value in coefs.items():
            assert value is not None and abs(value - 1.0) < 1e-12, (level, name, value)
        for name, coef in result.weighted.items():
            assert abs(coef.value - 1.0) < 1e-12, (level, name)


@SETTINGS
@given(rating_grids(missing=True), st.sampled_from(["nominal", "ordinal", "interval", "ratio"]))
def test_alpha_matches_krippendorff_package(grid: np.ndarray, level: str) -> None:
    pairable = (~np.isnan(grid)).sum(axis=1) >= 2
    values = grid[pairable][~np.isnan(grid[pairable])]
    assume(len(np.unique(values)) >= 2)
    ours = (
        agree(RatingData.from_wide(grid, level=level), level=level).coefficients["krippendorff_alpha"].value
    )
    theirs = krippendorff.alpha(
        reliability_data=grid.T,
        level_of_measurement=level,
        value_domain=sorted(np.unique(grid[~np.isnan(grid)])),
    )
    assert ours is not None
    assert abs(ours - theirs) <= 1e-9


@SETTINGS
@given(rating_grids(missing=False, min_coders=2, max_coders=6))
def test_fleiss_and_randolph_match_statsmodels(grid: np.ndarray) -> None:
    q = 5
    order = [1, 2, 3, 4, 5]
    table = np.stack([(grid == k).sum(axis=1) for k in order], axis=1)
    assume(len(np.unique(grid)) >= 2)
    result = agree(RatingData.from_wide(grid, order=order))
    assert abs(result.coefficients["fleiss_kappa"].value - fleiss_kappa(table, method="fleiss")) <= 1e-9
    assert abs(result.coefficients["brennan_prediger"].value - fleiss_kappa(table, method="randolph")) <= 1e-9
    assert len(result.categories) == q


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # statsmodels' own NaN SE on degenerate draws
@SETTINGS
@given(
    rating_grids(missing=False, min_coders=2, max_coders=2), st.sampled_from([None, "linear", "quadratic"])
)
def test_cohen_kappa_and_se_match_statsmodels(grid: np.ndarray, weights: str | None) -> None:
    order = [1, 2, 3, 4, 5]
    a, b = grid[:, 0].astype(int) - 1, grid[:, 1].astype(int) - 1
    table = np.zeros((5, 5))
    np.add.at(table, (a, b), 1)
    pe_one = np.allclose(table.sum(0) * table.sum(1), table.sum() ** 2) or len(np.unique(grid)) < 2
    assume(not pe_one)
    result = agree(RatingData.from_wide(grid, order=order), weights=weights)
    ours = result.coefficients["cohen_kappa"] if weights is None else result.weighted["cohen_kappa"]
    theirs = cohens_kappa(table, wt=weights)
    assume(np.isfinite(theirs.kappa) and ours.value is not None)
    assert abs(ours.value - theirs.kappa) <= 1e-9
    if ours.se is not None and np.isfinite(theirs.std_kappa) and theirs.std_kappa > 1e-6:
        assert abs(ours.se - theirs.std_kappa) <= 1e-7


@SETTINGS
@given(rating_grids(missing=True))
def test_coefficients_stay_in_range_and_json_is_clean(grid: np.ndarray) -> None:
    import json

    assume(has_ratings(grid))
    result = agree(RatingData.from_wide(grid), bootstrap=50, seed=1).to_dict()
    json.dumps(result, allow_nan=False)
    # With missing ratings, Gwet's marginals (all rated units) can push kappas below -1; never above 1.
    for name, entry in result["coefficients"].items():
        value = entry["value"]
        if value is not None:
            assert value <= 1.0 + 1e-9, (name, value)
        if entry["ci"] is not None:
            assert entry["ci"][0] <= entry["ci"][1] + 1e-12
