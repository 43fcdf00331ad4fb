"""Every published reference value in tests/data/agreement_cases.json, to the decimals printed there.

Each case is checked twice: through the Python API on the case's own layout (wide array, counts or
contingency table) and through ``agree`` on a long CSV file (unit, coder, label), the path the
``thoughtcode agree`` command takes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from thoughtcode.agreement import RatingData, agree

CASES_PATH = Path(__file__).parent / "data" / "agreement_cases.json"
CASES = json.loads(CASES_PATH.read_text())["cases"]
ALPHA_LEVELS = ("nominal", "ordinal", "interval", "ratio")


def decimals(value: float) -> int:
    """Number of decimals printed in the reference file (shortest repr of the float)."""
    text = repr(float(value))
    return len(text.split(".")[1]) if "." in text and "e" not in text else 0


def assert_printed(actual: float | None, expected: float, what: str) -> None:
    assert actual is not None, f"{what}: got None, expected {expected}"
    d = decimals(expected)
    tol = 0.5 * 10.0**-d + 1e-15
    assert abs(actual - expected) <= tol, f"{what}: {actual} != {expected} (to {d} decimals)"


# ---------------------------------------------------------------------- case layouts
def case_ratings(case: dict[str, Any], **kw: Any) -> RatingData:
    if "units_by_raters" in case:
        return RatingData.from_wide(case["units_by_raters"], **kw)
    if "raters_by_units" in case:
        return RatingData.from_wide(np.array(case["raters_by_units"], dtype=object).T, **kw)
    if "counts" in case:
        return RatingData.from_counts(case["counts"], **kw)
    return RatingData.from_table(case["table"], case["categories"], **kw)


def long_rows(case: dict[str, Any]) -> list[tuple[Any, str, Any]]:
    """The case as (unit, coder, label) rows, the labels-table layout."""
    rows = []
    if "units_by_raters" in case or "raters_by_units" in case:
        grid = case.get("units_by_raters") or [list(x) for x in zip(*case["raters_by_units"], strict=True)]
        for u, ratings in enumerate(grid, start=1):
            for c, label in enumerate(ratings, start=1):
                if label is not None:
                    rows.append((u, f"r{c}", label))
    elif "counts" in case:
        for u, counts in enumerate(case["counts"], start=1):
            coder = 0
            for k, n in enumerate(counts, start=1):
                for _ in range(n):
                    coder += 1
                    rows.append((u, f"r{coder}", k))
    else:
        cats = case["categories"]
        u = 0
        for a, row in enumerate(case["table"]):
            for b, n in enumerate(row):
                for _ in range(n):
                    u += 1
                    rows.append((u, "A", cats[a]))
                    rows.append((u, "B", cats[b]))
    return rows


def write_long_csv(case: dict[str, Any], path: Path) -> Path:
    """Write a reference case as a long CSV (unit_id, coder, label)."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["unit_id", "coder", "label"])
        writer.writerows(long_rows(case))
    return path


def case_order(case: dict[str, Any]) -> list[Any] | None:
    return case.get("categories")


