"""Codebooks as validated, versioned, hashable data.

A codebook is the contract between a research team and its coders (human or machine). It is validated
strictly on load, hashed over a canonical form, and referred to as ``name@version#hash8`` by every label.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
CATEGORY_ID = re.compile(r"^[a-z][a-z0-9_]*$")
#: A codebook name, as the ``name`` field and as the head of a reference ``name@version#hash``.
CODEBOOK_NAME = r"[a-z][a-z0-9_-]*"
UnitKind = Literal["reason", "reaction", "user_turn", "conversation"]


class CodebookError(ValueError):
    """A codebook that cannot be used; the message says where and what to fix."""


def version_key(version: str) -> tuple[int, int, int, int, str]:
    """Sort key of a semantic version; a pre-release sorts before its release."""
    match = SEMVER.match(version)
    if match is None:
        raise CodebookError(f"version {version!r} is not semantic (MAJOR.MINOR.PATCH, e.g. 1.0.0)")
    major, minor, patch = (int(g) for g in match.groups())
    pre = version.partition("-")[2]
    return major, minor, patch, 0 if pre else 1, pre


def _version_text(value: Any) -> Any:
    """YAML reads ``version: 1.0`` as a float; keep it text so the semver check can name it."""
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _check_semver(value: str) -> str:
    if not SEMVER.match(value):
        raise ValueError(f"version {value!r} is not semantic (MAJOR.MINOR.PATCH, e.g. 1.0.0)")
    return value


#: A version field: YAML numbers read as text, then checked as a semantic version.
SemVer = Annotated[str, BeforeValidator(_version_text), AfterValidator(_check_semver)]


class Example(BaseModel):
    """A text that illustrates a category, with a note on why it fits (or, for a near miss, why not)."""

    model_config = ConfigDict(extra="forbid")

    text: str
    note: str | None = None
    source: str | None = Field(
        default=None, description="where the example comes from, e.g. a conversation id"
    )

    @field_validator("text")
    @classmethod
    def _text_not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("example text must not be empty")
        return value


class Category(BaseModel):
    """One code: what it means, when to use it, when not to, and examples."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    definition: str
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    examples: list[Example] = Field(default_factory=list)
    near_misses: list[Example] = Field(default_factory=list)
    parent: str | None = None
    aliases: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id_is_snake_case(cls, value: str) -> str:
        if not CATEGORY_ID.match(value):
            raise ValueError(f"category id {value!r} must be lower snake_case (letters, digits, underscores)")
        return value

    @field_validator("definition", "name")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()


class ChangelogEntry(BaseModel):
    """What changed in one version, for people; not part of the content hash."""

    model_config = ConfigDict(extra="forbid")

    version: SemVer
    date: str | None = None
    changes: list[str] = Field(default_factory=list)


