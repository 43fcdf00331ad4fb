"""On-disk cache of LLM answers (SQLite), so a re-run of the same job costs nothing.

The key is a SHA-256 over everything that can change an answer: provider and endpoint, model, the
output-affecting settings, the full prompt hash, the codebook content hash, the unit's rendered content
and the sample index. Only successful, validated answers are stored (failures are retried next time),
together with the token usage they cost. Keys and other credentials are never part of a key or a value.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

DEFAULT_CACHE = Path(".thoughtcode-cache") / "cache.sqlite"


def cache_key(
    *,
    provider: str,
    endpoint: str | None,
    model: str | None,
    settings: dict[str, Any],
    prompt_hash: str,
    codebook_hash: str,
    unit_content: str,
    sample: int = 0,
) -> str:
    """Deterministic key of one answer."""
    payload = json.dumps(
        {
            "provider": provider,
            "endpoint": endpoint or "",
            "model": model or "",
            "settings": settings,
            "prompt": prompt_hash,
            "codebook": codebook_hash,
            "unit": unit_content,
            "sample": sample,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class LabelCache:
    """A small key → answer store. Safe to share between the runs of several processes (WAL mode)."""

    def __init__(self, path: str | Path = DEFAULT_CACHE):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, answer TEXT NOT NULL, "
            "tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, created REAL NOT NULL)"
        )
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT answer, tokens_in, tokens_out FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return {"answer": json.loads(row[0]), "tokens_in": row[1], "tokens_out": row[2]}

    def put(self, key: str, answer: dict[str, Any], tokens_in: int, tokens_out: int) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO answers (key, answer, tokens_in, tokens_out, created) VALUES (?, ?, ?, ?, ?)",
            (key, json.dumps(answer, ensure_ascii=False), int(tokens_in), int(tokens_out), time.time()),
        )

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LabelCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
