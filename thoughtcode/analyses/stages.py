"""Stage dependence of thoughts, and the same test against turn relation, topic and conversation length.

For a scheme of thought labels (reasons, reactions, or any other) and a factor (stage, relation, topic
category, length bucket) this builds the factor x category contingency table, tests independence with
Pearson's chi-square, measures the strength with Cramér's V (plain and bias-corrected) and a percentile
bootstrap interval that resamples *conversations* (thoughts of one conversation are not independent), and
shows which cells drive the association with adjusted standardised residuals
``(O - E) / sqrt(E (1 - row/n) (1 - col/n))`` (about N(0, 1) under independence; |r| > 2 stands out).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from thoughtcode.analyses.common import AnalysisResult, rounded, unavailable
from thoughtcode.analyses.inputs import AnalysisInputs, LabelSet, Scheme
from thoughtcode.corpus import STAGE_NAMES

ENDED = "(ended)"
LENGTH_BUCKETS: tuple[tuple[int, int | None], ...] = ((1, 4), (5, 8), (9, 12), (13, None))
FACTOR_TITLES = {
    "stage": "Stage",
    "relation": "Turn relation",
    "topic": "Topic category",
    "length": "Conversation length (messages)",
}
# The paper's stage directions (BRIEF §1), checked on any corpus: (scheme, category, from, to, direction).
PAPER_DIRECTIONS = (
    ("reasons", "task_motivation", "Early", "Mid-Late", "falls", [57, 41, 18, 27]),
    ("reasons", "task_continuation", "Early", "Mid-Late", "rises", [4, 20, 36, 26]),
    ("reactions", "explicit_affirmation", "Early", "Late", "rises", [67, 69, 76, 79]),
)


# --- statistics on a contingency table -------------------------------------------------------------------
def contingency(
    frame: pd.DataFrame, row: str, col: str, row_order: Sequence[str] | None = None, col_order: Sequence[str] | None = None
) -> pd.DataFrame:
    """Counts of ``row`` x ``col`` with rows and columns in the given orders (levels never seen are kept)."""
    table = pd.crosstab(frame[row], frame[col])
    rows = list(row_order) if row_order is not None else list(table.index)
    cols = list(col_order) if col_order is not None else list(table.columns)
    rows += [r for r in table.index if r not in rows]
    cols += [c for c in table.columns if c not in cols]
    table = table.reindex(index=rows, columns=cols, fill_value=0).astype(int)
    table.index.name, table.columns.name = row, col
    return table


def _trim(table: np.ndarray) -> np.ndarray:
    """Drop all-zero rows and columns (they carry no information and break expected counts)."""
    table = np.asarray(table, dtype=float)
    return table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]


def cramers_v(table: np.ndarray, corrected: bool = False) -> float:
    """Cramér's V of a contingency table; ``corrected`` gives Bergsma's (2013) bias-corrected version."""
    observed = _trim(table)
    n = observed.sum()
    r, c = observed.shape
    if n == 0 or min(r, c) < 2:
        return float("nan")
    chi2 = stats.chi2_contingency(observed, correction=False)[0]
    if not corrected:
        return float(np.sqrt(chi2 / (n * (min(r, c) - 1))))
    if n < 2:
        return float("nan")
    phi2 = max(0.0, chi2 / n - (r - 1) * (c - 1) / (n - 1))
    r_t = r - (r - 1) ** 2 / (n - 1)
    c_t = c - (c - 1) ** 2 / (n - 1)
    denominator = min(r_t - 1, c_t - 1)
    return float(np.sqrt(phi2 / denominator)) if denominator > 0 else float("nan")


def adjusted_residuals(table: pd.DataFrame) -> pd.DataFrame:
    """Adjusted standardised residuals of a table (NaN where a row or column is empty)."""
    observed = table.to_numpy(dtype=float)
    n = observed.sum()
    row = observed.sum(axis=1, keepdims=True)
    col = observed.sum(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = row @ col / n
        variance = expected * (1 - row / n) * (1 - col / n)
        residual = (observed - expected) / np.sqrt(variance)
    residual[~np.isfinite(residual)] = np.nan
    return pd.DataFrame(residual, index=table.index, columns=table.columns)


def independence_test(table: pd.DataFrame | np.ndarray) -> dict[str, Any]:
    """Pearson chi-square test of independence (no continuity correction) with Cramér's V."""
    observed = _trim(np.asarray(table))
    n = int(observed.sum())
    r, c = observed.shape if observed.ndim == 2 else (0, 0)
    if n == 0 or min(r, c) < 2:
        return {"n": n, "chi2": None, "dof": None, "p_value": None, "cramers_v": None, "cramers_v_corrected": None,
                "min_expected": None, "share_cells_expected_below_5": None}
    chi2, p, dof, expected = stats.chi2_contingency(observed, correction=False)
    return {
        "n": n,
        "chi2": float(chi2),
        "dof": int(dof),
        "p_value": float(p),
        "cramers_v": cramers_v(observed),
        "cramers_v_corrected": cramers_v(observed, corrected=True),
        "min_expected": float(expected.min()),
        "share_cells_expected_below_5": float((expected < 5).mean()),
    }


