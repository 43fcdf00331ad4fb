"""Typed conversations, faithful to the ThoughtTrace release format.

Unknown fields are kept (``extra="allow"``) so that reading and writing a file loses nothing.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["user", "assistant", "system"]
ThoughtKind = Literal["reason", "reaction"]

_USER_PREFIX = re.compile(r"^(user\d+)_")


class Thought(BaseModel):
    """A user's self-reported thought: a reason (why they sent a message) or a reaction (to a reply)."""

    model_config = ConfigDict(extra="allow")

    content: str
    label: str | None = None
    timestamp: str | None = None


class Message(BaseModel):
    """One turn; user messages may carry reasons, assistant messages reactions."""

    model_config = ConfigDict(extra="allow")

    id: int | str
    type: Role
    content: str = ""
    timestamp: str | None = None
    reasons: list[Thought] = Field(default_factory=list)
    reactions: list[Thought] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _null_lists_are_empty(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("reasons", "reactions"):
                if key in data and data[key] is None:
                    data = {**data, key: []}
            if data.get("content") is None and "content" in data:
                data = {**data, "content": ""}
        return data

    def thoughts(self, kind: ThoughtKind) -> list[Thought]:
        return self.reasons if kind == "reason" else self.reactions


class SurveyAnswer(BaseModel):
    """Self-reported demographics; kept as given (strings), parsed on demand."""

    model_config = ConfigDict(extra="allow")

    age: str | int | None = None
    gender: str | None = None
    education: str | None = None
    occupation: str | None = None
    frequency: str | int | None = None
    purposes: str | list[str] | None = None

    @property
    def age_years(self) -> int | None:
        """Age as an integer, or None when missing or not a number."""
        return _as_int(self.age)

    @property
    def frequency_level(self) -> int | None:
        """AI-use frequency 1-5, or None when missing or outside the scale."""
        value = _as_int(self.frequency)
        return value if value is not None and 1 <= value <= 5 else None


def _as_int(value: str | int | None) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


class Conversation(BaseModel):
    """A multi-turn conversation with its metadata and the user's survey answers."""

    model_config = ConfigDict(extra="allow")

    id: str
    messages: list[Message]
    model_name: str | None = None
    model_provider: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    task_summary: str | None = None
    task_expectation: str | None = None
    survey_answers: list[SurveyAnswer] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _null_survey_is_empty(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("survey_answers") is None and "survey_answers" in data:
            data = {**data, "survey_answers": []}
        return data

    @property
    def user_id(self) -> str | None:
        """The user part of a ThoughtTrace id (``user918_task2_conversation1`` -> ``user918``)."""
        match = _USER_PREFIX.match(self.id)
        return match.group(1) if match else None

    @property
    def survey(self) -> SurveyAnswer | None:
        return self.survey_answers[0] if self.survey_answers else None

    def to_record(self) -> dict[str, Any]:
        """The release-format dict: assistant messages carry no reasons, user messages no reactions."""
        record = self.model_dump(mode="json")
        for message in record["messages"]:
            unused = "reactions" if message["type"] == "user" else "reasons"
            if not message.get(unused):
                message.pop(unused, None)
        return record
