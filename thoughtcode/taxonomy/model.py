"""Codebooks as validated, versioned, hashable data.

A codebook is the contract between a research team and its coders (human or machine). It is validated
strictly on load, hashed over a canonical form, and referred to as ``name@version#hash8`` by every label.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$")
CATEGORY_ID = re.compile(r"^[a-z][a-z0-9_]*$")
UnitKind = Literal["reason", "reaction", "user_turn", "conversation"]


class CodebookError(ValueError):
    """A codebook that cannot be used; the message says where and what to fix."""


class Example(BaseModel):
    """A text that illustrates a category, with a note on why it fits (or, for a near miss, why not)."""

    model_config = ConfigDict(extra="forbid")

    text: str
    note: str | None = None
    source: str | None = Field(default=None, description="where the example comes from, e.g. a conversation id")

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
    model_config = ConfigDict(extra="forbid")

    version: str
    date: str | None = None
    changes: list[str] = Field(default_factory=list)


class Migration(BaseModel):
    """How labels of the previous version map onto this one.

    ``map`` sends an old category id to one new id (a rename, or a merge when several old ids share a
    target), to a list of new ids (a split: the label must be re-coded among those candidates), or to
    ``null`` (the category was retired: the label must be re-coded). Old ids not listed keep their id,
    which must then exist in the new version.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_version: str = Field(alias="from")
    map: dict[str, str | list[str] | None] = Field(default_factory=dict)


class Codebook(BaseModel):
    """A versioned set of categories for one kind of unit."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    version: str
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
        if not re.match(r"^[a-z][a-z0-9_-]*$", value):
            raise ValueError(f"codebook name {value!r} must be lower case letters, digits, '-' or '_'")
        return value

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not SEMVER.match(value):
            raise ValueError(f"version {value!r} is not semantic (MAJOR.MINOR.PATCH, e.g. 1.0.0)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Codebook:
        if not self.categories:
            raise ValueError("a codebook needs at least one category")
        ids = [c.id for c in self.categories]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate category id(s): {', '.join(duplicates)}")
        known = set(ids)
        for category in self.categories:
            if category.parent is not None and category.parent not in known:
                raise ValueError(f"category {category.id!r} has unknown parent {category.parent!r}")
            if category.parent == category.id:
                raise ValueError(f"category {category.id!r} is its own parent")
        seen: dict[str, str] = {}
        for category in self.categories:
            for spelling in [category.id, category.name, *category.aliases]:
                key = spelling.strip().casefold()
                if key in seen and seen[key] != category.id:
                    raise ValueError(
                        f"alias collision: {spelling!r} names both {seen[key]!r} and {category.id!r}"
                    )
                seen[key] = category.id
        if self.order is not None:
            labels = set(self.label_ids)
            if set(self.order) != labels or len(self.order) != len(labels):
                raise ValueError("order must list every assignable category id exactly once")
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

    @property
    def parents(self) -> list[Category]:
        """Categories that have children."""
        parent_ids = {c.parent for c in self.categories if c.parent}
        return [c for c in self.categories if c.id in parent_ids]

    @property
    def leaves(self) -> list[Category]:
        """Categories without children: the codes a coder assigns."""
        parent_ids = {c.parent for c in self.categories if c.parent}
        return [c for c in self.categories if c.id not in parent_ids]

    @property
    def label_ids(self) -> list[str]:
        """Assignable category ids, in codebook order."""
        return [c.id for c in self.leaves]

    def category(self, category_id: str) -> Category:
        for category in self.categories:
            if category.id == category_id:
                return category
        raise KeyError(f"{self.ref}: no category {category_id!r}")

    def parent_of(self, category_id: str) -> str | None:
        return self.category(category_id).parent

    def normalise_label(self, value: str) -> str:
        """Map an id, display name or alias (case-insensitive) onto the category id."""
        key = value.strip().casefold()
        for category in self.categories:
            if key in {s.strip().casefold() for s in (category.id, category.name, *category.aliases)}:
                return category.id
        raise CodebookError(f"{value!r} is not a category of {self.ref}; known: {', '.join(self.label_ids)}")