def _v_from_tables(tables: np.ndarray) -> np.ndarray:
    """Cramér's V of a stack of tables (shape B x r x c), empty rows/columns ignored per table."""
    n = tables.sum(axis=(1, 2))
    row = tables.sum(axis=2, keepdims=True)
    col = tables.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = row * col / n[:, None, None]
        terms = np.where(expected > 0, (tables - expected) ** 2 / expected, 0.0)
    chi2 = terms.sum(axis=(1, 2))
    k = np.minimum((row[:, :, 0] > 0).sum(axis=1), (col[:, 0, :] > 0).sum(axis=1)) - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.sqrt(chi2 / (n * k))
    return np.where((k > 0) & (n > 0), v, np.nan)


def bootstrap_cramers_v(
    rows: Sequence[int] | np.ndarray,
    cols: Sequence[int] | np.ndarray,
    groups: Sequence[Any] | np.ndarray,
    shape: tuple[int, int],
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Percentile interval of Cramér's V resampling whole groups (conversations) with replacement.

    ``rows``/``cols`` are integer codes of each observation, ``groups`` its conversation.
    """
    rows = np.asarray(rows, dtype=int)
    cols = np.asarray(cols, dtype=int)
    group_codes, group_index = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = len(group_codes)
    r, c = shape
    per_group = np.zeros((n_groups, r * c))
    np.add.at(per_group, (group_index, rows * c + cols), 1)
    rng = np.random.default_rng(seed)
    values = np.empty(n_boot)
    chunk = 500
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        draws = rng.integers(0, n_groups, size=(size, n_groups))
        weights = np.zeros((size, n_groups))
        np.add.at(weights, (np.repeat(np.arange(size), n_groups), draws.ravel()), 1)
        values[start : start + size] = _v_from_tables((weights @ per_group).reshape(size, r, c))
    finite = values[np.isfinite(values)]
    alpha = (1 - level) / 2
    low, high = (np.quantile(finite, [alpha, 1 - alpha]) if finite.size else (np.nan, np.nan))
    return {
        "low": float(low),
        "high": float(high),
        "level": level,
        "n_boot": n_boot,
        "resampled": "conversations",
        "n_groups": n_groups,
        "seed": seed,
    }


# --- factors: what each thought is cross-tabulated against -----------------------------------------------
def length_bucket(n_messages: int, buckets: Sequence[tuple[int, int | None]] = LENGTH_BUCKETS) -> str:
    """Coarse conversation-length bucket, e.g. ``"5-8"`` or ``"13+"`` messages."""
    for low, high in buckets:
        if n_messages >= low and (high is None or n_messages <= high):
            return f"{low}+" if high is None else f"{low}-{high}"
    return f"<{buckets[0][0]}"


def length_bucket_names(buckets: Sequence[tuple[int, int | None]] = LENGTH_BUCKETS) -> list[str]:
    return [f"{low}+" if high is None else f"{low}-{high}" for low, high in buckets]


def relation_of_thoughts(thoughts: pd.DataFrame, turns: pd.DataFrame, relations: pd.Series) -> pd.Series:
    """Turn relation per thought: a reason gets its own user turn's relation, a reaction the relation of
    the next user turn (``(ended)`` when the conversation ends after the reply); NaN when unlabelled."""
    by_conversation: dict[str, list[tuple[int, str]]] = {}
    for conv, index, unit in zip(turns["conversation_id"], turns["message_index"], turns["unit_id"], strict=False):
        by_conversation.setdefault(conv, []).append((int(index), unit))
    for items in by_conversation.values():
        items.sort()
    lookup = relations.to_dict()
    out = []
    for conv, kind, msg, index in zip(
        thoughts["conversation_id"], thoughts["kind"], thoughts["message_id"], thoughts["message_index"], strict=False
    ):
        if kind == "reason":
            out.append(lookup.get(f"{conv}:{msg}"))
            continue
        later = [u for i, u in by_conversation.get(conv, []) if i > index]
        out.append(lookup.get(later[0]) if later else ENDED)
    return pd.Series(out, index=thoughts.index, dtype=object)


def primary_topic_category(topics: LabelSet) -> tuple[pd.Series, int]:
    """conversation_id -> topic category of its first topic label; also how many span several categories."""
    scheme = topics.scheme
    multi = topics.multi()
    primary = {}
    spanning = 0
    for conv, labels in multi.items():
        cats = [scheme.parent_of(label) or label for label in labels]
        if not cats:
            continue
        primary[conv] = cats[0]
        spanning += len(set(cats)) > 1
    return pd.Series(primary, dtype=object), spanning


def topic_category_order(topics: LabelSet, seen: Sequence[str]) -> list[str]:
    order = [p for p in topics.scheme.parent_order] or [c for c in topics.scheme.order if not topics.scheme.parent_of(c)]
    return order + sorted({s for s in seen if s not in order})


# --- the analysis -----------------------------------------------------------------------------------------
def association(
    frame: pd.DataFrame,
    factor: str,
    factor_order: Sequence[str],
    scheme: Scheme,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Factor x category table, shares, test, bootstrap V interval and residuals for one scheme."""
    data = frame.dropna(subset=[factor, "label"])
    table = contingency(data, factor, "label", factor_order, scheme.order)
    keep_empty = factor == "stage"  # a stage without thoughts is shown as empty; other factors list seen levels
    table = table.loc[[r for r in table.index if table.loc[r].sum() > 0 or (keep_empty and r in factor_order)]]
    test = independence_test(table)
    row_codes = pd.Categorical(data[factor], categories=list(table.index)).codes
    col_codes = pd.Categorical(data["label"], categories=list(table.columns)).codes
    interval = (
        bootstrap_cramers_v(row_codes, col_codes, data["conversation_id"], table.shape, n_boot=n_boot, seed=seed)
        if test["n"] and test["cramers_v"] is not None and n_boot > 0
        else None
    )
    residuals = adjusted_residuals(table)
    row_totals = table.sum(axis=1).replace(0, np.nan)
    share = table.div(row_totals, axis=0)
    cells = residuals.stack().dropna()
    top = cells[cells.abs() > 2].sort_values(key=np.abs, ascending=False)
    return {
        "table": table,
        "shares": share,
        "residuals": residuals,
        "test": test,
        "interval": interval,
        "driving_cells": [
            {factor: idx[0], "category": idx[1], "name": scheme.name_of(idx[1]), "residual": round(float(v), 2),
             "direction": "more than expected" if v > 0 else "fewer than expected"}
            for idx, v in top.items()
        ],
    }


def _test_summary(result: dict[str, Any]) -> dict[str, Any]:
    test, interval = result["test"], result["interval"]
    return {
        "n": test["n"],
        "chi2": rounded(test["chi2"], 3),
        "dof": test["dof"],
        "p_value": test["p_value"],
        "cramers_v": rounded(test["cramers_v"]),
        "cramers_v_ci": [rounded(interval["low"]), rounded(interval["high"])] if interval else None,
        "cramers_v_corrected": rounded(test["cramers_v_corrected"]),
        "min_expected": rounded(test["min_expected"], 3),
        "share_cells_expected_below_5": rounded(test["share_cells_expected_below_5"], 3),
        "bootstrap": interval,
    }


def _shares_dict(result: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    share = result["shares"]
    return {str(r): {str(c): rounded(share.loc[r, c]) for c in share.columns} for r in share.index}


def _counts_dict(result: dict[str, Any]) -> dict[str, dict[str, int]]:
    table = result["table"]
    return {str(r): {str(c): int(table.loc[r, c]) for c in table.columns} for r in table.index}


def check_paper_directions(per_scheme: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The paper's three stage directions, each marked as holding or not on this corpus."""
    checks = []
    for scheme, category, start, end, direction, paper in PAPER_DIRECTIONS:
        result = per_scheme.get(scheme)
        claim = f"{category} share {direction} from {start} to {end}"
        if result is None or category not in result["shares"].columns:
            checks.append({"claim": claim, "holds": None, "note": f"no {scheme} labels with {category!r}"})
            continue
        share = result["shares"][category]
        values = {str(s): rounded(share.get(s), 4) for s in share.index}
        a, b = share.get(start), share.get(end)
        holds = None if a is None or b is None or pd.isna(a) or pd.isna(b) else bool(b < a if direction == "falls" else b > a)
        checks.append({
            "claim": claim,
            "scheme": scheme,
            "category": category,
            "holds": holds,
            "shares_by_stage": values,
            "paper_percent_by_stage": dict(zip(STAGE_NAMES, paper, strict=False)),
        })
    return checks


def factor_level_names(inputs: AnalysisInputs) -> dict[str, dict[str, str]]:
    """Display names of factor levels (relation and topic ids named from their codebooks)."""
    names: dict[str, dict[str, str]] = {}
    relations = inputs.for_kind("user_turn")
    if relations is not None:
        names["relation"] = {c: relations.scheme.name_of(c) for c in relations.scheme.order} | {ENDED: "(ended)"}
    topics = inputs.for_kind("conversation")
    if topics is not None:
        ids = list(topics.scheme.parent_order) + list(topics.scheme.order)
        names["topic"] = {c: topics.scheme.name_of(c) for c in ids}
    return names


def thought_factor_frame(inputs: AnalysisInputs, label_set: LabelSet) -> tuple[pd.DataFrame, dict[str, list[str]], list[str]]:
    """Thoughts of one scheme with their label and every factor the inputs allow; factor orders; notes."""
    notes: list[str] = []
    kind = label_set.scheme.unit_kind
    thoughts = inputs.thoughts[inputs.thoughts["kind"] == kind].copy()
    labels = label_set.single()
    thoughts["label"] = thoughts["unit_id"].map(labels)
    unlabelled = int(thoughts["label"].isna().sum())
    if unlabelled:
        notes.append(f"{unlabelled} of {len(thoughts)} {kind} units have no {label_set.scheme.name} label and are left out")
    thoughts = thoughts.dropna(subset=["label"])
    orders: dict[str, list[str]] = {"stage": list(STAGE_NAMES)}
    stage_names = list(dict.fromkeys(list(STAGE_NAMES) + sorted(set(thoughts["stage"]) - set(STAGE_NAMES))))
    orders["stage"] = stage_names
    relations = inputs.for_kind("user_turn")
    if relations is not None:
        thoughts["relation"] = relation_of_thoughts(thoughts, inputs.user_turns, relations.single())
        seen = [v for v in thoughts["relation"].dropna().unique()]
        order = [c for c in relations.scheme.order if c in seen or c != ENDED]
        orders["relation"] = order + ([ENDED] if ENDED in seen else []) + sorted(set(seen) - set(order) - {ENDED})
        if kind == "reaction":
            notes.append("relation of a reaction = relation of the next user turn; (ended) when none follows")
    topics = inputs.for_kind("conversation")
    if topics is not None:
        primary, spanning = primary_topic_category(topics)
        thoughts["topic"] = thoughts["conversation_id"].map(primary)
        orders["topic"] = topic_category_order(topics, list(primary.unique()))
        notes.append(
            "topic of a thought = topic category of its conversation's first topic label"
            + (f"; {spanning} conversation(s) span several categories" if spanning else "")
        )
    thoughts["length"] = thoughts["n_messages"].map(length_bucket)
    orders["length"] = [b for b in length_bucket_names() if b in set(thoughts["length"])] or length_bucket_names()
    return thoughts, orders, notes


def stage_analysis(
    inputs: AnalysisInputs,
    n_boot: int = 2000,
    seed: int = 0,
    factors: Sequence[str] = ("stage", "relation", "topic", "length"),
) -> AnalysisResult:
    """Stage x category tests for every thought scheme, plus relation, topic and length side by side."""
    title = "Stage dependence of thoughts"
    label_sets = [inputs.for_kind(kind) for kind in ("reason", "reaction")]
    label_sets = [s for s in label_sets if s is not None]
    label_sets += [s for s in inputs.thought_label_sets() if s not in label_sets]
    if not label_sets:
        return unavailable("stages", title, "no thought labels: the corpus carries none and no --labels were given")
    result = AnalysisResult("stages", title)
    schemes: dict[str, Any] = {}
    per_scheme_stage: dict[str, dict[str, Any]] = {}
    comparison_rows = []
    level_names = factor_level_names(inputs)
    for label_set in label_sets:
        scheme = label_set.scheme
        frame, orders, notes = thought_factor_frame(inputs, label_set)
        entry: dict[str, Any] = {**label_set.provenance(), "unit_kind": scheme.unit_kind, "n_thoughts": int(len(frame)),
                                 "factors": {}}
        result.notes.extend(f"{scheme.name}: {n}" for n in notes + label_set.notes)
        for factor in factors:
            if factor not in frame.columns:
                entry["factors"][factor] = {"available": False, "note": _missing_factor_note(factor)}
                continue
            assoc = association(frame, factor, orders[factor], scheme, n_boot=n_boot, seed=seed)
            summary = _test_summary(assoc)
            entry["factors"][factor] = {
                "available": True,
                "levels": [str(x) for x in assoc["table"].index],
                "counts": _counts_dict(assoc),
                "shares": _shares_dict(assoc),
                "test": summary,
                "driving_cells": assoc["driving_cells"],
            }
            comparison_rows.append({"scheme": scheme.name, "factor": factor, **{k: v for k, v in summary.items() if k != "bootstrap"}})
            prefix = f"{scheme.name}_by_{factor}"
            result.tables[f"{prefix}_counts"] = _named_columns(assoc["table"], scheme)
            result.tables[f"{prefix}_shares"] = _named_columns(assoc["shares"].round(4), scheme)
            result.tables[f"{prefix}_residuals"] = _named_columns(assoc["residuals"].round(3), scheme)
            if factor == "stage":
                per_scheme_stage[scheme.name] = assoc
                entry["shares_by_stage"] = entry["factors"]["stage"]["shares"]
                entry["chi2_p_value"] = summary["p_value"]
                entry["cramers_v"] = summary["cramers_v"]
                entry["cramers_v_ci"] = summary["cramers_v_ci"]
            _register_figures(result, scheme, factor, assoc, level_names.get(factor, {}))
        schemes[scheme.name] = entry
    comparison = pd.DataFrame(comparison_rows)
    result.tables["association_by_factor"] = comparison
    result.primary_tables = ["association_by_factor"] + [
        f"{s}_by_stage_{t}" for s in schemes for t in ("counts", "shares", "residuals")
    ]
    directions = check_paper_directions(per_scheme_stage)
    result.data = {
        "stage_rule": "round(3 * p): p = message index / (messages - 1); Early, Mid-Early, Mid-Late, Late",
        "schemes": schemes,
        "association_by_factor": comparison.to_dict(orient="records"),
        "paper_directions": directions,
        "reading": _reading(comparison),
    }
    for check in directions:
        if check["holds"] is False:
            result.notes.append(f"paper direction does not hold here: {check['claim']}")
        elif check["holds"] is True:
            result.notes.append(f"paper direction holds: {check['claim']}")
    result.notes.append(
        "chi-square p-values treat thoughts as independent; thoughts cluster within conversations, so read "
        "the conversation-resampled interval of Cramér's V for the uncertainty"
    )
    result.notes.append(
        "Cramér's V is biased upwards in small samples, so its bootstrap interval (percentile method) can sit "
        "mostly above the estimate; cramers_v_corrected (Bergsma 2013) is given for comparing tables of "
        "different sizes side by side"
    )
    if any((r.get("share_cells_expected_below_5") or 0) > 0.2 for r in comparison_rows):
        result.notes.append("some tables have over 20% of cells with expected count < 5: the chi-square approximation is rough there")
    return result


def _missing_factor_note(factor: str) -> str:
    if factor == "relation":
        return "no turn-relation labels given (a labels table for user-turn units)"
    if factor == "topic":
        return "no topic labels given (a labels table for conversation units)"
    return f"factor {factor} not available"


def _named_columns(table: pd.DataFrame, scheme: Scheme) -> pd.DataFrame:
    out = table.copy()
    out.columns = [scheme.name_of(c) for c in out.columns]
    out.index = out.index.astype(str)
    return out


def _reading(comparison: pd.DataFrame) -> list[str]:
    """One line per scheme: the factors ranked by Cramér's V, with significance at 5%."""
    lines = []
    if comparison.empty:
        return lines
    for scheme, part in comparison.groupby("scheme", sort=False):
        part = part.sort_values("cramers_v", ascending=False)
        items = []
        for row in part.itertuples():
            p = row.p_value
            sig = "n/a" if p is None or pd.isna(p) else ("p < .05" if p < 0.05 else "p >= .05")
            ci = row.cramers_v_ci
            ci_text = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if isinstance(ci, list) and None not in ci else ""
            v = "n/a" if row.cramers_v is None or pd.isna(row.cramers_v) else f"{row.cramers_v:.2f}"
            items.append(f"{row.factor} V={v}{ci_text} ({sig})")
        lines.append(f"{scheme}: " + "; ".join(items))
    return lines


def _register_figures(
    result: AnalysisResult, scheme: Scheme, factor: str, assoc: dict[str, Any], level_names: dict[str, str]
) -> None:
    from thoughtcode.analyses import figures

    def named(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        out.index = [level_names.get(str(i), str(i)) for i in out.index]
        return out

    shares = named(assoc["shares"])
    counts = named(assoc["table"])
    residuals = named(assoc["residuals"])
    name = f"{scheme.name}_by_{factor}"
    factor_title = FACTOR_TITLES.get(factor, factor)
    result.figures[f"{name}_bars"] = lambda: figures.stacked_share_bars(
        shares, counts, scheme, xlabel=factor_title, title=f"{scheme.name.capitalize()} by {factor_title.lower()}"
    )
    result.captions[f"{name}_bars"] = (
        f"Share of each {scheme.name} category within each {factor_title.lower()} level (n above each bar)."
    )
    result.figures[f"{name}_residuals"] = lambda: figures.residual_heatmap(
        residuals, scheme, ylabel=factor_title, title=f"{scheme.name.capitalize()} x {factor_title.lower()}: adjusted residuals"
    )
    result.captions[f"{name}_residuals"] = "Adjusted standardised residuals; |r| > 2 marks cells that drive the association."
    if factor == "stage":
        result.figures[f"{name}_flow"] = lambda: figures.share_flow(
            shares, scheme, xlabel="Stage", title=f"{scheme.name.capitalize()}: stage-to-stage flow of shares"
        )
        result.captions[f"{name}_flow"] = (
            "Category shares per stage; ribbons join each category's share from one stage to the next."
        )
