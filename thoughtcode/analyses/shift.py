"""Thoughts differ from messages: paired embedding shifts for three pair types.

Pair types (first -> second):

* ``consecutive``: a user message -> the next user message of the conversation;
* ``message_reason``: a user message -> a reason the user gave for it;
* ``reaction_next``: a reaction to a reply -> the user's next message.

Both sides are embedded with the offline embedder (L2-normalised rows). Per pair type: percentiles of the
lengths of the difference vectors ``second - first``; the L2 distance between the two sides' centroids;
MMD^2 (unbiased) with an RBF kernel whose bandwidth is the median pairwise distance, with a permutation
p-value that swaps the two sides within pairs (the pairing is kept); and the AUC of a logistic-regression
probe telling first from second side, 5-fold cross-validated with folds grouped by conversation so that no
conversation is in both training and test data.

The figure shows the difference vectors in 2-D with percentile rings: ``projection="pca"`` (default) puts them
on their two principal axes, found without centring so the origin means "no change"; ``projection="umap"``
(needs the topics extra) embeds them with a seeded UMAP and moves the image of the zero difference to the
origin.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

from thoughtcode.analyses.common import AnalysisResult, group_bootstrap_interval, rounded, unavailable
from thoughtcode.analyses.inputs import AnalysisInputs

PAIR_TYPES = ("consecutive", "message_reason", "reaction_next")
PAIR_TITLES = {
    "consecutive": "User message -> next user message",
    "message_reason": "User message -> its reason",
    "reaction_next": "Reaction -> next user message",
}
PROJECTIONS = ("pca", "umap")
TOPICS_EXTRA = "pip install 'thoughtcode[topics]'"
PAPER_DISTANCES = {  # 25th / 50th / 75th percentile in the paper (another, unnormalised embedder)
    "consecutive": [0.38, 1.96, 6.89],
    "message_reason": [0.77, 3.71, 6.94],
    "reaction_next": [3.93, 6.62, 9.75],
}


# --- metrics on arrays --------------------------------------------------------------------------------
def difference_distances(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Length of each pair's difference vector ``second - first``."""
    return np.linalg.norm(np.asarray(second, dtype=float) - np.asarray(first, dtype=float), axis=1)


def distance_percentiles(first: np.ndarray, second: np.ndarray, q: Sequence[float] = (25, 50, 75)) -> dict[str, float]:
    distances = difference_distances(first, second)
    values = np.percentile(distances, q) if distances.size else [np.nan] * len(q)
    out = {f"p{int(k)}": float(v) for k, v in zip(q, values, strict=False)}
    out["mean"] = float(distances.mean()) if distances.size else float("nan")
    return out


def centroid_l2(first: np.ndarray, second: np.ndarray) -> float:
    """L2 distance between the mean vectors of the two sides."""
    return float(np.linalg.norm(np.asarray(first, dtype=float).mean(axis=0) - np.asarray(second, dtype=float).mean(axis=0)))


def _squared_distances(z: np.ndarray) -> np.ndarray:
    sq = (z * z).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2 * z @ z.T
    np.maximum(d2, 0, out=d2)
    np.fill_diagonal(d2, 0)
    return d2


def median_bandwidth(z: np.ndarray) -> float:
    """Median heuristic: the median Euclidean distance between distinct points of the pooled sample."""
    d2 = _squared_distances(np.asarray(z, dtype=float))
    upper = d2[np.triu_indices(len(z), k=1)]
    sigma = float(np.sqrt(np.median(upper))) if upper.size else 1.0
    return sigma if sigma > 0 else 1.0


