"""Data-quality findings for real corpora: gaps are reported, never fatal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from thoughtcode.corpus.models import Conversation

PLAUSIBLE_AGE = (13, 110)


@dataclass(frozen=True)
class Finding:
    """One gap in the data, located as precisely as the data allows."""

    kind: str
    conversation_id: str
    message_id: str | None
    detail: str


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed


def check_conversation(conversation: Conversation) -> list[Finding]:
    """Every gap of one conversation: missing survey, empty or unlabelled thoughts, time order, ages."""
    found: list[Finding] = []
    cid = conversation.id

    def add(kind: str, detail: str, message_id: Any = None) -> None:
        found.append(Finding(kind, cid, None if message_id is None else str(message_id), detail))

    if not conversation.messages:
        add("no_messages", "conversation has no messages")
    if not conversation.survey_answers:
        add("missing_survey", "no survey answers")
    for answer in conversation.survey_answers:
        age = answer.age_years
        if answer.age is not None and age is None:
            add("unparseable_age", f"age {answer.age!r} is not a number")
        elif age is not None and not PLAUSIBLE_AGE[0] <= age <= PLAUSIBLE_AGE[1]:
            add("impossible_age", f"age {age} outside {PLAUSIBLE_AGE[0]}-{PLAUSIBLE_AGE[1]}")
        if answer.frequency is not None and answer.frequency_level is None:
            add("bad_frequency", f"AI-use frequency {answer.frequency!r} is not 1-5")
    seen_ids: Counter[str] = Counter(str(m.id) for m in conversation.messages)
    for message_id, count in seen_ids.items():
        if count > 1:
            add("duplicate_message_id", f"message id used {count} times", message_id)
    previous_time = None
    for message in conversation.messages:
        if not message.content.strip():
            add("empty_message", f"empty {message.type} message", message.id)
        if message.type == "user" and "reasons" in message.model_fields_set and not message.reasons:
            add("empty_reasons", "user message with an empty reasons list", message.id)
        if message.type == "assistant" and "reactions" in message.model_fields_set and not message.reactions:
            add("empty_reactions", "assistant message with an empty reactions list", message.id)
        for kind in ("reason", "reaction"):
            for k, thought in enumerate(message.thoughts(kind)):
                if not thought.content.strip():
                    add("empty_thought", f"{kind} {k} has no text", message.id)
                if thought.label is None:
                    add("unlabelled_thought", f"{kind} {k} has no label", message.id)
        current = _parse_time(message.timestamp)
        comparable = (
            current is not None
            and previous_time is not None
            and (current.tzinfo is None) == (previous_time.tzinfo is None)  # naive vs aware: unknown order
        )
        if comparable and current < previous_time:
            add("timestamp_out_of_order", f"{message.timestamp} is earlier than the message before", message.id)
        previous_time = current or previous_time
    return found


def check_corpus(conversations: Iterable[Conversation]) -> dict[str, Any]:
    """All findings of a corpus with counts per kind; duplicate conversation ids included."""
    findings: list[Finding] = []
    ids: Counter[str] = Counter()
    n = 0
    for conversation in conversations:
        n += 1
        ids[conversation.id] += 1
        if ids[conversation.id] == 2:
            findings.append(Finding("duplicate_conversation_id", conversation.id, None, "id used more than once"))
        findings.extend(check_conversation(conversation))
    counts = Counter(f.kind for f in findings)
    return {
        "conversations": n,
        "counts": dict(counts.most_common()),
        "findings": [asdict(f) for f in findings],
    }
