"""Topic distribution over categories and subtopics from a (multi-label) topics labels table.

Topics are coded per conversation and a conversation may carry several. Three counts are reported so that
multi-label shares are never ambiguous:

* ``share_of_conversations``: conversations with at least one label in the category / labelled
  conversations (sums to more than 100% when conversations carry several categories);
* ``share_of_assignments``: (conversation, category) pairs / all such pairs (sums to 100%; a conversation
  with two subtopics of one category counts once for that category);
* ``fractional_share``: each conversation splits a weight of 1 equally over its distinct categories
  (sums to 100%; every conversation weighs the same).
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from thoughtcode.analyses.common import AnalysisResult, rounded, unavailable
from thoughtcode.analyses.inputs import AnalysisInputs, LabelSet

COUNTING = {
    "share_of_conversations": "conversations with the category / labelled conversations (multi-label: sums above 100%)",
    "share_of_assignments": "(conversation, category) pairs / all pairs (sums to 100%)",
    "fractional_share": "each conversation's weight 1 split equally over its distinct categories (sums to 100%)",
}


def _level_table(sets: list[list[str]], order: list[str]) -> pd.DataFrame:
    n = len(sets)
    having: Counter[str] = Counter()
    fractional: Counter[str] = Counter()
    for items in sets:
        distinct = list(dict.fromkeys(items))
        having.update(distinct)
        for item in distinct:
            fractional[item] += 1 / len(distinct)
    assignments = sum(having.values())
    keys = order + sorted(k for k in having if k not in order)
    return pd.DataFrame({
        "key": keys,
        "conversations": [having.get(k, 0) for k in keys],
        "share_of_conversations": [having.get(k, 0) / n if n else 0.0 for k in keys],
        "share_of_assignments": [having.get(k, 0) / assignments if assignments else 0.0 for k in keys],
        "fractional_share": [fractional.get(k, 0.0) / n if n else 0.0 for k in keys],
    })


def topic_tables(label_set: LabelSet) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Category-level and subtopic-level tables, and facts about multi-labelling."""
    scheme = label_set.scheme
    multi = label_set.multi()
    sets = [list(v) for v in multi.to_numpy() if v]
    parent_order = scheme.parent_order
    category_sets = [[scheme.parent_of(label) or label for label in items] for items in sets]
    leaf_order = [c for c in scheme.order if c not in set(parent_order)]
    categories = _level_table(category_sets, parent_order or leaf_order)
    categories.insert(0, "category", categories.pop("key"))
    categories.insert(1, "name", categories["category"].map(scheme.name_of))
    subtopics = _level_table([[label for label in items if label not in set(parent_order)] for items in sets], leaf_order)
    subtopics.insert(0, "subtopic", subtopics.pop("key"))
    subtopics.insert(1, "name", subtopics["subtopic"].map(scheme.name_of))
    subtopics.insert(2, "category", subtopics["subtopic"].map(lambda s: scheme.parent_of(s) or s))
    if parent_order:
        rank = {c: i for i, c in enumerate(parent_order)}
        subtopics = subtopics.sort_values("category", key=lambda s: s.map(lambda c: rank.get(c, len(rank))), kind="stable")
    sizes = Counter(len(set(items)) for items in sets)
    facts = {
        "labelled_conversations": len(sets),
        "labels_per_conversation": {str(k): v for k, v in sorted(sizes.items())},
        "conversations_with_several_categories": sum(len(set(c)) > 1 for c in category_sets),
        "hierarchical": bool(parent_order),
    }
    return categories.reset_index(drop=True), subtopics.reset_index(drop=True), facts


def topic_analysis(inputs: AnalysisInputs) -> AnalysisResult:
    title = "Topics"
    label_set = inputs.for_kind("conversation")
    if label_set is None:
        return unavailable("topics", title, "no labels given: pass a topics labels table (conversation units) with --labels")
    categories, subtopics, facts = topic_tables(label_set)
    result = AnalysisResult("topics", title)
    unlabelled = len(inputs.conversation_frame) - facts["labelled_conversations"]
    result.data = {
        **label_set.provenance(),
        **facts,
        "unlabelled_conversations": unlabelled,
        "counting": COUNTING,
        "categories": categories.to_dict(orient="records"),
        "subtopics": subtopics.to_dict(orient="records"),
    }
    for column in ("share_of_conversations", "share_of_assignments", "fractional_share"):
        result.data["categories"] = [{**r, column: rounded(r[column])} for r in result.data["categories"]]
        result.data["subtopics"] = [{**r, column: rounded(r[column])} for r in result.data["subtopics"]]
    result.tables["topic_categories"] = categories.round(4)
    result.tables["topic_subtopics"] = subtopics.round(4)
    result.notes.extend(label_set.notes)
    if not facts["hierarchical"]:
        result.notes.append("no hierarchical topics codebook found: each label is treated as its own category")
    if unlabelled:
        result.notes.append(f"{unlabelled} conversation(s) have no topic label and are not in the shares")
    result.notes.append("multi-label: " + "; ".join(f"{k} = {v}" for k, v in COUNTING.items()))

    from thoughtcode.analyses import figures

    colours = figures.colour_map(list(categories["category"]))
    result.figures["topics"] = lambda: figures.topic_bars(categories, subtopics, colours)
    result.captions["topics"] = (
        "Share of labelled conversations with each topic category (left) and subtopic (right); a conversation "
        "may have several, so shares sum to more than 100%."
    )
    return result
