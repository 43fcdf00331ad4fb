"""What changed between two codebooks, category by category, for review before labels are migrated.

Categories are matched by id first. A category whose id disappeared is matched to a new one when the new
version's migration declares a one-to-one map, or else when their definitions are near-identical (token
Jaccard similarity at or above a threshold): a rename. Everything else is added or removed, or explained
by a declared merge, split or retirement.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from thoughtcode.taxonomy.model import Category, Codebook

RENAME_SIMILARITY = 0.8
_TOKEN = re.compile(r"[a-z0-9]+")
_META_FIELDS = ("name", "title", "description", "unit", "multi_label", "order", "instructions")
_MEANING_FIELDS = ("definition", "include", "exclude")


class FieldChange(BaseModel):
    """One field with its value before and after."""

    field: str
    old: Any = None
    new: Any = None


class Rename(BaseModel):
    """Same meaning under a new id or name; says what the match rests on, so a reviewer can check it."""

    old_id: str
    new_id: str
    old_name: str
    new_name: str
    evidence: str = Field(description="'same id', 'declared in migration' or 'similar definition (J=0.93)'")


class Merge(BaseModel):
    """Several old categories declared to map onto one new category."""

    old_ids: list[str]
    new_id: str


class Split(BaseModel):
    """One old category declared to map onto several: its labels need re-coding."""

    old_id: str
    new_ids: list[str]


class Redefinition(BaseModel):
    """A matched category whose definition or rules changed: old labels may no longer fit."""

    id: str
    changes: list[FieldChange]


class Move(BaseModel):
    """A matched category placed under another parent."""

    id: str
    old_parent: str | None
    new_parent: str | None


class ExampleChange(BaseModel):
    """Examples or near misses added or removed (or notes edited) for a matched category."""

    id: str
    field: str = Field(description="'examples' or 'near_misses'")
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)


class CodebookDiff(BaseModel):
    """Differences from codebook ``old`` to codebook ``new``; ids in the category lists are new ids."""

    old_ref: str
    new_ref: str
    metadata: list[FieldChange] = Field(default_factory=list)
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    retired: list[str] = Field(default_factory=list, description="removed, declared in migration as retired")
    renamed: list[Rename] = Field(default_factory=list)
    merged: list[Merge] = Field(default_factory=list)
    split: list[Split] = Field(default_factory=list)
    redefined: list[Redefinition] = Field(default_factory=list)
    moved: list[Move] = Field(default_factory=list)
    examples_changed: list[ExampleChange] = Field(default_factory=list)
    aliases_changed: list[FieldChange] = Field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """True when the two codebooks define the same codes (changelog and ref aside)."""
        return not any(value for key, value in self if key not in {"old_ref", "new_ref"})

    def to_dict(self) -> dict[str, Any]:
        return {**self.model_dump(mode="json"), "identical": self.is_empty}

    def format_text(self) -> str:
        """A readable summary, one line per change."""
        lines = [f"{self.old_ref} -> {self.new_ref}"]
        if self.is_empty:
            return "\n".join([*lines, "  no differences in the codes"])
        for change in self.metadata:
            lines.append(f"  ~ {change.field}: {_short(change.old)} -> {_short(change.new)}")
        lines += [f"  + added {i}" for i in self.added]
        lines += [f"  - removed {i}" for i in self.removed]
        lines += [f"  - retired {i} (labels need re-coding)" for i in self.retired]
        for r in self.renamed:
            what = f"{r.old_id} -> {r.new_id}" if r.old_id != r.new_id else r.new_id
            lines.append(f"  > renamed {what}: {r.old_name!r} -> {r.new_name!r} [{r.evidence}]")
        lines += [f"  > merged {', '.join(m.old_ids)} -> {m.new_id}" for m in self.merged]
        lines += [
            f"  < split {s.old_id} -> {', '.join(s.new_ids)} (labels need re-coding)" for s in self.split
        ]
        for d in self.redefined:
            lines.append(f"  ~ redefined {d.id}: {', '.join(c.field for c in d.changes)}")
            for c in d.changes:
                lines.append(f"      {c.field}: {_short(c.old)} -> {_short(c.new)}")
        lines += [f"  ^ moved {m.id}: parent {m.old_parent} -> {m.new_parent}" for m in self.moved]
        for e in self.examples_changed:
            lines.append(f"  ~ {e.field} of {e.id}: +{len(e.added)} -{len(e.removed)}")
        lines += [f"  ~ aliases of {c.field}: {c.old} -> {c.new}" for c in self.aliases_changed]
        return "\n".join(lines)


def _short(value: Any, limit: int = 90) -> str:
    text = " ".join(str(value).split()) if not isinstance(value, list) else "; ".join(map(str, value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def token_jaccard(a: str, b: str) -> float:
    """Share of word tokens two texts have in common (1.0 for the same words, 0.0 for none)."""
    ta, tb = set(_TOKEN.findall(a.lower())), set(_TOKEN.findall(b.lower()))
    return len(ta & tb) / len(ta | tb) if ta | tb else 1.0


def _declared(new: Codebook, old: Codebook) -> dict[str, str | list[str] | None]:
    """The new version's migration map, when it migrates from the old version."""
    if new.migration is None or new.migration.from_version != old.version:
        return {}
    return dict(new.migration.map)


