"""Move a labels table from one codebook version to a later one, without ever mixing versions.

Each version's ``migration`` says how the previous version's ids map onto it; versions in between are
chained, so labels can go from 1.0.0 to 2.0.0 through 1.1.0. What can be rewritten (unchanged ids, renames,
merges) is rewritten; what cannot (splits, retired categories) is marked for re-coding.

Representation of the migrated table (rows made under the source codebook):

- ``codebook`` is stamped with the target's ``name@version#hash8``; ``previous_codebook`` keeps the source
  ref and ``previous_label`` / ``previous_labels`` keep the values as they were.
- A row that needs re-coding gets ``needs_recoding=True``, ``recode_candidates`` (the new ids its old label
  was split into, or None when the category was retired: choose among all), ``recode_reason``, no label,
  and ``status="failed"`` with an ``error`` saying why. The labels contract requires a label on every "ok"
  row, and failed rows are exactly what a coder re-runs and what agreement treats as missing, so such a row
  is never read as a category.
- Rows stamped with another codebook name (e.g. reactions labels in a reasons migration) pass through
  untouched. Rows stamped with another version or content hash of the same codebook are refused with an
  error, as are unstamped rows unless ``assume_unstamped`` is set.
"""

from __future__ import annotations

import ast
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, Field

from thoughtcode.taxonomy.model import Codebook, CodebookError, version_key
from thoughtcode.taxonomy.registry import codebook_versions

OutcomeKind = Literal["unchanged", "renamed", "merged", "split", "retired"]


class LabelOutcome(BaseModel):
    """Where labels of one old id end up in the target codebook."""

    old_id: str
    kind: OutcomeKind
    new_id: str | None = None
    candidates: list[str] = Field(default_factory=list, description="for a split: the ids to re-code among")
    rows: int = 0

    @property
    def needs_recoding(self) -> bool:
        return self.kind in {"split", "retired"}


class MigrationReport(BaseModel):
    """What a migration did, for people and machines."""

    source_ref: str
    target_ref: str
    path: list[str] = Field(description="refs of every version passed through, source first")
    rows_total: int = 0
    rows_in_scope: int = 0
    rewritten: int = Field(0, description="rows whose label changed")
    unchanged: int = Field(0, description="rows whose label stayed the same (only the stamp changed)")
    to_recode: int = 0
    failed_before: int = Field(0, description="rows already failed under the source, carried over")
    other_codebooks: dict[str, int] = Field(
        default_factory=dict, description="rows of other codebooks, untouched"
    )
    outcomes: list[LabelOutcome] = Field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def format_text(self) -> str:
        lines = [
            f"migrated {self.rows_in_scope} of {self.rows_total} rows: {' -> '.join(self.path)}",
            f"  rewritten {self.rewritten}, unchanged {self.unchanged}, to re-code {self.to_recode}, "
            f"already failed {self.failed_before}",
        ]
        for ref, count in self.other_codebooks.items():
            lines.append(f"  untouched: {count} row(s) of {ref}")
        for o in self.outcomes:
            if o.kind == "split":
                where = f"re-code among {', '.join(o.candidates)}"
            elif o.kind == "retired":
                where = "re-code (category retired)"
            else:
                where = o.new_id or ""
            lines.append(f"  {o.old_id:<34} {o.kind:<9} {o.rows:>6}  {where}")
        return "\n".join(lines)


@dataclass
class MigrationResult:
    """The migrated labels table and the report of what happened to each label."""

    frame: pd.DataFrame
    report: MigrationReport


# --- planning ---------------------------------------------------------------------------------------------
def migration_path(
    source: Codebook, target: Codebook, versions: Sequence[Codebook] | None = None
) -> list[Codebook]:
    """The chain of codebooks from ``source`` to ``target``, following each version's ``migration.from``.

    ``versions`` supplies the intermediate versions; by default the known versions of the codebook
    (built-in ones). Raises a CodebookError naming the missing link when there is no chain.
    """
    if source.name != target.name:
        raise CodebookError(
            f"cannot migrate {source.ref} labels to {target.ref}: they are different codebooks"
        )
    if version_key(target.version) <= version_key(source.version):
        raise CodebookError(
            f"cannot migrate from {source.ref} to {target.ref}: the target must be a later version"
        )
    known = {cb.version: cb for cb in (versions if versions is not None else codebook_versions(source.name))}
    chain = [target]
    while chain[-1].version != source.version:
        step = chain[-1]
        if step.migration is None:
            raise CodebookError(
                f"{step.ref} declares no migration (a 'migration: {{from: ..., map: ...}}' section), so labels "
                f"of {source.ref} cannot be carried to it"
            )
        previous = step.migration.from_version
        if previous == source.version:
            chain.append(source)
        elif version_key(previous) < version_key(source.version) or previous not in known:
            raise CodebookError(
                f"{step.ref} migrates from {previous}, which does not lead back to {source.ref}; known versions "
                f"of {source.name!r}: {', '.join(sorted(known, key=version_key)) or 'none'}"
            )
        else:
            chain.append(known[previous])
    chain.reverse()
    for before, after in zip(chain, chain[1:], strict=False):
        _check_step(before, after)
    return chain


