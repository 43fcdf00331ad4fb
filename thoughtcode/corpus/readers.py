"""Streaming readers for the conversation formats researchers actually have.

Every reader yields :class:`Conversation` objects one at a time, so a file of a million conversations
can be counted without holding it in memory. The format is detected from the first record and can be
forced. A malformed record raises :class:`CorpusError` naming the file, the line and the field; with
``skip_invalid=True`` it is counted and listed in the reader's :class:`ReadReport` instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from thoughtcode.corpus.models import Conversation
from thoughtcode.textio import open_text

FormatName = Literal["thoughttrace", "openai", "sharegpt", "wildchat", "table"]
FORMATS: tuple[str, ...] = ("thoughttrace", "openai", "sharegpt", "wildchat", "table")
TABLE_SUFFIXES = {".csv", ".tsv", ".parquet"}
TABLE_COLUMNS = ("conversation_id", "turn", "role", "content")

_SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "model": "assistant",
    "system": "system",
}
_WILDCHAT_ID_FIELDS = ("conversation_hash", "conversation_id", "id")


class CorpusError(ValueError):
    """A record that cannot be read; names the file, the line (or row) and the field."""

    def __init__(
        self, path: Path | str, line: int | None, message: str, field: str | None = None, row: bool = False
    ):
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path if line is None else f"{self.path}:{'row ' if row else ''}{line}"
        what = f" field '{field}':" if field else ""
        super().__init__(f"{where}:{what} {message}")


@dataclass
class SkippedRecord:
    line: int
    field: str | None
    message: str


@dataclass
class ReadReport:
    """What a reader did: the detected format, how many conversations it read, what it skipped."""

    path: str
    format: str | None = None
    n_read: int = 0
    skipped: list[SkippedRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "n_read": self.n_read,
            "n_skipped": len(self.skipped),
            "skipped": [vars(s) for s in self.skipped],
        }


def _is_table(path: Path) -> bool:
    suffixes = [s.lower() for s in path.suffixes]
    return bool(suffixes) and (suffixes[-1] in TABLE_SUFFIXES or suffixes[-2:] in ([".csv", ".gz"], [".tsv", ".gz"]))


def detect_format(record: dict[str, Any]) -> str:
    """Name the format of one JSON record from its shape."""
    messages = record.get("messages")
    if isinstance(messages, list):
        first = next((m for m in messages if isinstance(m, dict)), {})
        if "type" in first and "role" not in first:
            return "thoughttrace"
        return "openai"
    if isinstance(record.get("conversations"), list):
        return "sharegpt"
    if isinstance(record.get("conversation"), list):
        return "wildchat"
    raise ValueError(
        "unrecognised record: expected 'messages' (ThoughtTrace or OpenAI chat), 'conversations' "
        "(ShareGPT) or 'conversation' (WildChat/LMSYS); pass --format to force one"
    )


def _shape_is_conclusive(record: dict[str, Any]) -> bool:
    """Whether a record shows its format: a 'messages' list without a message (an empty conversation) does
    not tell ThoughtTrace from OpenAI chat, so the format of the file is decided by a later record."""
    messages = record.get("messages")
    return not isinstance(messages, list) or any(isinstance(m, dict) for m in messages)


def _text(content: Any) -> str:
    """Message content as text; OpenAI-style lists of parts are joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") if isinstance(p, dict) else str(p) for p in content]
        return "\n".join(p for p in parts if p)
    return str(content)


