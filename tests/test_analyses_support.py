"""Shared helpers for the analyses tests: real data paths, raw readers independent of thoughtcode, and small
labels tables made by transparent rules (so topic and relation analyses can be checked without an LLM)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "tests" / "data" / "thoughttrace_dev.jsonl"
SAMPLE = ROOT / "thoughtcode" / "data" / "thoughttrace_sample.jsonl"

TEST_TOPICS = {
    "name": "test_topics",
    "version": "0.1.0",
    "title": "Topics for tests",
    "unit": "conversation",
    "multi_label": True,
    "categories": [
        {"id": "tech", "name": "Technology", "definition": "Computers and software."},
        {"id": "coding", "name": "Software and coding", "definition": "Code.", "parent": "tech"},
        {"id": "ai_tools", "name": "AI tools", "definition": "AI.", "parent": "tech"},
        {"id": "learning", "name": "Learning", "definition": "School and study."},
        {"id": "study", "name": "Study and exams", "definition": "Study.", "parent": "learning"},
        {"id": "science_math", "name": "Science and math", "definition": "Science.", "parent": "learning"},
        {"id": "life", "name": "Lifestyle", "definition": "Daily life."},
        {"id": "food", "name": "Food and cooking", "definition": "Food.", "parent": "life"},
        {"id": "travel", "name": "Travel", "definition": "Trips.", "parent": "life"},
        {"id": "other", "name": "Other topics", "definition": "Anything else."},
        {"id": "misc", "name": "Miscellaneous", "definition": "Nothing else fits.", "parent": "other"},
    ],
}
TOPIC_KEYWORDS = {
    "coding": r"\b(code|coding|python|program|excel|sql|app)\b",
    "ai_tools": r"\b(ai|chatgpt|prompt)\b",
    "study": r"\b(learn|study|exam|school|course)\b",
    "science_math": r"\b(math|science|physics|chemistry)\b",
    "food": r"\b(recipe|cook|cooking|meal|food|diet)\b",
    "travel": r"\b(trip|travel|vacation|hotel|flight)\b",
}
TOPIC_PARENT = {c["id"]: c.get("parent") for c in TEST_TOPICS["categories"]}


def raw_records(path: Path = DEV) -> list[dict]:
    """The corpus as plain JSON records (no thoughtcode code involved)."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def dialogue_messages(record: dict) -> list[dict]:
    return [m for m in record["messages"] if m["type"] in ("user", "assistant")]


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z']+", text.lower()) if len(w) > 3}


def relation_rule(turn_index: int, text: str, previous: str | None) -> str:
    """A transparent stand-in for a relations coder."""
    if turn_index == 0 or previous is None:
        return "first_request"
    a, b = _words(previous), _words(text)
    overlap = len(a & b) / len(a | b) if a | b else 0.0
    if overlap >= 0.5:
        return "retry"
    if re.search(r"\b(instead|change|what about|how about)\b", text, re.IGNORECASE):
        return "variant"
    if len(text.split()) <= 6 or a & b:
        return "extend"
    return "new_request"


def relation_labels(path: Path = DEV, skip_every: int | None = None) -> pd.DataFrame:
    """A relations labels table for every user turn (``skip_every``: leave every n-th turn unlabelled)."""
    rows = []
    n = 0
    for record in raw_records(path):
        previous = None
        turn = 0
        for message in dialogue_messages(record):
            if message["type"] != "user":
                continue
            n += 1
            if not (skip_every and n % skip_every == 0):
                rows.append({
                    "unit_id": f"{record['id']}:{message['id']}",
                    "scheme": "relations",
                    "label": relation_rule(turn, message["content"], previous),
                    "coder": "rule",
                    "status": "ok",
                })
            previous = message["content"]
            turn += 1
    return pd.DataFrame(rows)


def write_topics_codebook(folder: Path) -> Path:
    path = folder / "test_topics.yaml"
    path.write_text(yaml.safe_dump(TEST_TOPICS, sort_keys=False), encoding="utf-8")
    return path


def topic_rule(text: str) -> list[str]:
    """Up to two subtopics whose keywords occur in the user turns; ``misc`` when none do."""
    found = [topic for topic, pattern in TOPIC_KEYWORDS.items() if re.search(pattern, text, re.IGNORECASE)]
    return found[:2] or ["misc"]


def topic_labels(codebook_path: Path, path: Path = DEV) -> pd.DataFrame:
    rows = []
    for record in raw_records(path):
        users = " ".join(m["content"] for m in record["messages"] if m["type"] == "user")
        rows.append({
            "unit_id": record["id"],
            "scheme": "topics",
            "labels": topic_rule(users),
            "coder": "rule",
            "codebook": str(codebook_path),
            "status": "ok",
        })
    return pd.DataFrame(rows)


def test_rule_labels_cover_every_unit(tmp_path):
    records = raw_records(SAMPLE)
    relations = relation_labels(SAMPLE)
    n_user = sum(1 for r in records for m in dialogue_messages(r) if m["type"] == "user")
    assert len(relations) == n_user
    assert set(relations["label"]) <= {"first_request", "extend", "new_request", "retry", "variant"}
    topics = topic_labels(write_topics_codebook(tmp_path), SAMPLE)
    assert len(topics) == len(records)
    assert all(1 <= len(labels) <= 2 for labels in topics["labels"])
