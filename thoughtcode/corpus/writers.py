"""Writers for the release format (JSONL, optionally gzipped) and the long table of turns."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from thoughtcode.corpus.models import Conversation
from thoughtcode.textio import open_text


def write_jsonl(conversations: Iterable[Conversation], path: str | Path) -> int:
    """Write conversations in the ThoughtTrace release format; returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open_text(path, "w") as handle:
        for conversation in conversations:
            handle.write(json.dumps(conversation.to_record(), ensure_ascii=False) + "\n")
            count += 1
    return count


def write_table(conversations: Iterable[Conversation], path: str | Path) -> int:
    """Write the long table of turns (conversation_id, turn, role, content, ...) as CSV or Parquet.

    Thoughts go into JSON-encoded ``reasons``/``reactions`` columns so the table reads back losslessly
    at the message level; conversation metadata (survey, model) is not part of this format.
    """
    import pandas as pd

    path = Path(path)
    rows = []
    for conversation in conversations:
        for turn, message in enumerate(conversation.messages):
            rows.append(
                {
                    "conversation_id": conversation.id,
                    "turn": turn,
                    "role": message.type,
                    "content": message.content,
                    "message_id": str(message.id),
                    "timestamp": message.timestamp,
                    "reasons": json.dumps([t.model_dump() for t in message.reasons], ensure_ascii=False),
                    "reactions": json.dumps([t.model_dump() for t in message.reactions], ensure_ascii=False),
                }
            )
    frame = pd.DataFrame(rows, columns=["conversation_id", "turn", "role", "content", "message_id", "timestamp", "reasons", "reactions"])
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix.lower() in {".csv", ".tsv"}:
        frame.to_csv(path, index=False, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    else:
        raise ValueError(f"{path}: a turn table is written as .csv, .tsv or .parquet")
    return frame["conversation_id"].nunique() if rows else 0
