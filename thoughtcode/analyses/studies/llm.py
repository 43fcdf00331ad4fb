"""Models in the roles of a study (predictor, judge, rewriter, ...), called through the coders' public client.

Every call goes through :class:`thoughtcode.coders.LLMClient`, so the studies (and the LLM-judged analyses)
share the coders' providers, HTTP retries with ``Retry-After``, validation re-asks, truncation as failure,
redaction of keys, token accounting over every attempt, the concurrency limit and the SQLite answer cache.
What is added here is the bookkeeping of a study: a model in a named role (``step``) with its own output
limit, calls tagged with what they are for, and per-step usage totals for the reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from thoughtcode.coders import Answer, ClientOptions, LLMClient, parse_spec

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Call:
    """One request: ``key`` names what it is for (item id and condition), ``messages`` are chat turns."""

    key: str
    messages: list[dict[str, str]]


@dataclass
class Usage:
    """Token and request totals of one step (one model in one role)."""

    step: str
    model: str
    calls: int = 0
    failed: int = 0
    cached: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    http_attempts: int = 0
    http_retries: int = 0
    reasks: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, answers: Sequence[Answer[Any]], client_stats: dict[str, int]) -> None:
        """Count a batch of answers. HTTP attempts, retries and re-asks are taken from the model's client,
        whose counters run over all of the step's batches."""
        self.calls += len(answers)
        self.failed += sum(not a.ok for a in answers)
        self.cached += sum(a.cached for a in answers)
        self.tokens_in += sum(a.tokens_in for a in answers)
        self.tokens_out += sum(a.tokens_out for a in answers)
        self.http_attempts = client_stats["http_attempts"]
        self.http_retries = client_stats["http_retries"]
        self.reasks = client_stats["reasks"]
        for a in answers:
            if a.error and len(self.errors) < 5 and a.error not in self.errors:
                self.errors.append(a.error)

    def row(self, n_items: int | None = None, unit: str = "items") -> dict[str, Any]:
        """Totals as a table row; with ``n_items`` also tokens per 1,000 of the units the study started from
        (items, conversations or prompts), the basis of a cost estimate."""
        out = {k: getattr(self, k) for k in ("step", "model", "calls", "failed", "cached", "tokens_in", "tokens_out",
                                             "http_attempts", "http_retries", "reasks")}
        if n_items:
            out[f"tokens_in_per_1000_{unit}"] = round(1000 * self.tokens_in / n_items)
            out[f"tokens_out_per_1000_{unit}"] = round(1000 * self.tokens_out / n_items)
        return out


@dataclass
class ModelSettings(ClientOptions):
    """The client's options (:class:`thoughtcode.coders.ClientOptions`) with a longer timeout, since study
    prompts and replies are long. ``max_tokens`` is set per role by :class:`StudyModel`."""

    timeout: float = 120.0


class StudyModel:
    """A model (coder spec such as ``openai:gpt-4o``) in one role of a study, with its own output limit."""

    def __init__(self, spec: str, step: str, max_tokens: int, settings: ModelSettings | None = None):
        self.step = step
        self.client = LLMClient(spec, **{**asdict(settings or ModelSettings()), "max_tokens": max_tokens})
        self.name = self.client.name
        self.usage = Usage(step=step, model=self.name)

    @staticmethod
    def display(spec: str) -> str:
        """The name a spec gets in outputs (as the coders record it: credentials stripped)."""
        return parse_spec(spec).text

    def _namespace(self, prompt_hash: str) -> str:
        return f"study:{self.step}:{prompt_hash}"

    def run(self, calls: Sequence[Call], response_model: type[M], prompt_hash: str) -> list[Answer[M]]:
        """Structured answers to every call (concurrently, cached answers first); one per call, in order."""
        answers = self.client.ask_many_sync([c.messages for c in calls], response_model, cache_namespace=self._namespace(prompt_hash))
        self.usage.add(answers, self.client.stats)
        return answers

    def generate(self, calls: Sequence[Call], prompt_hash: str) -> list[Answer[str]]:
        """Plain-text replies to every call (a truncated or empty reply is a failure); one per call, in order."""
        answers = self.client.generate_many_sync([c.messages for c in calls], cache_namespace=self._namespace(prompt_hash))
        self.usage.add(answers, self.client.stats)
        return answers


def user_turn(text: str) -> list[dict[str, str]]:
    """A one-message chat: the rendered prompt as the user turn."""
    return [{"role": "user", "content": text}]


def usage_table(usages: Sequence[Usage], n_items: int | None = None, unit: str = "items") -> list[dict[str, Any]]:
    return [u.row(n_items, unit) for u in usages]