def _check_step(before: Codebook, after: Codebook) -> None:
    """The target's migration must account for every label id of the version before it."""
    assert after.migration is not None
    if after.migration.from_version != before.version:
        raise CodebookError(
            f"{after.ref} migrates from {after.migration.from_version}, not from {before.ref}"
        )
    old_ids = {c.id for c in before.categories}
    unknown = sorted(set(after.migration.map) - old_ids)
    if unknown:
        raise CodebookError(
            f"migration of {after.ref} maps {', '.join(map(repr, unknown))}, which {before.ref} does not have"
        )
    lost = [i for i in before.label_ids if i not in after.migration.map and i not in after.label_ids]
    if lost:
        raise CodebookError(
            f"migration of {after.ref} does not say what becomes of {', '.join(map(repr, lost))} from "
            f"{before.ref}: the id is not assignable in the new version and not in the migration map (map it to "
            "a new id, a list of ids for a split, or null to retire it)"
        )


def plan_migration(
    source: Codebook, target: Codebook, versions: Sequence[Codebook] | None = None
) -> dict[str, LabelOutcome]:
    """The effective outcome of every source label id in the target, composed across the chain."""
    return _plan(migration_path(source, target, versions))


def _plan(chain: list[Codebook]) -> dict[str, LabelOutcome]:
    """Compose the maps of a chain: a split stays a split (its candidates mapped on), a retirement stays."""
    state: dict[str, tuple[str, list[str]]] = {i: ("certain", [i]) for i in chain[0].label_ids}
    for step in chain[1:]:
        assert step.migration is not None
        mapping = step.migration.map
        for old_id, (mode, ids) in state.items():
            mapped: list[str] = []
            for current in ids:
                new = mapping.get(current, current)
                mapped += [] if new is None else [new] if isinstance(new, str) else list(new)
            split = mode == "split" or any(isinstance(mapping.get(c), list) for c in ids)
            mapped = list(dict.fromkeys(mapped))
            state[old_id] = (
                ("retired", []) if not mapped else ("split", mapped) if split else ("certain", mapped)
            )
    landing = Counter(ids[0] for mode, ids in state.values() if mode == "certain")
    plan: dict[str, LabelOutcome] = {}
    for old_id, (mode, ids) in state.items():
        if mode == "certain":
            new_id = ids[0]
            kind: OutcomeKind = (
                "unchanged" if new_id == old_id else "merged" if landing[new_id] > 1 else "renamed"
            )
            plan[old_id] = LabelOutcome(old_id=old_id, kind=kind, new_id=new_id)
        else:
            plan[old_id] = LabelOutcome(
                old_id=old_id, kind="split" if mode == "split" else "retired", candidates=ids
            )
    return plan


# --- applying ---------------------------------------------------------------------------------------------
def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    if isinstance(value, str):
        return not value.strip()
    return False


def _as_list(value: Any) -> list[str]:
    """A ``labels`` cell as a list: JSON and Parquet give lists, CSV gives '["a", "b"]' or "['a', 'b']"."""
    if _is_missing(value):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                try:
                    parsed = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    raise CodebookError(f"labels cell {text!r} is not a list of labels") from None
            return [str(v) for v in parsed]
        return [text]
    if hasattr(value, "tolist"):
        value = value.tolist()
    return [str(v) for v in value]


def _codebook_name(ref: str) -> str:
    return ref.split("@", 1)[0].split("#", 1)[0]


def _scope(
    frame: pd.DataFrame, source: Codebook, assume_unstamped: bool
) -> tuple[list[bool], dict[str, int]]:
    """Which rows belong to the source codebook; refuses rows of another version or hash of it."""
    stamps = list(frame["codebook"]) if "codebook" in frame.columns else [None] * len(frame)
    unstamped = sum(_is_missing(s) for s in stamps)
    if unstamped and not assume_unstamped:
        raise CodebookError(
            f"{unstamped} row(s) carry no codebook reference, so the codebook they were made with is unknown; "
            f"stamp them, or assume they were made with {source.ref} (--assume-unstamped)"
        )
    refs = [None if _is_missing(s) else str(s) for s in stamps]
    mismatched = Counter(
        r for r in refs if r is not None and _codebook_name(r) == source.name and r != source.ref
    )
    if mismatched:
        found = ", ".join(f"{ref} ({n} rows)" for ref, n in mismatched.most_common())
        raise CodebookError(
            f"{sum(mismatched.values())} row(s) were made with another version or text of {source.name!r}: "
            f"{found}; expected {source.ref}. Labels of different codebook hashes are never mixed: migrate or "
            "re-code those rows separately"
        )
    others = Counter(r for r in refs if r is not None and _codebook_name(r) != source.name)
    return [r is None or r == source.ref for r in refs], dict(others.most_common())