def _from_role_turns(
    turns: list[Any], conv_id: str, role_key: str, content_key: str, role_map: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    messages = []
    for index, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise _FieldError(f"[{index}]", "a turn must be an object")
        role = turn.get(role_key)
        if role is None:
            raise _FieldError(f"[{index}].{role_key}", "missing")
        role = str(role).lower()
        if role_map is not None:
            if role not in role_map:
                raise _FieldError(f"[{index}].{role_key}", f"unknown speaker {role!r}")
            role = role_map[role]
        extra = {k: v for k, v in turn.items() if k not in {role_key, content_key}}
        messages.append({**extra, "id": extra.pop("id", index), "type": role, "content": _text(turn.get(content_key))})
    return messages


class _FieldError(Exception):
    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(message)


def _convert(record: dict[str, Any], fmt: str, fallback_id: str) -> Conversation:
    """Map one JSON record of a known format onto the release data model."""
    if fmt == "thoughttrace":
        return Conversation.model_validate(record)
    if fmt == "openai":
        rest = {k: v for k, v in record.items() if k != "messages"}
        conv_id = str(rest.pop("id", fallback_id))
        try:
            messages = _from_role_turns(record["messages"], conv_id, "role", "content")
        except _FieldError as err:
            raise _FieldError("messages" + err.field, err.message) from None
        return Conversation.model_validate({**rest, "id": conv_id, "messages": messages})
    if fmt == "sharegpt":
        rest = {k: v for k, v in record.items() if k != "conversations"}
        conv_id = str(rest.pop("id", fallback_id))
        try:
            messages = _from_role_turns(record["conversations"], conv_id, "from", "value", _SHAREGPT_ROLES)
        except _FieldError as err:
            raise _FieldError("conversations" + err.field, err.message) from None
        return Conversation.model_validate({**rest, "id": conv_id, "messages": messages})
    if fmt == "wildchat":
        rest = {k: v for k, v in record.items() if k != "conversation"}
        id_field = next((f for f in _WILDCHAT_ID_FIELDS if f in rest), None)
        conv_id = str(rest[id_field]) if id_field else fallback_id
        if id_field == "id":
            rest.pop("id")
        if "model" in rest and "model_name" not in rest:
            rest["model_name"] = rest["model"]
        try:
            messages = _from_role_turns(record["conversation"], conv_id, "role", "content")
        except _FieldError as err:
            raise _FieldError("conversation" + err.field, err.message) from None
        return Conversation.model_validate({**rest, "id": conv_id, "messages": messages})
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _validation_field(error: ValidationError) -> tuple[str, str]:
    first = error.errors()[0]
    loc = first.get("loc", ())
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(record)", first.get("msg", str(error))


class CorpusReader:
    """Iterate over the conversations of a file, lazily.

    >>> reader = CorpusReader("sample.jsonl")            # doctest: +SKIP
    >>> for conversation in reader: ...                  # doctest: +SKIP
    >>> reader.report.skipped                            # doctest: +SKIP
    """

    def __init__(self, path: str | Path, format: str | None = None, skip_invalid: bool = False):
        self.path = Path(path)
        if format is not None and format not in FORMATS:
            raise ValueError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
        self.format = format
        self.skip_invalid = skip_invalid
        self.report = ReadReport(path=str(self.path), format=format)

    def __iter__(self) -> Iterator[Conversation]:
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no such file")
        self.report = ReadReport(path=str(self.path), format=self.format)
        if self.format == "table" or (self.format is None and _is_table(self.path)):
            self.report.format = "table"
            yield from self._iter_table()
        else:
            yield from self._iter_jsonl()

    def _fail(self, line: int, message: str, field: str | None = None) -> None:
        if not self.skip_invalid:
            raise CorpusError(self.path, line, message, field, row=self.report.format == "table")
        self.report.skipped.append(SkippedRecord(line=line, field=field, message=message))

    def _iter_jsonl(self) -> Iterator[Conversation]:
        with open_text(self.path) as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    self._fail(line_no, f"invalid JSON ({exc.msg} at column {exc.colno})")
                    continue
                if not isinstance(record, dict):
                    self._fail(line_no, "a record must be a JSON object")
                    continue
                fmt = self.report.format
                if fmt is None:
                    try:
                        fmt = detect_format(record)
                    except ValueError as exc:
                        raise CorpusError(self.path, line_no, str(exc)) from None
                    if _shape_is_conclusive(record):
                        self.report.format = fmt
                try:
                    conversation = _convert(record, fmt, f"{self.path.stem}-{line_no}")
                except _FieldError as err:
                    self._fail(line_no, err.message, err.field)
                    continue
                except ValidationError as exc:
                    field_name, message = _validation_field(exc)
                    self._fail(line_no, message, field_name)
                    continue
                except KeyError as exc:
                    self._fail(line_no, "missing", str(exc.args[0]))
                    continue
                self.report.n_read += 1
                yield conversation

    def _iter_table_rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Rows of a CSV/TSV/Parquet table with their 1-based data row number (the header is not a row)."""
        suffix = self.path.suffixes[-1].lower() if self.path.suffix.lower() != ".gz" else self.path.suffixes[-2].lower()
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            row = 0
            for batch in pq.ParquetFile(self.path).iter_batches(batch_size=10_000):
                for item in batch.to_pylist():
                    row += 1
                    yield row, item
            return
        import pandas as pd

        sep = "\t" if suffix == ".tsv" else ","
        line = 0
        for chunk in pd.read_csv(self.path, sep=sep, chunksize=10_000, dtype=str, keep_default_na=False):
            for item in chunk.to_dict(orient="records"):
                line += 1
                yield line, item

    def _iter_table(self) -> Iterator[Conversation]:
        current_id: str | None = None
        first_line = 0
        rows: list[tuple[int, dict[str, Any]]] = []
        finished: set[str] = set()
        for line, row in self._iter_table_rows():
            missing = [c for c in TABLE_COLUMNS if c not in row]
            if missing:
                raise CorpusError(self.path, line, "column missing from the table", missing[0], row=True)
            conv_id = str(row["conversation_id"])
            if conv_id != current_id:
                if current_id is not None:
                    conversation = self._table_conversation(current_id, first_line, rows)
                    if conversation is not None:
                        yield conversation
                    finished.add(current_id)
                if conv_id in finished:
                    raise CorpusError(
                        self.path, line,
                        f"rows of conversation {conv_id!r} are not contiguous; sort the table by "
                        "conversation_id, turn", "conversation_id", row=True,
                    )
                current_id, first_line, rows = conv_id, line, []
            rows.append((line, row))
        if current_id is not None:
            conversation = self._table_conversation(current_id, first_line, rows)
            if conversation is not None:
                yield conversation

    def _table_conversation(
        self, conv_id: str, first_line: int, rows: list[tuple[int, dict[str, Any]]]
    ) -> Conversation | None:
        messages = []
        for line, row in rows:
            try:
                turn = int(row["turn"])
            except (TypeError, ValueError):
                self._fail(line, f"turn must be an integer, got {row['turn']!r}", "turn")
                return None
            role = str(row["role"]).lower()
            role = _SHAREGPT_ROLES.get(role, role)
            if role not in {"user", "assistant", "system"}:
                self._fail(line, f"unknown role {row['role']!r}", "role")
                return None
            extra = {k: v for k, v in row.items() if k not in TABLE_COLUMNS and v not in (None, "")}
            for key in ("reasons", "reactions"):
                if isinstance(extra.get(key), str):
                    try:
                        extra[key] = json.loads(extra[key])
                    except json.JSONDecodeError:
                        self._fail(line, "not a JSON list of thoughts", key)
                        return None
            message_id = extra.pop("message_id", turn)
            if isinstance(message_id, str) and message_id.isdigit():
                message_id = int(message_id)
            messages.append((turn, {**extra, "id": message_id, "type": role, "content": _text(row["content"])}))
        messages.sort(key=lambda pair: pair[0])
        try:
            conversation = Conversation(id=conv_id, messages=[m for _, m in messages])
        except ValidationError as exc:
            field_name, message = _validation_field(exc)
            self._fail(first_line, message, field_name)
            return None
        self.report.n_read += 1
        return conversation


def read_corpus(path: str | Path, format: str | None = None, skip_invalid: bool = False) -> CorpusReader:
    """Open a corpus file for streaming; iterate over the result to get conversations."""
    return CorpusReader(path, format=format, skip_invalid=skip_invalid)


def load_corpus(path: str | Path, format: str | None = None, skip_invalid: bool = False) -> list[Conversation]:
    """Read a whole corpus into a list (for files that fit in memory)."""
    return list(read_corpus(path, format=format, skip_invalid=skip_invalid))
