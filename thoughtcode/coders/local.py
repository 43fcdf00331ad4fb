"""The local coder: offline, fast, no API key. A trained classifier where labelled data exists, zero-shot
similarity to the codebook otherwise.

* :class:`LocalCoder` is a scikit-learn classifier over thought units. It averages the probabilities of two
  linear models: a logistic regression on :class:`~thoughtcode.coders.features.ThoughtFeaturizer` features
  (static embeddings of the thought and its message, position, lexical cues) and a logistic regression on
  word 1-2-gram TF-IDF of the thought text. The average is calibrated by temperature scaling fitted on
  out-of-fold predictions (grouped by conversation), which keeps the predicted label and makes the top
  probability a usable confidence.
* :class:`ZeroShotCoder` needs no training data: it ranks a codebook's categories by cosine similarity
  between a unit's text and category prototypes built from the codebook (name, definition, include rules,
  examples). It is what ``local`` uses for relations, topics and any codebook without a trained model, and
  it says so in every label's settings (``"method": "zero-shot-similarity"``).
* :class:`LocalCodingBackend` implements the :class:`~thoughtcode.coders.base.Coder` protocol on top of both
  and :func:`load_local_coder` builds it from a spec: ``local`` (shipped models for reasons and reactions,
  zero-shot otherwise) or ``local:PATH`` (a model trained with ``thoughtcode train``).

Models are saved with joblib together with a metadata record (codebook, training data hash, library
versions, cross-validated metrics). The embedder is never inside a model file: the featurizer stores its
spec (``"static"``) and loads the packaged embedder on use. Like any pickle, only load model files you trust.
"""

from __future__ import annotations

import hashlib
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import cohen_kappa_score, confusion_matrix, f1_score
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from thoughtcode.coders.features import ThoughtFeaturizer, UnitTexts, get_embedder, unit_columns
from thoughtcode.labels import LabelRecord, utc_now
from thoughtcode.taxonomy import Codebook

MODELS_DIR = Path(__file__).parent / "models"
SHIPPED_MODELS = {"reasons": MODELS_DIR / "reasons.joblib", "reactions": MODELS_DIR / "reactions.joblib"}
MODEL_FORMAT = "thoughtcode-local-coder"
FORMAT_VERSION = 1
ZERO_SHOT_METHOD = "zero-shot-similarity"
TRAINED_METHOD = "trained-classifier"

# Settings per scheme, from grouped cross-validation on the ThoughtTrace dev data: `scripts/train_local_models.py
# --search` prints the grid (fold seed 0); among its top settings these were stable on fresh fold seeds and use
# fewer feature blocks. Other schemes start from the reasons settings.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "reasons": {"message": True, "context": "none", "C": 0.01, "ngram_weight": 0.3, "ngram_C": 10.0, "class_weight": "balanced"},
    "reactions": {"message": False, "context": "none", "C": 0.01, "ngram_weight": 0.5, "ngram_C": 10.0, "class_weight": "balanced"},
}


class LocalModelError(ValueError):
    """A local model that cannot be used as asked (wrong codebook, unreadable file, ...)."""


# --- helpers ---------------------------------------------------------------------------------------------
def _take(units: Sequence[Any] | pd.DataFrame, index: Sequence[int] | np.ndarray) -> Any:
    if isinstance(units, pd.DataFrame):
        return units.iloc[np.asarray(index)]
    return [units[int(i)] for i in index]


def _n_units(units: Sequence[Any] | pd.DataFrame) -> int:
    return len(units)


def unit_groups(units: Sequence[Any] | pd.DataFrame) -> np.ndarray:
    """The conversation id of each unit (the grouping that keeps a conversation on one side of a split)."""
    ids = unit_columns(units, ["conversation_id"])["conversation_id"]
    if any(i is None for i in ids):
        raise ValueError("every unit needs a conversation_id to be grouped by conversation")
    return np.asarray(ids, dtype=object)


