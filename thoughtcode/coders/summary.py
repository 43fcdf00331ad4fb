"""The end-of-run summary: counts, time, tokens, cost and agreement with reference labels.

Agreement is delegated to :func:`thoughtcode.agreement.validate` (one implementation of kappa, alpha,
accuracy and macro-F1 with bootstrap intervals for the whole toolkit); this module only picks the numbers a
coding run should show and formats them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from thoughtcode.taxonomy import Codebook, CodebookError

HEADLINE = (("cohen_kappa", "kappa"), ("krippendorff_alpha", "alpha"), ("accuracy", "accuracy"), ("f1_macro", "macro-F1"))


def reference_frame(reference: pd.DataFrame, codebook: Codebook) -> tuple[pd.DataFrame, int]:
    """Reference labels mapped onto the codebook's ids; returns the frame and how many were not codes of it."""
    rows, unknown = [], 0
    for row in reference.to_dict(orient="records"):
        try:
            rows.append({"unit_id": row["unit_id"], "label": codebook.normalise_label(str(row["label"]))})
        except CodebookError:
            unknown += 1
    return pd.DataFrame(rows, columns=["unit_id", "label"]), unknown


def agreement_summary(
    coded: pd.DataFrame,
    reference: pd.DataFrame,
    codebook: Codebook,
    bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, Any] | None:
    """Kappa, alpha, accuracy and macro-F1 (with bootstrap intervals) and the confusion matrix of one
    coder's labels (``coded``: unit_id, label, status) against reference labels; ``None`` when there is
    nothing to compare (no reference labels, or a multi-label codebook)."""
    if codebook.multi_label or reference.empty or coded.empty:
        return None
    ref, unknown = reference_frame(reference, codebook)
    ok = coded.loc[coded["status"].astype(str) == "ok", ["unit_id", "label"]].assign(coder="coder")
    ok = ok.loc[ok["unit_id"].isin(set(ref["unit_id"]))]
    if ref.empty or ok.empty:
        return None
    from thoughtcode.agreement import validate

    result = validate(ok, ref, bootstrap=bootstrap, seed=seed, order=codebook.label_ids).to_dict()
    coder = result["coders"]["coder"]
    out: dict[str, Any] = {
        "n_units": coder["n_units"],
        "n_reference_units": result["n_reference_units"],
        "reference_not_in_codebook": unknown,
        "interval": result["interval"].get("description"),
    }
    for key, name in HEADLINE:
        entry = coder["metrics"][key]
        out[name] = {"value": entry["value"], "ci": entry.get("ci")}
    out["confusion_matrix"] = coder["confusion_matrix"]
    return out


def _fmt(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as the lines ``thoughtcode code`` prints."""
    lines = [
        f"coded {summary['coded']} unit(s), failed {summary['failed']}, cached {summary['cached']}, "
        f"already done {summary['already_done']} (of {summary['units_total']} {summary['unit_kind']} units)",
        f"time {summary['time_s']:.1f} s; requests {summary['requests']}; tokens in {summary['tokens_in']:,}, "
        f"out {summary['tokens_out']:,}",
    ]
    if summary.get("cost") is not None:
        cost = summary["cost"]
        lines.append(f"estimated cost ${cost['total']:.4f} (input ${cost['input']:.4f}, output ${cost['output']:.4f})")
    lines.append(f"labels in {summary['out']}: {summary['ok_in_file']} ok, {summary['failed_in_file']} failed")
    if summary.get("failed_examples"):
        lines.append("failures (first few):")
        lines += [f"  {item['unit_id']}: {item['error']}" for item in summary["failed_examples"]]
    agreement = summary.get("agreement")
    if agreement:
        lines.append(
            f"agreement with the reference labels in the input ({agreement['n_units']} of "
            f"{agreement['n_reference_units']} units; {agreement['interval']}):"
        )
        for _, name in HEADLINE:
            entry = agreement[name]
            ci = entry.get("ci")
            ci_text = f" [{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci and ci[0] is not None else ""
            lines.append(f"  {name:<9} {_fmt(entry['value'])}{ci_text}")
        matrix = agreement["confusion_matrix"]
        labels = [str(x) for x in matrix["labels"]]
        short = [label[:10] for label in labels]
        lines.append("confusion matrix (rows reference, columns coder):")
        lines.append(" " * 34 + " ".join(f"{s:>10}" for s in short))
        for label, row in zip(labels, matrix["matrix"], strict=False):
            lines.append(f"  {label[:32]:<32}" + " ".join(f"{v:>10}" for v in row))
    return "\n".join(lines)
