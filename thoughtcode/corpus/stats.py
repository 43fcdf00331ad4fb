"""Corpus statistics computed in one streaming pass.

Only small per-conversation numbers are kept (lengths, token counts), never the conversations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from thoughtcode.corpus.models import Conversation
from thoughtcode.corpus.tokens import TOKENIZER_NAME, count_tokens
from thoughtcode.corpus.units import dialogue

LENGTH_BUCKET = 2


def summarise(values: list[int] | list[float]) -> dict[str, float | int | None]:
    """Count, mean, quartiles and extremes of a list of numbers (None for an empty list)."""
    if not values:
        return {"n": 0, "mean": None, "min": None, "q1": None, "median": None, "q3": None, "max": None}
    array = np.asarray(values, dtype=float)
    q1, median, q3 = np.percentile(array, [25, 50, 75])
    return {
        "n": int(array.size),
        "mean": round(float(array.mean()), 3),
        "min": float(array.min()),
        "q1": float(q1),
        "median": float(median),
        "q3": float(q3),
        "max": float(array.max()),
    }


def length_histogram(lengths: list[int], bucket: int = LENGTH_BUCKET) -> dict[str, int]:
    """Conversations per length bucket of ``bucket`` messages, e.g. ``"1-2"``, ``"3-4"``."""
    counts = Counter((max(n, 1) - 1) // bucket for n in lengths)
    return {f"{b * bucket + 1}-{(b + 1) * bucket}": counts[b] for b in range(max(counts, default=-1) + 1)}


def corpus_stats(conversations: Iterable[Conversation]) -> dict[str, Any]:
    """The numbers of ``thoughtcode corpus stats`` as one JSON-ready dict."""
    n_conversations = 0
    users: set[str] = set()
    messages_by_role: Counter[str] = Counter()
    thoughts_by_kind: Counter[str] = Counter()
    labels_by_kind: dict[str, Counter[str]] = {"reason": Counter(), "reaction": Counter()}
    lengths: list[int] = []
    tokens_by_role: dict[str, list[int]] = {"user": [], "assistant": []}
    with_survey = 0
    survey: dict[str, Counter[str]] = {"gender": Counter(), "education": Counter(), "frequency": Counter()}
    ages: list[int] = []
    models: Counter[str] = Counter()
    for conversation in conversations:
        n_conversations += 1
        if conversation.user_id:
            users.add(conversation.user_id)
        if conversation.model_name:
            models[conversation.model_name] += 1
        messages = dialogue(conversation)
        lengths.append(len(messages))
        for message in conversation.messages:
            messages_by_role[message.type] += 1
            if message.type in tokens_by_role:
                tokens_by_role[message.type].append(count_tokens(message.content))
            for kind in ("reason", "reaction"):
                for thought in message.thoughts(kind):
                    thoughts_by_kind[kind] += 1
                    labels_by_kind[kind][thought.label or "(unlabelled)"] += 1
        answer = conversation.survey
        if answer is not None:
            with_survey += 1
            survey["gender"][answer.gender or "(missing)"] += 1
            survey["education"][answer.education or "(missing)"] += 1
            level = answer.frequency_level
            survey["frequency"][str(level) if level is not None else "(missing)"] += 1
            if answer.age_years is not None:
                ages.append(answer.age_years)
    return {
        "conversations": n_conversations,
        "users": len(users) if users else None,
        "messages": dict(messages_by_role),
        "messages_total": sum(messages_by_role.values()),
        "thoughts": {
            "total": sum(thoughts_by_kind.values()),
            "by_kind": {kind: thoughts_by_kind[kind] for kind in ("reason", "reaction")},
            "by_label": {kind: dict(counts.most_common()) for kind, counts in labels_by_kind.items()},
        },
        "messages_per_conversation": {**summarise(lengths), "histogram": length_histogram(lengths)},
        "tokens_per_message": {
            "tokenizer": TOKENIZER_NAME,
            **{role: summarise(values) for role, values in tokens_by_role.items()},
        },
        "models": dict(models.most_common()),
        "survey": {
            "conversations_with_survey": with_survey,
            "age": summarise(ages),
            **{key: dict(counts.most_common()) for key, counts in survey.items()},
        },
    }
