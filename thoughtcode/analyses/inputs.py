"""Inputs of the analyses: a corpus, its units, and labels tables joined to those units.

A labels table (``thoughtcode code`` output, a human's table, or the release's own thought labels) is
attached to units by ``unit_id``. Its unit kind (reason, reaction, user turn, conversation) is read from
the ids it matches; its scheme from its ``scheme`` column, else from that unit kind (``reasons``,
``reactions``, ``relations``, ``topics``). When two tables give the same scheme, the one passed with
``--labels`` wins over the release's labels, and the notes say so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from thoughtcode.corpus import (
    DEFAULT_STAGES,
    Conversation,
    conversation_units,
    read_corpus,
    reference_labels,
    thought_units,
    units_frame,
    user_turn_units,
)
from thoughtcode.labels import read_labels
from thoughtcode.taxonomy import Codebook, CodebookError, load_codebook

THOUGHT_KINDS = ("reason", "reaction")
DEFAULT_SCHEME = {"reason": "reasons", "reaction": "reactions", "user_turn": "relations", "conversation": "topics"}
CODEBOOK_CANDIDATES = {
    "reasons": ["reasons"],
    "reactions": ["reactions"],
    "relations": ["relations", "turn_relations", "turn-relations"],
    "turn_relations": ["turn_relations", "relations", "turn-relations"],
    "topics": ["topics"],
}
# Category ids and names of the study's schemes, used for order and display when no codebook is found.
STUDY_CATEGORIES: dict[str, list[tuple[str, str]]] = {
    "reasons": [
        ("task_motivation", "Task Motivation & Goal"),
        ("task_continuation", "Task Continuation"),
        ("context_grounding_and_constraints", "Context Grounding & Constraints"),
        ("content_expectation", "Content Expectation"),
        ("social_and_others", "Social & Others"),
        ("style_expectation", "Style Expectation"),
        ("task_reorientation", "Task Reorientation"),
    ],
    "reactions": [
        ("explicit_affirmation", "Explicit Affirmation"),
        ("content_relevance", "Content Relevance"),
        ("presentation_style", "Presentation Style"),
        ("scope_fit", "Scope Fit"),
        ("partial_satisfaction", "Partial Satisfaction"),
    ],
    "relations": [
        ("first_request", "First request"),
        ("extend", "Extend"),
        ("new_request", "New request"),
        ("retry", "Retry"),
        ("variant", "Variant"),
    ],
}
STUDY_CATEGORIES["turn_relations"] = STUDY_CATEGORIES["relations"]


def humanise(category_id: str) -> str:
    """``task_motivation`` -> ``Task motivation`` (display name of an id without a codebook)."""
    text = str(category_id).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@dataclass
class Scheme:
    """A labelling scheme as the analyses see it: ordered category ids, display names, parents."""

    name: str
    unit_kind: str
    codebook: Codebook | None = None
    order: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    parents: dict[str, str | None] = field(default_factory=dict)
    multi_label: bool = False

    @property
    def source(self) -> str:
        if self.codebook is not None:
            return self.codebook.ref
        if self.name in STUDY_CATEGORIES:
            return "study categories (no codebook found)"
        return "labels as found (no codebook found)"

    def name_of(self, category_id: str) -> str:
        return self.names.get(category_id) or humanise(category_id)

    def parent_of(self, category_id: str) -> str | None:
        return self.parents.get(category_id)

    @property
    def parent_order(self) -> list[str]:
        """Parent category ids in codebook order (hierarchical codebooks only)."""
        if self.codebook is None:
            return []
        return [c.id for c in self.codebook.parents]

    def normalise(self, value: Any) -> str:
        """Map an id, name or alias onto the category id (values outside the codebook are kept)."""
        text = str(value).strip()
        if self.codebook is not None:
            try:
                return self.codebook.normalise_label(text)
            except CodebookError:
                return text
        return text

    def extend_order(self, seen: Iterable[str]) -> None:
        """Append ids found in data but unknown to the codebook, sorted, after the known ones."""
        known = set(self.order)
        extra = sorted({s for s in seen if s not in known})
        self.order.extend(extra)


def find_codebook(scheme: str, hint: str | None = None) -> Codebook | None:
    """The built-in codebook for a scheme (or the one a labels table names), or None when there is none."""
    refs: list[str] = []
    if hint and isinstance(hint, str):
        refs.append(hint.split("#", 1)[0])
    refs.extend(CODEBOOK_CANDIDATES.get(scheme, [scheme]))
    for ref in refs:
        try:
            return load_codebook(ref)
        except (CodebookError, FileNotFoundError, OSError, KeyError, ValueError):
            continue
    return None


def make_scheme(name: str, unit_kind: str, codebook: Codebook | None = None, hint: str | None = None) -> Scheme:
    """A scheme with its order and names from the codebook, else from the study's categories, else ids."""
    if codebook is None:
        codebook = find_codebook(name, hint)
    if codebook is not None:
        order = list(codebook.order or codebook.label_ids)
        names = {c.id: c.name for c in codebook.categories}
        parents = {c.id: c.parent for c in codebook.categories}
        return Scheme(name, unit_kind, codebook, order, names, parents, codebook.multi_label)
    known = STUDY_CATEGORIES.get(name, [])
    return Scheme(name, unit_kind, None, [i for i, _ in known], dict(known), {}, unit_kind == "conversation")


