"""Is a clustering real or an accident of one run? Agreement between runs with other seeds.

Each stability run repeats the whole reduce-and-cluster pipeline with its own seed on a random subsample
of the units (90% by default). The seed moves everything that is random (PCA's randomised solver, UMAP,
k-means initialisation); the subsample perturbs the data, so that deterministic parts such as HDBSCAN are
tested too (on the same data and without randomness they would trivially agree with themselves).

Two figures come out:

* **ARI between runs**: the adjusted Rand index of every pair of runs, on the units both runs saw. 1 means
  the same partition, 0 what chance would give. HDBSCAN's outliers count as one group of their own, so a run
  that throws different units out agrees less.
* **Per-category stability**: for each category of the draft, the best Jaccard overlap with a cluster of
  each run (members restricted to the run's units), averaged over runs. Hennig (2007, *Computational
  Statistics & Data Analysis* 52:258) reads a mean Jaccard below 0.5 as a dissolved cluster and above 0.75
  as a stable one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score

#: Mean Jaccard from which a category counts as stable / below which it counts as dissolved (Hennig 2007).
STABLE_JACCARD = 0.75
DISSOLVED_JACCARD = 0.5

Run = Callable[[np.ndarray, int], np.ndarray]


@dataclass
class StabilityReport:
    """Agreement between clusterings made with several seeds (see the module text)."""

    seeds: list[int]
    subsample: float
    n_units: int
    pairwise: list[dict[str, Any]] = field(default_factory=list)
    n_clusters: list[int] = field(default_factory=list)
    outlier_share: list[float] = field(default_factory=list)
    ari_vs_draft: list[float] = field(default_factory=list)
    category_jaccard: dict[int, float] = field(default_factory=dict)

    @property
    def aris(self) -> list[float]:
        return [p["ari"] for p in self.pairwise]

    @property
    def mean_ari(self) -> float | None:
        return float(np.mean(self.aris)) if self.pairwise else None

    @property
    def min_ari(self) -> float | None:
        return float(np.min(self.aris)) if self.pairwise else None

    @property
    def max_ari(self) -> float | None:
        return float(np.max(self.aris)) if self.pairwise else None

    def verdict(self, cluster: int) -> str:
        """``stable``, ``unclear`` or ``dissolved`` for one draft cluster."""
        value = self.category_jaccard.get(cluster)
        if value is None:
            return "unknown"
        if value >= STABLE_JACCARD:
            return "stable"
        return "dissolved" if value < DISSOLVED_JACCARD else "unclear"

    def headline(self) -> str:
        """One line for a terminal: the mean ARI with its range and how it was measured."""
        if self.mean_ari is None:
            return "stability: not measured (fewer than two runs)"
        how = f"{len(self.seeds)} runs, seeds {self.seeds[0]}..{self.seeds[-1]}"
        how += f", {self.subsample:.0%} subsamples" if self.subsample < 1 else ", all units"
        return (
            f"stability: mean ARI {self.mean_ari:.3f} between runs (min {self.min_ari:.3f}, max {self.max_ari:.3f}; "
            f"{how})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "pairwise adjusted Rand index between runs with other seeds on random subsamples "
            "(outliers as one group); per category: mean best Jaccard with a cluster of each run",
            "seeds": self.seeds,
            "subsample": self.subsample,
            "n_units": self.n_units,
            "mean_ari": self.mean_ari,
            "min_ari": self.min_ari,
            "max_ari": self.max_ari,
            "pairwise": self.pairwise,
            "ari_vs_draft": self.ari_vs_draft,
            "n_clusters_per_run": self.n_clusters,
            "outlier_share_per_run": self.outlier_share,
            "category_jaccard": {str(k): v for k, v in self.category_jaccard.items()},
        }


def _best_jaccard(members: np.ndarray, labels: np.ndarray, seen: np.ndarray) -> float | None:
    """Best Jaccard of a reference cluster (boolean mask) with any non-outlier cluster of one run."""
    inside = members & seen
    size = int(inside.sum())
    if size == 0:
        return None
    best = 0.0
    for cluster in np.unique(labels[inside]):
        if cluster < 0:
            continue
        other = (labels == cluster) & seen
        both = int((inside & other).sum())
        best = max(best, both / (size + int(other.sum()) - both))
    return best


def clustering_stability(
    embeddings: np.ndarray,
    run: Run,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    subsample: float = 0.9,
    reference: np.ndarray | None = None,
) -> StabilityReport:
    """Run ``run(embeddings_subset, seed) -> labels`` once per seed and compare the clusterings.

    ``reference`` is the draft's own clustering of all units (label per unit, ``-1`` = outlier); when given,
    each run is also compared with it (ARI) and every draft cluster gets its mean best Jaccard.
    """
    if not 0 < subsample <= 1:
        raise ValueError(f"subsample must be in (0, 1], got {subsample}")
    n = len(embeddings)
    report = StabilityReport(seeds=[int(s) for s in seeds], subsample=float(subsample), n_units=n)
    runs: list[tuple[np.ndarray, np.ndarray]] = []
    for seed in seeds:
        if subsample < 1:
            size = max(2, int(round(subsample * n)))
            index = np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))
        else:
            index = np.arange(n)
        labels = np.full(n, -1, dtype=int)
        labels[index] = np.asarray(run(embeddings[index], int(seed)), dtype=int)
        seen = np.zeros(n, dtype=bool)
        seen[index] = True
        runs.append((labels, seen))
        clustered = labels[index]
        report.n_clusters.append(int(len(np.unique(clustered[clustered >= 0]))))
        report.outlier_share.append(float(np.mean(clustered < 0)))
    for (i, (a, seen_a)), (j, (b, seen_b)) in combinations(enumerate(runs), 2):
        shared = seen_a & seen_b
        report.pairwise.append(
            {
                "seeds": [report.seeds[i], report.seeds[j]],
                "ari": float(adjusted_rand_score(a[shared], b[shared])),
                "shared_units": int(shared.sum()),
            }
        )
    if reference is not None:
        reference = np.asarray(reference, dtype=int)
        for labels, seen in runs:
            report.ari_vs_draft.append(float(adjusted_rand_score(reference[seen], labels[seen])))
        for cluster in np.unique(reference[reference >= 0]):
            members = reference == cluster
            values = [v for labels, seen in runs if (v := _best_jaccard(members, labels, seen)) is not None]
            if values:
                report.category_jaccard[int(cluster)] = float(np.mean(values))
    return report