def _old_labels(row: dict[str, Any], source: Codebook) -> list[str]:
    values = _as_list(row.get("labels")) if source.multi_label else []
    if not values and not _is_missing(row.get("label")):
        values = [str(row.get("label"))]
    return values


def migrate_labels(
    frame: pd.DataFrame,
    source: Codebook,
    target: Codebook,
    versions: Sequence[Codebook] | None = None,
    assume_unstamped: bool = False,
) -> MigrationResult:
    """Rewrite a labels table made with ``source`` into one for ``target`` (see the module docstring).

    Raises CodebookError, before changing anything, when rows were made with another version or hash of
    the codebook, when a label is not a category of ``source``, or when no migration chain leads from
    ``source`` to ``target``.
    """
    chain = migration_path(source, target, versions)
    plan = _plan(chain)
    in_scope, others = _scope(frame, source, assume_unstamped)
    out = frame.copy()
    previous_column = "previous_labels" if source.multi_label else "previous_label"
    for column in (
        "label",
        "labels",
        "codebook",
        "status",
        "error",
        "previous_codebook",
        previous_column,
        "recode_candidates",
        "recode_reason",
    ):
        out[column] = out[column].astype(object) if column in out.columns else None
    out["status"] = out["status"].where(out["status"].notna(), "ok")
    out["needs_recoding"] = False

    report = MigrationReport(
        source_ref=source.ref,
        target_ref=target.ref,
        path=[cb.ref for cb in chain],
        rows_total=len(frame),
        rows_in_scope=sum(in_scope),
        other_codebooks=others,
    )
    unknown: Counter[str] = Counter()
    updates: dict[int, dict[str, Any]] = {}
    for position, row in enumerate(out.to_dict(orient="records")):
        if not in_scope[position]:
            continue
        update: dict[str, Any] = {"codebook": target.ref, "previous_codebook": source.ref}
        if str(row["status"]) == "failed":
            report.failed_before += 1
            updates[position] = update
            continue
        old: list[str] = []
        raw = _old_labels(row, source)
        for value in raw:
            try:
                category_id = source.normalise_label(value)
            except CodebookError:
                category_id = None
            if category_id in source.label_ids:
                old.append(category_id)
            else:
                unknown[value] += 1
        if len(old) < len(raw):
            continue  # unknown labels: reported together below, before anything changes
        update[previous_column] = raw if source.multi_label else (raw[0] if raw else None)
        updates[position] = {**update, **_migrate_row(raw, old, plan, target, report)}
    if unknown:
        listed = ", ".join(f"{v!r} ({n})" for v, n in unknown.most_common())
        raise CodebookError(
            f"label(s) that are not assignable categories of {source.ref}: {listed}; nothing was migrated"
        )
    columns = {name: i for i, name in enumerate(out.columns)}
    for position, update in updates.items():
        for column, value in update.items():
            out.iat[position, columns[column]] = value
    report.outcomes = [o for o in plan.values() if o.rows]
    return MigrationResult(frame=out, report=report)


def _migrate_row(
    raw: list[str], old: list[str], plan: dict[str, LabelOutcome], target: Codebook, report: MigrationReport
) -> dict[str, Any]:
    """New label fields of one ok row; ``raw`` as stored, ``old`` as source ids."""
    if not old:
        raise CodebookError(f"a row with status 'ok' has no label to migrate to {target.ref}")
    outcomes = [plan[i] for i in old]
    for outcome in outcomes:
        outcome.rows += 1
    certain = list(dict.fromkeys(o.new_id for o in outcomes if not o.needs_recoding and o.new_id))
    pending = [o for o in outcomes if o.needs_recoding]
    if not pending and (target.multi_label or len(certain) == 1):
        changed = certain != raw
        report.rewritten += changed
        report.unchanged += not changed
        return (
            {"label": None, "labels": certain}
            if target.multi_label
            else {"label": certain[0], "labels": None}
        )
    report.to_recode += 1
    reasons = [
        f"{o.old_id!r} was split into {', '.join(o.candidates)}"
        if o.kind == "split"
        else f"{o.old_id!r} was retired"
        for o in pending
    ] or [f"{len(certain)} labels where {target.ref} allows one"]
    candidates = list(dict.fromkeys(c for o in pending for c in o.candidates)) or (
        certain if not pending else []
    )
    reason = "; ".join(reasons)
    return {
        "label": None,
        "labels": None,
        "status": "failed",
        "error": f"needs re-coding under {target.ref}: {reason}",
        "needs_recoding": True,
        "recode_candidates": candidates or None,
        "recode_reason": reason,
    }