@dataclass
class LabelSet:
    """One scheme's labels joined to units: ``frame`` has ``unit_id`` and ``label`` or ``labels``."""

    scheme: Scheme
    frame: pd.DataFrame
    source: str
    coder: str | None
    notes: list[str] = field(default_factory=list)
    given: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "scheme": self.scheme.name,
            "unit_kind": self.scheme.unit_kind,
            "codebook": self.scheme.source,
            "source": self.source,
            "coder": self.coder,
            "units_labelled": int(len(self.frame)),
            "notes": list(self.notes),
        }

    def provenance(self) -> dict[str, Any]:
        """Where the labels come from, the first entries of every analysis's data on them."""
        return {"source": self.source, "codebook": self.scheme.source, "coder": self.coder}

    def single(self) -> pd.Series:
        """unit_id -> label (first label of a multi-label row)."""
        if "label" in self.frame.columns:
            return self.frame.set_index("unit_id")["label"]
        return self.frame.set_index("unit_id")["labels"].map(lambda x: x[0] if x else None).dropna()

    def multi(self) -> pd.Series:
        """unit_id -> list of labels (a single label becomes a one-item list)."""
        if "labels" in self.frame.columns:
            return self.frame.set_index("unit_id")["labels"]
        return self.frame.set_index("unit_id")["label"].map(lambda x: [x])


def _parse_multi(value: Any) -> list[str] | None:
    """A ``labels`` cell as a list: a list, a JSON list string, or a ``;``/``|``-separated string."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "tolist") and not isinstance(value, str):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None and str(v).strip()]
    text = str(value).strip()
    if not text:
        return None
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return [str(v) for v in parsed if v is not None and str(v).strip()]
    for sep in (";", "|"):
        if sep in text:
            return [p.strip() for p in text.split(sep) if p.strip()]
    return [text]


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or (isinstance(value, str) and not value.strip())


@dataclass
class AnalysisInputs:
    """A corpus with its unit frames, optional baseline corpora and labels sets by scheme."""

    path: str
    conversations: list[Conversation]
    thoughts: pd.DataFrame
    user_turns: pd.DataFrame
    conversation_frame: pd.DataFrame
    label_sets: dict[str, LabelSet] = field(default_factory=dict)
    baselines: list[tuple[str, list[Conversation]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    read_report: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return Path(self.path).name

    def for_kind(self, unit_kind: str) -> LabelSet | None:
        """The labels set for a unit kind: one given with ``--labels`` first, else the release's."""
        candidates = [s for s in self.label_sets.values() if s.scheme.unit_kind == unit_kind]
        candidates.sort(key=lambda s: (not s.given,))
        return candidates[0] if candidates else None

    def thought_label_sets(self) -> list[LabelSet]:
        return [s for s in self.label_sets.values() if s.scheme.unit_kind in THOUGHT_KINDS]

    def to_dict(self) -> dict[str, Any]:
        return {
            "corpus": self.path,
            "conversations": len(self.conversations),
            "thoughts": int(len(self.thoughts)),
            "user_turns": int(len(self.user_turns)),
            "read_report": self.read_report,
            "baselines": [{"name": n, "conversations": len(c)} for n, c in self.baselines],
            "labels": [s.to_dict() for s in self.label_sets.values()],
            "notes": list(self.notes),
        }


