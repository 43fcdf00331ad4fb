"""Codebooks out: a printable Markdown codebook for human coders, YAML/JSON files, and label schemas.

The YAML and JSON forms load back to the same content hash, so an exported codebook is the codebook.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from thoughtcode.taxonomy.model import Category, Codebook, Example

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _compact(value: Any) -> Any:
    """Drop None and empty values that the model restores as defaults, to keep files short to read."""
    if isinstance(value, dict):
        return {k: _compact(v) for k, v in value.items() if v is not None and v != [] and v != ""}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


_CATEGORY_HEAD = ("id", "name", "parent", "aliases")


def codebook_data(codebook: Codebook) -> dict[str, Any]:
    """The codebook as plain data, ready for YAML or JSON; each category starts with what identifies it."""
    data = _compact(codebook.model_dump(mode="json", by_alias=True))
    if codebook.migration is not None:
        # a retired category is mapped to null: dropping it would lose what became of it
        data["migration"] = {"from": codebook.migration.from_version, "map": dict(codebook.migration.map)}
    data["categories"] = [
        {
            **{k: c[k] for k in _CATEGORY_HEAD if k in c},
            **{k: v for k, v in c.items() if k not in _CATEGORY_HEAD},
        }
        for c in data["categories"]
    ]
    return data


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as ``|`` blocks so definitions stay readable in review."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_BlockDumper.add_representer(str, _represent_str)


def to_yaml(codebook: Codebook) -> str:
    """YAML text of the codebook (loads back to the same content hash)."""
    return yaml.dump(
        codebook_data(codebook), Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=110
    )


def to_json(codebook: Codebook) -> str:
    """JSON text of the codebook (loads back to the same content hash)."""
    return json.dumps(codebook_data(codebook), indent=2, ensure_ascii=False) + "\n"


def label_json_schema(codebook: Codebook) -> dict[str, Any]:
    """JSON Schema of one unit's label under this codebook, for structured output and for checking files.

    Single-label codebooks ask for ``label`` (one id), multi-label ones for ``labels`` (a non-empty set of
    ids). Ids are listed in codebook order (the ordinal order when there is one).
    """
    ids = codebook.label_ids
    glossary = "; ".join(f"{i}: {codebook.category(i).name}" for i in ids)
    if codebook.multi_label:
        field = "labels"
        label_schema: dict[str, Any] = {
            "type": "array",
            "items": {"type": "string", "enum": ids},
            "minItems": 1,
            "uniqueItems": True,
            "description": f"every category that applies ({glossary})",
        }
    else:
        field = "label"
        label_schema = {
            "type": "string",
            "enum": ids,
            "description": f"the one category that applies ({glossary})",
        }
        if codebook.order:
            label_schema["description"] += "; ordinal, listed low to high"
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": f"{codebook.title}: label of one {codebook.unit.replace('_', ' ')}",
        "description": f"One label made with codebook {codebook.ref}.",
        "type": "object",
        "properties": {
            "unit_id": {"type": "string", "description": "stable id of the unit being coded"},
            field: label_schema,
            "rationale": {"type": "string", "description": "short justification citing the unit's text"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": ["unit_id", field],
        "additionalProperties": False,
        "x-codebook": codebook.ref,
    }


# --- Markdown ---------------------------------------------------------------------------------------------
def _one_line(text: str) -> str:
    return " ".join(text.split())


def _example_line(example: Example) -> str:
    line = f"- “{_one_line(example.text)}”"
    if example.note:
        line += f" — {_one_line(example.note)}"
    if example.source:
        line += f" *(source: {example.source})*"
    return line


def _category_markdown(codebook: Codebook, category: Category, level: int) -> list[str]:
    heading = "#" * min(level, 6)
    lines = [f"{heading} {category.name} (`{category.id}`)", ""]
    if category.aliases:
        lines += [f"Also accepted: {', '.join(category.aliases)}", ""]
    children = codebook.children_of(category.id)
    if children:
        lines += [
            f"Group of {len(children)}: {', '.join(f'`{c.id}`' for c in children)}. Code the subtopics.",
            "",
        ]
    lines += [f"**Definition.** {category.definition}", ""]
    for title, rules in (("Use when", category.include), ("Do not use when", category.exclude)):
        if rules:
            lines += [f"**{title}:**", "", *(f"- {rule}" for rule in rules), ""]
    for title, examples in (
        ("Examples", category.examples),
        ("Near misses (not this code)", category.near_misses),
    ):
        if examples:
            lines += [f"**{title}:**", "", *(_example_line(e) for e in examples), ""]
    for child in children:
        lines += _category_markdown(codebook, child, level + 1)
    return lines


def _overview(codebook: Codebook, parent: str | None, depth: int) -> list[str]:
    lines = []
    for category in codebook.children_of(parent):
        lines.append(f"{'  ' * depth}- **{category.name}** (`{category.id}`)")
        lines += _overview(codebook, category.id, depth + 1)
    return lines


def to_markdown(codebook: Codebook) -> str:
    """A printable codebook for human coders: instructions, then every category with rules and examples."""
    kind = (
        "multi-label (assign every code that applies)"
        if codebook.multi_label
        else "single-label (one code per unit)"
    )
    lines = [
        f"# {codebook.title}",
        "",
        f"Codebook `{codebook.ref}`: version {codebook.version}, unit: {codebook.unit.replace('_', ' ')}, {kind}.",
        "",
    ]
    if codebook.description:
        lines += [codebook.description.strip(), ""]
    if codebook.instructions:
        lines += ["## How to code", "", codebook.instructions.strip(), ""]
    if codebook.order:
        lines += ["Ordinal scale, low to high: " + " < ".join(f"`{i}`" for i in codebook.order), ""]
    lines += ["## Categories at a glance", "", *_overview(codebook, None, 0), "", "## Categories", ""]
    for category in codebook.children_of(None):
        lines += _category_markdown(codebook, category, 3)
    if codebook.migration:
        lines += [f"## Migration from {codebook.migration.from_version}", ""]
        for old, new in codebook.migration.map.items():
            if new is None:
                lines.append(f"- `{old}` retired: re-code these labels")
            elif isinstance(new, list):
                lines.append(f"- `{old}` split into {', '.join(f'`{n}`' for n in new)}: re-code these labels")
            else:
                lines.append(f"- `{old}` → `{new}`")
        lines.append("")
    if codebook.changelog:
        lines += ["## Changelog", ""]
        for entry in codebook.changelog:
            date = f" ({entry.date})" if entry.date else ""
            lines.append(f"- **{entry.version}**{date}: " + " ".join(entry.changes))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
