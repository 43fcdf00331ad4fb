"""Validation of coders against reference labels, and where coders go wrong.

Why confusion matrices: every metric asked for (accuracy; per-class, macro, micro and weighted
precision, recall and F1; Cohen's kappa; Krippendorff's alpha of coder vs reference) is a function of
the reference x coder confusion matrix. Each unit contributes a one-hot confusion cell, so the
bootstrap is one product of resampling weights with those one-hots, and the metrics are computed on
B confusion matrices at once. Several coders are resampled on the same units, which gives paired
intervals for their differences.

Conventions follow scikit-learn so numbers can be checked against it: rows are the reference (true)
labels, columns the coder's; a precision or recall with an empty denominator is 0; macro averages run
over the classes that occur in the reference or in the coder's labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from thoughtcode.agreement.coefficients import ratio
from thoughtcode.agreement.data import category_key, is_missing, resolve_scale
from thoughtcode.agreement.intervals import bootstrap_weights, percentile_interval
from thoughtcode.agreement.results import ValidationResult
from thoughtcode.jsonsafe import json_safe
from thoughtcode.labels import read_table

METRICS = (
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_micro",
    "recall_micro",
    "f1_micro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "cohen_kappa",
    "krippendorff_alpha",
)
RANK_METRICS = ("cohen_kappa", "accuracy", "f1_macro", "krippendorff_alpha")


def confusion_metrics(m: np.ndarray, present: np.ndarray) -> dict[str, np.ndarray]:
    """All validation metrics of B confusion matrices (B x q x q; rows reference, columns coder)."""
    m = np.asarray(m, dtype=float)
    if m.ndim == 2:
        m = m[None]
    total = m.sum(axis=(1, 2))
    diag = np.einsum("bkk->bk", m)
    support = m.sum(axis=2)
    predicted = m.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = ratio(diag, predicted, 0.0)
        recall = ratio(diag, support, 0.0)
        f1 = ratio(2 * precision * recall, precision + recall, 0.0)
        accuracy = ratio(diag.sum(axis=1), total)
        p = present.astype(float)
        n_present = p.sum()
        wsum = (support * p).sum(axis=1)
        pe = (support * predicted).sum(axis=1) / total**2
        kappa = np.where(1 - pe > 1e-12, (accuracy - pe) / (1 - pe), np.nan)
        # alpha of two coders without missing values: coincidences = M + M^T
        nv = support + predicted
        nn = 2 * total
        de = nn**2 - (nv**2).sum(axis=1)
        alpha = np.where(
            de > 1e-12,
            1 - (nn - 1) * (2 * total - 2 * diag.sum(axis=1)) / np.where(de > 1e-12, de, 1),
            np.nan,
        )

    def macro(per_class: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):  # no unit in common: NaN, reported as null
            return (per_class * p).sum(axis=1) / n_present

    def weighted(per_class: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (per_class * support).sum(axis=1) / wsum

    out = {
        "accuracy": accuracy,
        "precision_macro": macro(precision),
        "recall_macro": macro(recall),
        "f1_macro": macro(f1),
        "precision_micro": accuracy,
        "recall_micro": accuracy,
        "f1_micro": accuracy,
        "precision_weighted": weighted(precision),
        "recall_weighted": weighted(recall),
        "f1_weighted": weighted(f1),
        "cohen_kappa": kappa,
        "krippendorff_alpha": alpha,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }
    return out


def _entry(value: float, reps: np.ndarray | None, confidence: float) -> dict[str, Any]:
    value = float(value)
    if not np.isfinite(value):
        return {"value": None, "se": None, "ci": None, "ci_method": None}
    if reps is None:
        return {"value": value, "se": None, "ci": None, "ci_method": None}
    ci = percentile_interval(reps, confidence)
    good = reps[np.isfinite(reps)]
    return {
        "value": value,
        "se": float(good.std(ddof=1)) if len(good) >= 2 else None,
        "ci": list(ci) if ci is not None else None,
        "ci_method": "bootstrap" if ci is not None else None,
    }


def _labels_by_unit(frame: pd.DataFrame, unit_col: str, label_col: str, what: str) -> pd.Series:
    """One label per unit from a labels table (failed rows and blanks are missing)."""
    for col in (unit_col, label_col):
        if col not in frame.columns:
            raise ValueError(
                f"{what}: column {col!r} not found; columns are: {', '.join(map(str, frame.columns))}"
            )
    if "status" in frame.columns:
        frame = frame.loc[~frame["status"].astype(str).str.lower().eq("failed")]
    frame = frame.loc[[not is_missing(v) for v in frame[label_col]]]
    keys = frame[label_col].map(category_key)
    # Unit ids are identifiers matched across two files: 7 (from a CSV or Parquet) and "7" (from JSON)
    # are the same unit, so numbers are matched by their text.
    unit_ids = [u if isinstance(u, str) else category_key(u) for u in frame[unit_col]]
    grouped = keys.groupby(np.array(unit_ids, dtype=object), sort=False)
    conflicts = grouped.nunique()
    bad = conflicts[conflicts > 1]
    if len(bad):
        raise ValueError(
            f"{what}: unit {bad.index[0]!r} has {int(bad.iloc[0])} different labels; "
            "give one label per unit (or one coder's labels)"
        )
    return grouped.first()


def validate(
    coded: pd.DataFrame | str | Path,
    reference: pd.DataFrame | str | Path,
    *,
    unit_col: str = "unit_id",
    coder_col: str = "coder",
    label_col: str = "label",
    reference_label_col: str | None = None,
    order: Sequence[Any] | None = None,
    bootstrap: int = 1000,
    seed: int | None = 0,
    confidence: float = 0.95,
    unit_text: dict[Any, str] | None = None,
    rank_by: str = "cohen_kappa",
    scheme: str | None = None,
) -> ValidationResult:
    """Coders' labels against reference labels on the same units, with bootstrap intervals.

    ``coded`` is a labels table (unit_id, coder, label[, status]); without a coder column it is one
    coder. ``reference`` has unit_id and label (e.g. human labels, or labels stored in a corpus). Either may
    be given as a CSV/JSONL/Parquet path.
    """
    if not isinstance(coded, pd.DataFrame):
        coded = read_table(coded)
    if not isinstance(reference, pd.DataFrame):
        reference = read_table(reference)
    if rank_by not in RANK_METRICS:
        raise ValueError(f"rank_by must be one of {', '.join(RANK_METRICS)}")
    reference_label_col = reference_label_col or (label_col if label_col in reference.columns else "label")
    warnings: list[str] = []
    if scheme is not None:
        coded = coded.loc[coded["scheme"] == scheme] if "scheme" in coded.columns else coded
        reference = (
            reference.loc[reference["scheme"] == scheme] if "scheme" in reference.columns else reference
        )
    if scheme is None and "scheme" in coded.columns and coded["scheme"].nunique() > 1:
        schemes = ", ".join(map(str, coded["scheme"].unique()))
        raise ValueError(f"coded: the table holds several schemes ({schemes}); choose one with scheme=...")
    ref = _labels_by_unit(reference, unit_col, reference_label_col, "reference")
    if ref.empty:
        raise ValueError("reference: no labelled unit")
    if coded.empty:
        raise ValueError("coded: no rows")
    if coder_col not in coded.columns:
        coded = coded.assign(**{coder_col: "coder"})
    coder_names = list(pd.unique(coded[coder_col]))
    predictions: dict[Any, pd.Series] = {}
    for name in coder_names:
        part = coded.loc[coded[coder_col] == name]
        n_failed = int(part["status"].astype(str).str.lower().eq("failed").sum()) if "status" in part else 0
        predictions[name] = _labels_by_unit(part, unit_col, label_col, f"coder {name!r}")
        if n_failed:
            warnings.append(f"coder {name!r}: {n_failed} failed row(s) are missing labels, not a category")
        extra = predictions[name].index.difference(ref.index)
        if len(extra):
            warnings.append(f"coder {name!r}: {len(extra)} unit(s) without a reference label ignored")

    all_keys = list(ref.to_numpy()) + [v for s in predictions.values() for v in s.to_numpy()]
    scale = resolve_scale(all_keys, order, "nominal")
    keys = scale.keys
    index = {k: i for i, k in enumerate(keys)}
    q = len(keys)
    units = list(ref.index)
    ref_codes = np.array([index[v] for v in ref.to_numpy()], dtype=np.int64)
    pred = np.full((len(units), len(coder_names)), -1, dtype=np.int64)
    for g, name in enumerate(coder_names):
        s = predictions[name].reindex(units)
        ok = s.notna().to_numpy()
        pred[ok, g] = [index[v] for v in s.to_numpy()[ok]]

    # features: one-hot confusion cell per coder (own coverage) and on the units all coders labelled
    rows = np.column_stack([ref_codes, pred])
    uniq, first, mult = np.unique(rows, axis=0, return_index=True, return_counts=True)
    mult = mult.astype(float)
    n_coders = len(coder_names)
    common = (uniq[:, 1:] >= 0).all(axis=1)

    def onehot(g: int, mask: np.ndarray) -> np.ndarray:
        out = np.zeros((len(uniq), q * q))
        ok = (uniq[:, 1 + g] >= 0) & mask
        out[np.flatnonzero(ok), uniq[ok, 0] * q + uniq[ok, 1 + g]] = 1.0
        return out

    blocks = [onehot(g, np.ones(len(uniq), bool)) for g in range(n_coders)]
    if n_coders > 1:
        blocks += [onehot(g, common) for g in range(n_coders)]
    features = np.hstack(blocks)
    sums = mult @ features
    reps = None
    if bootstrap and bootstrap > 0:
        reps = np.vstack([w @ features for w in bootstrap_weights(mult, bootstrap, seed)])

    coders_out: dict[str, dict[str, Any]] = {}
    for g, name in enumerate(coder_names):
        sl = slice(g * q * q, (g + 1) * q * q)
        m0 = sums[sl].reshape(q, q)
        n_cov = int(m0.sum())
        if n_cov == 0:
            warnings.append(f"coder {name!r} labelled none of the reference units")
        present = (m0.sum(axis=0) + m0.sum(axis=1)) > 0
        point = confusion_metrics(m0, present)
        boot = confusion_metrics(reps[:, sl].reshape(-1, q, q), present) if reps is not None else None
        metrics = {k: _entry(point[k][0], boot[k] if boot is not None else None, confidence) for k in METRICS}
        per_class = {}
        for j in np.flatnonzero(present):
            per_class[keys[j]] = {
                "support": int(m0[j].sum()),
                "predicted": int(m0[:, j].sum()),
                **{
                    k: _entry(point[k][0, j], boot[k][:, j] if boot is not None else None, confidence)
                    for k in ("precision", "recall", "f1")
                },
            }
        coverage = n_cov / len(units)
        if coverage < 1:
            warnings.append(
                f"coder {name!r} labelled {n_cov} of {len(units)} reference units; metrics use those units"
            )
        coders_out[str(name)] = {
            "n_units": n_cov,
            "coverage": coverage,
            "metrics": metrics,
            "per_class": per_class,
            "confusion_matrix": {
                "labels": keys,
                "rows": "reference",
                "columns": str(name),
                "matrix": m0.astype(int).tolist(),
            },
            "confused_pairs": _confused(m0, keys),
        }

    comparison = None
    if n_coders > 1:
        comparison = _compare(
            coder_names, sums, reps, q, n_coders, rank_by, confidence, int((mult * common).sum())
        )
        if comparison["n_common_units"] == 0:
            warnings.append("the coders share no reference unit: no comparison")

    disagreements = []
    wrong = np.flatnonzero(((pred >= 0) & (pred != ref_codes[:, None])).any(axis=1))
    for i in wrong[:5000]:
        entry: dict[str, Any] = {
            "unit_id": units[i],
            "reference": keys[ref_codes[i]],
            "labels": {str(name): keys[pred[i, g]] for g, name in enumerate(coder_names) if pred[i, g] >= 0},
        }
        if unit_text is not None:
            entry["text"] = unit_text.get(units[i], unit_text.get(str(units[i])))
        disagreements.append(entry)

    interval = (
        {
            "method": "bootstrap",
            "confidence": confidence,
            "replicates": bootstrap,
            "seed": seed,
            "description": f"{confidence:.0%} percentile bootstrap over units, {bootstrap} replicates, seed {seed}",
        }
        if reps is not None
        else {"method": None, "description": "no intervals (bootstrap=0)"}
    )
    return ValidationResult(
        n_reference_units=len(units),
        categories=keys,
        coders=json_safe(coders_out),
        comparison=json_safe(comparison) if comparison else None,
        disagreements=json_safe(disagreements),
        n_disagreements=int(len(wrong)),
        interval=interval,
        warnings=warnings,
    )


def _confused(m: np.ndarray, keys: list[str], top: int = 10) -> list[dict[str, Any]]:
    """Most frequent (reference -> coder) errors."""
    cells = [(m[i, j], i, j) for i in range(len(keys)) for j in range(len(keys)) if i != j and m[i, j] > 0]
    cells.sort(key=lambda t: -t[0])
    total_err = m.sum() - np.trace(m)
    return [
        {"reference": keys[i], "coded": keys[j], "count": int(v), "share_of_errors": float(v / total_err)}
        for v, i, j in cells[:top]
    ]


def _compare(
    names: list[Any],
    sums: np.ndarray,
    reps: np.ndarray | None,
    q: int,
    n_coders: int,
    rank_by: str,
    confidence: float,
    n_common: int,
) -> dict[str, Any]:
    """Rank coders on the units all of them labelled; paired bootstrap intervals of differences."""
    offset = n_coders * q * q
    point, boot = [], []
    for g in range(n_coders):
        sl = slice(offset + g * q * q, offset + (g + 1) * q * q)
        m0 = sums[sl].reshape(q, q)
        present = (m0.sum(axis=0) + m0.sum(axis=1)) > 0
        point.append(confusion_metrics(m0, present))
        boot.append(confusion_metrics(reps[:, sl].reshape(-1, q, q), present) if reps is not None else None)
    values = [float(p[rank_by][0]) for p in point]
    order = sorted(range(n_coders), key=lambda g: -values[g] if np.isfinite(values[g]) else np.inf)
    best = order[0]
    differences = []
    for g in order[1:]:
        diff: dict[str, Any] = {"coder": str(names[best]), "versus": str(names[g])}
        for metric in ("accuracy", "f1_macro", "cohen_kappa"):
            d0 = point[best][metric][0] - point[g][metric][0]
            dr = boot[best][metric] - boot[g][metric] if reps is not None else None
            diff[metric] = _entry(d0, dr, confidence)
        ci = diff[rank_by]["ci"] if rank_by in diff else None
        diff["clearly_better"] = bool(ci is not None and ci[0] > 0)
        differences.append(diff)
    return {
        "rank_by": rank_by,
        "n_common_units": n_common,
        "ranking": [{"coder": str(names[g]), rank_by: values[g]} for g in order],
        "closest": str(names[best]),
        "differences": differences,
        "note": "differences are best minus other on the units every coder labelled; paired bootstrap",
    }