def _unit_kind_of(ids: pd.Series, index: dict[str, set[str]]) -> tuple[str | None, int]:
    """The unit kind whose ids the table matches most, and how many ids matched it."""
    values = set(ids.astype(str))
    best, best_n = None, 0
    for kind, known in index.items():
        n = len(values & known)
        if n > best_n:
            best, best_n = kind, n
    return best, best_n


def prepare_labels(
    table: pd.DataFrame,
    units_index: dict[str, set[str]],
    source: str,
    coder: str | None = None,
    scheme_name: str | None = None,
    given: bool = True,
    codebooks: Mapping[str, Codebook] | None = None,
) -> list[LabelSet]:
    """Split a labels table by scheme, pick one coder each, normalise labels, keep rows that match units.

    ``codebooks`` maps a scheme name to the codebook to use for it (else it is looked up: the table's
    ``codebook`` column, then the built-in codebook of that name)."""
    table = table.copy()
    table["unit_id"] = table["unit_id"].astype(str)
    if "scheme" not in table.columns or table["scheme"].isna().all():
        table["scheme"] = scheme_name
    out: list[LabelSet] = []
    for scheme_value, part in table.groupby(table["scheme"].fillna("").astype(str), sort=False, dropna=False):
        notes: list[str] = []
        kind, _ = _unit_kind_of(part["unit_id"], units_index)
        if kind is None:
            raise ValueError(f"{source}: no unit_id of the labels table matches a unit of the corpus")
        name = scheme_name or scheme_value or DEFAULT_SCHEME[kind]
        hint = None
        if "codebook" in part.columns:
            refs = part["codebook"].dropna().astype(str)
            hint = refs.iloc[0] if len(refs) else None
        scheme = make_scheme(name, kind, codebook=(codebooks or {}).get(name), hint=hint)
        if "status" in part.columns:
            failed = part["status"].astype(str).eq("failed")
            if failed.any():
                notes.append(f"{int(failed.sum())} failed row(s) excluded (a failure is not a category)")
            part = part[~failed]
        chosen = coder
        if "coder" in part.columns and part["coder"].notna().any():
            coders = part["coder"].fillna("(none)").astype(str).value_counts()
            if chosen is None:
                chosen = str(coders.index[0])
                if len(coders) > 1:
                    notes.append(
                        f"{len(coders)} coders in the table ({', '.join(coders.index)}); using {chosen!r}, "
                        f"the one with most labels (choose another with coder=)"
                    )
            if chosen not in set(coders.index):
                raise ValueError(f"{source}: no coder {chosen!r} in scheme {name!r}; coders: {', '.join(coders.index)}")
            part = part[part["coder"].fillna("(none)").astype(str) == chosen]
        if "codebook" in part.columns:  # published data sets have mixed codebook versions without noticing
            versions = sorted(set(part["codebook"].dropna().astype(str)))
            if len(versions) > 1:
                raise ValueError(
                    f"{source}: the {name!r} labels were made with {len(versions)} codebooks ({', '.join(versions)}); "
                    "migrate them to one version (thoughtcode taxonomy migrate) or analyse each version's rows apart"
                )
        multi = "labels" in part.columns and part["labels"].map(_parse_multi).notna().any()
        rows = []
        for record in part.to_dict(orient="records"):
            if multi:
                values = _parse_multi(record.get("labels"))
                if values is None and not _is_missing(record.get("label")):
                    values = [str(record["label"])]
                if not values:
                    continue
                rows.append({"unit_id": record["unit_id"], "labels": [scheme.normalise(v) for v in values]})
            else:
                value = record.get("label")
                if _is_missing(value):
                    continue
                rows.append({"unit_id": record["unit_id"], "label": scheme.normalise(value)})
        frame = pd.DataFrame(rows, columns=["unit_id", "labels" if multi else "label"])
        known_ids = units_index[kind]
        unmatched = ~frame["unit_id"].isin(known_ids)
        if unmatched.any():
            notes.append(f"{int(unmatched.sum())} label row(s) name units not in the corpus and are ignored")
        frame = frame[~unmatched]
        duplicated = frame["unit_id"].duplicated(keep="last")
        if duplicated.any():
            notes.append(f"{int(duplicated.sum())} repeated unit(s); the last row of each is used")
            frame = frame[~duplicated]
        values = [v for vs in frame["labels"] for v in vs] if multi else list(frame["label"])
        unknown = sorted({v for v in values if scheme.order and v not in scheme.order})
        if unknown and scheme.codebook is not None:
            notes.append(f"label(s) not in {scheme.codebook.ref}: {', '.join(unknown)}")
        scheme.multi_label = scheme.multi_label or multi
        scheme.extend_order(values)
        out.append(LabelSet(scheme, frame.reset_index(drop=True), source, chosen, notes, given))
    return out


