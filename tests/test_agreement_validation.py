"""Coder against reference labels, on real ThoughtTrace reasons with deliberately changed labels.

The reference is the release's reason labels in tests/data/thoughttrace_dev.jsonl; two coders copy it
and change a known set of units. Every metric is recomputed independently with scikit-learn (and alpha
with the krippendorff package).
"""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    precision_recall_fscore_support,
)

from thoughtcode.agreement import validate, write_report

DEV = Path(__file__).parent / "data" / "thoughttrace_dev.jsonl"


@pytest.fixture(scope="module")
def reasons() -> pd.DataFrame:
    rows = []
    with DEV.open(encoding="utf-8") as handle:
        for line in handle:
            conv = json.loads(line)
            for m, message in enumerate(conv.get("messages") or []):
                for r, reason in enumerate(message.get("reasons") or []):
                    if reason.get("label"):
                        rows.append(
                            {
                                "unit_id": f"{conv['id']}:{m}:{r}",
                                "label": reason["label"],
                                "text": reason.get("content", ""),
                            }
                        )
    frame = pd.DataFrame(rows)
    assert len(frame) > 400
    return frame


def perturbed(reference: pd.DataFrame, share: float, seed: int, coder: str) -> tuple[pd.DataFrame, set[str]]:
    """A coder that copies the reference but relabels a known share of units (and fails on a few)."""
    rng = np.random.default_rng(seed)
    cats = sorted(reference["label"].unique())
    labels = reference["label"].to_numpy().copy()
    changed = rng.random(len(labels)) < share
    for i in np.flatnonzero(changed):
        labels[i] = rng.choice([c for c in cats if c != labels[i]])
    frame = pd.DataFrame({"unit_id": reference["unit_id"], "coder": coder, "label": labels, "status": "ok"})
    failed = rng.random(len(labels)) < 0.02
    frame.loc[failed, "label"] = None
    frame.loc[failed, "status"] = "failed"
    changed_units = set(reference["unit_id"][changed & ~failed])
    return frame, changed_units


