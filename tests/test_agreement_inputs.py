"""Inputs: long and wide tables, CSV/JSONL/Parquet files, numbers as numbers, codebook order, sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from thoughtcode.agreement import RatingData, agree, jaccard_distance, masi_distance
from thoughtcode.agreement.data import resolve_scale

WIDE = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
        [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan],
    ]
).T  # Krippendorff (2011), units x coders


def long_frame() -> pd.DataFrame:
    rows = [
        {"unit_id": f"u{u}", "coder": f"c{c}", "label": int(v)}
        for u, row in enumerate(WIDE)
        for c, v in enumerate(row)
        if v == v
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_files_long_format(tmp_path: Path, suffix: str) -> None:
    frame = long_frame()
    path = tmp_path / f"labels{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dict(orient="records")))
    else:
        frame.to_parquet(path, index=False)
    result = agree(str(path), level="interval")
    assert result.coefficients["krippendorff_alpha"].value == pytest.approx(0.849107142857143, abs=1e-12)


def test_wide_frame_and_wide_file(tmp_path: Path) -> None:
    wide = pd.DataFrame(WIDE, columns=["a", "b", "c", "d"])
    wide.insert(0, "unit_id", [f"u{i}" for i in range(len(wide))])
    direct = agree(wide, wide=True, level="ordinal")
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False)
    from_file = agree(str(path), wide=True, level="ordinal")
    assert direct.coefficients["krippendorff_alpha"].value == pytest.approx(0.815387503754881, abs=1e-12)
    assert from_file.to_dict()["coefficients"] == direct.to_dict()["coefficients"]
    assert from_file.coders == ["a", "b", "c", "d"]


def test_numeric_labels_are_numbers_not_strings() -> None:
    scale = resolve_scale(["10", "9", 2.0, "1"], None, "interval")
    assert scale.categories == [1, 2, 9, 10]
    assert scale.values.tolist() == [1.0, 2.0, 9.0, 10.0]
    # "2" and 2.0 are the same category
    frame = pd.DataFrame({"unit_id": [1, 1, 2, 2], "coder": ["a", "b"] * 2, "label": ["2", 2.0, "10", 9]})
    result = agree(frame, level="interval")
    assert result.categories == [2, 9, 10]
    assert result.coefficients["percent_agreement"].value == pytest.approx(0.5)


def test_ordinal_order_comes_from_codebook_not_sorting() -> None:
    order = ["low", "medium", "high"]
    frame = pd.DataFrame(
        {
            "unit_id": [1, 1, 2, 2, 3, 3, 4, 4],
            "coder": ["a", "b"] * 4,
            "label": ["low", "medium", "medium", "high", "high", "high", "low", "low"],
        }
    )
    ours = agree(frame, level="ordinal", order=order)
    numeric = frame.assign(label=frame["label"].map({k: i for i, k in enumerate(order)}))
    same = agree(numeric, level="ordinal")
    alphabetical = agree(frame, level="ordinal", order=sorted(order))
    a = ours.coefficients["krippendorff_alpha"].value
    assert a == pytest.approx(same.coefficients["krippendorff_alpha"].value, abs=1e-12)
    assert a != pytest.approx(alphabetical.coefficients["krippendorff_alpha"].value)
    assert ours.categories == order
    assert ours.weights == "linear"
    # unused codebook categories belong to the scale (they change AC1's and BP's chance terms)
    wider = agree(frame, order=order + ["extreme"])
    assert wider.categories == order + ["extreme"]
    assert wider.coefficients["fleiss_kappa"].value == pytest.approx(
        agree(frame).coefficients["fleiss_kappa"].value
    )


def test_scheme_column_must_be_chosen() -> None:
    frame = long_frame().assign(scheme="reasons")
    other = long_frame().assign(scheme="reactions")
    both = pd.concat([frame, other])
    with pytest.raises(ValueError, match="several schemes"):
        agree(both)
    assert agree(both, scheme="reasons").n_ratings == len(frame)


def test_counts_only_input_reports_missing_coder_identities() -> None:
    data = RatingData.from_counts([[3, 0], [1, 2], [0, 3]], ["yes", "no"])
    out = agree(data).to_dict()
    assert out["coefficients"]["conger_kappa"]["value"] is None
    assert any("coder identities unknown" in w for w in out["warnings"])
    assert out["coefficients"]["fleiss_kappa"]["value"] is not None


def test_set_distances() -> None:
    a, b = frozenset("ab"), frozenset("a")
    assert jaccard_distance(a, b) == pytest.approx(0.5)
    assert masi_distance(a, b) == pytest.approx(1 - 0.5 * 2 / 3)
    assert masi_distance(frozenset("ab"), frozenset("bc")) == pytest.approx(1 - (1 / 3) * (1 / 3))
    assert masi_distance(frozenset("a"), frozenset("b")) == 1.0
    assert masi_distance(a, a) == 0.0 and jaccard_distance(frozenset(), frozenset()) == 0.0


def test_multilabel_agreement(tmp_path: Path) -> None:
    rows = []
    sets = {
        1: (["travel"], ["travel"]),
        2: (["food", "travel"], ["food"]),
        3: (["health"], ["health"]),
        4: (["health", "food"], ["food", "health"]),
        5: (["coding"], ["travel"]),
        6: (["coding"], ["coding"]),
    }
    for unit, (x, y) in sets.items():
        rows.append({"unit_id": unit, "coder": "a", "labels": x})
        rows.append({"unit_id": unit, "coder": "b", "labels": y})
    rows.append({"unit_id": 7, "coder": "a", "labels": None, "status": "failed"})
    frame = pd.DataFrame(rows)
    result = agree(frame)
    out = result.to_dict()
    assert out["level"] == "multilabel"
    coefs = out["coefficients"]
    assert coefs["percent_agreement"]["value"] == pytest.approx(4 / 6)
    masi, jac = coefs["krippendorff_alpha_masi"]["value"], coefs["krippendorff_alpha_jaccard"]["value"]
    assert 0 < jac < masi or 0 < masi < 1
    # nltk-free check of alpha with MASI: hand computation from the coincidence definition
    values = sorted({frozenset(v) for pair in sets.values() for v in pair}, key=lambda s: (len(s), sorted(s)))
    idx = {v: i for i, v in enumerate(values)}
    o = np.zeros((len(values), len(values)))
    for x, y in sets.values():
        i, j = idx[frozenset(x)], idx[frozenset(y)]
        o[i, j] += 1
        o[j, i] += 1
    d = np.array([[masi_distance(p, r) for r in values] for p in values])
    n_k = o.sum(axis=1)
    n = n_k.sum()
    expected = 1 - (n - 1) * (o * d).sum() / (n_k @ d @ n_k)
    assert masi == pytest.approx(expected, abs=1e-12)
    assert set(out["per_category"]) == {"coding", "food", "health", "travel"}
    assert out["per_category"]["health"]["cohen_kappa"]["value"] == pytest.approx(1.0)
    # JSON list strings in a CSV are read back as sets
    csv = tmp_path / "multi.csv"
    frame.assign(labels=frame["labels"].map(lambda v: json.dumps(v) if v is not None else "")).to_csv(
        csv, index=False
    )
    again = agree(str(csv), label_col="labels").to_dict()
    assert again["coefficients"]["krippendorff_alpha_masi"]["value"] == pytest.approx(masi, abs=1e-12)


def test_masi_alpha_matches_nltk() -> None:
    from nltk.metrics import agreement as nltk_metrics
    from nltk.metrics.distance import masi_distance as nltk_masi

    rng = np.random.default_rng(0)
    labels = ["a", "b", "c", "d"]
    triples, rows = [], []
    for u in range(40):
        base = set(rng.choice(labels, size=rng.integers(1, 3), replace=False))
        for c in ("x", "y", "z"):
            s = set(base)
            if rng.random() < 0.3:
                s ^= {rng.choice(labels)}
            if not s:
                s = {"a"}
            triples.append((c, str(u), frozenset(s)))
            rows.append({"unit_id": u, "coder": c, "labels": sorted(s)})
    task = nltk_metrics.AnnotationTask(data=triples, distance=nltk_masi)
    ours = agree(pd.DataFrame(rows)).coefficients["krippendorff_alpha_masi"].value
    assert ours == pytest.approx(task.alpha(), abs=1e-9)


def test_rows_without_unit_or_coder_are_left_out_not_misplaced() -> None:
    # pandas gives a missing unit id or coder the index -1, which would write the label into another
    # unit's or coder's cell; such rows cannot be placed, so they are left out with a note.
    frame = pd.DataFrame(
        {
            "unit_id": ["u1", "u1", "u2", "u2", None, "u3"],
            "coder": ["a", "b", "a", "b", "a", None],
            "label": ["x", "x", "y", "y", "z", "z"],
        }
    )
    data = RatingData.from_long(frame)
    assert data.units == ["u1", "u2"]
    assert data.coders == ["a", "b"]
    assert data.label_matrix().loc["u2"].tolist() == ["y", "y"]
    assert data.categories == ["x", "y"]
    assert any("without a unit id" in n for n in data.notes)
    assert any("without a coder" in n for n in data.notes)


@pytest.mark.parametrize("name", ["labels.jsonl.gz", "labels.tsv", "labels.jsonl"])
def test_written_labels_table_reads_back(tmp_path: Path, name: str) -> None:
    from thoughtcode.labels import read_table, write_labels

    frame = pd.DataFrame(
        {"unit_id": ["u1", "u1"], "coder": ["a", "b"], "label": ["x", "y"], "confidence": [0.5, np.inf]}
    )
    path = write_labels(frame, tmp_path / name)
    back = read_table(path)
    assert back["label"].tolist() == ["x", "y"]
    assert back["coder"].tolist() == ["a", "b"]
    if ".jsonl" in name:  # strict JSON: no Infinity/NaN tokens
        from thoughtcode.textio import open_text

        with open_text(path) as handle:
            assert "Infinity" not in handle.read()
        assert back["confidence"].iloc[0] == 0.5 and back["confidence"].isna().iloc[1]


def test_json_array_and_empty_csv_tables(tmp_path: Path) -> None:
    from thoughtcode.labels import read_table

    rows = [{"unit_id": "u1", "coder": c, "label": lab} for c, lab in (("a", "x"), ("b", "x"))]
    pretty = tmp_path / "labels.json"
    pretty.write_text(json.dumps(rows, indent=2))  # an exported JSON array, not JSON lines
    assert read_table(pretty)["coder"].tolist() == ["a", "b"]
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match="no ratings: the table is empty"):
        agree(empty)


def test_csv_ids_are_text_not_numbers(tmp_path: Path) -> None:
    # "001" and "1" are two units; a CSV reader that parses ids as numbers would merge them.
    path = tmp_path / "ids.csv"
    path.write_text("item,rater,label\n001,a,x\n001,b,x\n1,a,y\n1,b,x\n")
    result = agree(str(path), unit_col="item", coder_col="rater")
    assert result.n_units == 2
    assert result.coefficients["percent_agreement"].value == pytest.approx(0.5)
    from thoughtcode.labels import read_table

    assert RatingData.from_long(read_table(path, ("item",)), "item", "rater").units == ["001", "1"]


def test_multilabel_rows_without_unit_or_coder_and_several_schemes() -> None:
    rows = [
        {"unit_id": "u1", "coder": "a", "labels": ["x"]},
        {"unit_id": "u1", "coder": "b", "labels": ["x"]},
        {"unit_id": "u2", "coder": "a", "labels": ["y"]},
        {"unit_id": "u2", "coder": "b", "labels": ["y"]},
        {"unit_id": None, "coder": "b", "labels": ["x", "z"]},  # would overwrite u2/b
        {"unit_id": "u3", "coder": None, "labels": ["z"]},
    ]
    result = agree(pd.DataFrame(rows))
    assert result.n_units == 2 and result.coders == ["a", "b"]
    assert result.coefficients["percent_agreement"].value == pytest.approx(1.0)
    assert any("without a unit id" in w for w in result.warnings)
    assert any("without a coder" in w for w in result.warnings)
    mixed = pd.DataFrame(rows[:4]).assign(scheme=["topics", "topics", "tags", "tags"])
    with pytest.raises(ValueError, match="several schemes"):
        agree(mixed)
    assert agree(mixed, scheme="topics").n_units == 1
