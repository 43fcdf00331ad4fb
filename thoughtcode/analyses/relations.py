"""Turn relations: overall distribution and the turn-to-turn flow.

Each user turn carries one relation to the previous user turn (first request, extend, new request, retry,
variant). The flow asks, of the conversations that reached turn k-1, what turn k is: its relation, or the
end of the conversation. Rows: turn 2, turn 3, and later (all steps k >= 4 pooled).
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from thoughtcode.analyses.categories import category_distribution
from thoughtcode.analyses.common import AnalysisResult, rounded, unavailable
from thoughtcode.analyses.inputs import AnalysisInputs

ENDED = "(ended)"
UNLABELLED = "(unlabelled)"
MAX_SANKEY_TURNS = 5


def turn_sequences(inputs: AnalysisInputs, relations: pd.Series) -> dict[str, list[str]]:
    """conversation id -> relation of each user turn in order (``(unlabelled)`` where a turn has none)."""
    turns = inputs.user_turns
    sequences: dict[str, list[str]] = {c: [] for c in inputs.conversation_frame["conversation_id"]} if len(inputs.conversation_frame) else {}
    if turns.empty:
        return sequences
    ordered = turns.sort_values(["conversation_id", "user_turn_index"])
    lookup = relations.to_dict()
    for conv, unit in zip(ordered["conversation_id"], ordered["unit_id"], strict=False):
        sequences.setdefault(conv, []).append(lookup.get(unit, UNLABELLED))
    return sequences


def flow_table(sequences: dict[str, list[str]], order: list[str]) -> pd.DataFrame:
    """Outcome counts and shares per step: turn 2, turn 3, later (k >= 4)."""
    rows = []
    steps = {"turn 2": [2], "turn 3": [3]}
    longest = max((len(s) for s in sequences.values()), default=0)
    steps["later (turn 4+)"] = list(range(4, longest + 2))
    for step, ks in steps.items():
        outcomes: Counter[str] = Counter()
        for sequence in sequences.values():
            for k in ks:
                if len(sequence) >= k - 1 and len(sequence) >= 1:
                    outcomes[sequence[k - 1] if len(sequence) >= k else ENDED] += 1
        total = sum(outcomes.values())
        keys = [o for o in order if o in outcomes] + sorted(o for o in outcomes if o not in order and o != ENDED) + (
            [ENDED] if ENDED in outcomes else []
        )
        for outcome in keys:
            rows.append({"step": step, "outcome": outcome, "count": outcomes[outcome], "share": outcomes[outcome] / total})
    return pd.DataFrame(rows, columns=["step", "outcome", "count", "share"])


def end_table(sequences: dict[str, list[str]]) -> pd.DataFrame:
    """Share of conversations whose last user turn is turn k."""
    lengths = Counter(len(s) for s in sequences.values() if s)
    total = sum(lengths.values())
    return pd.DataFrame(
        [{"last_user_turn": k, "conversations": v, "share": v / total} for k, v in sorted(lengths.items())],
        columns=["last_user_turn", "conversations", "share"],
    )


def sankey_data(sequences: dict[str, list[str]], order: list[str], turns: int = MAX_SANKEY_TURNS):
    """Nodes per turn column (relation or ended) and links between consecutive columns."""
    columns = [f"Turn {k}" for k in range(1, turns + 1)]
    nodes: list[Counter[str]] = [Counter() for _ in columns]
    links: list[Counter[tuple[str, str]]] = [Counter() for _ in columns[:-1]]
    for sequence in sequences.values():
        if not sequence:
            continue
        for k in range(turns):
            if k < len(sequence):
                nodes[k][sequence[k]] += 1
                if k + 1 < turns:
                    nxt = sequence[k + 1] if k + 1 < len(sequence) else ENDED
                    links[k][(sequence[k], nxt)] += 1
            elif k == len(sequence):
                nodes[k][ENDED] += 1
                break
    keys = order + [UNLABELLED, ENDED]
    node_lists = [[(key, column.get(key, 0)) for key in keys + sorted(set(column) - set(keys))] for column in nodes]
    return columns, node_lists, [dict(link) for link in links]


def relation_analysis(inputs: AnalysisInputs) -> AnalysisResult:
    title = "Turn relations"
    label_set = inputs.for_kind("user_turn")
    if label_set is None:
        return unavailable("relations", title, "no labels given: pass a turn-relations labels table (user-turn units) with --labels")
    scheme = label_set.scheme
    relations = label_set.single()
    overall = category_distribution(label_set).rename(columns={"category": "relation"})
    counts = overall.set_index("relation")["count"]
    total = int(counts.sum())
    sequences = turn_sequences(inputs, relations)
    flow = flow_table(sequences, scheme.order)
    ends = end_table(sequences)
    result = AnalysisResult("relations", title)
    unlabelled = len(inputs.user_turns) - total
    result.data = {
        **label_set.provenance(),
        "user_turns": int(len(inputs.user_turns)),
        "labelled": total,
        "overall": [{**r, "share": rounded(r["share"])} for r in overall.to_dict(orient="records")],
        "flow": [{**r, "share": rounded(r["share"])} for r in flow.to_dict(orient="records")],
        "flow_definition": "of conversations that reached turn k-1: relation of turn k, or (ended); later pools k >= 4",
        "ends_at_turn": [{**r, "share": rounded(r["share"])} for r in ends.to_dict(orient="records")],
    }
    result.tables["relations_overall"] = overall.round(4)
    result.tables["relations_flow"] = flow.round(4)
    result.tables["relations_ends_at_turn"] = ends.round(4)
    result.notes.extend(label_set.notes)
    if unlabelled:
        result.notes.append(f"{unlabelled} user turn(s) unlabelled: left out of the overall shares, shown as {UNLABELLED} in the flow")

    from thoughtcode.analyses import figures

    colours = figures.category_colours(scheme)
    names = {c: scheme.name_of(c) for c in scheme.order} | {ENDED: "Conversation ended", UNLABELLED: "Unlabelled"}
    result.figures["relations_overall"] = lambda: figures.category_bars(
        counts, scheme, title=f"Turn relations (n={total} user turns)", xlabel="Share of labelled user turns (%)"
    )
    result.captions["relations_overall"] = "Relation of each user turn to the previous user turn."
    result.figures["relations_flow_bars"] = lambda: figures.relation_flow_bars(flow, colours, names)
    result.captions["relations_flow_bars"] = result.data["flow_definition"].capitalize() + "."
    columns, nodes, links = sankey_data(sequences, scheme.order)
    result.figures["relations_flow"] = lambda: figures.sankey(
        columns, nodes, links, colours, names, title="Turn-to-turn flow of relations (first 5 user turns)"
    )
    result.captions["relations_flow"] = (
        "Each column is a user turn; band width = conversations going from one turn's relation to the next turn's "
        "relation, or ending."
    )
    return result
