"""The set of analyses and how to run the ones the inputs allow.

An entry is a function ``(inputs, **options) -> AnalysisResult``. The LLM-judged analyses (semantic
coverage, inference difficulty) run only when a judge is given (``judge=SPEC``, and ``predictors=[...]`` for
inference); otherwise their result says they were not run and why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from thoughtcode.analyses.categories import category_analysis
from thoughtcode.analyses.common import AnalysisResult
from thoughtcode.analyses.demographics import demographics_analysis
from thoughtcode.analyses.inputs import AnalysisInputs
from thoughtcode.analyses.judged import coverage_analysis, inference_analysis
from thoughtcode.analyses.lengths import length_analysis
from thoughtcode.analyses.relations import relation_analysis
from thoughtcode.analyses.shift import shift_analysis
from thoughtcode.analyses.stages import stage_analysis
from thoughtcode.analyses.topics import topic_analysis

AnalysisFunction = Callable[..., AnalysisResult]

ANALYSES: dict[str, AnalysisFunction] = {
    "lengths": length_analysis,
    "demographics": demographics_analysis,
    "topics": topic_analysis,
    "relations": relation_analysis,
    "categories": category_analysis,
    "stages": stage_analysis,
    "shift": shift_analysis,
    "coverage": coverage_analysis,
    "inference": inference_analysis,
}
# Options each analysis accepts (others given to run_analyses are not passed to it).
OPTIONS: dict[str, tuple[str, ...]] = {
    "stages": ("n_boot", "seed"),
    "shift": ("embedder", "n_permutations", "max_pairs", "n_splits", "seed", "n_boot", "projection"),
    "coverage": ("judge", "limit", "seed", "n_boot", "settings"),
    "inference": ("predictors", "judge", "limit", "seed", "n_boot", "settings"),
}


def run_analysis(name: str, inputs: AnalysisInputs, **options: Any) -> AnalysisResult:
    """Run one analysis by name with the options it accepts."""
    if name not in ANALYSES:
        raise ValueError(f"unknown analysis {name!r}; choose one of {', '.join(ANALYSES)}")
    accepted = {k: v for k, v in options.items() if k in OPTIONS.get(name, ()) and v is not None}
    return ANALYSES[name](inputs, **accepted)


def run_analyses(inputs: AnalysisInputs, names: Sequence[str] | None = None, **options: Any) -> list[AnalysisResult]:
    """Run several analyses (all by default); those whose inputs are missing return an unavailable result."""
    return [run_analysis(name, inputs, **options) for name in (names or list(ANALYSES))]
