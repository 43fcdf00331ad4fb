"""Induce a draft codebook from unit texts: a topic-modelling pipeline of swappable parts.

The pipeline follows the shape of BERTopic (Grootendorst 2022, arXiv:2203.05794), written for this package
so the core needs neither torch nor UMAP:

1. **embed** the unit texts with the offline embedder (:func:`thoughtcode.embeddings.load_embedder`);
2. **reduce** them: PCA (default; output L2-normalised so Euclidean distance ranks like cosine), UMAP
   (with the ``topics`` extra), or ``none``;
3. **cluster**: k-means when the number of categories is given, otherwise scikit-learn's HDBSCAN, whose
   noise points are *outliers*: reported with their own keywords, never folded into a catch-all category;
4. **represent** each cluster: class-based TF-IDF keywords (every cluster's texts joined into one
   document; term frequency within the cluster times ``log(1 + A / f_t)``, ``A`` the average number of
   words per cluster and ``f_t`` the term's frequency over all clusters) and its most representative
   units (closest to the cluster's centroid in embedding space);
5. **name** it: from the keywords (``Recipe / cook / dinner``, "Reasons about ...; typical words: ...")
   or, with an LLM namer, by a model through the coders' machinery.

``engine="bertopic"`` hands the same embeddings, reducer, clusterer and vectoriser to BERTopic itself
(``pip install 'thoughtcode[topics]'``); naming, examples, stability and the output are the same.

The result is a codebook of version 0.1.0 that ``thoughtcode taxonomy validate`` accepts, optionally with
parent categories, plus a report: sizes, keywords, examples, outliers and stability (ARI between seeds).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import yaml
from sklearn.cluster import HDBSCAN, AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer
from threadpoolctl import threadpool_limits

from thoughtcode.drafting.stability import StabilityReport, clustering_stability
from thoughtcode.taxonomy import Category, ChangelogEntry, Codebook, Example, parse_codebook

TOPICS_EXTRA = "pip install 'thoughtcode[topics]'"

#: Names a user may give for the unit kind, mapped to the corpus's unit kinds.
UNIT_CHOICES: dict[str, str] = {
    "reasons": "reason",
    "reason": "reason",
    "reactions": "reaction",
    "reaction": "reaction",
    "turns": "user_turn",
    "user_turns": "user_turn",
    "user_turn": "user_turn",
    "conversations": "conversation",
    "conversation": "conversation",
}
PLURAL: dict[str, str] = {
    "reason": "reasons",
    "reaction": "reactions",
    "user_turn": "user turns",
    "conversation": "conversations",
}
DEFAULT_NAME: dict[str, str] = {
    "reason": "reasons_draft",
    "reaction": "reactions_draft",
    "user_turn": "turns_draft",
    "conversation": "conversations_draft",
}

#: Words that say nothing about what a thought or message is about: English stop words, fragments of
#: contractions left by the tokeniser, and the verbs of wanting and asking every self-report is full of.
STOP_WORDS: frozenset[str] = frozenset(ENGLISH_STOP_WORDS) | {
    "don", "didn", "doesn", "isn", "wasn", "aren", "couldn", "wouldn", "shouldn", "won", "ll", "ve", "re",
    "im", "ive", "id", "dont", "didnt", "doesnt", "cant", "wont", "thats", "its",
    "want", "wanted", "wanting", "wants", "like", "liked", "just", "really", "think", "thought", "know",
    "knew", "ask", "asked", "asking", "need", "needed", "get", "got", "make", "made", "going", "gonna",
    "would", "could", "also", "yes", "ok", "okay", "maybe", "actually", "lot", "bit", "thing", "things",
    "way", "did", "does", "let", "sure", "probably", "kind", "sort",
}  # fmt: skip
TOKEN_PATTERN = r"(?u)\b[^\W\d_]{2,}\b"
#: Keywords shown in upper case in names and definitions.
ACRONYMS: dict[str, str] = {
    w: w.upper() for w in ("ai", "ia", "api", "ui", "ux", "pc", "gpt", "llm", "cv", "diy", "usa", "uk", "eu", "sql", "faq")
}

SINGLE_THREAD_BELOW = 20_000
REDUCERS = ("pca", "umap", "none")
CLUSTERERS = ("auto", "kmeans", "hdbscan")
ENGINES = ("native", "bertopic")


class DraftingError(ValueError):
    """Induction or revision cannot go on; the message says what to change."""


def resolve_unit_kind(name: str) -> str:
    """``reasons``/``reactions``/``turns``/``conversations`` (or the corpus's singular kinds) -> unit kind."""
    try:
        return UNIT_CHOICES[name.strip().lower()]
    except KeyError:
        raise DraftingError(f"unknown unit {name!r}; use reasons, reactions, turns or conversations") from None


# --- configuration ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InduceConfig:
    """Every setting of the pipeline; the resolved values are written into the draft's report."""

    n_categories: int | None = None
    seed: int = 0
    reducer: str = "pca"
    n_components: int = 5
    clusterer: str = "auto"
    min_cluster_size: int | None = None
    min_samples: int | None = None
    n_keywords: int = 8
    n_examples: int = 3
    ngram_max: int = 1
    stability_runs: int = 5
    subsample: float = 0.9
    engine: str = "native"
    hierarchical: bool = False
    n_parents: int | None = None
    max_example_chars: int = 400

    def __post_init__(self) -> None:
        if self.reducer not in REDUCERS:
            raise DraftingError(f"unknown reducer {self.reducer!r}; choose {', '.join(REDUCERS)}")
        if self.clusterer not in CLUSTERERS:
            raise DraftingError(f"unknown clusterer {self.clusterer!r}; choose {', '.join(CLUSTERERS)}")
        if self.engine not in ENGINES:
            raise DraftingError(f"unknown engine {self.engine!r}; choose {', '.join(ENGINES)}")
        if self.n_categories is not None and self.n_categories < 2:
            raise DraftingError("--n-categories must be at least 2")
        if self.n_categories is not None and self.clusterer == "hdbscan":
            raise DraftingError("--n-categories needs k-means; HDBSCAN finds the number of categories itself")
        if self.clusterer == "kmeans" and self.n_categories is None:
            raise DraftingError("k-means needs --n-categories K")
        if self.stability_runs == 1 or self.stability_runs < 0:
            raise DraftingError("stability needs 0 (off) or at least 2 runs")
        if not 0 < self.subsample <= 1:
            raise DraftingError("subsample must be in (0, 1]")
        if self.n_components < 1 or self.n_keywords < 1 or self.n_examples < 0:
            raise DraftingError("n_components and n_keywords must be positive, n_examples not negative")

    @property
    def clusterer_kind(self) -> str:
        if self.clusterer != "auto":
            return self.clusterer
        return "kmeans" if self.n_categories else "hdbscan"

    def resolved(self, n_units: int) -> InduceConfig:
        """The configuration with data-dependent defaults filled in (HDBSCAN's sizes)."""
        if self.clusterer_kind != "hdbscan":
            return replace(self, clusterer="kmeans")
        size = self.min_cluster_size or max(3, min(50, round(n_units / 40)))
        samples = self.min_samples or max(1, size // 3)
        return replace(self, clusterer="hdbscan", min_cluster_size=size, min_samples=samples)


def make_reducer(config: InduceConfig, seed: int, n_units: int, dim: int) -> Any:
    """A fitted-on-demand reducer (scikit-learn transformer interface: ``fit``, ``transform``)."""
    n_components = max(1, min(config.n_components, n_units - 1, dim))
    if config.reducer == "none":
        return Normalizer()
    if config.reducer == "pca":
        return Pipeline([("pca", PCA(n_components=n_components, random_state=seed)), ("normalise", Normalizer())])
    try:
        import umap
    except ImportError:
        raise DraftingError(f"the UMAP reducer needs the topics extra: {TOPICS_EXTRA}") from None
    return umap.UMAP(
        n_components=n_components,
        n_neighbors=max(2, min(15, n_units - 1)),
        min_dist=0.0,
        metric="cosine",
        random_state=seed,
    )


def make_clusterer(config: InduceConfig, seed: int, n_units: int) -> Any:
    """k-means (``n_categories`` given) or HDBSCAN (noise label ``-1`` = outlier); scikit-learn interface."""
    config = config.resolved(n_units) if config.clusterer == "auto" else config
    if config.clusterer == "kmeans":
        if config.n_categories is None or config.n_categories > n_units:
            raise DraftingError(f"cannot make {config.n_categories} categories from {n_units} units")
        return KMeans(n_clusters=config.n_categories, n_init=10, random_state=seed)
    size = config.min_cluster_size or config.resolved(n_units).min_cluster_size
    samples = config.min_samples or max(1, size // 3)
    return HDBSCAN(min_cluster_size=max(2, min(size, n_units)), min_samples=min(samples, n_units), copy=True)


def _relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Clusters renumbered 0, 1, ... from the largest; ``-1`` (outliers) kept; ties broken by old label."""
    labels = np.asarray(labels, dtype=int)
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = sorted(zip(ids, counts, strict=True), key=lambda pair: (-pair[1], pair[0]))
    mapping = {int(old): new for new, (old, _) in enumerate(order)}
    return np.array([mapping.get(int(x), -1) for x in labels], dtype=int)


def cluster_embeddings(embeddings: np.ndarray, config: InduceConfig, seed: int | None = None) -> np.ndarray:
    """Reduce and cluster embeddings; labels renumbered by size, ``-1`` for outliers."""
    seed = config.seed if seed is None else seed
    n, dim = embeddings.shape
    reducer = make_reducer(config, seed, n, dim)
    clusterer = make_clusterer(config, seed, n)
    # Small problems run fastest on one thread; several OpenMP/BLAS threads on a busy machine are 10x slower.
    with threadpool_limits(limits=1 if n < SINGLE_THREAD_BELOW else None):
        reduced = reducer.fit_transform(embeddings)
        return _relabel_by_size(clusterer.fit_predict(reduced))


# --- keywords ----------------------------------------------------------------------------------------------
def _vectorizer(ngram_max: int = 1, min_df: int = 1) -> CountVectorizer:
    return CountVectorizer(
        stop_words=sorted(STOP_WORDS),
        token_pattern=TOKEN_PATTERN,
        ngram_range=(1, ngram_max),
        min_df=min_df,
        lowercase=True,
    )


def class_tfidf(
    texts: Sequence[str],
    labels: Sequence[int],
    n_keywords: int = 8,
    ngram_max: int = 1,
) -> dict[int, list[tuple[str, float]]]:
    """Class-based TF-IDF keywords per cluster label (outliers, ``-1``, get theirs too).

    Score of term ``t`` in cluster ``c``: ``tf(t, c) / words(c) * log(1 + A / f(t))`` with ``A`` the mean
    number of words per cluster and ``f(t)`` the frequency of ``t`` over all clusters. Terms found in at
    least two units of the cluster rank first, so one unit's rare word cannot name a cluster of twenty.
    """
    labels = np.asarray(labels, dtype=int)
    classes = sorted(set(labels.tolist()))
    try:
        counts = _vectorizer(ngram_max).fit(texts)
    except ValueError:  # empty vocabulary: nothing but stop words
        return {c: [] for c in classes}
    vocabulary = counts.get_feature_names_out()
    matrix = counts.transform(texts).tocsr()
    tf = np.vstack([np.asarray(matrix[labels == c].sum(axis=0)).ravel() for c in classes]).astype(float)
    df = np.vstack([np.asarray((matrix[labels == c] > 0).sum(axis=0)).ravel() for c in classes])
    words = tf.sum(axis=1, keepdims=True)
    average_words = tf.sum() / len(classes)
    frequency = np.maximum(tf.sum(axis=0), 1.0)
    scores = np.divide(tf, words, out=np.zeros_like(tf), where=words > 0) * np.log1p(average_words / frequency)
    result: dict[int, list[tuple[str, float]]] = {}
    for row, c in enumerate(classes):
        size = int((labels == c).sum())
        supported = df[row] >= (2 if size >= 3 else 1)
        order = np.lexsort((-scores[row], ~supported))  # supported first, then by score
        picked = [i for i in order if scores[row, i] > 0][:n_keywords]
        result[c] = [(str(vocabulary[i]), float(scores[row, i])) for i in picked]
    return result


# --- naming ------------------------------------------------------------------------------------------------
@dataclass
class ClusterSummary:
    """What a namer sees of one cluster (or parent group)."""

    unit_kind: str
    size: int
    share: float
    keywords: list[str]
    examples: list[str]
    children: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Naming:
    name: str
    definition: str


class Namer(Protocol):
    """Names and defines a cluster; ``describe`` may return ``None`` to fall back on the keywords."""

    label: str

    def describe(self, cluster: ClusterSummary) -> Naming | None: ...


def _stem(word: str) -> str:
    """A crude stem, only to keep ``recipe`` and ``recipes`` out of the same name."""
    word = word.lower()
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: -len(suffix)]
            if suffix in ("ing", "ed") and len(word) >= 4 and word[-1] == word[-2] and word[-1] not in "aeiouls":
                word = word[:-1]  # planning -> plan, stopped -> stop
            break
    return word.rstrip("e")


def distinct_keywords(keywords: Sequence[str]) -> list[str]:
    """Keywords without near-duplicates (same crude stem), in order."""
    seen: set[str] = set()
    out = []
    for keyword in keywords:
        stems = tuple(_stem(w) for w in keyword.split())
        if stems in seen:
            continue
        seen.add(stems)
        out.append(keyword)
    return out


def display_word(keyword: str) -> str:
    """A keyword as shown to people: acronyms in upper case (``ai`` -> ``AI``)."""
    return " ".join(ACRONYMS.get(w, w) for w in keyword.split())


def _enumerate(words: Sequence[str], conjunction: str = "and") -> str:
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


class KeywordNamer:
    """Names from the top keywords (``Recipe / cook / dinner``); definitions that say they are drafts."""

    label = "keywords"

    def __init__(self, name_words: int = 3, definition_words: int = 8):
        self.name_words = name_words
        self.definition_words = definition_words

    def describe(self, cluster: ClusterSummary) -> Naming:
        words = [display_word(w) for w in distinct_keywords(cluster.keywords)]
        plural = PLURAL.get(cluster.unit_kind, "units")
        if not words:
            return Naming("Unnamed cluster", f"{plural.capitalize()} with no distinctive words; read the examples.")
        head = words[: self.name_words]
        name = " / ".join([head[0][:1].upper() + head[0][1:], *head[1:]])
        typical = ", ".join(words[: self.definition_words])
        if cluster.children:
            definition = (
                f"Groups {_enumerate(cluster.children)}: {plural} about {_enumerate(head, 'or')}; "
                f"typical words: {typical}."
            )
        else:
            definition = f"{plural.capitalize()} about {_enumerate(head, 'or')}; typical words: {typical}."
        return Naming(name, definition)


def snake_id(text: str, max_length: int = 48) -> str:
    """A valid category id (lower snake_case, starting with a letter) from any text."""
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    slug = slug[:max_length].rstrip("_")
    if not slug:
        return "category"
    return slug if slug[0].isalpha() else f"c_{slug}"


def _unique(value: str, taken: set[str], spell: Callable[[str, int], str]) -> str:
    candidate, k = value, 1
    while candidate.casefold() in taken:
        k += 1
        candidate = spell(value, k)
    return candidate


# --- result ------------------------------------------------------------------------------------------------
@dataclass
class Candidate:
    """One candidate category of a draft (a cluster, or a parent group of clusters)."""

    cluster: int
    id: str
    name: str
    definition: str
    size: int
    share: float
    keywords: list[tuple[str, float]]
    examples: list[dict[str, Any]]
    members: list[str]
    parent: str | None = None
    children: list[str] = field(default_factory=list)
    stability: float | None = None
    verdict: str | None = None

    def category(self) -> Category:
        examples = [
            Example(text=e["text"], source=e["unit_id"], note=f"representative: cosine {e['similarity']:.2f} to the centre")
            for e in self.examples
        ]
        return Category(id=self.id, name=self.name, definition=self.definition, examples=examples, parent=self.parent)

    def comment(self) -> str:
        parts = [f"size {self.size} ({self.share:.1%})"]
        if self.stability is not None:
            parts.append(f"stability {self.stability:.2f} ({self.verdict})")
        if self.children:
            parts.append(f"children {len(self.children)}")
        parts.append("keywords: " + ", ".join(w for w, _ in self.keywords))
        return " | ".join(parts)

    def to_dict(self, members: bool = False) -> dict[str, Any]:
        out = asdict(self)
        out["keywords"] = [{"word": w, "score": round(s, 5)} for w, s in self.keywords]
        if not members:
            out.pop("members")
        return out


@dataclass
class InduceResult:
    """A draft codebook and everything needed to judge it."""

    codebook: Codebook
    categories: list[Candidate]
    parents: list[Candidate]
    outliers: list[dict[str, Any]]
    outlier_keywords: list[str]
    unit_ids: list[str]
    texts: list[str]
    labels: np.ndarray
    skipped: list[dict[str, str]]
    stability: StabilityReport | None
    config: InduceConfig
    settings: dict[str, Any]
    timings: dict[str, float]
    source: str | None = None

    @property
    def n_units(self) -> int:
        return len(self.unit_ids)

    @property
    def outlier_share(self) -> float:
        return len(self.outliers) / self.n_units if self.n_units else 0.0

    def category_of(self) -> dict[str, str | None]:
        """Unit id -> draft category id (``None`` for outliers)."""
        ids = {c.cluster: c.id for c in self.categories}
        return {u: ids.get(int(label)) for u, label in zip(self.unit_ids, self.labels, strict=True)}

    def assignments(self) -> pd.DataFrame:
        """One row per unit: its cluster, draft category (empty for outliers) and text."""
        category = self.category_of()
        return pd.DataFrame(
            {
                "unit_id": self.unit_ids,
                "cluster": self.labels.astype(int),
                "category": [category[u] for u in self.unit_ids],
                "outlier": self.labels < 0,
                "text": self.texts,
            }
        )

    def header_lines(self) -> list[str]:
        plural = PLURAL[self.codebook.unit]
        lines = [
            "Draft codebook made by `thoughtcode taxonomy induce`" + (f" from {self.source}" if self.source else ""),
            f"units: {self.n_units} {plural}" + (f" ({len(self.skipped)} skipped: no text to embed)" if self.skipped else ""),
            "pipeline: "
            + ", ".join(f"{k} {self.settings[k]}" for k in ("embedder", "reducer", "clusterer", "keywords", "engine", "seed")),
            f"names and definitions: {self.settings.get('namer', 'keywords')}; review and rewrite them before coding",
            f"categories: {len(self.categories)}"
            + (f" (+{len(self.parents)} parents)" if self.parents else "")
            + f"; outliers: {len(self.outliers)} ({self.outlier_share:.1%}), listed in the report, not in a category",
        ]
        if self.settings.get("namer_fallbacks"):
            lines.append(f"namer: {self.settings['namer_fallbacks']}")
        if self.stability is not None:
            lines.append(self.stability.headline())
        return lines

    def to_yaml(self) -> str:
        """The draft as YAML, with each category's size, stability and keywords as comments."""
        from thoughtcode.taxonomy.export import codebook_data

        data = codebook_data(self.codebook)
        categories = data.pop("categories")
        changelog = data.pop("changelog", None)
        dump = {"sort_keys": False, "allow_unicode": True, "width": 110}
        out = [f"# {line}" for line in self.header_lines()]
        out.append(yaml.safe_dump(data, **dump).rstrip())
        out.append("categories:")
        by_id = {c.id: c for c in [*self.parents, *self.categories]}
        for category in categories:
            candidate = by_id.get(category["id"])
            if candidate is not None:
                out.append(f"# {candidate.comment()}")
            out.append(yaml.safe_dump([category], **dump).rstrip())
        if changelog:
            out.append(yaml.safe_dump({"changelog": changelog}, **dump).rstrip())
        return "\n".join(out) + "\n"

    def write(self, path: str | Path) -> Path:
        """Write the draft YAML (checked to load back to the same codebook)."""
        path = Path(path)
        text = self.to_yaml()
        reloaded = parse_codebook(yaml.safe_load(text), source=str(path))
        if reloaded.content_hash != self.codebook.content_hash:  # pragma: no cover - a bug, not a user error
            raise DraftingError("internal error: the draft YAML does not load back to the same codebook")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def report(self, members: bool = False) -> dict[str, Any]:
        """Everything about the draft as plain data (JSON-ready)."""
        return {
            "codebook": self.codebook.ref,
            "source": self.source,
            "unit": self.codebook.unit,
            "n_units": self.n_units,
            "skipped": self.skipped,
            "settings": self.settings,
            "config": asdict(self.config),
            "timings_seconds": {k: round(v, 3) for k, v in self.timings.items()},
            "categories": [c.to_dict(members) for c in self.categories],
            "parents": [c.to_dict(members) for c in self.parents],
            "outliers": {
                "count": len(self.outliers),
                "share": self.outlier_share,
                "keywords": self.outlier_keywords,
                "units": self.outliers,
            },
            "stability": self.stability.to_dict() if self.stability else None,
        }

    def summary(self, examples: int = 1) -> str:
        """A readable summary for the terminal."""
        lines = self.header_lines()
        for c in self.categories:
            stability = f"  stability {c.stability:.2f} {c.verdict}" if c.stability is not None else ""
            parent = f"  (in {c.parent})" if c.parent else ""
            lines.append(f"  {c.id:<34} {c.size:>5} {c.share:6.1%}{stability}{parent}")
            lines.append(f"      {c.name}: " + ", ".join(w for w, _ in c.keywords))
            for e in c.examples[:examples]:
                lines.append(f"      e.g. {one_line(e['text'], 100)}")
        if self.outliers:
            words = ", ".join(self.outlier_keywords) or "-"
            lines.append(f"  outliers{'':<26} {len(self.outliers):>5} {self.outlier_share:6.1%}  words: {words}")
        return "\n".join(lines)


def one_line(text: str, limit: int) -> str:
    """The text on one line, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- the pipeline ------------------------------------------------------------------------------------------
def resolve_embedder(embedder: Any) -> Any:
    """An embedder object (``.encode(texts)``), or the package's by name (default ``static``)."""
    if embedder is None or isinstance(embedder, str):
        from thoughtcode.embeddings import load_embedder

        return load_embedder(embedder or "static")
    return embedder


def _embed(embedder: Any, texts: Sequence[str]) -> np.ndarray:
    vectors = np.asarray(embedder.encode(list(texts)), dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(texts):
        raise DraftingError(f"the embedder returned shape {vectors.shape} for {len(texts)} texts")
    return vectors


def _bertopic_fit(texts: Sequence[str], embeddings: np.ndarray, config: InduceConfig) -> tuple[np.ndarray, dict]:
    """Hand our embeddings, reducer, clusterer and vectoriser to BERTopic; its labels and keywords back."""
    try:
        from bertopic import BERTopic
    except ImportError:
        raise DraftingError(f"--engine bertopic needs the topics extra: {TOPICS_EXTRA}") from None
    n, dim = embeddings.shape
    model = BERTopic(
        embedding_model=None,
        umap_model=make_reducer(config, config.seed, n, dim),
        hdbscan_model=make_clusterer(config, config.seed, n),
        vectorizer_model=_vectorizer(config.ngram_max),
        top_n_words=config.n_keywords,
        calculate_probabilities=False,
        verbose=False,
    )
    topics, _ = model.fit_transform(list(texts), embeddings=embeddings)
    raw = np.asarray(topics, dtype=int)
    labels = _relabel_by_size(raw)
    keywords: dict[int, list[tuple[str, float]]] = {}
    for old, new in {int(o): int(n_) for o, n_ in zip(raw, labels, strict=True)}.items():
        words = model.get_topic(old) or []
        keywords[new] = [(str(w), float(s)) for w, s in words if w][: config.n_keywords]
    return labels, keywords


def _representatives(
    embeddings: np.ndarray, members: np.ndarray, unit_ids: Sequence[str], texts: Sequence[str], k: int, limit: int
) -> list[dict[str, Any]]:
    index = np.flatnonzero(members)
    centre = embeddings[index].mean(axis=0)
    centre /= np.linalg.norm(centre) or 1.0
    similarity = embeddings[index] @ centre
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i in index[np.argsort(-similarity, kind="stable")]:
        key = " ".join(texts[i].split()).casefold()
        if key in seen:
            continue
        seen.add(key)
        out.append({"unit_id": unit_ids[i], "text": one_line(texts[i], limit), "similarity": float(embeddings[i] @ centre)})
        if len(out) >= k:
            break
    return out


def _name_all(
    summaries: list[ClusterSummary], namer: Namer | None, fallback: KeywordNamer, taken: set[str]
) -> list[tuple[str, str, str]]:
    """(id, name, definition) for each summary; every spelling unique across the codebook."""
    out = []
    for summary in summaries:
        naming = (namer.describe(summary) if namer is not None else None) or fallback.describe(summary)
        name = _unique(naming.name, taken, lambda v, k: f"{v} ({k})")
        taken.add(name.casefold())
        base = snake_id(naming.name)
        own = taken - {name.casefold()}
        category_id = _unique(base, own, lambda v, k: f"{v}_{k}")
        taken.add(category_id)
        out.append((category_id, name, naming.definition))
    return out


def _parent_groups(embeddings: np.ndarray, labels: np.ndarray, n_clusters: int, n_parents: int | None) -> list[list[int]]:
    """Clusters grouped by the cosine similarity of their centroids; only groups of two or more."""
    if n_clusters < 4:
        return []
    n_parents = n_parents or max(2, round(np.sqrt(n_clusters)))
    n_parents = min(n_parents, n_clusters - 1)
    centres = np.vstack([embeddings[labels == c].mean(axis=0) for c in range(n_clusters)])
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    groups = AgglomerativeClustering(n_clusters=n_parents, metric="cosine", linkage="average").fit_predict(centres)
    out = [sorted(np.flatnonzero(groups == g).tolist()) for g in range(n_parents)]
    return sorted([g for g in out if len(g) >= 2], key=lambda g: g[0])


def induce(
    texts: Sequence[str],
    unit_ids: Sequence[str],
    unit_kind: str,
    config: InduceConfig | None = None,
    *,
    embedder: Any = None,
    namer: Namer | None = None,
    name: str | None = None,
    title: str | None = None,
    source: str | None = None,
) -> InduceResult:
    """Draft a codebook (version 0.1.0) from unit texts; see the module text for the pipeline."""
    config = config or InduceConfig()
    unit_kind = resolve_unit_kind(unit_kind)
    if len(texts) != len(unit_ids):
        raise DraftingError("texts and unit_ids differ in length")
    started = time.perf_counter()
    timings: dict[str, float] = {}
    keep = [i for i, t in enumerate(texts) if t and t.strip()]
    kept = set(keep)
    skipped = [{"unit_id": unit_ids[i], "reason": "empty text"} for i in range(len(texts)) if i not in kept]
    embedder = resolve_embedder(embedder)
    vectors = _embed(embedder, [texts[i] for i in keep]) if keep else np.zeros((0, 1), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1)
    for i, norm in zip(keep, norms, strict=True):
        if not norm > 0:
            skipped.append({"unit_id": unit_ids[i], "reason": "no token the embedder knows"})
    good = [(i, v / n) for i, v, n in zip(keep, vectors, norms, strict=True) if n > 0]
    timings["embed"] = time.perf_counter() - started
    minimum = max(6, 2 * (config.n_categories or 2))
    if len(good) < minimum:
        raise DraftingError(f"too few units to induce categories: {len(good)} with text (need at least {minimum})")
    ids = [unit_ids[i] for i, _ in good]
    kept_texts = [texts[i] for i, _ in good]
    embeddings = np.vstack([v for _, v in good]).astype(np.float32)
    n = len(ids)
    config = config.resolved(n)

    t0 = time.perf_counter()
    if config.engine == "bertopic":
        labels, keywords = _bertopic_fit(kept_texts, embeddings, config)
    else:
        labels = cluster_embeddings(embeddings, config)
        keywords = {}
    timings["cluster"] = time.perf_counter() - t0
    n_clusters = int(labels.max()) + 1 if (labels >= 0).any() else 0
    if n_clusters < 2:
        raise DraftingError(
            f"{config.clusterer} found {n_clusters} cluster(s) among {n} units ({int((labels < 0).sum())} outliers); "
            "pass --n-categories K (k-means) or a smaller --min-cluster-size"
        )

    t0 = time.perf_counter()
    if config.engine != "bertopic":
        keywords = class_tfidf(kept_texts, labels, config.n_keywords, config.ngram_max)
    summaries, members_of, examples_of = [], {}, {}
    for c in range(n_clusters):
        members = labels == c
        members_of[c] = members
        examples_of[c] = _representatives(embeddings, members, ids, kept_texts, config.n_examples, config.max_example_chars)
        summaries.append(
            ClusterSummary(
                unit_kind=unit_kind,
                size=int(members.sum()),
                share=float(members.mean()),
                keywords=[w for w, _ in keywords.get(c, [])],
                examples=[e["text"] for e in examples_of[c]],
            )
        )
    fallback = KeywordNamer()
    taken: set[str] = set()
    named = _name_all(summaries, namer, fallback, taken)
    categories = [
        Candidate(
            cluster=c,
            id=named[c][0],
            name=named[c][1],
            definition=named[c][2],
            size=summaries[c].size,
            share=summaries[c].share,
            keywords=keywords.get(c, []),
            examples=examples_of[c],
            members=[ids[i] for i in np.flatnonzero(members_of[c])],
        )
        for c in range(n_clusters)
    ]

    parents: list[Candidate] = []
    if config.hierarchical:
        groups = _parent_groups(embeddings, labels, n_clusters, config.n_parents)
        group_of = {c: g for g, children in enumerate(groups) for c in children}
        parent_labels = np.array([-1 if x < 0 else n_clusters + group_of[x] if x in group_of else x for x in labels])
        parent_keywords = class_tfidf(kept_texts, parent_labels, config.n_keywords, config.ngram_max)
        parent_summaries = []
        for g, children in enumerate(groups):
            members = np.isin(labels, children)
            parent_summaries.append(
                ClusterSummary(
                    unit_kind=unit_kind,
                    size=int(members.sum()),
                    share=float(members.mean()),
                    keywords=[w for w, _ in parent_keywords.get(n_clusters + g, [])],
                    examples=[],
                    children=[categories[c].name for c in children],
                )
            )
        for g, (pid, pname, pdef) in enumerate(_name_all(parent_summaries, namer, fallback, taken)):
            children = groups[g]
            for c in children:
                categories[c].parent = pid
            parents.append(
                Candidate(
                    cluster=n_clusters + g,
                    id=pid,
                    name=pname,
                    definition=pdef,
                    size=parent_summaries[g].size,
                    share=parent_summaries[g].share,
                    keywords=parent_keywords.get(n_clusters + g, []),
                    examples=[],
                    members=[ids[i] for i in np.flatnonzero(np.isin(labels, children))],
                    children=[categories[c].id for c in children],
                )
            )
    outliers = [{"unit_id": ids[i], "text": one_line(kept_texts[i], 200)} for i in np.flatnonzero(labels < 0)]
    outlier_keywords = [w for w, _ in keywords.get(-1, [])]
    timings["represent"] = time.perf_counter() - t0

    stability = None
    if config.stability_runs >= 2:
        t0 = time.perf_counter()
        seeds = [config.seed + k for k in range(config.stability_runs)]
        stability = clustering_stability(
            embeddings, lambda x, s: cluster_embeddings(x, config, s), seeds, config.subsample, reference=labels
        )
        for candidate in categories:
            candidate.stability = stability.category_jaccard.get(candidate.cluster)
            candidate.verdict = stability.verdict(candidate.cluster)
        timings["stability"] = time.perf_counter() - t0

    settings = {
        "embedder": getattr(embedder, "name", type(embedder).__name__),
        "reducer": _reducer_text(config),
        "clusterer": _clusterer_text(config),
        "keywords": f"class-based TF-IDF ({'BERTopic' if config.engine == 'bertopic' else 'thoughtcode'})",
        "engine": config.engine,
        "seed": config.seed,
        "namer": getattr(namer, "label", "keywords") if namer is not None else "keywords",
    }
    failures = list(getattr(namer, "failures", None) or [])
    if failures:
        asked = getattr(namer, "calls", len(failures))
        settings["namer_fallbacks"] = (
            f"{len(failures)} of {asked} names fell back to keywords (first error: {' '.join(failures[0].split())[:200]})"
        )
    codebook = _draft_codebook(
        name or DEFAULT_NAME[unit_kind], title, unit_kind, categories, parents, n, len(outliers), settings, stability, source
    )
    timings["total"] = time.perf_counter() - started
    return InduceResult(
        codebook=codebook,
        categories=categories,
        parents=parents,
        outliers=outliers,
        outlier_keywords=outlier_keywords,
        unit_ids=ids,
        texts=kept_texts,
        labels=labels,
        skipped=skipped,
        stability=stability,
        config=config,
        settings=settings,
        timings=timings,
        source=source,
    )


def _reducer_text(config: InduceConfig) -> str:
    if config.reducer == "none":
        return "none (L2-normalised embeddings)"
    if config.reducer == "pca":
        return f"PCA({config.n_components}) + L2 normalisation"
    return f"UMAP({config.n_components}, cosine)"


def _clusterer_text(config: InduceConfig) -> str:
    if config.clusterer == "kmeans":
        return f"k-means(k={config.n_categories}, n_init=10)"
    return f"HDBSCAN(min_cluster_size={config.min_cluster_size}, min_samples={config.min_samples})"


def _draft_codebook(
    name: str,
    title: str | None,
    unit_kind: str,
    categories: list[Candidate],
    parents: list[Candidate],
    n_units: int,
    n_outliers: int,
    settings: dict[str, Any],
    stability: StabilityReport | None,
    source: str | None,
) -> Codebook:
    plural = PLURAL[unit_kind]
    where = f" of {Path(source).name}" if source else ""
    description = (
        f"Draft induced from {n_units} {plural}{where}: embeddings ({settings['embedder']}), "
        f"{settings['reducer']}, {settings['clusterer']}, class-based TF-IDF keywords, seed {settings['seed']}. "
        f"{len(categories)} candidate categories; {n_outliers} outlier units ({n_outliers / n_units:.1%}) fit none "
        "and are listed in the induction report."
    )
    if stability is not None and stability.mean_ari is not None:
        description += f" Stability: mean ARI {stability.mean_ari:.2f} between {len(stability.seeds)} runs."
    description += " Names and definitions are drafts: review them before coding."
    ordered = []
    for parent in parents:
        ordered.append(parent.category())
    ordered += [c.category() for c in categories]
    change = f"Drafted by thoughtcode taxonomy induce from {n_units} {plural}{where}: {len(categories)} categories"
    change += f" in {len(parents)} groups" if parents else ""
    change += f", {n_outliers} outliers."
    try:
        return Codebook(
            name=name,
            version="0.1.0",
            title=title or f"Draft codebook of {plural}",
            description=description,
            unit=unit_kind,
            categories=ordered,
            changelog=[ChangelogEntry(version="0.1.0", date=date.today().isoformat(), changes=[change])],
        )
    except ValueError as exc:
        raise DraftingError(f"the draft is not a valid codebook: {exc}") from None


def induce_from_corpus(
    path: str | Path,
    unit: str,
    config: InduceConfig | None = None,
    *,
    format: str | None = None,
    skip_invalid: bool = False,
    **options: Any,
) -> InduceResult:
    """Load a corpus file, take its units of one kind and :func:`induce` a draft from their texts."""
    from thoughtcode.corpus import load_corpus, units_for

    kind = resolve_unit_kind(unit)
    units = list(units_for(load_corpus(path, format=format, skip_invalid=skip_invalid), kind))
    options.setdefault("source", str(path))
    return induce([u.text for u in units], [u.unit_id for u in units], kind, config, **options)
