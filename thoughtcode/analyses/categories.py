"""Category distributions of thought labels (reasons, reactions, or any scheme on thoughts)."""

from __future__ import annotations

import pandas as pd

from thoughtcode.analyses.common import AnalysisResult, rounded, unavailable
from thoughtcode.analyses.inputs import AnalysisInputs, LabelSet


def category_distribution(label_set: LabelSet) -> pd.DataFrame:
    """Counts and shares per category in codebook order (zero rows kept); shares of labelled units."""
    scheme = label_set.scheme
    labels = label_set.single()
    counts = labels.value_counts().reindex(scheme.order, fill_value=0)
    total = int(counts.sum())
    frame = pd.DataFrame({
        "category": counts.index,
        "name": [scheme.name_of(c) for c in counts.index],
        "count": counts.to_numpy().astype(int),
        "share": (counts / total).to_numpy() if total else 0.0,
    })
    return frame


def category_analysis(inputs: AnalysisInputs) -> AnalysisResult:
    """Counts and shares for every labels set on thoughts."""
    title = "Thought categories"
    label_sets = inputs.thought_label_sets()
    if not label_sets:
        return unavailable("categories", title, "no thought labels: the corpus carries none and no --labels were given")
    result = AnalysisResult("categories", title)
    schemes = {}
    for label_set in label_sets:
        scheme = label_set.scheme
        kind_units = int((inputs.thoughts["kind"] == scheme.unit_kind).sum())
        table = category_distribution(label_set)
        labelled = int(table["count"].sum())
        schemes[scheme.name] = {
            **label_set.provenance(),
            "units": kind_units,
            "labelled": labelled,
            "unlabelled": kind_units - labelled,
            "categories": [
                {"category": r.category, "name": r.name, "count": int(r.count), "share": rounded(r.share)}
                for r in table.itertuples()
            ],
        }
        result.tables[f"{scheme.name}_categories"] = table.assign(share=table["share"].round(4))
        result.notes.extend(f"{scheme.name}: {n}" for n in label_set.notes)
        if kind_units - labelled:
            result.notes.append(f"{scheme.name}: {kind_units - labelled} of {kind_units} units unlabelled (not in shares)")
        counts = table.set_index("category")["count"]
        result.figures[f"{scheme.name}_categories"] = _figure(counts, label_set)
        result.captions[f"{scheme.name}_categories"] = (
            f"{scheme.name.capitalize()}: share of labelled {scheme.unit_kind}s per category "
            f"({label_set.source}; codebook {scheme.source})."
        )
    result.data = {"schemes": schemes}
    return result


def _figure(counts: pd.Series, label_set: LabelSet):
    from thoughtcode.analyses import figures

    scheme = label_set.scheme
    return lambda: figures.category_bars(counts, scheme, title=f"{scheme.name.capitalize()} (n={int(counts.sum())})")
