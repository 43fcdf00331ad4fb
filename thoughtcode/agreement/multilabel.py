"""Agreement on set-valued (multi-label) codes.

Why not nominal agreement on the sets: two coders who give {a, b} and {a} mostly agree, and a nominal
statistic would count that as a full disagreement. Krippendorff's alpha accepts any distance between
values, so the sets themselves are the values and the distance is MASI (Passonneau 2006) or Jaccard.
Per-label kappas (presence/absence of each label) tell which labels are coded unreliably.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from thoughtcode.agreement import coefficients as co
from thoughtcode.agreement.data import (
    MISSING,
    CategoryScale,
    RatingData,
    _missing_mask,
    _select_scheme,
    is_missing,
)
from thoughtcode.agreement.intervals import evaluate
from thoughtcode.agreement.results import AgreementResult, Coefficient

LabelSet = frozenset


def parse_label_set(value: Any) -> frozenset[str] | None:
    """A set of labels from a list, a JSON list string, or 'a;b' / 'a|b' text; None when missing."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple | set | frozenset):
        return frozenset(str(v).strip() for v in value if not is_missing(v))
    if is_missing(value):
        return None
    text = str(value).strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"cannot read a label list from {text!r}: {exc.msg}") from exc
        return frozenset(str(v).strip() for v in items if not is_missing(v))
    for sep in (";", "|", ","):
        if sep in text:
            return frozenset(p.strip() for p in text.split(sep) if p.strip())
    return frozenset([text])


def looks_like_sets(column: pd.Series) -> bool:
    """True when the first present value of a label column is a list (or a JSON list string)."""
    for value in column:
        if isinstance(value, list | tuple | set | frozenset | np.ndarray):
            return True
        if is_missing(value):
            continue
        return isinstance(value, str) and value.strip().startswith("[")
    return False


def jaccard_distance(a: frozenset, b: frozenset) -> float:
    """1 - |A n B| / |A u B|; two empty sets are identical (distance 0)."""
    union = len(a | b)
    return 0.0 if union == 0 else 1.0 - len(a & b) / union


def masi_distance(a: frozenset, b: frozenset) -> float:
    """1 - Jaccard x monotonicity (1 equal, 2/3 subset, 1/3 overlap, 0 disjoint), Passonneau (2006)."""
    if a == b:
        return 0.0
    inter = len(a & b)
    if inter == 0:
        return 1.0
    m = 2 / 3 if (a <= b or b <= a) else 1 / 3
    return 1.0 - (inter / len(a | b)) * m


def _distance_matrix(values: list[frozenset], fn) -> np.ndarray:
    q = len(values)
    d = np.zeros((q, q))
    for i in range(q):
        for j in range(i + 1, q):
            d[i, j] = d[j, i] = fn(values[i], values[j])
    return d


def _set_name(s: frozenset) -> str:
    return "{" + ", ".join(sorted(s)) + "}"