def grouped_folds(
    y: Sequence[Any], groups: Sequence[Any], n_splits: int = 5, random_state: int | None = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test index pairs with no group (conversation) on both sides, stratified by label when possible.

    ``n_splits`` is lowered to the number of groups when there are fewer; with ``random_state=None`` the
    plain (unstratified, unshuffled) GroupKFold is used.
    """
    y = np.asarray(y, dtype=object)
    groups = np.asarray(groups, dtype=object)
    n_groups = len(set(groups.tolist()))
    if n_groups < 2:
        raise ValueError("grouped cross-validation needs units from at least two conversations")
    k = min(n_splits, n_groups)
    if k < 2:
        raise ValueError("grouped cross-validation needs at least 2 folds")
    placeholder = np.zeros(len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class has only N members"
        if random_state is None:
            splits = GroupKFold(n_splits=k).split(placeholder, y, groups)
        else:
            splits = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=random_state).split(
                placeholder, y.astype(str), groups
            )
        return [(np.asarray(tr), np.asarray(te)) for tr, te in splits]


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    out = np.exp(shifted)
    return out / out.sum(axis=1, keepdims=True)


def _fit_temperature(proba: np.ndarray, y_index: np.ndarray) -> float:
    """Temperature T minimising the log loss of softmax(log p / T) (T > 1 softens over-confident scores)."""
    from scipy.optimize import minimize_scalar

    logp = np.log(np.clip(proba, 1e-12, 1.0))
    rows = np.arange(len(y_index))

    def nll(log_t: float) -> float:
        p = _softmax(logp / math.exp(log_t))
        return float(-np.mean(np.log(np.clip(p[rows, y_index], 1e-12, 1.0))))

    result = minimize_scalar(nll, bounds=(math.log(0.05), math.log(20.0)), method="bounded")
    return float(math.exp(result.x))


def calibration_metrics(y_true: Sequence[Any], proba: np.ndarray, classes: Sequence[Any], bins: int = 10) -> dict[str, float]:
    """Expected calibration error of the top probability (equal-width bins), multi-class Brier score, log loss."""
    classes = list(classes)
    index = {c: i for i, c in enumerate(classes)}
    y_index = np.array([index[v] for v in y_true])
    onehot = np.zeros_like(proba)
    onehot[np.arange(len(y_index)), y_index] = 1.0
    confidence = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y_index).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = sum(
        abs(correct[which == b].mean() - confidence[which == b].mean()) * np.mean(which == b)
        for b in range(bins)
        if np.any(which == b)
    )
    return {
        "ece": round(float(ece), 4),
        "brier": round(float(np.mean(np.sum((proba - onehot) ** 2, axis=1))), 4),
        "log_loss": round(float(-np.mean(np.log(np.clip(proba[np.arange(len(y_index)), y_index], 1e-12, 1)))), 4),
        "mean_confidence": round(float(confidence.mean()), 4),
        "accuracy": round(float(correct.mean()), 4),
    }


# --- the classifier --------------------------------------------------------------------------------------
class LocalCoder(ClassifierMixin, BaseEstimator):
    """Calibrated linear classifier of thought units (see the module docstring).

    Parameters
    ----------
    embedder, message, context, position, lexical, max_chars:
        Passed to :class:`~thoughtcode.coders.features.ThoughtFeaturizer`.
    C:
        Inverse regularisation of the logistic regression on the featurizer's (standardised) features.
    ngram_weight:
        Weight of the TF-IDF model in the probability average (0 leaves it out, 1 uses it alone).
    ngram_C:
        Inverse regularisation of the logistic regression on TF-IDF features.
    class_weight:
        ``"balanced"`` (default: rare categories count as much as common ones) or ``None``.
    calibration:
        ``"temperature"`` (default) or ``"none"``.
    calibration_folds:
        Grouped folds for the out-of-fold predictions the temperature is fitted on.
    random_state:
        Seed of the calibration folds (everything else is deterministic).
    """

    def __init__(
        self,
        embedder: str = "static",
        message: bool = True,
        context: str = "none",
        position: bool = True,
        lexical: bool = True,
        max_chars: int = 2000,
        C: float = 0.03,
        ngram_weight: float = 0.5,
        ngram_C: float = 10.0,
        class_weight: str | None = "balanced",
        calibration: str = "temperature",
        calibration_folds: int = 5,
        random_state: int = 0,
    ) -> None:
        self.embedder = embedder
        self.message = message
        self.context = context
        self.position = position
        self.lexical = lexical
        self.max_chars = max_chars
        self.C = C
        self.ngram_weight = ngram_weight
        self.ngram_C = ngram_C
        self.class_weight = class_weight
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.random_state = random_state

    # members -------------------------------------------------------------------------------------------
    def _members(self, n_units: int) -> dict[str, Pipeline]:
        members: dict[str, Pipeline] = {}
        if self.ngram_weight < 1:
            members["features"] = Pipeline(
                [
                    (
                        "features",
                        ThoughtFeaturizer(
                            embedder=self.embedder,
                            message=self.message,
                            context=self.context,
                            position=self.position,
                            lexical=self.lexical,
                            max_chars=self.max_chars,
                        ),
                    ),
                    ("scale", StandardScaler()),
                    ("clf", LogisticRegression(C=self.C, max_iter=5000)),
                ]
            )
        if self.ngram_weight > 0:
            members["ngrams"] = Pipeline(
                [
                    ("texts", UnitTexts("text")),
                    # words seen once are noise in a corpus of hundreds of thoughts, but a tiny one needs them
                    ("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=2 if n_units >= 100 else 1, sublinear_tf=True)),
                    ("clf", LogisticRegression(C=self.ngram_C, max_iter=5000)),
                ]
            )
        return members

    def _check_params(self) -> None:
        if not 0 <= self.ngram_weight <= 1:
            raise ValueError(f"ngram_weight must lie in [0, 1], not {self.ngram_weight}")
        if self.calibration not in ("temperature", "none"):
            raise ValueError(f"calibration must be 'temperature' or 'none', not {self.calibration!r}")

    def _class_weights(self, y: np.ndarray) -> dict[Any, float] | None:
        """``"balanced"``: n / (k * count); ``"sqrt"``: its square root, normalised the same way."""
        if self.class_weight is None:
            return None
        if self.class_weight not in ("balanced", "sqrt"):
            raise ValueError(f"class_weight must be 'balanced', 'sqrt' or None, not {self.class_weight!r}")
        labels, counts = np.unique(y, return_counts=True)
        weights = len(y) / (len(labels) * counts.astype(float))
        if self.class_weight == "sqrt":
            weights = np.sqrt(weights)
            weights = weights * len(y) / float(np.sum(weights * counts))
        return {label: float(w) for label, w in zip(labels, weights, strict=True)}

    def _fit_members(self, units: Any, y: np.ndarray) -> dict[str, Pipeline]:
        members = self._members(_n_units(units))
        weights = self._class_weights(y)
        for member in members.values():
            member.set_params(clf__class_weight=weights)
            member.fit(units, y)
        return members

    def _average(self, members: dict[str, Pipeline], units: Any, classes: np.ndarray) -> np.ndarray:
        """Weighted mean of the members' probabilities, aligned to ``classes`` (absent classes get 0)."""
        out = np.zeros((_n_units(units), len(classes)))
        column = {c: i for i, c in enumerate(classes)}
        weights = {"features": 1.0 - self.ngram_weight, "ngrams": self.ngram_weight}
        for name, member in members.items():
            proba = member.predict_proba(units)
            cols = [column[c] for c in member.classes_]
            out[:, cols] += weights[name] * proba
        return out / out.sum(axis=1, keepdims=True)

    # sklearn API ---------------------------------------------------------------------------------------
    def fit(self, units: Sequence[Any] | pd.DataFrame, y: Sequence[Any], groups: Sequence[Any] | None = None) -> LocalCoder:
        """Fit on units and their labels. ``groups`` (default: the units' conversation ids) keeps each
        conversation within one calibration fold."""
        self._check_params()
        y = np.asarray(list(y), dtype=object)
        if len(y) != _n_units(units):
            raise ValueError(f"{_n_units(units)} units but {len(y)} labels")
        if any(v is None for v in y):
            raise ValueError("every unit needs a label to train on")
        self.classes_ = np.asarray(sorted(set(y.tolist())), dtype=object)
        if len(self.classes_) < 2:
            raise ValueError(f"training needs at least two categories, got {list(self.classes_)}")
        self.class_weight_ = self._class_weights(y)
        self.members_ = self._fit_members(units, y)
        self.temperature_ = 1.0
        if self.calibration == "temperature":
            groups = unit_groups(units) if groups is None else np.asarray(groups, dtype=object)
            if len(set(groups.tolist())) >= 2:
                oof = np.zeros((len(y), len(self.classes_)))
                for train, test in grouped_folds(y, groups, self.calibration_folds, self.random_state):
                    if len(set(y[train].tolist())) < 2:
                        continue
                    members = self._fit_members(_take(units, train), y[train])
                    oof[test] = self._average(members, _take(units, test), self.classes_)
                done = oof.sum(axis=1) > 0
                index = {c: i for i, c in enumerate(self.classes_)}
                if done.any():
                    self.temperature_ = _fit_temperature(oof[done], np.array([index[v] for v in y[done]]))
        self.n_train_ = len(y)
        return self

    def predict_proba(self, units: Sequence[Any] | pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities, one row per unit, columns in ``classes_`` order."""
        if not hasattr(self, "members_"):
            raise RuntimeError("LocalCoder is not fitted; call fit first")
        if _n_units(units) == 0:
            return np.zeros((0, len(self.classes_)))
        proba = self._average(self.members_, units, self.classes_)
        if self.temperature_ != 1.0:
            proba = _softmax(np.log(np.clip(proba, 1e-12, 1.0)) / self.temperature_)
        return proba

    def predict(self, units: Sequence[Any] | pd.DataFrame) -> np.ndarray:
        """The most probable category of each unit."""
        proba = self.predict_proba(units)
        return self.classes_[proba.argmax(axis=1)] if len(proba) else np.asarray([], dtype=object)


# --- grouped cross-validation ----------------------------------------------------------------------------
def grouped_cross_validate(
    estimator: LocalCoder,
    units: Sequence[Any] | pd.DataFrame,
    y: Sequence[Any],
    groups: Sequence[Any] | None = None,
    n_splits: int = 5,
    random_state: int = 0,
) -> dict[str, Any]:
    """κ, macro-F1, accuracy, per-category F1, confusion matrix and calibration of out-of-fold predictions.

    Folds are grouped by conversation (no conversation is in both the training and the test part of a fold)
    and stratified by label where the groups allow it.
    """
    y = np.asarray(list(y), dtype=object)
    groups = unit_groups(units) if groups is None else np.asarray(groups, dtype=object)
    classes = np.asarray(sorted(set(y.tolist())), dtype=object)
    folds = grouped_folds(y, groups, n_splits, random_state)
    proba = np.zeros((len(y), len(classes)))
    column = {c: i for i, c in enumerate(classes)}
    for train, test in folds:
        model = clone(estimator).fit(_take(units, train), y[train], groups=groups[train])
        cols = [column[c] for c in model.classes_]
        proba[np.ix_(test, cols)] = model.predict_proba(_take(units, test))
    pred = classes[proba.argmax(axis=1)]
    labels = list(classes)
    per_class = f1_score(y, pred, labels=labels, average=None, zero_division=0)
    return {
        "n_units": int(len(y)),
        "n_conversations": int(len(set(groups.tolist()))),
        "folds": len(folds),
        "fold_seed": random_state,
        "kappa": round(float(cohen_kappa_score(y, pred)), 4),
        "macro_f1": round(float(f1_score(y, pred, labels=labels, average="macro", zero_division=0)), 4),
        "accuracy": round(float(np.mean(pred == y)), 4),
        "majority_baseline": round(float(max(np.mean(y == c) for c in classes)), 4),
        "per_class_f1": {c: round(float(f), 4) for c, f in zip(labels, per_class, strict=True)},
        "support": {c: int(np.sum(y == c)) for c in labels},
        "confusion": {"labels": labels, "matrix": confusion_matrix(y, pred, labels=labels).tolist()},
        "calibration": calibration_metrics(y, proba, classes),
        "oof_pred": pred,
        "oof_proba": proba,
    }


# --- saved models ----------------------------------------------------------------------------------------
def data_hash(units: Sequence[Any] | pd.DataFrame, y: Sequence[Any]) -> str:
    """SHA-256 over the (unit id, text, label) triples a model is trained on, in order."""
    cols = unit_columns(units, ["unit_id", "text"])
    digest = hashlib.sha256()
    for unit_id, text, label in zip(cols["unit_id"], cols["text"], y, strict=True):
        digest.update(f"{unit_id}\x1f{text}\x1f{label}\x1e".encode())
    return digest.hexdigest()


def file_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class LocalModel:
    """A trained :class:`LocalCoder` with its metadata (codebook, training data, versions, metrics)."""

    estimator: LocalCoder
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    sha256: str | None = None

    @property
    def label(self) -> str:
        """``file-name#hash8`` as recorded in each label's ``model`` column."""
        name = self.path.name if self.path is not None else "unsaved"
        return f"{name}#{self.sha256[:8]}" if self.sha256 else name

    def check_codebook(self, codebook: Codebook) -> None:
        """Raise :class:`LocalModelError` unless ``codebook`` has the name and categories the model knows."""
        meta = self.metadata
        trained_ref = meta.get("codebook", "?")
        hint = "retrain it on labels of this codebook with `thoughtcode train FILE --scheme S --codebook REF --out MODEL`"
        where = f"model {self.path or '(unsaved)'}"
        if meta.get("codebook_name") != codebook.name:
            raise LocalModelError(f"{where} was trained with codebook {trained_ref}, not {codebook.ref}: {hint}")
        trained = set(meta.get("codebook_labels") or [])
        current = set(codebook.label_ids)
        if trained != current:
            added = ", ".join(sorted(current - trained)) or "none"
            removed = ", ".join(sorted(trained - current)) or "none"
            raise LocalModelError(
                f"{where} was trained with codebook {trained_ref}, whose categories differ from {codebook.ref} "
                f"(new: {added}; gone: {removed}): {hint}"
            )
        unknown = set(self.estimator.classes_.tolist()) - current
        if unknown:
            raise LocalModelError(f"{where} predicts categories not in {codebook.ref}: {', '.join(sorted(unknown))}; {hint}")


def save_model(model: LocalModel, path: str | Path) -> Path:
    """Write a model file (joblib, compressed) and set ``model.path`` and ``model.sha256``."""
    import joblib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": MODEL_FORMAT, "format_version": FORMAT_VERSION, "estimator": model.estimator, "metadata": model.metadata}
    joblib.dump(payload, path, compress=3)
    model.path = path
    model.sha256 = file_hash(path)
    return path


def load_model(path: str | Path) -> LocalModel:
    """Read a model file written by :func:`save_model` (warns when scikit-learn's version differs)."""
    import joblib
    import sklearn

    path = Path(path)
    if not path.is_file():
        raise LocalModelError(f"{path}: no such model file; train one with `thoughtcode train FILE --scheme S --out {path}`")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            payload = joblib.load(path)
        except Exception as exc:  # a corrupt or foreign file
            raise LocalModelError(
                f"{path}: not a readable local-coder model ({type(exc).__name__}: {exc}); model files depend on the "
                "numpy/scikit-learn versions that wrote them: retrain with `thoughtcode train` (shipped models: "
                "scripts/train_local_models.py)"
            ) from None
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise LocalModelError(f"{path}: not a thoughtcode local-coder model file")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise LocalModelError(f"{path}: written by a newer thoughtcode (model format {payload['format_version']}); upgrade thoughtcode")
    metadata = payload.get("metadata") or {}
    trained_with = metadata.get("sklearn_version")
    if trained_with and trained_with != sklearn.__version__:
        warnings.warn(
            f"{path.name} was trained with scikit-learn {trained_with}, this is {sklearn.__version__}; predictions "
            "may differ slightly: retrain with `thoughtcode train` (or scripts/train_local_models.py) if in doubt",
            stacklevel=2,
        )
    elif caught:
        for warning in caught:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return LocalModel(estimator=payload["estimator"], metadata=metadata, path=path, sha256=file_hash(path))


def train_local_model(
    units: Sequence[Any] | pd.DataFrame,
    y: Sequence[Any],
    codebook: Codebook,
    scheme: str,
    params: dict[str, Any] | None = None,
    cv: int | None = None,
    cv_seed: int = 0,
    source: dict[str, Any] | None = None,
) -> tuple[LocalModel, dict[str, Any] | None]:
    """Fit a :class:`LocalCoder` for ``codebook`` (labels are checked against it) and its metadata.

    ``params`` default to :data:`DEFAULT_PARAMS` of the scheme. With ``cv`` folds, grouped cross-validation
    runs first and its metrics go into the metadata (and are returned).
    """
    import sklearn

    from thoughtcode import __version__

    y = [codebook.normalise_label(str(v)) for v in y]
    settings = dict(DEFAULT_PARAMS.get(scheme, DEFAULT_PARAMS["reasons"]))
    settings.update(params or {})
    estimator = LocalCoder(**settings)
    metrics = None
    if cv:
        result = grouped_cross_validate(estimator, units, y, n_splits=cv, random_state=cv_seed)
        metrics = {k: v for k, v in result.items() if k not in ("oof_pred", "oof_proba")}
    estimator.fit(units, y)
    counts = pd.Series(y).value_counts()
    metadata = {
        "scheme": scheme,
        "codebook": codebook.ref,
        "codebook_name": codebook.name,
        "codebook_version": codebook.version,
        "codebook_labels": list(codebook.label_ids),
        "unit": codebook.unit,
        "classes": [str(c) for c in estimator.classes_],
        "class_counts": {str(k): int(v) for k, v in counts.items()},
        "n_units": len(y),
        "n_conversations": len(set(unit_groups(units).tolist())),
        "data_sha256": data_hash(units, y),
        "source": source or {},
        "params": estimator.get_params(),
        "temperature": round(float(estimator.temperature_), 4),
        "embedder": get_embedder(estimator.embedder).name if estimator.ngram_weight < 1 else None,
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "thoughtcode_version": __version__,
        "created_at": utc_now(),
        "cv": metrics,
    }
    return LocalModel(estimator=estimator, metadata=metadata), metrics


# --- zero-shot -------------------------------------------------------------------------------------------
_TURN_SPLIT = re.compile(r"\n\n(?=(?:User|Assistant): )")


def unit_text(unit: Any, max_chars: int = 2000) -> str:
    """The text the zero-shot coder embeds for any kind of unit.

    Thoughts and user turns: their own text. Conversations: the task summary (when the corpus has one) and
    the user's messages (assistant replies are long and generic, they would drown the topic).
    """
    if hasattr(unit, "n_user_turns") and hasattr(unit, "first_user_message") and hasattr(unit, "task_summary"):
        blocks = _TURN_SPLIT.split(unit.text or "")
        user = [b.removeprefix("User: ") for b in blocks if b.startswith("User: ")] or [unit.first_user_message or ""]
        parts = [unit.task_summary or "", *user]
        text = "\n".join(p for p in parts if p)
    else:
        text = getattr(unit, "text", "") or ""
    return text[:max_chars]


class ZeroShotCoder(BaseEstimator):
    """Codes any unit with a codebook and no training data: cosine similarity to category prototypes.

    A category's prototype is the normalised mean embedding of its name and definition, each include rule,
    and each example (and, in a hierarchical codebook, its parent's name). Single-label codebooks get the
    most similar category; multi-label ones every category within ``margin`` of the best, at most ``top_k``.
    Confidence is the top softmax probability of the similarities divided by ``temperature``; it ranks units
    but is not calibrated (there is no labelled data to calibrate on).

    ``first_turn_rule``: in a codebook of user-turn relations with a ``first_request`` category, the opening
    user turn is ``first_request`` by definition and later turns are never coded so.
    """

    def __init__(
        self,
        embedder: str = "static",
        margin: float = 0.03,
        top_k: int = 3,
        temperature: float = 0.05,
        first_turn_rule: bool = True,
        max_chars: int = 2000,
    ) -> None:
        self.embedder = embedder
        self.margin = margin
        self.top_k = top_k
        self.temperature = temperature
        self.first_turn_rule = first_turn_rule
        self.max_chars = max_chars

    def fit(self, codebook: Codebook, y: Any = None) -> ZeroShotCoder:
        """Build the prototypes of ``codebook``'s assignable categories."""
        embedder = get_embedder(self.embedder)
        prototypes = []
        for category in codebook.leaves:
            parent = codebook.category(category.parent).name if category.parent else None
            texts = [f"{category.name}: {category.definition}", *category.include, *(e.text for e in category.examples)]
            if parent:
                texts.append(f"{parent}: {category.name}")
            vector = embedder.encode(texts).mean(axis=0)
            norm = float(np.linalg.norm(vector))
            prototypes.append(vector / norm if norm > 0 else vector)
        self.classes_ = np.asarray(codebook.label_ids, dtype=object)
        self.prototypes_ = np.asarray(prototypes, dtype=np.float32)
        self.multi_label_ = bool(codebook.multi_label)
        self.turn_rule_ = bool(self.first_turn_rule and codebook.unit == "user_turn" and "first_request" in codebook.label_ids)
        self.codebook_ref_ = codebook.ref
        self.embedder_name_ = embedder.name
        return self

    def similarities(self, units: Sequence[Any]) -> np.ndarray:
        """Cosine similarity of each unit's text to each category prototype (rows: units)."""
        if not hasattr(self, "prototypes_"):
            raise RuntimeError("ZeroShotCoder is not fitted; call fit(codebook) first")
        texts = [unit_text(u, self.max_chars) for u in units]
        if not texts:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        sims = get_embedder(self.embedder).encode(texts) @ self.prototypes_.T
        if self.turn_rule_:
            first = self.classes_.tolist().index("first_request")
            for i, unit in enumerate(units):
                if getattr(unit, "user_turn_index", None) == 0:
                    sims[i, :] = -1.0
                    sims[i, first] = 1.0
                else:
                    sims[i, first] = -1.0
        return sims

    def predict_proba(self, units: Sequence[Any]) -> np.ndarray:
        """Softmax of similarities / temperature (a ranking score, not a calibrated probability)."""
        return _softmax(self.similarities(units) / self.temperature)

    def _choose(self, sims: np.ndarray) -> list[list[int]]:
        chosen = []
        for row in sims:
            order = np.argsort(-row, kind="stable")
            if not self.multi_label_:
                chosen.append([int(order[0])])
                continue
            best = row[order[0]]
            keep = [int(j) for j in order[: max(1, self.top_k)] if row[j] >= best - self.margin]
            chosen.append(keep)
        return chosen

    def predict(self, units: Sequence[Any]) -> list[Any]:
        """A category id per unit, or a list of ids per unit for a multi-label codebook."""
        chosen = self._choose(self.similarities(units))
        if self.multi_label_:
            return [[str(self.classes_[j]) for j in row] for row in chosen]
        return [str(self.classes_[row[0]]) for row in chosen]


# --- the Coder protocol ----------------------------------------------------------------------------------
def _rationale(prefix: str, classes: np.ndarray, scores: np.ndarray, n: int = 2) -> str:
    order = np.argsort(-scores, kind="stable")[:n]
    return prefix + ", ".join(f"{classes[j]} {scores[j]:.2f}" for j in order)


class LocalCodingBackend:
    """The local coder as a :class:`~thoughtcode.coders.base.Coder`.

    ``model_path=None`` (spec ``local``): the shipped model of the codebook's scheme when there is one and it
    fits the codebook, zero-shot similarity otherwise. With a path (spec ``local:PATH``): that model, which must
    have been trained with a codebook of the same name and categories.
    """

    def __init__(self, name: str = "local", model_path: str | Path | None = None, embedder: str = "static") -> None:
        self.name = name
        self.model_path = Path(model_path) if model_path is not None else None
        self.embedder = embedder
        self._loaded: dict[Path, LocalModel] = {}
        self._zero_shot: dict[str, ZeroShotCoder] = {}
        self._current: tuple[str | None, dict[str, Any]] = (None, {"method": "auto"})
        if self.model_path is not None:
            self._model_at(self.model_path)  # fail early on a missing or unreadable file

    @property
    def model(self) -> str | None:
        """Model of the last codebook coded (``file#hash8`` or ``zero-shot:EMBEDDER``); None before (see
        :meth:`model_for`)."""
        return self._current[0]

    def model_for(self, codebook: Codebook) -> str:
        """The ``model`` the labels of ``codebook`` will carry, known before any unit is coded (the runner
        checks it against an output file it resumes into). Loads the model, or builds the zero-shot
        prototypes, that :meth:`code` then uses."""
        model = self.trained_model_for(codebook)
        if model is not None:
            return model.label
        return f"zero-shot:{self._zero_shot_for(codebook).embedder_name_}"

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self._current[1])

    def _model_at(self, path: Path) -> LocalModel:
        if path not in self._loaded:
            self._loaded[path] = load_model(path)
        return self._loaded[path]

    def trained_model_for(self, codebook: Codebook) -> LocalModel | None:
        """The trained model that codes ``codebook``, or None when zero-shot applies."""
        if self.model_path is not None:
            model = self._model_at(self.model_path)
            model.check_codebook(codebook)
            return model
        shipped = SHIPPED_MODELS.get(codebook.name)
        if shipped is None or not shipped.is_file():
            return None
        model = self._model_at(shipped)
        try:
            model.check_codebook(codebook)
        except LocalModelError:
            return None  # e.g. a user's revised reasons codebook: the shipped model does not apply
        return model

    def code(self, units: Sequence[Any], codebook: Codebook, scheme: str) -> list[LabelRecord]:
        """One record per unit, in order; units with no text to code are recorded as failed."""
        units = list(units)
        model = self.trained_model_for(codebook)
        if model is not None:
            return self._code_trained(model, units, codebook, scheme)
        return self._code_zero_shot(units, codebook, scheme)

    def _records(self, units, scheme, codebook, model_label, settings, make) -> list[LabelRecord]:
        records: list[LabelRecord] = []
        for i, unit in enumerate(units):
            base = {"unit_id": unit.unit_id, "scheme": scheme, "coder": self.name, "model": model_label,
                    "codebook": codebook.ref, "prompt_hash": None, "settings": settings}
            if not unit_text(unit).strip():
                records.append(LabelRecord(**base, status="failed", error="nothing to code: the unit's text is empty"))
            else:
                records.append(LabelRecord(**base, **make(i)))
        return records

    def _code_trained(self, model: LocalModel, units: list[Any], codebook: Codebook, scheme: str) -> list[LabelRecord]:
        estimator = model.estimator
        settings = {
            "method": TRAINED_METHOD,
            "embedder": model.metadata.get("embedder"),
            "trained_with": model.metadata.get("codebook"),
            "training_data": str(model.metadata.get("data_sha256", ""))[:8],
            "calibration": estimator.calibration,
        }
        self._current = (model.label, settings)
        proba = estimator.predict_proba(units) if units else np.zeros((0, len(estimator.classes_)))
        classes = estimator.classes_

        def make(i: int) -> dict[str, Any]:
            j = int(proba[i].argmax())
            return {"label": str(classes[j]), "confidence": round(float(proba[i, j]), 4),
                    "rationale": _rationale("probabilities: ", classes, proba[i])}

        return self._records(units, scheme, codebook, model.label, settings, make)

    def _zero_shot_for(self, codebook: Codebook) -> ZeroShotCoder:
        coder = self._zero_shot.get(codebook.ref)
        if coder is None:
            coder = ZeroShotCoder(embedder=self.embedder).fit(codebook)
            self._zero_shot[codebook.ref] = coder
        return coder

    def _code_zero_shot(self, units: list[Any], codebook: Codebook, scheme: str) -> list[LabelRecord]:
        coder = self._zero_shot_for(codebook)
        settings = {"method": ZERO_SHOT_METHOD, "embedder": coder.embedder_name_, "margin": coder.margin,
                    "top_k": coder.top_k, "temperature": coder.temperature,
                    "note": "no trained model for this codebook: similarity to the codebook's definitions and examples"}
        if coder.turn_rule_:
            settings["rules"] = ["opening user turn -> first_request"]
        model_label = f"zero-shot:{coder.embedder_name_}"
        self._current = (model_label, settings)
        sims = coder.similarities(units)
        proba = _softmax(sims / coder.temperature) if len(sims) else sims
        chosen = coder._choose(sims)
        classes = coder.classes_

        def make(i: int) -> dict[str, Any]:
            ids = [str(classes[j]) for j in chosen[i]]
            label = {"labels": ids} if coder.multi_label_ else {"label": ids[0]}
            if coder.turn_rule_ and getattr(units[i], "user_turn_index", None) == 0:
                rationale = "opening user turn: first_request by definition"
            else:
                rationale = _rationale("zero-shot, closest categories (cosine): ", classes, sims[i], 3)
            return {**label, "confidence": round(float(proba[i, chosen[i][0]]), 4), "rationale": rationale}

        return self._records(units, scheme, codebook, model_label, settings, make)


def load_local_coder(spec: str = "local") -> LocalCodingBackend:
    """The coder of a ``local`` or ``local:PATH`` spec."""
    text = spec.strip()
    if text == "local":
        return LocalCodingBackend(name="local")
    if text.startswith("local:") and text[len("local:"):].strip():
        path = Path(text[len("local:"):].strip()).expanduser()
        return LocalCodingBackend(name=text, model_path=path)
    raise ValueError(f"not a local coder spec: {spec!r}; use 'local' or 'local:PATH'")
