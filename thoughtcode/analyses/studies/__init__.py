"""The ThoughtTrace paper's two downstream studies as reusable pipelines (any corpus in the release format;
the message-guided arm and pairwise judging on any chat corpus).

Study 1, :mod:`.prediction`: do thoughts help predict what the user says next?
    ``prediction_items``, ``render_context``, ``run_prediction_study``, ``write_prediction_study``,
    ``table1``, ``paired_tests``, ``cosine_scores``, ``assign_judges``.
Study 2, :mod:`.rewrites`, :mod:`.preference`, :mod:`.judging`, :mod:`.training`: do thoughts give better
alignment signal than messages?
    ``rewrite_candidates``, ``message_arm_items``, ``run_rewrite_study``, ``write_rewrite_study``,
    ``dissatisfaction_counts``; ``make_pair``, ``split_pairs``, ``write_preference_data``, ``validate_dpo_file``;
    ``run_pairwise_judging``, ``win_rate``, ``style_controlled``, ``style_features``; ``train_dpo`` (extra).

All model calls go through the coders' LLM machinery (:mod:`.llm`). Prompt templates are the text files in
``prompts/``. Importing this package imports neither instructor nor the provider SDKs, nor TRL.
"""

from thoughtcode.analyses.studies.judging import (
    load_answers,
    run_pairwise_judging,
    style_controlled,
    style_features,
    win_rate,
    write_judging,
)
from thoughtcode.analyses.studies.llm import ModelSettings, StudyModel
from thoughtcode.analyses.studies.prediction import (
    AUGMENTED,
    HISTORY,
    PredictionItem,
    assign_judges,
    cosine_scores,
    paired_tests,
    prediction_items,
    render_context,
    run_prediction_study,
    table1,
    write_prediction_study,
)
from thoughtcode.analyses.studies.preference import (
    make_pair,
    split_pairs,
    validate_dpo_file,
    validate_pair,
    write_preference_data,
)
from thoughtcode.analyses.studies.rewrites import (
    DISSATISFIED_LABELS,
    RewriteCandidate,
    dissatisfaction_counts,
    message_arm_items,
    rewrite_candidates,
    run_rewrite_study,
    write_rewrite_study,
)
from thoughtcode.analyses.studies.training import DPOSettings, MissingExtraError, train_dpo

__all__ = [
    "AUGMENTED",
    "DISSATISFIED_LABELS",
    "HISTORY",
    "DPOSettings",
    "MissingExtraError",
    "ModelSettings",
    "PredictionItem",
    "RewriteCandidate",
    "StudyModel",
    "assign_judges",
    "cosine_scores",
    "dissatisfaction_counts",
    "load_answers",
    "make_pair",
    "message_arm_items",
    "paired_tests",
    "prediction_items",
    "render_context",
    "rewrite_candidates",
    "run_pairwise_judging",
    "run_prediction_study",
    "run_rewrite_study",
    "split_pairs",
    "style_controlled",
    "style_features",
    "table1",
    "train_dpo",
    "validate_dpo_file",
    "validate_pair",
    "win_rate",
    "write_judging",
    "write_preference_data",
    "write_prediction_study",
    "write_rewrite_study",
]
