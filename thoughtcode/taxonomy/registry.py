"""Finding codebooks: built-in ones by reference, user files by path, with strict validation.

References: ``reasons`` (latest built-in version), ``reasons@1.0.0``, ``reasons@1.0.0#1a2b3c4d`` (the hash
must match, so a label can be checked against the exact codebook it was made with), or a file path.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from thoughtcode.taxonomy.model import CODEBOOK_NAME, Codebook, CodebookError, structure_problems, version_key

BUILTIN_DIR = Path(__file__).parent / "codebooks"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader reads the topics book ~10x faster
_REF = re.compile(rf"^(?P<name>{CODEBOOK_NAME})(?:@(?P<version>[^#]+))?(?:#(?P<hash>[0-9a-f]{{4,64}}))?$")


def _read_data(path: Path) -> Any:
    """A codebook file's raw data: JSON for ``.json``, YAML otherwise (callers handle parse errors)."""
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix.lower() == ".json" else yaml.load(text, Loader=_YAML_LOADER)


def _error_location(loc: tuple[Any, ...], data: Any) -> str:
    """Turn a pydantic location into ``categories[3] (id 'scope_fit').definition``."""
    parts = []
    node = data
    for part in loc:
        if isinstance(part, int):
            label = f"[{part}]"
            if (
                isinstance(node, list)
                and part < len(node)
                and isinstance(node[part], dict)
                and "id" in node[part]
            ):
                label += f" (id {node[part]['id']!r})"
            parts.append(label)
            node = node[part] if isinstance(node, list) and part < len(node) else None
        else:
            parts.append(f".{part}" if parts else str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return "".join(parts)


def parse_codebook(data: Any, source: str = "<data>") -> Codebook:
    """Validate a codebook given as a dict; the error lists every problem, each naming its field."""
    if not isinstance(data, dict):
        raise CodebookError(f"{source}: a codebook must be a mapping at the top level")
    try:
        return Codebook.model_validate(data)
    except ValidationError as exc:
        problems: list[str] = []
        for error in exc.errors():
            where = _error_location(error["loc"], data)
            message = error["msg"].removeprefix("Value error, ")
            for line in message.splitlines():
                problems.append(f"{where}: {line}" if where else line)
        categories, order = data.get("categories"), data.get("order")
        if isinstance(categories, list):
            order = order if isinstance(order, list) else None
            for problem in structure_problems(categories, order, data.get("migration"), data.get("version")):
                if problem not in problems:
                    problems.append(problem)
        listing = "".join(f"\n  - {p}" for p in problems)
        raise CodebookError(f"{source}: invalid codebook, {len(problems)} problem(s):{listing}") from None


def load_codebook_file(path: str | Path) -> Codebook:
    """Load and validate a YAML or JSON codebook file."""
    path = Path(path)
    if not path.is_file():
        raise CodebookError(f"{path}: no such codebook file")
    try:
        data = _read_data(path)
    except (UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise CodebookError(
            f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {exc}"
        ) from None
    return parse_codebook(data, source=str(path))


@lru_cache(maxsize=1)
def _builtin_index() -> dict[str, dict[str, Path]]:
    index: dict[str, dict[str, Path]] = {}
    for path in sorted(BUILTIN_DIR.glob("*.yaml")):
        data = _read_data(path)
        index.setdefault(data["name"], {})[data["version"]] = path
    return index


def builtin_codebooks() -> list[Codebook]:
    """Every version of every built-in codebook."""
    return [load_codebook_file(p) for versions in _builtin_index().values() for p in versions.values()]


def codebook_versions(name: str, search_dirs: list[Path] | None = None) -> list[Codebook]:
    """All known versions of a codebook (built-in plus YAML/JSON files in ``search_dirs``), oldest first.

    Files that are not about ``name`` are ignored; a file that claims ``name`` but is invalid is an error,
    so a broken version is never skipped silently in a chained migration.
    """
    found = {cb.version: cb for cb in builtin_codebooks() if cb.name == name}
    origin: dict[str, str | None] = dict.fromkeys(found)  # None: built in (a user's file may override it)
    for directory in search_dirs or []:
        for path in sorted(Path(directory).glob("*.y*ml")) + sorted(Path(directory).glob("*.json")):
            if _declared_name(path) == name:
                codebook = load_codebook_file(path)
                known = found.get(codebook.version)
                if known is not None and origin[codebook.version] and known.content_hash != codebook.content_hash:
                    raise CodebookError(
                        f"{path} ({codebook.ref}) and {origin[codebook.version]} ({known.ref}) are both "
                        f"{name}@{codebook.version} with different content; keep one file per version"
                    )
                found[codebook.version] = codebook
                origin[codebook.version] = str(path)
    return [found[v] for v in sorted(found, key=version_key)]


def _declared_name(path: Path) -> str | None:
    """The ``name`` a file says it is, or None for files that are not codebooks at all."""
    try:
        data = _read_data(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError):
        return None
    return data.get("name") if isinstance(data, dict) else None


def load_codebook(ref: str | Path) -> Codebook:
    """Resolve a reference (``name``, ``name@version``, ``name@version#hash``) or a file path."""
    text = str(ref)
    path = Path(text)
    if path.suffix.lower() in {".yaml", ".yml", ".json"} or path.is_file():
        return load_codebook_file(path)
    match = _REF.match(text)
    if not match:
        raise CodebookError(f"{text!r} is neither a codebook file nor a reference like 'reasons@1.0.0'")
    name, version, digest = match.group("name"), match.group("version"), match.group("hash")
    versions = _builtin_index().get(name)
    if not versions:
        known = ", ".join(sorted(_builtin_index()))
        raise CodebookError(f"no built-in codebook {name!r}; built-in: {known}; or pass a file path")
    if version is None:
        version = max(versions, key=version_key)
    if version not in versions:
        raise CodebookError(
            f"codebook {name!r} has no version {version}; known: {', '.join(sorted(versions, key=version_key))}"
        )
    codebook = load_codebook_file(versions[version])
    if digest and not codebook.content_hash.startswith(digest):
        raise CodebookError(
            f"{text}: hash mismatch, the built-in {codebook.ref} has different content; labels made with "
            f"#{digest} came from another codebook text"
        )
    return codebook
