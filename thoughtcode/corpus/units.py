"""Units of coding with stable ids: thoughts, user turns and whole conversations.

Ids are derived from the data alone, so the same file always yields the same ids and a labels table can be
joined back to its units at any later time:

* thought ``"{conversation_id}:{message_id}:{kind}:{k}"`` (``k`` = index in the message's thought list),
* user turn ``"{conversation_id}:{message_id}"``,
* conversation ``"{conversation_id}"``.

Positions count only user and assistant messages (system prompts are not turns).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import pandas as pd

from thoughtcode.corpus.models import Conversation, Message, ThoughtKind

UnitKind = Literal["reason", "reaction", "user_turn", "conversation"]
UNIT_KINDS: tuple[str, ...] = ("reason", "reaction", "user_turn", "conversation")
STAGE_NAMES: tuple[str, ...] = ("Early", "Mid-Early", "Mid-Late", "Late")


@dataclass(frozen=True)
class StageRule:
    """Maps a normalised position ``p`` in [0, 1] to a stage name.

    ``method="round"`` is the study's rule, ``round((len(names) - 1) * p)``: stage centres at 0%, 33%, 67%
    and 100% of the conversation. ``method="bin"`` cuts [0, 1] into equal-width bins instead.
    """

    names: tuple[str, ...] = STAGE_NAMES
    method: Literal["round", "bin"] = "round"

    def index(self, p: float) -> int:
        if self.method == "round":
            return round((len(self.names) - 1) * p)
        return min(int(p * len(self.names)), len(self.names) - 1)

    def __call__(self, p: float) -> str:
        return self.names[self.index(p)]


DEFAULT_STAGES = StageRule()


@dataclass(frozen=True)
class ThoughtUnit:
    """A reason or reaction with the context a coder or an analysis needs."""

    unit_id: str
    conversation_id: str
    message_id: str
    kind: ThoughtKind
    k: int
    text: str
    label: str | None
    message: str
    previous_message: str | None
    next_message: str | None
    message_index: int
    user_turn_index: int
    n_messages: int
    position: float
    stage: str


@dataclass(frozen=True)
class UserTurnUnit:
    """A user message with the previous user turn and the assistant reply in between."""

    unit_id: str
    conversation_id: str
    message_id: str
    text: str
    previous_user_message: str | None
    assistant_reply: str | None
    message_index: int
    user_turn_index: int
    n_user_turns: int
    n_messages: int
    position: float
    stage: str


@dataclass(frozen=True)
class ConversationUnit:
    """A whole conversation rendered as a transcript (for conversation-level codes such as topics)."""

    unit_id: str
    conversation_id: str
    text: str
    first_user_message: str
    n_messages: int
    n_user_turns: int
    model_name: str | None
    task_summary: str | None


def dialogue(conversation: Conversation) -> list[Message]:
    """The user and assistant messages of a conversation, in order."""
    return [m for m in conversation.messages if m.type in ("user", "assistant")]


def position(index: int, n_messages: int) -> float:
    """Normalised position of a message: first 0, last 1; a one-message conversation is at 0."""
    return index / (n_messages - 1) if n_messages > 1 else 0.0


def _neighbour(messages: Sequence[Message], index: int, role: str, step: int) -> str | None:
    """Content of the nearest message with ``role`` before (step=-1) or after (step=1) ``index``."""
    i = index + step
    while 0 <= i < len(messages):
        if messages[i].type == role:
            return messages[i].content
        i += step
    return None


def thought_units(
    conversations: Iterable[Conversation],
    kinds: Sequence[ThoughtKind] = ("reason", "reaction"),
    stage_rule: Callable[[float], str] = DEFAULT_STAGES,
) -> Iterator[ThoughtUnit]:
    """Every reason (on user messages) and reaction (on assistant messages), in conversation order."""
    for conversation in conversations:
        messages = dialogue(conversation)
        n = len(messages)
        user_turn = -1
        for index, message in enumerate(messages):
            if message.type == "user":
                user_turn += 1
            p = position(index, n)
            for kind in kinds:
                thoughts = message.thoughts(kind)
                if not thoughts:
                    continue
                if kind == "reason":
                    context_before = _neighbour(messages, index, "assistant", -1)
                    context_after = _neighbour(messages, index, "assistant", 1)
                else:
                    context_before = _neighbour(messages, index, "user", -1)
                    context_after = _neighbour(messages, index, "user", 1)
                for k, thought in enumerate(thoughts):
                    yield ThoughtUnit(
                        unit_id=f"{conversation.id}:{message.id}:{kind}:{k}",
                        conversation_id=conversation.id,
                        message_id=str(message.id),
                        kind=kind,
                        k=k,
                        text=thought.content,
                        label=thought.label,
                        message=message.content,
                        previous_message=context_before,
                        next_message=context_after,
                        message_index=index,
                        user_turn_index=max(user_turn, 0),
                        n_messages=n,
                        position=p,
                        stage=stage_rule(p),
                    )


def user_turn_units(
    conversations: Iterable[Conversation], stage_rule: Callable[[float], str] = DEFAULT_STAGES
) -> Iterator[UserTurnUnit]:
    """Every user message, with what came before it (for turn relations)."""
    for conversation in conversations:
        messages = dialogue(conversation)
        n = len(messages)
        user_indices = [i for i, m in enumerate(messages) if m.type == "user"]
        previous_user: str | None = None
        for turn, index in enumerate(user_indices):
            message = messages[index]
            reply = messages[index - 1].content if index > 0 and messages[index - 1].type == "assistant" else None
            p = position(index, n)
            yield UserTurnUnit(
                unit_id=f"{conversation.id}:{message.id}",
                conversation_id=conversation.id,
                message_id=str(message.id),
                text=message.content,
                previous_user_message=previous_user,
                assistant_reply=reply if turn > 0 else None,
                message_index=index,
                user_turn_index=turn,
                n_user_turns=len(user_indices),
                n_messages=n,
                position=p,
                stage=stage_rule(p),
            )
            previous_user = message.content


def shorten(text: str, max_chars: int | None) -> str:
    """The text cut to ``max_chars`` characters (with a visible mark), or unchanged."""
    if max_chars is None or len(text) <= max_chars:
        return text
    return text[:max_chars].rstrip() + " […]"


def transcript(messages: Sequence[Message], max_chars_per_message: int | None = None) -> str:
    """A plain transcript, ``User:``/``Assistant:`` per line block, optionally shortening each message."""
    return "\n\n".join(
        f"{message.type.capitalize()}: {shorten(message.content, max_chars_per_message)}" for message in messages
    )


def conversation_units(conversations: Iterable[Conversation]) -> Iterator[ConversationUnit]:
    """Every conversation as one unit."""
    for conversation in conversations:
        messages = dialogue(conversation)
        users = [m for m in messages if m.type == "user"]
        yield ConversationUnit(
            unit_id=conversation.id,
            conversation_id=conversation.id,
            text=transcript(messages),
            first_user_message=users[0].content if users else "",
            n_messages=len(messages),
            n_user_turns=len(users),
            model_name=conversation.model_name,
            task_summary=conversation.task_summary,
        )


Unit = ThoughtUnit | UserTurnUnit | ConversationUnit


def units_for(
    conversations: Iterable[Conversation],
    unit_kind: str,
    stage_rule: Callable[[float], str] = DEFAULT_STAGES,
) -> Iterator[Unit]:
    """Units of one kind: ``reason``, ``reaction``, ``user_turn`` or ``conversation``."""
    if unit_kind in ("reason", "reaction"):
        return thought_units(conversations, kinds=(unit_kind,), stage_rule=stage_rule)
    if unit_kind == "user_turn":
        return user_turn_units(conversations, stage_rule=stage_rule)
    if unit_kind == "conversation":
        return conversation_units(conversations)
    raise ValueError(f"unknown unit kind {unit_kind!r}; choose one of {', '.join(UNIT_KINDS)}")


def units_frame(units: Iterable[Unit]) -> pd.DataFrame:
    """Units as a DataFrame, one row per unit, columns as the unit's fields."""
    return pd.DataFrame([asdict(u) for u in units])


def reference_labels(units: Iterable[ThoughtUnit], scheme: str, coder: str = "release") -> pd.DataFrame:
    """The labels stored in a corpus (e.g. the release's thought labels) as a labels table."""
    rows = [
        {"unit_id": u.unit_id, "scheme": scheme, "label": u.label, "coder": coder, "status": "ok"}
        for u in units
        if u.label is not None
    ]
    return pd.DataFrame(rows, columns=["unit_id", "scheme", "label", "coder", "status"])
