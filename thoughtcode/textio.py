"""Opening text files that may be gzip-compressed, by their extension, and reading JSON lines from them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import IO, Any


def open_text(path: str | Path, mode: str = "r") -> IO[str]:
    """Open ``path`` for text in ``mode`` ('r', 'w' or 'a'), through gzip when it ends in ``.gz``."""
    path = Path(path)
    if path.suffix.lower() == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")
    return path.open(mode, encoding="utf-8")


def read_jsonl(path: str | Path) -> list[Any]:
    """Every JSON value of a JSON-lines file, blank lines skipped; a broken line is an error naming it."""
    rows = []
    with open_text(path) as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{line_no}: not valid JSON ({exc.msg})") from exc
    return rows
