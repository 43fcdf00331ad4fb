"""Drafting and revising codebooks from data.

* :mod:`~thoughtcode.drafting.induce`: a draft codebook (version 0.x) from unit texts, by a pipeline of
  swappable parts (embedder -> reducer -> clusterer -> class-based TF-IDF keywords + representative units);
* :mod:`~thoughtcode.drafting.stability`: how far a clustering survives other seeds and subsamples (ARI,
  per-category Jaccard), so a user sees which candidate categories are real;
* :mod:`~thoughtcode.drafting.suggest`: revision proposals (sharpen, merge, split, add, retire) from
  agreement, disagreements, low-confidence units and category sizes, each with its evidence;
* :mod:`~thoughtcode.drafting.revise`: accepted proposals -> the next codebook version with its migration,
  re-coding only the units the migration marks, agreement before and after with a paired interval;
* :mod:`~thoughtcode.drafting.history`: the versions of a codebook, their changelogs and agreement.

This room reads codebooks through :mod:`thoughtcode.taxonomy`, units through :mod:`thoughtcode.corpus`,
embeddings through :mod:`thoughtcode.embeddings`, and (for revision) coders and agreement through their
public APIs; nothing here is imported by those rooms.
"""

from thoughtcode.drafting.history import History, VersionEntry, codebook_history
from thoughtcode.drafting.induce import (
    UNIT_CHOICES,
    Candidate,
    DraftingError,
    InduceConfig,
    InduceResult,
    KeywordNamer,
    class_tfidf,
    cluster_embeddings,
    induce,
    induce_from_corpus,
    make_clusterer,
    make_reducer,
    resolve_unit_kind,
)
from thoughtcode.drafting.revise import (
    RecodeResult,
    RevisionMeasure,
    RevisionResult,
    accepted,
    apply_proposals,
    measure_revision,
    next_version,
    recode_revision,
    revise,
)
from thoughtcode.drafting.stability import StabilityReport, clustering_stability
from thoughtcode.drafting.suggest import (
    Proposal,
    SuggestConfig,
    SuggestionReport,
    read_suggestions,
    suggest_revisions,
    unit_texts,
)

__all__ = [
    "UNIT_CHOICES",
    "Candidate",
    "DraftingError",
    "History",
    "InduceConfig",
    "InduceResult",
    "KeywordNamer",
    "Proposal",
    "RecodeResult",
    "RevisionMeasure",
    "RevisionResult",
    "StabilityReport",
    "SuggestConfig",
    "SuggestionReport",
    "VersionEntry",
    "accepted",
    "apply_proposals",
    "class_tfidf",
    "cluster_embeddings",
    "clustering_stability",
    "codebook_history",
    "induce",
    "induce_from_corpus",
    "make_clusterer",
    "make_reducer",
    "measure_revision",
    "next_version",
    "read_suggestions",
    "recode_revision",
    "resolve_unit_kind",
    "revise",
    "suggest_revisions",
    "unit_texts",
]