def sklearn_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    out = {"accuracy": accuracy_score(y_true, y_pred), "cohen_kappa": cohen_kappa_score(y_true, y_pred)}
    for avg in ("macro", "micro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=avg, zero_division=0)
        out[f"precision_{avg}"], out[f"recall_{avg}"], out[f"f1_{avg}"] = p, r, f
    return out


def test_single_coder_matches_sklearn(reasons: pd.DataFrame) -> None:
    coded, changed = perturbed(reasons, 0.2, seed=1, coder="llm")
    result = validate(coded, reasons[["unit_id", "label"]], bootstrap=300, seed=0)
    out = result.to_dict()
    report = out["coders"]["llm"]
    ok = coded["status"].eq("ok").to_numpy()
    y_true = reasons["label"].to_numpy()[ok]
    y_pred = coded["label"].to_numpy()[ok]
    assert report["n_units"] == ok.sum()
    expected = sklearn_metrics(y_true, y_pred)
    for name, value in expected.items():
        assert abs(report["metrics"][name]["value"] - value) < 1e-12, name
        lo, hi = report["metrics"][name]["ci"]
        assert lo <= value <= hi, name
        assert report["metrics"][name]["ci_method"] == "bootstrap"
    labels = out["categories"]
    assert report["confusion_matrix"]["matrix"] == confusion_matrix(y_true, y_pred, labels=labels).tolist()
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    for j, cls in enumerate(labels):
        assert report["per_class"][cls]["support"] == s[j]
        assert abs(report["per_class"][cls]["precision"]["value"] - p[j]) < 1e-12
        assert abs(report["per_class"][cls]["recall"]["value"] - r[j]) < 1e-12
        assert abs(report["per_class"][cls]["f1"]["value"] - f[j]) < 1e-12
    # alpha between coder and reference, computed by the krippendorff package
    codes = {c: i for i, c in enumerate(labels)}
    grid = np.array([[codes[v] for v in y_true], [codes[v] for v in y_pred]], dtype=float)
    assert (
        abs(
            report["metrics"]["krippendorff_alpha"]["value"]
            - krippendorff.alpha(grid, level_of_measurement="nominal")
        )
        < 1e-9
    )
    # the disagreement list is exactly the changed units, and failures are reported, not counted as errors
    assert {d["unit_id"] for d in out["disagreements"]} == changed
    assert out["n_disagreements"] == len(changed)
    assert any("failed row" in w for w in out["warnings"])
    top = report["confused_pairs"][0]
    cm = np.array(report["confusion_matrix"]["matrix"])
    np.fill_diagonal(cm, 0)
    assert top["count"] == cm.max()


def test_several_coders_ranked_with_difference_interval(reasons: pd.DataFrame) -> None:
    good, _ = perturbed(reasons, 0.05, seed=2, coder="good")
    bad, _ = perturbed(reasons, 0.45, seed=3, coder="bad")
    coded = pd.concat([bad, good], ignore_index=True)
    unit_text = dict(zip(reasons["unit_id"], reasons["text"], strict=True))
    result = validate(coded, reasons[["unit_id", "label"]], bootstrap=400, seed=1, unit_text=unit_text)
    out = result.to_dict()
    comp = out["comparison"]
    assert comp["closest"] == "good"
    assert [r["coder"] for r in comp["ranking"]] == ["good", "bad"]
    diff = comp["differences"][0]
    assert diff["coder"] == "good" and diff["versus"] == "bad"
    for metric in ("accuracy", "f1_macro", "cohen_kappa"):
        assert diff[metric]["ci"][0] > 0, metric
    assert diff["clearly_better"] is True
    # the common-unit difference equals the difference of sklearn metrics on the shared units
    both = good["status"].eq("ok").to_numpy() & bad["status"].eq("ok").to_numpy()
    y = reasons["label"].to_numpy()[both]
    acc_diff = accuracy_score(y, good["label"].to_numpy()[both]) - accuracy_score(
        y, bad["label"].to_numpy()[both]
    )
    assert abs(diff["accuracy"]["value"] - acc_diff) < 1e-12
    assert comp["n_common_units"] == both.sum()
    with_text = [d for d in out["disagreements"] if d.get("text")]
    assert with_text and with_text[0]["text"] == unit_text[with_text[0]["unit_id"]]


def test_validation_report_and_reference_conflicts(reasons: pd.DataFrame, tmp_path: Path) -> None:
    coded, _ = perturbed(reasons.head(120), 0.3, seed=4, coder="coder")
    result = validate(coded, reasons.head(120)[["unit_id", "label"]], bootstrap=100, seed=0)
    html = write_report(result, tmp_path / "validation.html").read_text()
    assert "data:image/png;base64," in html and "confusion matrix" in html.lower()
    md = write_report(result, tmp_path / "validation.md").read_text()
    assert "| metric |" in md
    bad_ref = pd.DataFrame({"unit_id": ["u1", "u1"], "label": ["a", "b"]})
    with pytest.raises(ValueError, match="different labels"):
        validate(pd.DataFrame({"unit_id": ["u1"], "coder": ["c"], "label": ["a"]}), bad_ref)


def test_no_bootstrap_gives_points_without_intervals(reasons: pd.DataFrame) -> None:
    coded, _ = perturbed(reasons.head(60), 0.2, seed=5, coder="c")
    out = validate(coded, reasons.head(60), bootstrap=0).to_dict()
    metric = out["coders"]["c"]["metrics"]["accuracy"]
    assert metric["value"] is not None and metric["ci"] is None and metric["ci_method"] is None


def test_unit_ids_match_across_files_as_text(tmp_path) -> None:
    # CSV gives numbers, JSON lines give strings; "001" is not "1".
    coded = tmp_path / "coded.csv"
    coded.write_text("unit_id,coder,label\n1,m,x\n2,m,y\n3,m,x\n001,m,y\n")
    reference = tmp_path / "reference.jsonl"
    reference.write_text(
        "".join(json.dumps({"unit_id": u, "label": v}) + "\n" for u, v in (("1", "x"), ("2", "x"), ("3", "x"), ("001", "y")))
    )
    result = validate(str(coded), str(reference), bootstrap=0).to_dict()
    assert result["n_reference_units"] == 4
    assert result["coders"]["m"]["n_units"] == 4
    assert {d["unit_id"] for d in result["disagreements"]} == {"2"}
    programmatic = validate(
        pd.DataFrame({"unit_id": [1, 2], "coder": "m", "label": ["x", "y"]}),
        pd.DataFrame({"unit_id": ["1", "2"], "label": ["x", "y"]}),
        bootstrap=0,
    ).to_dict()
    assert programmatic["coders"]["m"]["n_units"] == 2


def test_no_common_unit_gives_nulls_without_numpy_warnings() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = validate(
            pd.DataFrame({"unit_id": ["a"], "coder": "m", "label": ["x"]}),
            pd.DataFrame({"unit_id": ["b"], "label": ["x"]}),
            bootstrap=0,
        ).to_dict()
    assert out["coders"]["m"]["n_units"] == 0
    assert out["coders"]["m"]["metrics"]["f1_macro"]["value"] is None