def _mmd2_from_kernel(kernel: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Unbiased MMD^2 for each column of ``members`` (1 = first side) given the pooled kernel matrix."""
    u = members.astype(float)
    v = 1.0 - u
    n = u.sum(axis=0)
    m = v.sum(axis=0)
    ku = kernel @ u
    kv = kernel @ v
    diag = np.diag(kernel)[:, None]
    within_u = (u * ku).sum(axis=0) - (u * diag).sum(axis=0)
    within_v = (v * kv).sum(axis=0) - (v * diag).sum(axis=0)
    cross = (u * kv).sum(axis=0)
    return within_u / (n * (n - 1)) + within_v / (m * (m - 1)) - 2 * cross / (n * m)


def mmd_rbf(
    first: np.ndarray,
    second: np.ndarray,
    n_permutations: int = 500,
    seed: int = 0,
    paired: bool = True,
    bandwidth: float | None = None,
) -> dict[str, Any]:
    """Unbiased MMD^2 between two samples with an RBF kernel ``exp(-|x-y|^2 / (2 sigma^2))``.

    ``sigma`` defaults to the median heuristic on the pooled sample. The p-value is
    ``(1 + #{permuted >= observed}) / (1 + n_permutations)``; permutations swap sides within pairs when
    ``paired`` (rows i of both arrays are a pair), else they re-split the pooled sample at random.
    """
    first = np.asarray(first, dtype=float)
    second = np.asarray(second, dtype=float)
    n, m = len(first), len(second)
    if n < 2 or m < 2:
        return {"mmd2": None, "bandwidth": None, "p_value": None, "n_permutations": 0}
    if paired and n != m:
        raise ValueError("paired permutations need arrays of equal length")
    pooled = np.vstack([first, second])
    sigma = bandwidth if bandwidth is not None else median_bandwidth(pooled)
    kernel = np.exp(-_squared_distances(pooled) / (2 * sigma**2))
    observed_members = np.concatenate([np.ones(n), np.zeros(m)])[:, None]
    observed = float(_mmd2_from_kernel(kernel, observed_members)[0])
    rng = np.random.default_rng(seed)
    exceed = 0
    done = 0
    batch = 200
    while done < n_permutations:
        size = min(batch, n_permutations - done)
        if paired:
            swap = rng.random((n, size)) < 0.5
            members = np.vstack([~swap, swap])
        else:
            members = np.zeros((n + m, size), dtype=bool)
            for j in range(size):
                members[rng.permutation(n + m)[:n], j] = True
        values = _mmd2_from_kernel(kernel, members)
        exceed += int((values >= observed - 1e-12).sum())
        done += size
    return {
        "mmd2": observed,
        "bandwidth": float(sigma),
        "p_value": (1 + exceed) / (1 + n_permutations) if n_permutations else None,
        "n_permutations": int(n_permutations),
        "permutation": "swap within pairs" if paired else "re-split pooled sample",
    }


def grouped_folds(groups: Sequence[Any], n_splits: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test index splits in which every group (conversation) falls in exactly one test fold."""
    groups = np.asarray(groups)
    n_splits = min(n_splits, len(np.unique(groups)))
    folds = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(folds.split(np.zeros(len(groups)), groups=groups))


def probe_auc(
    first: np.ndarray, second: np.ndarray, groups: Sequence[Any], n_splits: int = 5, seed: int = 0, C: float = 1.0
) -> dict[str, Any]:
    """Cross-validated AUC of a logistic-regression probe telling second-side from first-side vectors.

    ``groups`` gives each pair's conversation; both sides of a pair share it, so folds keep pairs and
    conversations whole. Reports the mean and sd of the fold AUCs and the AUC of the pooled out-of-fold
    scores.
    """
    first = np.asarray(first, dtype=float)
    second = np.asarray(second, dtype=float)
    x = np.vstack([first, second])
    y = np.concatenate([np.zeros(len(first)), np.ones(len(second))])
    g = np.concatenate([np.asarray(groups), np.asarray(groups)])
    if len(np.unique(g)) < 2:
        return {"auc_mean": None, "auc_sd": None, "auc_folds": [], "auc_pooled": None, "folds": 0}
    scores = np.full(len(y), np.nan)
    fold_aucs = []
    for train, test in grouped_folds(g, n_splits=n_splits, seed=seed):
        model = LogisticRegression(C=C, max_iter=2000)
        model.fit(x[train], y[train])
        scores[test] = model.decision_function(x[test])
        if len(np.unique(y[test])) == 2:
            fold_aucs.append(float(roc_auc_score(y[test], scores[test])))
    return {
        "auc_mean": float(np.mean(fold_aucs)) if fold_aucs else None,
        "auc_sd": float(np.std(fold_aucs, ddof=1)) if len(fold_aucs) > 1 else None,
        "auc_folds": fold_aucs,
        "auc_pooled": float(roc_auc_score(y, scores)),
        "folds": len(fold_aucs),
        "grouped_by": "conversation",
    }


def bootstrap_median(values: np.ndarray, groups: Sequence[Any], n_boot: int = 1000, level: float = 0.95,
                     seed: int = 0) -> list[float] | None:
    """Percentile interval of the median of ``values`` resampling whole groups (conversations)."""
    return group_bootstrap_interval(values, groups, np.median, n_boot, level, seed)


def projection_2d(differences: np.ndarray) -> np.ndarray:
    """Two principal axes of the difference vectors, found without centring so the origin stays
    'no change' (the pair's first side)."""
    differences = np.asarray(differences, dtype=float)
    if len(differences) < 2:
        return np.zeros((differences.shape[1] if differences.ndim == 2 else 0, 2))
    gram = differences.T @ differences  # uncentred second moments (d x d): cheaper than an SVD of all rows
    values, vectors = np.linalg.eigh(gram)
    return vectors[:, np.argsort(values)[::-1][:2]]


def check_projection(projection: str) -> None:
    """Refuse an unknown projection, and ``umap`` when umap-learn is not installed (before any work is done)."""
    if projection not in PROJECTIONS:
        raise ValueError(f"unknown projection {projection!r}; choose one of {', '.join(PROJECTIONS)}")
    if projection == "umap":
        try:
            import umap  # noqa: F401
        except ImportError:
            raise ValueError(f"the UMAP projection of the shift figure needs the topics extra: {TOPICS_EXTRA}") from None


def umap_2d(differences: np.ndarray, seed: int = 0) -> np.ndarray:
    """Seeded 2-D UMAP embedding (Euclidean) of the difference vectors, shifted so that the image of the zero
    difference ('no change', embedded along with them) is the origin. UMAP keeps neighbourhoods, not
    lengths: distances from the origin order the pairs only roughly."""
    check_projection("umap")
    import umap

    differences = np.asarray(differences, dtype=float)
    if len(differences) < 2:
        return np.zeros((len(differences), 2))
    with_zero = np.vstack([np.zeros((1, differences.shape[1])), differences])
    n = len(with_zero)
    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=max(2, min(15, n - 1)),
        metric="euclidean",
        random_state=seed,
        init="spectral" if n > 10 else "random",
    )
    with warnings.catch_warnings():  # seeding makes UMAP single-threaded, which it says each time
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        embedded = np.asarray(reducer.fit_transform(with_zero), dtype=float)
    return embedded[1:] - embedded[0]


# --- pairs from a corpus -----------------------------------------------------------------------------
def pair_frames(inputs: AnalysisInputs) -> dict[str, pd.DataFrame]:
    """The three pair types as frames with ``first``, ``second`` and ``conversation_id`` (blank texts dropped)."""
    frames = {}
    turns = inputs.user_turns
    if len(turns):
        t = turns.dropna(subset=["previous_user_message"])
        frames["consecutive"] = pd.DataFrame({"first": t["previous_user_message"], "second": t["text"], "conversation_id": t["conversation_id"]})
    else:
        frames["consecutive"] = pd.DataFrame(columns=["first", "second", "conversation_id"])
    thoughts = inputs.thoughts
    reasons = thoughts[thoughts["kind"] == "reason"]
    frames["message_reason"] = pd.DataFrame({"first": reasons.get("message"), "second": reasons.get("text"), "conversation_id": reasons["conversation_id"]})
    reactions = thoughts[thoughts["kind"] == "reaction"]
    if "next_message" in reactions:
        reactions = reactions.dropna(subset=["next_message"])
    frames["reaction_next"] = pd.DataFrame({"first": reactions.get("text"), "second": reactions.get("next_message"), "conversation_id": reactions["conversation_id"]})
    out = {}
    for name, frame in frames.items():
        frame = frame.dropna(subset=["first", "second"])
        keep = frame["first"].astype(str).str.strip().ne("") & frame["second"].astype(str).str.strip().ne("")
        out[name] = frame[keep].reset_index(drop=True)
    return out


def shift_analysis(
    inputs: AnalysisInputs,
    embedder: Any = "static",
    n_permutations: int = 500,
    max_pairs: int = 2000,
    n_splits: int = 5,
    seed: int = 0,
    n_boot: int = 1000,
    projection: str = "pca",
) -> AnalysisResult:
    """Distances (with a conversation-bootstrap interval of the median), centroid distance, MMD and probe
    AUC for the three pair types; the difference figure uses ``projection`` (``pca`` or ``umap``)."""
    title = "Thoughts differ from messages (embedding shift)"
    check_projection(projection)
    pairs = pair_frames(inputs)
    if all(len(f) < 2 for f in pairs.values()):
        return unavailable("shift", title, "fewer than 2 pairs of every type (no thoughts or one-turn conversations)")
    if isinstance(embedder, str):
        from thoughtcode.embeddings import load_embedder

        embedder = load_embedder(embedder)
    texts = sorted({t for f in pairs.values() for t in pd.concat([f["first"], f["second"]]).astype(str)})
    vectors = embedder.encode(texts) if texts else np.zeros((0, 1))
    index = {t: i for i, t in enumerate(texts)}
    result = AnalysisResult("shift", title)
    rng = np.random.default_rng(seed)
    per_type: dict[str, Any] = {}
    rows = []
    differences: dict[str, np.ndarray] = {}
    for name in PAIR_TYPES:
        frame = pairs[name]
        if len(frame) < 2:
            per_type[name] = {"available": False, "n_pairs": int(len(frame)), "note": "fewer than 2 pairs"}
            continue
        first = vectors[[index[str(t)] for t in frame["first"]]].astype(float)
        second = vectors[[index[str(t)] for t in frame["second"]]].astype(float)
        groups = frame["conversation_id"].to_numpy()
        distances = distance_percentiles(first, second)
        median_ci = bootstrap_median(difference_distances(first, second), groups, n_boot=n_boot, seed=seed)
        used = np.arange(len(frame))
        if len(frame) > max_pairs:
            used = np.sort(rng.choice(len(frame), size=max_pairs, replace=False))
        mmd = mmd_rbf(first[used], second[used], n_permutations=n_permutations, seed=seed, paired=True)
        probe = probe_auc(first, second, groups, n_splits=n_splits, seed=seed)
        differences[name] = second - first
        per_type[name] = {
            "available": True,
            "title": PAIR_TITLES[name],
            "n_pairs": int(len(frame)),
            "n_conversations": int(len(np.unique(groups))),
            "distance": {k: rounded(v) for k, v in distances.items()},
            "distance_median_ci": [rounded(v) for v in median_ci] if median_ci else None,
            "centroid_l2": rounded(centroid_l2(first, second)),
            "mmd": {**{k: (rounded(v, 6) if isinstance(v, float) else v) for k, v in mmd.items()}, "n_pairs_used": int(len(used))},
            "probe": {**probe, "auc_mean": rounded(probe["auc_mean"]), "auc_sd": rounded(probe["auc_sd"]),
                      "auc_pooled": rounded(probe["auc_pooled"]), "auc_folds": [rounded(a) for a in probe["auc_folds"]]},
            "paper_distance_percentiles": PAPER_DISTANCES[name],
        }
        rows.append({
            "pair_type": name, "title": PAIR_TITLES[name], "n_pairs": len(frame),
            "distance_p25": distances["p25"], "distance_median": distances["p50"], "distance_p75": distances["p75"],
            "median_ci_low": median_ci[0] if median_ci else None, "median_ci_high": median_ci[1] if median_ci else None,
            "centroid_l2": per_type[name]["centroid_l2"], "mmd2": mmd["mmd2"], "mmd_bandwidth": mmd["bandwidth"],
            "mmd_p_value": mmd["p_value"], "probe_auc": probe["auc_mean"], "probe_auc_sd": probe["auc_sd"],
        })
    medians = {n: per_type[n]["distance"]["p50"] for n in PAIR_TYPES if per_type[n].get("available")}
    holds = None
    if len(medians) == 3:
        holds = bool(medians["consecutive"] < medians["message_reason"] < medians["reaction_next"])
    orderings = {}
    metric_values = {
        "distance_median": medians,
        "centroid_l2": {n: per_type[n]["centroid_l2"] for n in medians},
        "mmd2": {n: per_type[n]["mmd"]["mmd2"] for n in medians},
        "probe_auc": {n: per_type[n]["probe"]["auc_mean"] for n in medians},
    }
    for metric, values in metric_values.items():
        ok = len(values) == 3 and None not in values.values()
        orderings[metric] = {
            "values": values,
            "consecutive < message_reason < reaction_next": (
                bool(values["consecutive"] < values["message_reason"] < values["reaction_next"]) if ok else None
            ),
        }
    result.data = {
        "embedder": getattr(embedder, "name", str(embedder)),
        "pair_types": per_type,
        "paper_ordering": {
            "claim": "median distance: consecutive < message_reason < reaction_next",
            "medians": medians,
            "holds": holds,
            "median_ci": {n: per_type[n]["distance_median_ci"] for n in medians},
        },
        "orderings_by_metric": orderings,
        "settings": {"n_permutations": n_permutations, "max_pairs_for_mmd": max_pairs, "folds": n_splits, "seed": seed,
                     "n_boot_median": n_boot, "projection": projection},
    }
    table = pd.DataFrame(rows)
    result.tables["shift_metrics"] = table.round(6)
    result.notes.append(
        "distances come from the offline embedder's unit-length vectors (difference lengths lie in [0, 2]); "
        "the paper's values (e.g. 0.38 / 1.96 / 6.89) come from an unnormalised embedder, so only the ordering compares"
    )
    if holds is not None:
        result.notes.append(
            "paper ordering on median distance (consecutive < message->reason < reaction->next) "
            + ("holds" if holds else "does not hold") + ": " + ", ".join(f"{k} {v:.3f}" for k, v in medians.items())
        )
    if any(len(pairs[n]) > max_pairs for n in PAIR_TYPES):
        result.notes.append(f"MMD uses a random subset of {max_pairs} pairs per type (seed {seed}); other metrics use all")

    from thoughtcode.analyses import figures

    def ring_figure():
        names = list(differences)
        pooled = np.vstack([differences[n] for n in names])
        flat = umap_2d(pooled, seed=seed) if projection == "umap" else pooled @ projection_2d(pooled)
        bounds = np.cumsum([0, *(len(differences[n]) for n in names)])
        points, rings = {}, {}
        for name, start, stop in zip(names, bounds[:-1], bounds[1:], strict=True):
            projected = flat[start:stop]
            radii = np.linalg.norm(projected, axis=1)
            rings[name] = np.percentile(radii, [25, 50, 75]).tolist()
            shown = projected
            if len(shown) > 1500:
                shown = shown[np.random.default_rng(seed).choice(len(shown), 1500, replace=False)]
            points[name] = shown
        return figures.shift_rings(points, rings, projection.upper(),
                                   {k: f"{PAIR_TITLES[k]} (n={len(v)})" for k, v in differences.items()})

    if differences:
        result.figures["shift_differences"] = ring_figure
        if projection == "umap":
            how = (f"embedded in 2-D by UMAP (seed {seed}, Euclidean, fitted on all differences together with the zero "
                   "difference, whose image is moved to the origin, so the origin means no change). UMAP keeps "
                   "neighbourhoods, not lengths: read the rings as a rough ordering. Rings: 25th, 50th and 75th "
                   "percentile of the distance from the origin in the UMAP plane.")
        else:
            how = ("projected on the two principal axes of all differences (PCA, uncentred, so the origin means no "
                   "change). Rings: 25th, 50th and 75th percentile of the projected length.")
        result.captions["shift_differences"] = (
            "Each pair's difference vector (second minus first side), so every pair starts at the origin, " + how
        )
        dists = {PAIR_TITLES[k]: np.linalg.norm(v, axis=1) for k, v in differences.items()}
        result.figures["shift_distances"] = lambda: figures.distance_boxes(dists)
        result.captions["shift_distances"] = "Length of the difference vectors per pair type (full embedding space)."
    return result
