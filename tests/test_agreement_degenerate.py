"""Degenerate data: defined answers with a reason, or a clear error; never a crash or a NaN."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from thoughtcode.agreement import agree, format_text, write_report


def as_json(result) -> dict:
    data = result.to_dict()
    json.dumps(data, allow_nan=False)  # raises on NaN / inf
    return data


def long(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["unit_id", "coder", "label"])


@pytest.mark.parametrize(
    "data",
    [
        pd.DataFrame(columns=["unit_id", "coder", "label"]),
        [],
        [[None, None], [None, None]],
        pd.DataFrame(
            {
                "unit_id": [1, 1],
                "coder": ["a", "b"],
                "label": [None, None],
                "status": ["failed", "failed"],
                "error": ["timeout", "timeout"],
            }
        ),
    ],
    ids=["empty-frame", "empty-list", "all-missing", "all-failed"],
)
def test_empty_input_is_a_clear_error(data) -> None:
    with pytest.raises(ValueError, match="no ratings"):
        agree(data)


def test_empty_file_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("unit_id,coder,label\n")
    with pytest.raises(ValueError, match="no ratings"):
        agree(str(path))


def test_one_coder_reports_undefined_with_reason() -> None:
    out = as_json(agree(long([(1, "a", "x"), (2, "a", "y"), (3, "a", "x")])))
    assert out["n_coders"] == 1
    assert all(c["value"] is None for c in out["coefficients"].values())
    assert any("only one coder" in w for w in out["warnings"])


def test_one_unit_is_defined_and_flagged() -> None:
    out = as_json(agree(long([(1, "a", "x"), (1, "b", "y"), (1, "c", "x")]), bootstrap=50))
    assert out["n_units"] == 1
    assert abs(out["coefficients"]["percent_agreement"]["value"] - 1 / 3) < 1e-12
    assert out["coefficients"]["krippendorff_alpha"]["value"] == pytest.approx(0.0)
    assert any("only one unit" in w for w in out["warnings"])


def test_all_ratings_in_one_category_is_the_kappa_paradox() -> None:
    out = as_json(agree(long([(u, c, "x") for u in range(5) for c in ("a", "b", "c")]), bootstrap=100))
    coefs = out["coefficients"]
    for name in ("scott_pi", "fleiss_kappa", "conger_kappa", "light_kappa", "krippendorff_alpha"):
        assert coefs[name]["value"] is None, name
    assert coefs["gwet_ac1"]["value"] == 1.0
    assert coefs["percent_agreement"]["value"] == 1.0
    text = " ".join(out["warnings"])
    assert "kappa paradox" in text and "gwet_ac1" in text and "percent_agreement" in text
    assert "alpha" in text


def test_skewed_prevalence_flags_the_paradox() -> None:
    rows = [(u, c, "x") for u in range(48) for c in ("a", "b")] + [
        (48, "a", "x"),
        (48, "b", "y"),
        (49, "a", "y"),
        (49, "b", "x"),
    ]
    out = as_json(agree(long(rows)))
    assert out["coefficients"]["percent_agreement"]["value"] == pytest.approx(0.96)
    assert out["coefficients"]["cohen_kappa"]["value"] < 0.1
    assert out["coefficients"]["gwet_ac1"]["value"] > 0.9
    assert any(w.startswith("kappa paradox") for w in out["warnings"])


def test_no_pairable_unit() -> None:
    out = as_json(agree(long([(1, "a", "x"), (2, "b", "y")])))
    assert all(c["value"] is None for c in out["coefficients"].values())
    assert any("no unit has two or more ratings" in w for w in out["warnings"])
    assert out["n_pairable_units"] == 0


def test_single_rated_units_are_reported_not_paired() -> None:
    rows = [(1, "a", 1), (1, "b", 1), (2, "a", 2), (2, "b", 2), (3, "a", 1), (4, "b", 2)]
    out = as_json(agree(long(rows)))
    assert out["n_units"] == 4 and out["n_pairable_units"] == 2
    assert out["single_rated_units"] == [3, 4]
    assert any("fewer than two ratings" in w and "3, 4" in w for w in out["warnings"])


def test_failed_rows_are_missing_not_a_category() -> None:
    frame = pd.DataFrame(
        {
            "unit_id": [1, 1, 2, 2, 3, 3],
            "coder": ["a", "b"] * 3,
            "label": ["x", "x", "y", None, "x", "y"],
            "status": ["ok", "ok", "ok", "failed", "ok", "ok"],
        }
    )
    out = as_json(agree(frame))
    assert out["categories"] == ["x", "y"]
    assert out["n_ratings"] == 5
    assert any("failed row" in w for w in out["warnings"])


def test_conflicting_duplicate_rating_is_an_error() -> None:
    with pytest.raises(ValueError, match="two different labels"):
        agree(long([(1, "a", "x"), (1, "a", "y"), (1, "b", "x")]))


def test_ordinal_without_order_is_an_error_not_alphabetical() -> None:
    frame = long([(1, "a", "low"), (1, "b", "high"), (2, "a", "medium"), (2, "b", "medium")])
    with pytest.raises(ValueError, match="never ordered alphabetically"):
        agree(frame, level="ordinal")
    with pytest.raises(ValueError, match="not in the given order"):
        agree(frame, level="ordinal", order=["low", "medium"])


def test_undefined_result_renders_everywhere(tmp_path) -> None:
    result = agree(long([(u, c, "x") for u in range(3) for c in ("a", "b")]), bootstrap=20)
    assert "warning:" in format_text(result)
    assert "kappa paradox" in write_report(result, tmp_path / "r.md").read_text()
    assert "NaN" not in write_report(result, tmp_path / "r.html").read_text()


def test_bad_arguments_are_clear() -> None:
    with pytest.raises(ValueError, match="unknown level"):
        agree([[1, 2]], level="fuzzy")
    with pytest.raises(ValueError, match="bootstrap"):
        agree([[1, 2]], bootstrap=-1)
    with pytest.raises(ValueError, match="non-negative"):
        agree([[-1, 2], [3, 4]], level="ratio")
    with pytest.raises(ValueError, match="custom weights"):
        agree([[1, 2], [2, 2]], weights=np.eye(3))
