"""``agree``: every agreement coefficient for one set of ratings, in one pass.

The ratings are loaded once (``RatingData``), the per-pattern features are built once
(``FeatureEngine``), and all coefficients, per-category values and pairwise kappas are evaluated
together, so a bootstrap uses the same resampled units for every number it reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from thoughtcode.agreement import coefficients as co
from thoughtcode.agreement.data import LEVELS, RatingData, category_key, load_ratings
from thoughtcode.agreement.intervals import Estimate, evaluate
from thoughtcode.agreement.results import AgreementResult, Coefficient

COEFFICIENT_ORDER = (
    "percent_agreement",
    "cohen_kappa",
    "scott_pi",
    "fleiss_kappa",
    "conger_kappa",
    "light_kappa",
    "brennan_prediger",
    "gwet_ac1",
    "krippendorff_alpha",
)
LEVEL_WEIGHTS = {"ordinal": "linear", "interval": "quadratic", "ratio": "ratio"}


def agree(
    data: Any,
    *,
    level: str = "nominal",
    order: Sequence[Any] | None = None,
    weights: str | np.ndarray | None = None,
    bootstrap: int = 0,
    seed: int | None = 0,
    confidence: float = 0.95,
    unit_col: str = "unit_id",
    coder_col: str = "coder",
    label_col: str = "label",
    wide: bool | None = None,
    scheme: str | None = None,
    unit_text: dict[Any, str] | None = None,
) -> AgreementResult:
    """Agreement among coders: all coefficients with intervals, per category, and disagreements.

    ``data`` is a long labels table (unit, coder, label), a wide table (rows units, columns coders),
    a file path (CSV/JSONL/Parquet), a units x coders array, or a ``RatingData``. ``level`` sets
    Krippendorff's metric and, unless ``weights`` is given, the weights of the weighted kappa family
    (ordinal: linear on ranks, interval: quadratic, ratio: ratio weights). ``bootstrap=N`` reports
    percentile intervals from N resamples of units for every coefficient; otherwise analytic intervals
    where the literature gives them.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; use one of {', '.join(LEVELS)}")
    if bootstrap < 0:
        raise ValueError("bootstrap must be a number of replicates >= 0")
    frame = _read_if_path(data, (unit_col, coder_col))
    if isinstance(frame, pd.DataFrame) and _is_multilabel(frame, label_col, wide):
        from thoughtcode.agreement.multilabel import agree_sets

        return agree_sets(
            frame,
            unit_col=unit_col,
            coder_col=coder_col,
            labels_col=label_col if label_col in frame.columns else "labels",
            bootstrap=bootstrap,
            seed=seed,
            confidence=confidence,
            scheme=scheme,
            unit_text=unit_text,
        )
    ratings = load_ratings(
        frame,
        unit_col=unit_col,
        coder_col=coder_col,
        label_col=label_col,
        wide=wide,
        order=order,
        level=level,
        scheme=scheme,
    )
    return agree_ratings(
        ratings,
        level=level,
        weights=weights,
        bootstrap=bootstrap,
        seed=seed,
        confidence=confidence,
        unit_text=unit_text,
    )


def krippendorff_alpha(
    data: Any,
    *,
    level: str = "nominal",
    order: Sequence[Any] | None = None,
    bootstrap: int = 0,
    seed: int | None = 0,
    confidence: float = 0.95,
) -> Coefficient:
    """Krippendorff's alpha alone (any input ``agree`` accepts), without the rest of the report."""
    ratings = load_ratings(data, order=order, level=level)
    engine = co.FeatureEngine(ratings)
    stat = co.krippendorff_alpha(engine, level, ratings.values_for_distance())
    est = evaluate(engine, [stat], bootstrap=bootstrap, seed=seed, confidence=confidence)
    return Coefficient.from_estimate(est[stat.name])


