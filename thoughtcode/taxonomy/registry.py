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

from thoughtcode.taxonomy.model import SEMVER, Codebook, CodebookError

BUILTIN_DIR = Path(__file__).parent / "codebooks"
_REF = re.compile(r"^(?P<name>[a-z][a-z0-9_-]*)(?:@(?P<version>[^#]+))?(?:#(?P<hash>[0-9a-f]{4,64}))?$")


def _error_location(loc: tuple[Any, ...], data: Any) -> str:
    """Turn a pydantic location into ``categories[3] (id 'scope_fit').definition``."""
    parts = []
    node = data
    for part in loc:
        if isinstance(part, int):
            label = f"[{part}]"
            if isinstance(node, list) and part < len(node) and isinstance(node[part], dict) and "id" in node[part]:
                label += f" (id {node[part]['id']!r})"
            parts.append(label)
            node = node[part] if isinstance(node, list) and part < len(node) else None
        else:
            parts.append(f".{part}" if parts else str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return "".join(parts)


def parse_codebook(data: Any, source: str = "<data>") -> Codebook:
    """Validate a codebook given as a dict; errors name the source and the offending field."""
    if not isinstance(data, dict):
        raise CodebookError(f"{source}: a codebook must be a mapping at the top level")
    try:
        return Codebook.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = _error_location(error["loc"], data) or "(codebook)"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}: {message}")
        raise CodebookError(f"{source}: invalid codebook\n  " + "\n  ".join(problems)) from None


def load_codebook_file(path: str | Path) -> Codebook:
    """Load and validate a YAML or JSON codebook file."""
    path = Path(path)
    if not path.exists():
        raise CodebookError(f"{path}: no such codebook file")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise CodebookError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {exc}") from None
    return parse_codebook(data, source=str(path))


def _version_key(version: str) -> tuple[int, int, int, int, str]:
    match = SEMVER.match(version)
    assert match is not None  # versions are validated on load
    major, minor, patch = (int(g) for g in match.groups())
    pre = version.partition("-")[2]
    return major, minor, patch, 0 if pre else 1, pre


@lru_cache(maxsize=1)
def _builtin_index() -> dict[str, dict[str, Path]]:
    index: dict[str, dict[str, Path]] = {}
    for path in sorted(BUILTIN_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        index.setdefault(data["name"], {})[data["version"]] = path
    return index


def builtin_codebooks() -> list[Codebook]:
    """Every version of every built-in codebook."""
    return [load_codebook_file(p) for versions in _builtin_index().values() for p in versions.values()]


def codebook_versions(name: str, search_dirs: list[Path] | None = None) -> list[Codebook]:
    """All known versions of a codebook (built-in plus YAML/JSON files in ``search_dirs``), oldest first."""
    found = {cb.version: cb for cb in builtin_codebooks() if cb.name == name}
    for directory in search_dirs or []:
        for path in sorted(Path(directory).glob("*.y*ml")) + sorted(Path(directory).glob("*.json")):
            try:
                codebook = load_codebook_file(path)
            except CodebookError:
                continue
            if codebook.name == name:
                found[codebook.version] = codebook
    return [found[v] for v in sorted(found, key=_version_key)]


def load_codebook(ref: str | Path) -> Codebook:
    """Resolve a reference (``name``, ``name@version``, ``name@version#hash``) or a file path."""
    text = str(ref)
    path = Path(text)
    if path.suffix.lower() in {".yaml", ".yml", ".json"} or path.exists():
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
        version = max(versions, key=_version_key)
    if version not in versions:
        raise CodebookError(f"codebook {name!r} has no version {version}; known: {', '.join(sorted(versions, key=_version_key))}")
    codebook = load_codebook_file(versions[version])
    if digest and not codebook.content_hash.startswith(digest):
        raise CodebookError(
            f"{text}: hash mismatch, the built-in {codebook.ref} has different content; labels made with "
            f"#{digest} came from another codebook text"
        )
    return codebook