def agree_sets(
    frame: pd.DataFrame,
    *,
    unit_col: str = "unit_id",
    coder_col: str = "coder",
    labels_col: str = "labels",
    bootstrap: int = 0,
    seed: int | None = 0,
    confidence: float = 0.95,
    scheme: str | None = None,
    unit_text: dict[Any, str] | None = None,
) -> AgreementResult:
    """Alpha with MASI and Jaccard distances, exact-set percent agreement, and per-label kappas."""
    for col in (unit_col, coder_col, labels_col):
        if col not in frame.columns:
            raise ValueError(f"column {col!r} not found; columns are: {', '.join(map(str, frame.columns))}")
    warnings: list[str] = []
    frame = _select_scheme(frame, scheme, warnings)
    for col, what in ((unit_col, "unit id"), (coder_col, "coder")):
        unplaced = _missing_mask(frame[col].to_numpy(dtype=object))
        if unplaced.any():  # factorize would give such a row -1: another unit's or coder's cell
            warnings.append(f"{int(unplaced.sum())} row(s) without a {what} ({col!r}) left out")
            frame = frame.loc[~unplaced]
    if "status" in frame.columns:
        failed = frame["status"].astype(str).str.lower().eq("failed")
        if failed.any():
            warnings.append(f"{int(failed.sum())} failed row(s) treated as missing ratings (not a category)")
            frame = frame.loc[~failed]
    sets = [parse_label_set(v) for v in frame[labels_col]]
    keep = np.array([s is not None for s in sets], dtype=bool)
    if not keep.any():
        raise ValueError("no ratings: no row has a label set")
    frame = frame.loc[keep]
    sets = [s for s in sets if s is not None]
    unit_idx, units = pd.factorize(frame[unit_col])
    coder_idx, coders = pd.factorize(frame[coder_col])
    values = sorted(set(sets), key=lambda s: (len(s), sorted(s)))
    index = {v: i for i, v in enumerate(values)}
    flat = unit_idx.astype(np.int64) * len(coders) + coder_idx
    if len(np.unique(flat)) < len(flat):
        raise ValueError("a coder labelled the same unit twice; keep one row per unit and coder")
    codes = np.full((len(units), len(coders)), MISSING, dtype=np.int64)
    codes[unit_idx, coder_idx] = [index[s] for s in sets]
    unit_list = [u.item() if isinstance(u, np.generic) else u for u in units]
    coder_list = [c.item() if isinstance(c, np.generic) else c for c in coders]
    scale = CategoryScale([_set_name(v) for v in values], None, False, False)
    data = RatingData._finish(unit_list, coder_list, scale, codes, [], [])

    engine = co.FeatureEngine(data)
    stats = [co.percent_agreement(engine)]
    for name, fn in (
        ("krippendorff_alpha_masi", masi_distance),
        ("krippendorff_alpha_jaccard", jaccard_distance),
    ):
        delta = _distance_matrix(values, fn)
        cols = engine.alpha_fixed(delta, name)
        stats.append(co.Statistic(name, cols, _alpha_finish(len(values), delta)))
    est = evaluate(engine, stats, bootstrap=bootstrap, seed=seed, confidence=confidence)
    coefficients = {s.name: Coefficient.from_estimate(est[s.name]) for s in stats}
    for name, coef in coefficients.items():
        if coef.value is None:
            warnings.append(
                f"{name} undefined: no variation among the pairable label sets, or no unit has two ratings"
            )

    labels = sorted(set().union(*values))
    per_category = {}
    for label in labels:
        present = np.array([label in v for v in values] + [False])
        binary = np.where(codes >= 0, present[codes].astype(np.int64), MISSING)
        bscale = CategoryScale(["absent", "present"], None, False, False)
        bdata = RatingData._finish(unit_list, coder_list, bscale, binary, [], [])
        beng = co.FeatureEngine(bdata)
        bstats = [co.fleiss_kappa(beng), co.percent_agreement(beng), co.specific_agreement(beng, 1)]
        if len(coder_list) == 2:
            bstats.append(co.cohen_kappa(beng, 0, 1))
        best = evaluate(beng, bstats, bootstrap=bootstrap, seed=seed, confidence=confidence)
        entry: dict[str, Any] = {
            "n_ratings": int((binary == 1).sum()),
            "share": float((binary == 1).sum() / (binary >= 0).sum()),
            "fleiss_kappa": Coefficient.from_estimate(best["fleiss_kappa"]).to_dict(),
            "percent_agreement": Coefficient.from_estimate(best["percent_agreement"]).to_dict(),
            "specific_agreement": Coefficient.from_estimate(best["specific_1"]).to_dict(),
        }
        if "cohen_kappa" in best:
            entry["cohen_kappa"] = Coefficient.from_estimate(best["cohen_kappa"]).to_dict()
        if best["fleiss_kappa"].value is None:
            warnings.append(
                f"label {label!r}: kappa undefined (every coder gives it to all or to none of the units; "
                "kappa paradox); see percent_agreement"
            )
        per_category[label] = entry

    single = data.single_rated_units
    if single:
        warnings.append(f"{len(single)} unit(s) with fewer than two ratings left out of pairable counts")
    disagreements = []
    rows = np.flatnonzero((data.counts > 0).sum(axis=1) > 1)
    for i in rows[:5000]:
        entry = {
            "unit_id": unit_list[i],
            "ratings": {str(coder_list[g]): sorted(values[c]) for g, c in enumerate(codes[i]) if c >= 0},
        }
        if unit_text is not None:
            entry["text"] = unit_text.get(unit_list[i], unit_text.get(str(unit_list[i])))
        disagreements.append(entry)
    from thoughtcode.agreement.agree import _interval_info

    return AgreementResult(
        n_units=data.n_units,
        n_coders=len(coder_list),
        n_ratings=data.n_ratings,
        level="multilabel",
        coefficients=coefficients,
        per_category=per_category,
        warnings=warnings,
        notes=[
            "multi-label codes: alpha over label sets with MASI (Passonneau 2006) and Jaccard distances; "
            "percent_agreement counts identical sets; per-label kappas on presence/absence",
        ],
        n_pairable_units=int((data.ratings_per_unit >= 2).sum()),
        single_rated_units=single,
        categories=labels,
        coders=coder_list,
        interval=_interval_info(bootstrap, seed, confidence),
        disagreements=disagreements,
        n_disagreements=int(len(rows)),
    )


def _alpha_finish(q: int, delta: np.ndarray):
    def finish(s: np.ndarray) -> np.ndarray:
        nk = s[:, :q]
        n = nk.sum(axis=1)
        de = np.einsum("bk,kl,bl->b", nk, delta, nk)
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = (de > 1e-12 * np.maximum(n, 1) ** 2) & (n > 1)
            return np.where(ok, 1.0 - (n - 1) * s[:, q] / np.where(ok, de, 1.0), np.nan)

    return finish


def set_alpha(ratings: Iterable[Iterable[Any]], distance: str = "masi") -> float | None:
    """Alpha of a units x coders grid of label sets (None entries missing); a small convenience."""
    rows = list(ratings)
    long = [
        {"unit_id": i, "coder": j, "labels": list(v)}
        for i, row in enumerate(rows)
        for j, v in enumerate(row)
        if v is not None
    ]
    result = agree_sets(pd.DataFrame(long))
    return result.coefficients[f"krippendorff_alpha_{distance}"].value