def fleiss_kappa(
    data: Any,
    *,
    order: Sequence[Any] | None = None,
    bootstrap: int = 0,
    seed: int | None = 0,
    confidence: float = 0.95,
) -> Coefficient:
    """Fleiss' kappa alone (Gwet's handling of missing ratings), without the rest of the report."""
    ratings = load_ratings(data, order=order)
    engine = co.FeatureEngine(ratings)
    stat = co.fleiss_kappa(engine)
    est = evaluate(engine, [stat], bootstrap=bootstrap, seed=seed, confidence=confidence)
    return Coefficient.from_estimate(est[stat.name])


def agree_ratings(
    data: RatingData,
    *,
    level: str = "nominal",
    weights: str | np.ndarray | None = None,
    bootstrap: int = 0,
    seed: int | None = 0,
    confidence: float = 0.95,
    unit_text: dict[Any, str] | None = None,
) -> AgreementResult:
    """The coefficients of already-loaded ratings (see ``agree``)."""
    warnings = list(data.notes)
    notes: list[str] = []
    engine = co.FeatureEngine(data)
    q = engine.q
    n_coders = data.n_coders
    has_coders = data.codes is not None
    values = data.values_for_distance()
    pairable = data.ratings_per_unit >= 2
    single = data.single_rated_units
    if single:
        shown = ", ".join(map(str, single[:10])) + (" ..." if len(single) > 10 else "")
        warnings.append(
            f"{len(single)} unit(s) with fewer than two ratings left out of pairable counts: {shown}"
        )

    if int(pairable.sum()) == 1:
        warnings.append(
            "only one unit has two or more ratings: the coefficients describe that single unit and carry no "
            "meaningful interval"
        )

    stats: list[co.Statistic] = [
        co.percent_agreement(engine),
        co.fleiss_kappa(engine),
        co.brennan_prediger(engine),
        co.gwet_ac(engine),
        co.krippendorff_alpha(engine, level, values),
    ]
    pair_stats: list[tuple[tuple[Any, Any], co.Statistic]] = []
    if has_coders and n_coders >= 2:
        pairs = co.coder_pairs(n_coders)
        for a, b in pairs:
            stat = co.cohen_kappa(engine, a, b, name=f"pair:{a}:{b}")
            pair_stats.append(((data.coders[a], data.coders[b]), stat))
        stats += [s for _, s in pair_stats]
        stats.append(co.conger_kappa(engine))
        defined_pairs = [
            p for p, (_, s) in zip(pairs, pair_stats, strict=True) if _point(engine, s) is not None
        ]
        if defined_pairs and len(defined_pairs) < len(pairs):
            warnings.append(
                f"{len(pairs) - len(defined_pairs)} coder pair(s) share no unit or have no defined kappa; "
                "light_kappa averages the other pairs"
            )
        if defined_pairs:
            stats.append(co.light_kappa(engine, defined_pairs))
        if n_coders == 2:
            stats.append(co.cohen_kappa(engine, 0, 1))
            stats.append(co.scott_pi(engine, 0, 1))

    weight_name: str | None = None
    weighted_stats: list[co.Statistic] = []
    if weights is not None or level != "nominal":
        weight_name = weights if isinstance(weights, str) else "custom" if weights is not None else None
        if weights is None:
            weight_name = LEVEL_WEIGHTS[level]
        scale_x = data.scale.positions() if weight_name == "linear" and level == "ordinal" else values
        w = co.weight_matrix(weights if weights is not None else weight_name, scale_x)
        wkey = f"w:{weight_name}"
        weighted_stats = [
            _renamed(co.percent_agreement(engine, w, wkey), "percent_agreement"),
            _renamed(co.fleiss_kappa(engine, w, wkey), "fleiss_kappa"),
            _renamed(co.brennan_prediger(engine, w, wkey), "brennan_prediger"),
            _renamed(co.gwet_ac(engine, w, wkey), "gwet_ac2"),
        ]
        if has_coders and n_coders >= 2:
            weighted_stats.append(_renamed(co.conger_kappa(engine, w, wkey), "conger_kappa"))
            if n_coders == 2:
                weighted_stats.append(_renamed(co.cohen_kappa(engine, 0, 1, w, wkey), "cohen_kappa"))
                weighted_stats.append(_renamed(co.scott_pi(engine, 0, 1, w, wkey), "scott_pi"))
        weighted_stats = [_renamed(s, "w:" + s.name) for s in weighted_stats]
        stats += weighted_stats

    cat_stats = [co.category_kappa(engine, j) for j in range(q)] + [
        co.specific_agreement(engine, j) for j in range(q)
    ]
    stats += cat_stats

    est = evaluate(engine, stats, bootstrap=bootstrap, seed=seed, confidence=confidence)

    coefficients: dict[str, Coefficient] = {}
    reason = _undefined_reason(data, n_coders, pairable)
    undefined: dict[str, list[str]] = {}
    for name in COEFFICIENT_ORDER:
        if name == "cohen_kappa" and not (has_coders and n_coders == 2):
            continue
        if name == "scott_pi" and not (has_coders and n_coders == 2):
            coefficients[name] = Coefficient.from_estimate(est["fleiss_kappa"])
            if n_coders > 2 or not has_coders:
                notes.append(
                    "scott_pi for more than two coders is Fleiss' (1971) generalisation: equal to fleiss_kappa"
                )
            continue
        e = est.get(name, Estimate(None))
        coefficients[name] = Coefficient.from_estimate(e)
        if e.value is None:
            undefined.setdefault(reason(name), []).append(name)
        elif e.dropped_replicates:
            warnings.append(
                f"{name}: {e.dropped_replicates} of {bootstrap} bootstrap replicates undefined and dropped"
            )
    weighted = {}
    for stat in weighted_stats:
        e = est[stat.name]
        weighted[stat.name[2:]] = Coefficient.from_estimate(e)
        if e.value is None:
            undefined.setdefault(reason(stat.name[2:]), []).append(f"weighted {stat.name[2:]}")
    for why, names in undefined.items():
        warnings.append(why.replace("{names}", ", ".join(names)))

    _paradox_note(coefficients, warnings)

    per_category = _per_category(data, est, bootstrap)
    tests: dict[str, Any] = {}
    fleiss_value = coefficients["fleiss_kappa"].value
    z = co.fleiss_z_test(data, fleiss_value)
    if z is not None:
        tests["fleiss_kappa_z"] = {
            "z": z["z"],
            "p_value": z["p_value"],
            "se_null": z["se_null"],
            "method": "Fleiss (1971) z test of kappa = 0, SE under the null hypothesis",
        }
        for key in data.scale.keys:
            kj = per_category[key]["fleiss_kappa"]["value"]
            if kj is not None:
                per_category[key]["z"] = kj / z["se_null_per_category"]
    elif fleiss_value is not None and pairable.any():
        notes.append(
            "Fleiss' (1971) z test needs the same number of ratings on every unit; not reported "
            "(see the interval of fleiss_kappa)"
        )

    pairwise = []
    for (ca, cb), stat in pair_stats:
        e = est[stat.name]
        both = _shared_units(data, data.coders.index(ca), data.coders.index(cb))
        pairwise.append(
            {"coders": [ca, cb], "n_units": both, "cohen_kappa": Coefficient.from_estimate(e).to_dict()}
        )

    disagreements, n_dis = _disagreements(data, unit_text)
    result = AgreementResult(
        n_units=data.n_units,
        n_coders=n_coders,
        n_ratings=data.n_ratings,
        level=level,
        coefficients=coefficients,
        per_category=per_category,
        warnings=warnings,
        notes=notes
        + [
            "missing ratings follow Gwet (2014): agreement over units with two or more ratings, "
            "prevalence over every rated unit; alpha uses pairable values only",
        ],
        n_pairable_units=int(pairable.sum()),
        single_rated_units=single,
        dropped_units=data.dropped_units,
        categories=data.categories,
        coders=data.coders,
        interval=_interval_info(bootstrap, seed, confidence),
        tests=tests,
        weights=weight_name,
        weighted=weighted,
        pairwise=pairwise,
        disagreements=disagreements,
        n_disagreements=n_dis,
        confused_pairs=_confused_pairs(data),
        matrix=_matrix(data),
    )
    return result


