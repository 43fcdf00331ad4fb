"""The ThoughtTrace analyses on any corpus: conversation properties, thought properties, stage dependence.

    >>> inputs = load_inputs("corpus.jsonl", labels=["topics.jsonl"])   # release thought labels included
    >>> result = stage_analysis(inputs)                                 # an AnalysisResult
    >>> result.to_dict()["schemes"]["reasons"]["cramers_v_ci"]
    >>> write_outputs(run_analyses(inputs), "out/")                      # report.html, results.json, ...

Every analysis takes an :class:`AnalysisInputs` and returns an :class:`AnalysisResult` (JSON via
``to_dict()``, DataFrames in ``tables``, figures drawn on demand). Analyses read labels tables; they never
call a coder. The LLM-judged analyses (semantic coverage, inference difficulty; :mod:`.judged`) call LLMs
through the coders' public client, and only when given a judge.
"""

from thoughtcode.analyses.categories import category_analysis, category_distribution
from thoughtcode.analyses.common import AnalysisResult
from thoughtcode.analyses.demographics import demographics_analysis, purpose_themes
from thoughtcode.analyses.inputs import AnalysisInputs, LabelSet, Scheme, load_inputs, make_scheme
from thoughtcode.analyses.judged import coverage_analysis, inference_analysis, thought_items
from thoughtcode.analyses.lengths import length_analysis
from thoughtcode.analyses.relations import relation_analysis
from thoughtcode.analyses.report import render_html, results_payload, summary_lines, write_outputs
from thoughtcode.analyses.shift import (
    centroid_l2,
    difference_distances,
    distance_percentiles,
    mmd_rbf,
    pair_frames,
    probe_auc,
    shift_analysis,
)
from thoughtcode.analyses.stages import (
    adjusted_residuals,
    bootstrap_cramers_v,
    contingency,
    cramers_v,
    independence_test,
    stage_analysis,
)
from thoughtcode.analyses.suite import ANALYSES, run_analyses, run_analysis
from thoughtcode.analyses.topics import topic_analysis
from thoughtcode.jsonsafe import json_safe

__all__ = [
    "ANALYSES",
    "AnalysisInputs",
    "AnalysisResult",
    "LabelSet",
    "Scheme",
    "adjusted_residuals",
    "bootstrap_cramers_v",
    "category_analysis",
    "category_distribution",
    "centroid_l2",
    "contingency",
    "coverage_analysis",
    "cramers_v",
    "demographics_analysis",
    "difference_distances",
    "distance_percentiles",
    "independence_test",
    "inference_analysis",
    "json_safe",
    "length_analysis",
    "load_inputs",
    "make_scheme",
    "mmd_rbf",
    "pair_frames",
    "probe_auc",
    "purpose_themes",
    "relation_analysis",
    "render_html",
    "results_payload",
    "run_analyses",
    "run_analysis",
    "shift_analysis",
    "stage_analysis",
    "summary_lines",
    "thought_items",
    "topic_analysis",
    "write_outputs",
]