def diff_codebooks(
    old: Codebook, new: Codebook, rename_similarity: float = RENAME_SIMILARITY
) -> CodebookDiff:
    """Compare two codebooks (usually two versions of one) category by category."""
    diff = CodebookDiff(old_ref=old.ref, new_ref=new.ref)
    for field in _META_FIELDS:
        before, after = getattr(old, field), getattr(new, field)
        if before != after:
            diff.metadata.append(FieldChange(field=field, old=before, new=after))

    old_ids, new_ids = [c.id for c in old.categories], [c.id for c in new.categories]
    pairs: dict[str, str] = {i: i for i in old_ids if i in new_ids}  # old id -> new id
    evidence: dict[str, str] = {}
    declared = _declared(new, old)
    gone = [i for i in old_ids if i not in new_ids]
    fresh = [i for i in new_ids if i not in old_ids]

    targets: dict[str, list[str]] = {}
    for old_id, target in declared.items():
        if isinstance(target, str):
            targets.setdefault(target, []).append(old_id)
    for target, sources in targets.items():
        if len(sources) == 1 and sources[0] in gone and target in fresh:
            pairs[sources[0]], evidence[sources[0]] = target, "declared in migration"
        elif sources != [target]:
            kept = [target] if target in old_ids and target not in sources else []
            diff.merged.append(Merge(old_ids=[*sources, *kept], new_id=target))
    explained = {o for o, t in declared.items() if o in gone and (t is None or isinstance(t, list))}
    explained |= {o for sources in targets.values() for o in sources}
    diff.split = [Split(old_id=o, new_ids=list(t)) for o, t in declared.items() if isinstance(t, list)]
    diff.retired = [o for o, t in declared.items() if t is None and o in gone]
    split_targets = {t for s in diff.split for t in s.new_ids} | set(targets)

    candidates = sorted(
        (
            (token_jaccard(old.category(o).definition, new.category(n).definition), o, n)
            for o in gone
            if o not in pairs and o not in explained
            for n in fresh
            if n not in pairs.values() and n not in split_targets
        ),
        reverse=True,
    )
    for score, o, n in candidates:
        if score >= rename_similarity and o not in pairs and n not in pairs.values():
            pairs[o], evidence[o] = n, f"similar definition (J={score:.2f})"

    diff.removed = [o for o in gone if o not in pairs and o not in explained]
    diff.added = [n for n in fresh if n not in pairs.values() and n not in split_targets]
    for o, n in pairs.items():
        _compare(diff, old.category(o), new.category(n), evidence.get(o, "same id"), pairs)
    return diff


def _compare(diff: CodebookDiff, a: Category, b: Category, evidence: str, pairs: dict[str, str]) -> None:
    if a.id != b.id or a.name != b.name:
        diff.renamed.append(
            Rename(old_id=a.id, new_id=b.id, old_name=a.name, new_name=b.name, evidence=evidence)
        )
    changes = [
        FieldChange(field=f, old=getattr(a, f), new=getattr(b, f))
        for f in _MEANING_FIELDS
        if getattr(a, f) != getattr(b, f)
    ]
    if changes:
        diff.redefined.append(Redefinition(id=b.id, changes=changes))
    old_parent = pairs.get(a.parent, a.parent) if a.parent else None
    if old_parent != b.parent:
        diff.moved.append(Move(id=b.id, old_parent=a.parent, new_parent=b.parent))
    for field in ("examples", "near_misses"):
        before = [e.text for e in getattr(a, field)]
        after = [e.text for e in getattr(b, field)]
        notes_changed = [e.model_dump() for e in getattr(a, field)] != [
            e.model_dump() for e in getattr(b, field)
        ]
        if notes_changed:
            diff.examples_changed.append(
                ExampleChange(
                    id=b.id,
                    field=field,
                    added=[t for t in after if t not in before],
                    removed=[t for t in before if t not in after],
                )
            )
    if a.aliases != b.aliases:
        diff.aliases_changed.append(FieldChange(field=b.id, old=a.aliases, new=b.aliases))