# ---------------------------------------------------------------------- helpers
def _read_if_path(data: Any, id_columns: Sequence[str] = ()) -> Any:
    if isinstance(data, str | Path):
        from thoughtcode.labels import ID_COLUMNS, read_table

        return read_table(data, text_columns=(*ID_COLUMNS, *id_columns))
    return data


def _is_multilabel(frame: pd.DataFrame, label_col: str, wide: bool | None) -> bool:
    if wide:
        return False
    column = label_col if label_col in frame.columns else "labels" if "labels" in frame.columns else None
    if column is None:
        return False
    if column == "labels" and label_col not in frame.columns:
        return True
    from thoughtcode.agreement.multilabel import looks_like_sets

    return looks_like_sets(frame[column])


def _renamed(stat: co.Statistic, name: str) -> co.Statistic:
    return co.Statistic(name, stat.cols, stat.finish, stat.analytic)


def _point(engine: co.FeatureEngine, stat: co.Statistic) -> float | None:
    sums = engine.mult @ engine.matrix()[:, stat.cols]
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(stat.finish(sums[None, :])[0])
    return value if np.isfinite(value) else None


def _undefined_reason(data: RatingData, n_coders: int, pairable: np.ndarray):
    """A function naming why a coefficient is undefined; '{names}' is filled with the coefficients."""
    used = int((data.counts.sum(axis=0) > 0).sum())
    pair_used = int((data.counts[pairable].sum(axis=0) > 0).sum()) if pairable.any() else 0
    has_coders = data.codes is not None

    def reason(name: str) -> str:
        if n_coders < 2:
            return (
                "{names} undefined: only one coder; agreement needs two or more coders rating the same units"
            )
        if not pairable.any():
            return "{names} undefined: no unit has two or more ratings"
        if not has_coders and ("conger" in name or "light" in name):
            return "{names} undefined: coder identities unknown (category counts only)"
        if "alpha" in name and pair_used <= 1:
            return (
                "{names} undefined: all pairable ratings fall in one category (no variation); "
                "see gwet_ac1 and percent_agreement"
            )
        if used <= 1:
            if "brennan" in name:
                return "{names} undefined: the scale has a single category"
            return (
                "{names} undefined: all ratings fall in one category (kappa paradox); "
                "see gwet_ac1 and percent_agreement"
            )
        if "light" in name or "cohen" in name:
            return "{names} undefined: the coders share no unit, or their chance agreement is 1"
        return "{names} undefined: chance agreement is 1 (each coder used a single category)"

    return reason