class Migration(BaseModel):
    """How labels of the previous version map onto this one.

    ``map`` sends an old category id to one new id (a rename, or a merge when several old ids share a
    target), to a list of two or more new ids (a split: the label must be re-coded among those
    candidates), or to ``null`` (the category was retired: the label must be re-coded). Old ids not
    listed keep their id, which must then exist in the new version.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_version: SemVer = Field(alias="from")
    map: dict[str, str | list[str] | None] = Field(default_factory=dict)


def _repeated(values: Sequence[Any]) -> list[str]:
    """The ids that occur more than once, sorted (non-text values are left to field validation)."""
    return sorted({v for v in values if isinstance(v, str) and values.count(v) > 1})


def structure_problems(
    categories: Sequence[Any],
    order: Sequence[Any] | None = None,
    migration: Any = None,
    version: Any = None,
) -> list[str]:
    """Every cross-field problem of a codebook given as plain data, so one report can list them all.

    Works on raw (possibly malformed) dicts too: ``parse_codebook`` calls it when field errors kept the
    model validator from running, so a user sees duplicate ids and bad fields in the same report.
    """
    cats = [c for c in categories if isinstance(c, Mapping) and isinstance(c.get("id"), str)]
    if not categories:
        return ["a codebook needs at least one category"]
    problems: list[str] = []
    ids = [c["id"] for c in cats]
    duplicates = _repeated(ids)
    if duplicates:
        problems.append(f"duplicate category id(s): {', '.join(duplicates)}")
    known = set(ids)
    parent_of: dict[str, str] = {}
    for c in cats:
        parent = c.get("parent")
        if not isinstance(parent, str):
            continue  # None, or a wrong type that field validation reports
        if parent == c["id"]:
            problems.append(f"category {c['id']!r} is its own parent")
        elif parent not in known:
            problems.append(f"category {c['id']!r} has unknown parent {parent!r}")
        else:
            parent_of[c["id"]] = parent
    reported: set[str] = set()
    for start in parent_of:
        path, node = [start], parent_of.get(start)
        while node is not None and node not in path:
            path.append(node)
            node = parent_of.get(node)
        if node is not None and node not in reported:
            cycle = path[path.index(node) :]
            reported.update(cycle)
            problems.append(f"categories {' -> '.join(repr(i) for i in [*cycle, node])} form a parent cycle")
    seen: dict[str, str] = {}
    for c in cats:
        aliases = c.get("aliases")
        spellings = [c["id"], c.get("name"), *(aliases if isinstance(aliases, list) else [])]
        for spelling in spellings:
            if not isinstance(spelling, str) or not spelling.strip():
                continue
            key = spelling.strip().casefold()
            if key in seen and seen[key] != c["id"]:
                problems.append(f"alias collision: {spelling!r} names both {seen[key]!r} and {c['id']!r}")
            seen.setdefault(key, c["id"])
    parents = set(parent_of.values())
    assignable = [i for i in dict.fromkeys(ids) if i not in parents]
    if order is not None:
        order = list(order)
        unknown = [i for i in order if i not in assignable]
        missing = [i for i in assignable if i not in order]
        repeated = _repeated(order)
        if unknown:
            problems.append(
                f"order lists id(s) that are not assignable categories: {', '.join(map(str, unknown))}"
            )
        if missing:
            problems.append(f"order misses assignable category id(s): {', '.join(missing)}")
        if repeated:
            problems.append(f"order repeats id(s): {', '.join(map(str, repeated))}")
    if isinstance(migration, Mapping):
        problems += _migration_problems(migration, set(assignable), version)
    return problems


def _migration_problems(migration: Mapping[str, Any], assignable: set[str], version: Any) -> list[str]:
    problems = []
    source = migration.get("from", migration.get("from_version"))
    comparable = all(isinstance(v, str) and SEMVER.match(v) for v in (source, version))
    if comparable and version_key(source) >= version_key(version):
        problems.append(f"migration.from {source} must be an earlier version than {version}")
    mapping = migration.get("map")
    for old, new in mapping.items() if isinstance(mapping, Mapping) else []:
        targets = new if isinstance(new, list) else [] if new is None else [new]
        if isinstance(new, list) and len(set(new)) < 2:
            problems.append(
                f"migration.map[{old!r}]: a split needs two or more distinct ids (use one id to rename, "
                "null to retire)"
            )
        unknown = [t for t in targets if not isinstance(t, str) or t not in assignable]
        if unknown:
            problems.append(
                f"migration.map[{old!r}] points to {', '.join(map(repr, unknown))}, not an assignable "
                "category of this version"
            )
    return problems


class Codebook(BaseModel):
    """A versioned set of categories for one kind of unit."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    version: SemVer
    title: str
    description: str = ""
    unit: UnitKind
    multi_label: bool = False
    order: list[str] | None = Field(default=None, description="ordinal order of category ids, low to high")
    instructions: str = ""
    categories: list[Category]
    changelog: list[ChangelogEntry] = Field(default_factory=list)
    migration: Migration | None = None

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, value: str) -> str:
        if not re.match(rf"^{CODEBOOK_NAME}$", value):
            raise ValueError(f"codebook name {value!r} must be lower case letters, digits, '-' or '_'")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Codebook:
        problems = structure_problems(
            [c.model_dump() for c in self.categories],
            self.order,
            self.migration.model_dump(by_alias=True) if self.migration else None,
            self.version,
        )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # --- structure -------------------------------------------------------------------------------------
    @property
    def ref(self) -> str:
        """``name@version#hash8``: what every label made with this codebook carries."""
        return f"{self.name}@{self.version}#{self.content_hash[:8]}"

    @property
    def content_hash(self) -> str:
        """SHA-256 over the canonical JSON of everything that defines the codes (not the changelog)."""
        canonical = self.model_dump(mode="json", by_alias=True, exclude={"changelog"})
        payload = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    @property
    def is_hierarchical(self) -> bool:
        return any(c.parent for c in self.categories)

    def _parent_ids(self) -> set[str]:
        return {c.parent for c in self.categories if c.parent}

    @property
    def parents(self) -> list[Category]:
        """Categories that have children."""
        parent_ids = self._parent_ids()
        return [c for c in self.categories if c.id in parent_ids]

    @property
    def leaves(self) -> list[Category]:
        """Categories without children: the codes a coder assigns."""
        parent_ids = self._parent_ids()
        return [c for c in self.categories if c.id not in parent_ids]

    @property
    def label_ids(self) -> list[str]:
        """Assignable category ids, in the ordinal order when there is one, else in codebook order."""
        return list(self.order) if self.order else [c.id for c in self.leaves]

    def category(self, category_id: str) -> Category:
        for category in self.categories:
            if category.id == category_id:
                return category
        raise KeyError(f"{self.ref}: no category {category_id!r}")

    def parent_of(self, category_id: str) -> str | None:
        return self.category(category_id).parent

    def children_of(self, category_id: str | None) -> list[Category]:
        """Direct children of a category; ``None`` gives the top level."""
        return [c for c in self.categories if c.parent == category_id]

    def normalise_label(self, value: str) -> str:
        """Map an id, display name or alias (case-insensitive) onto the category id."""
        key = value.strip().casefold()
        for category in self.categories:
            if key in {s.strip().casefold() for s in (category.id, category.name, *category.aliases)}:
                return category.id
        raise CodebookError(f"{value!r} is not a category of {self.ref}; known: {', '.join(self.label_ids)}")