# ---------------------------------------------------------------------- extraction
def check_expected(case: dict[str, Any], run) -> None:
    """Compare every expected value; ``run(level=..., weights=...)`` returns a result dict."""
    expected = case["expected"]
    nominal = run(level="nominal")
    coefs = nominal["coefficients"]
    for key, value in expected.items():
        if key.startswith("krippendorff_alpha_"):
            level = key.removeprefix("krippendorff_alpha_")
            assert level in ALPHA_LEVELS
            res = nominal if level == "nominal" else run(level=level)
            assert_printed(res["coefficients"]["krippendorff_alpha"]["value"], value, key)
        elif key == "fleiss_kappa_z":
            assert_printed(nominal["tests"]["fleiss_kappa_z"]["z"], value, key)
        elif key == "fleiss_kappa_per_category":
            for cat, v in value.items():
                assert_printed(nominal["per_category"][cat]["fleiss_kappa"]["value"], v, f"{key}[{cat}]")
        elif key == "category_totals":
            assert {k: v["n_ratings"] for k, v in nominal["per_category"].items()} == value
        elif key.startswith("cohen_kappa_raters_"):
            a, b = key.removeprefix("cohen_kappa_raters_").split("_")
            pair = [
                p
                for p in nominal["pairwise"]
                if [str(c) for c in p["coders"]] in ([f"r{a}", f"r{b}"], [f"coder_{a}", f"coder_{b}"])
            ]
            assert len(pair) == 1, nominal["pairwise"]
            assert_printed(pair[0]["cohen_kappa"]["value"], value, key)
        elif key.endswith("_ci95"):
            name = key.removesuffix("_ci95")
            ci = coefs[name]["ci"]
            assert coefs[name]["ci_method"] == "analytic"
            assert_printed(ci[0], value[0], f"{key} low")
            assert_printed(ci[1], value[1], f"{key} high")
        elif key.endswith("_se"):
            assert_printed(coefs[key.removesuffix("_se")]["se"], value, key)
        elif key in ("cohen_kappa_linear", "cohen_kappa_quadratic"):
            weights = key.removeprefix("cohen_kappa_")
            res = run(level="nominal", weights=weights)
            assert res["weights"] == weights
            assert_printed(res["weighted"]["cohen_kappa"]["value"], value, key)
        else:
            assert_printed(coefs[key]["value"], value, key)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_reference_case_python_api(case: dict[str, Any]) -> None:
    def run(level: str, weights: str | None = None) -> dict[str, Any]:
        order = case_order(case)
        data = case_ratings(case, level=level) if order is None else case_ratings(case)
        if order is not None and level != "nominal":
            data = case_ratings(case, level=level)
        return agree(data, level=level, weights=weights).to_dict()

    check_expected(case, run)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_reference_case_long_csv(case: dict[str, Any], tmp_path: Path) -> None:
    path = write_long_csv(case, tmp_path / f"{case['id']}.csv")

    def run(level: str, weights: str | None = None) -> dict[str, Any]:
        if weights is not None:
            # the CLI reaches weighted kappas through --level: ordinal -> linear, interval -> quadratic
            level = {"linear": "ordinal", "quadratic": "interval"}[weights]
            result = agree(str(path), level=level, order=case_order(case)).to_dict()
            result["coefficients"] = result["coefficients"]
            return result
        return agree(
            str(path), level=level, order=case_order(case) if level != "nominal" else None
        ).to_dict()

    check_expected(case, run)


def test_json_shape_and_no_nan() -> None:
    case = CASES[0]
    result = agree(case_ratings(case), bootstrap=200, seed=3).to_dict()
    text = json.dumps(result, allow_nan=False)
    assert "NaN" not in text
    assert list(result)[:7] == [
        "n_units",
        "n_coders",
        "n_ratings",
        "level",
        "coefficients",
        "per_category",
        "warnings",
    ]
    assert set(result["coefficients"]) == {
        "percent_agreement",
        "scott_pi",
        "fleiss_kappa",
        "conger_kappa",
        "light_kappa",
        "brennan_prediger",
        "gwet_ac1",
        "krippendorff_alpha",
    }
    for entry in result["coefficients"].values():
        assert set(entry) == {"value", "se", "ci", "ci_method"}
        assert entry["ci_method"] == "bootstrap"
    assert result["interval"]["method"] == "bootstrap"
    two = agree(case_ratings(CASES[-1])).to_dict()
    assert "cohen_kappa" in two["coefficients"]


def test_bootstrap_is_seeded_and_reproducible() -> None:
    data = case_ratings(CASES[2])
    a = agree(data, bootstrap=300, seed=11).to_dict()
    b = agree(data, bootstrap=300, seed=11).to_dict()
    c = agree(data, bootstrap=300, seed=12).to_dict()
    assert a["coefficients"] == b["coefficients"]
    assert a["coefficients"]["krippendorff_alpha"]["ci"] != c["coefficients"]["krippendorff_alpha"]["ci"]


def test_bootstrap_matches_naive_resampling_distribution() -> None:
    """The weighted-pattern bootstrap equals re-running alpha on resampled units, replicate by replicate."""
    from thoughtcode.agreement import coefficients as co
    from thoughtcode.agreement.intervals import evaluate

    rng = np.random.default_rng(5)
    x = rng.integers(1, 4, size=(40, 3)).astype(float)
    x[rng.random(x.shape) < 0.15] = np.nan
    data = RatingData.from_wide(x)
    eng = co.FeatureEngine(data)
    stat = co.krippendorff_alpha(eng, "interval", data.values_for_distance())
    est = evaluate(eng, [stat], bootstrap=50, seed=2, keep_replicates=True)["krippendorff_alpha"]
    # replay the same multinomial draws over patterns, expanding to units
    from thoughtcode.agreement.intervals import bootstrap_weights

    weights = np.vstack(list(bootstrap_weights(eng.mult, 50, 2)))
    import krippendorff

    rows = np.unique(data.codes, axis=0)
    cats = np.array(data.values_for_distance())
    for b in range(5):
        expanded = np.repeat(rows, weights[b].astype(int), axis=0)
        values = np.where(expanded >= 0, cats[np.clip(expanded, 0, None)], np.nan)
        usable = (~np.isnan(values)).sum(axis=1) >= 1
        ref = krippendorff.alpha(values[usable].T, level_of_measurement="interval", value_domain=list(cats))
        assert abs(est.replicates[b] - ref) < 1e-9