def _paradox_note(coefficients: dict[str, Coefficient], warnings: list[str]) -> None:
    """Flag the kappa paradox: high raw agreement with a low kappa because prevalence is skewed."""
    pa = coefficients.get("percent_agreement")
    fk = coefficients.get("fleiss_kappa")
    ac1 = coefficients.get("gwet_ac1")
    if pa and fk and pa.value is not None and fk.value is not None and pa.value >= 0.85 and fk.value < 0.5:
        warnings.append(
            f"kappa paradox: percent agreement {pa.value:.3f} but fleiss_kappa {fk.value:.3f} "
            "(skewed category prevalence); compare gwet_ac1"
            + (f" = {ac1.value:.3f}" if ac1 and ac1.value is not None else "")
        )


def _per_category(data: RatingData, est: dict[str, Estimate], bootstrap: int) -> dict[str, dict[str, Any]]:
    totals = data.counts.sum(axis=0)
    r = data.ratings_per_unit
    share = (data.counts / r[:, None]).mean(axis=0)
    out = {}
    for j, key in enumerate(data.scale.keys):
        out[key] = {
            "n_ratings": int(totals[j]),
            "share": float(share[j]),
            "fleiss_kappa": Coefficient.from_estimate(est[f"kappa_{j}"]).to_dict(),
            "specific_agreement": Coefficient.from_estimate(est[f"specific_{j}"]).to_dict(),
        }
    return out