def load_inputs(
    corpus: str | Path | Sequence[Conversation],
    labels: Sequence[str | Path | pd.DataFrame] = (),
    baselines: Sequence[str | Path] = (),
    *,
    format: str | None = None,
    skip_invalid: bool = False,
    release_labels: bool = True,
    coder: str | None = None,
    stage_rule: Callable[[float], str] = DEFAULT_STAGES,
    codebooks: Mapping[str, str | Path | Codebook] | None = None,
) -> AnalysisInputs:
    """Read a corpus (path or conversations), build its units and attach labels tables.

    ``labels``: labels table files or DataFrames; ``baselines``: other corpora for the length comparison;
    ``release_labels``: also use the thought labels stored in the corpus (default); ``coder``: which coder
    to use when a table holds several; ``codebooks``: scheme name -> codebook (reference, file or object)
    overriding the built-in lookup.
    """
    resolved = {k: v if isinstance(v, Codebook) else load_codebook(v) for k, v in (codebooks or {}).items()}
    read_report: dict[str, Any] = {}
    if isinstance(corpus, (str, Path)):
        reader = read_corpus(corpus, format=format, skip_invalid=skip_invalid)
        conversations = list(reader)
        read_report = reader.report.to_dict()
        path = str(corpus)
    else:
        conversations = list(corpus)
        path = "<conversations>"
    thoughts = units_frame(thought_units(conversations, stage_rule=stage_rule))
    if thoughts.empty:
        thoughts = pd.DataFrame(columns=["unit_id", "conversation_id", "kind", "label", "stage", "n_messages"])
    turns = units_frame(user_turn_units(conversations, stage_rule=stage_rule))
    convs = units_frame(conversation_units(conversations))
    inputs = AnalysisInputs(path, conversations, thoughts, turns, convs, read_report=read_report)
    index = {
        "reason": set(thoughts.loc[thoughts["kind"] == "reason", "unit_id"]),
        "reaction": set(thoughts.loc[thoughts["kind"] == "reaction", "unit_id"]),
        "user_turn": set(turns["unit_id"]) if not turns.empty else set(),
        "conversation": set(convs["unit_id"]) if not convs.empty else set(),
    }
    given: list[LabelSet] = []
    for item in labels:
        if isinstance(item, pd.DataFrame):
            table, source = item, "<labels table>"
        else:
            table, source = read_labels(item), str(item)
        given.extend(prepare_labels(table, index, source, coder=coder, codebooks=resolved))
    for label_set in given:
        name = label_set.scheme.name
        if name in inputs.label_sets:
            inputs.notes.append(f"scheme {name!r} given twice; using {label_set.source}")
        inputs.label_sets[name] = label_set
    if release_labels:
        for kind in THOUGHT_KINDS:
            scheme = DEFAULT_SCHEME[kind]
            units = [u for u in thought_units(conversations, kinds=(kind,)) if u.label]
            if not units:
                continue
            if scheme in inputs.label_sets:
                inputs.notes.append(
                    f"scheme {scheme!r}: using {inputs.label_sets[scheme].source} (given with --labels) "
                    "instead of the release labels"
                )
                continue
            table = reference_labels(units, scheme=scheme, coder="release")
            (label_set,) = prepare_labels(
                table, index, f"release labels in {Path(path).name}", scheme_name=scheme, given=False, codebooks=resolved
            )
            inputs.label_sets[scheme] = label_set
    for base in baselines:
        reader = read_corpus(base, skip_invalid=True)
        inputs.baselines.append((Path(base).name, list(reader)))
        if reader.report.skipped:
            inputs.notes.append(f"baseline {base}: {len(reader.report.skipped)} invalid record(s) skipped")
    return inputs
