"""The labels table: the contract between coders, agreement, analyses and codebook migration.

One row per (unit_id, coder, scheme) with its label(s) and the provenance that makes it traceable:
which codebook (``name@version#hash8``), which prompt, which model and settings, when, how sure, and
whether coding succeeded. Every room reads and writes labels through this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from thoughtcode.jsonsafe import json_safe
from thoughtcode.textio import open_text, read_jsonl

LABEL_COLUMNS = [
    "unit_id",
    "scheme",
    "label",
    "labels",
    "coder",
    "model",
    "codebook",
    "prompt_hash",
    "settings",
    "status",
    "error",
    "confidence",
    "rationale",
    "tokens_in",
    "tokens_out",
    "created_at",
]


def utc_now() -> str:
    """Timestamp in ISO 8601 with an explicit UTC offset, as every label carries."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class LabelRecord(BaseModel):
    """One row of the labels table.

    ``label`` holds the category id of a single-label codebook, ``labels`` the ids of a multi-label one.
    A failed unit has ``status="failed"``, an ``error`` and no label: failures are never replaced by a
    default category.
    """

    model_config = ConfigDict(extra="allow")

    unit_id: str
    scheme: str
    label: str | None = None
    labels: list[str] | None = None
    coder: str
    model: str | None = None
    codebook: str | None = None
    prompt_hash: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    status: Literal["ok", "failed"] = "ok"
    error: str | None = None
    confidence: float | None = None
    rationale: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    created_at: str = Field(default_factory=utc_now)

    @model_validator(mode="after")
    def _label_matches_status(self) -> LabelRecord:
        has_label = self.label is not None or self.labels is not None
        if self.status == "ok" and not has_label:
            raise ValueError(f"unit {self.unit_id!r}: status 'ok' needs a label or labels")
        if self.status == "failed" and not self.error:
            raise ValueError(f"unit {self.unit_id!r}: status 'failed' needs an error message")
        return self


#: Columns that hold identifiers: read as text from CSV/TSV, so "001" stays "001" and ids match across files.
ID_COLUMNS = ("unit_id", "coder", "scheme", "codebook", "conversation_id", "message_id")


def read_table(path: str | Path, text_columns: Iterable[str] = ID_COLUMNS) -> pd.DataFrame:
    """Read a CSV/TSV, JSONL/NDJSON (optionally ``.jsonl.gz``), JSON array or Parquet table by its file extension.

    In CSV/TSV files the ``text_columns`` that are present (identifiers) are read as text, not numbers.
    """
    path = Path(path)
    suffixes = "".join(path.suffixes[-2:]).lower()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    if path.suffix.lower() in {".csv", ".tsv"}:
        try:
            return pd.read_csv(
                path,
                sep="\t" if path.suffix.lower() == ".tsv" else ",",
                keep_default_na=True,
                dtype={column: str for column in text_columns},
            )
        except pd.errors.EmptyDataError:  # a zero-byte file: no header, no rows (like an empty JSONL file)
            return pd.DataFrame()
    if path.suffix.lower() == ".json":
        # one JSON document (an array of records, as most tools export), else JSON lines
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return pd.DataFrame(read_jsonl(path))
        return pd.DataFrame(document if isinstance(document, list) else [document])
    if path.suffix.lower() in {".jsonl", ".ndjson"} or suffixes.endswith(".jsonl.gz"):
        return pd.DataFrame(read_jsonl(path))
    raise ValueError(f"{path}: unknown table format; use .csv, .tsv, .jsonl or .parquet")


def read_labels(path: str | Path) -> pd.DataFrame:
    """Read a labels table file and check it has the contract's key columns."""
    frame = read_table(path)
    missing = [c for c in ("unit_id", "coder") if c not in frame.columns]
    if "label" not in frame.columns and "labels" not in frame.columns:
        missing.append("label or labels")
    if missing:
        raise ValueError(f"{path}: not a labels table, missing column(s): {', '.join(missing)}")
    return frame


def labels_frame(records: Iterable[LabelRecord | dict[str, Any]]) -> pd.DataFrame:
    """Turn label records into a DataFrame with the contract's columns in their canonical order."""
    rows = [r.model_dump() if isinstance(r, LabelRecord) else dict(r) for r in records]
    frame = pd.DataFrame(rows)
    for column in LABEL_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    extra = [c for c in frame.columns if c not in LABEL_COLUMNS]
    return frame[LABEL_COLUMNS + extra]


def write_labels(records: Iterable[LabelRecord | dict[str, Any]] | pd.DataFrame, path: str | Path) -> Path:
    """Write a labels table as JSONL (one record per line, gzipped for ``.gz``), CSV, TSV or Parquet by
    extension, so that :func:`read_table` reads it back."""
    path = Path(path)
    frame = records if isinstance(records, pd.DataFrame) else labels_frame(records)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif suffix in {".csv", ".tsv"}:
        frame.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    else:
        with open_text(path, "w") as handle:
            for row in frame.to_dict(orient="records"):
                handle.write(json.dumps(json_safe(row), ensure_ascii=False, allow_nan=False) + "\n")
    return path