def _shared_units(data: RatingData, a: int, b: int) -> int:
    return int(((data.codes[:, a] >= 0) & (data.codes[:, b] >= 0)).sum())


def _disagreements(data: RatingData, unit_text: dict[Any, str] | None) -> tuple[list[dict[str, Any]], int]:
    counts = data.counts
    distinct = (counts > 0).sum(axis=1)
    rows = np.flatnonzero(distinct > 1)
    out = []
    keys = data.scale.categories
    for i in rows[:5000]:
        unit = data.units[i]
        if data.codes is not None:
            ratings = {str(data.coders[g]): keys[c] for g, c in enumerate(data.codes[i]) if c >= 0}
        else:
            ratings = {category_key(keys[k]): int(counts[i, k]) for k in np.flatnonzero(counts[i])}
        entry: dict[str, Any] = {"unit_id": unit, "ratings": ratings}
        if unit_text is not None:
            entry["text"] = unit_text.get(unit, unit_text.get(str(unit)))
        out.append(entry)
    return out, int(len(rows))


def _coincidence(data: RatingData) -> np.ndarray:
    r = data.ratings_per_unit
    pair = r >= 2
    n = data.counts[pair].astype(float)
    scale = 1.0 / (r[pair] - 1.0)
    o = np.einsum("i,ik,il->kl", scale, n, n)
    o[np.diag_indices_from(o)] -= (n * scale[:, None]).sum(axis=0)
    return o


def _confused_pairs(data: RatingData, top: int = 10) -> list[dict[str, Any]]:
    """Category pairs that coders most often split on (from the coincidence matrix)."""
    o = _coincidence(data)
    q = len(o)
    off_total = o.sum() - np.trace(o)
    pairs = []
    for k in range(q):
        for m in range(k + 1, q):
            if o[k, m] > 0:
                pairs.append((o[k, m] + o[m, k], k, m))
    pairs.sort(key=lambda t: -t[0])
    keys = data.scale.keys
    return [
        {
            "categories": [keys[k], keys[m]],
            "coincidences": float(v),
            "share_of_disagreement": float(v / off_total) if off_total > 0 else None,
        }
        for v, k, m in pairs[:top]
    ]


def _matrix(data: RatingData) -> dict[str, Any]:
    keys = data.scale.keys
    if data.codes is not None and data.codes.shape[1] == 2:
        a, b = data.codes[:, 0], data.codes[:, 1]
        both = (a >= 0) & (b >= 0)
        q = len(keys)
        table = np.zeros((q, q), dtype=int)
        np.add.at(table, (a[both], b[both]), 1)
        return {
            "kind": "crosstab",
            "labels": keys,
            "rows": str(data.coders[0]),
            "columns": str(data.coders[1]),
            "values": table.tolist(),
        }
    return {
        "kind": "coincidence",
        "labels": keys,
        "rows": "value",
        "columns": "paired value",
        "values": _coincidence(data).round(6).tolist(),
    }


def _interval_info(bootstrap: int, seed: int | None, confidence: float) -> dict[str, Any]:
    if bootstrap and bootstrap > 0:
        return {
            "method": "bootstrap",
            "confidence": confidence,
            "replicates": bootstrap,
            "seed": seed,
            "description": (
                f"{confidence:.0%} percentile bootstrap over units, {bootstrap} replicates, seed {seed}; "
                "se is the standard deviation of the replicates"
            ),
        }
    return {
        "method": "analytic",
        "confidence": confidence,
        "description": (
            f"{confidence:.0%} analytic intervals: value +/- t(n-1) x linearised SE (Fleiss, Cohen & Everitt "
            "1969; Gwet 2014) where the literature gives one; none for light_kappa and per-category values "
            "(use bootstrap)"
        ),
    }
