"""Model calls of the studies, made through the coders' LLM machinery.

Every call goes through :class:`thoughtcode.coders.LLMCoder`'s client and request path, so the studies
share the coders' providers (OpenAI, Anthropic, OpenAI-compatible), HTTP retries with backoff and
``Retry-After``, validation re-asks, truncation detection, redaction of keys and token accounting (re-asks
included), and its SQLite answer cache (``coders.cache``). What is added here is only what the studies need
on top: a call with an arbitrary pydantic response model instead of a codebook's, free text as a one-field
response model, concurrency over a list of such calls, and per-step usage totals.

Note for the coders room: this uses ``LLMCoder._make_client`` and ``LLMCoder._request``; a public
``LLMCoder.structured_many(requests, response_model)`` (or similar) would let this module shrink to the
bookkeeping below.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from thoughtcode.coders import DEFAULT_CACHE, LabelCache, LLMCoder, cache_key, parse_spec


@dataclass(frozen=True)
class Call:
    """One request: ``key`` names what it is for (item id and condition), ``messages`` are chat turns."""

    key: str
    messages: list[dict[str, str]]


@dataclass
class CallResult:
    key: str
    answer: BaseModel | None
    error: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.answer is not None


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

    def add(self, results: Sequence[CallResult], stats: dict[str, int]) -> None:
        self.calls += len(results)
        self.failed += sum(not r.ok for r in results)
        self.cached += sum(r.cached for r in results)
        self.tokens_in += sum(r.tokens_in for r in results)
        self.tokens_out += sum(r.tokens_out for r in results)
        self.http_attempts += stats.get("http_attempts", 0)
        self.http_retries += stats.get("http_retries", 0)
        self.reasks += stats.get("reasks", 0)
        for r in results:
            if r.error and len(self.errors) < 5 and r.error not in self.errors:
                self.errors.append(r.error)

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
class ModelSettings:
    """Options handed to the coders' LLM client (see :class:`thoughtcode.coders.LLMOptions`)."""

    concurrency: int = 8
    max_retries: int = 2
    http_retries: int = 6
    timeout: float = 120.0
    backoff: float = 1.0
    temperature: float | None = None
    cache: str | Path | None = DEFAULT_CACHE


class StudyModel:
    """A model (coder spec such as ``openai:gpt-4o``) in one role of a study, with its own output limit."""

    def __init__(self, spec: str, step: str, max_tokens: int, settings: ModelSettings | None = None):
        s = settings or ModelSettings()
        self.step = step
        self.cache_path = s.cache
        self.coder = LLMCoder(
            spec,
            concurrency=s.concurrency,
            max_retries=s.max_retries,
            http_retries=s.http_retries,
            timeout=s.timeout,
            backoff=s.backoff,
            temperature=s.temperature,
            max_tokens=max_tokens,
            cache=None,  # the cache is handled per call below, with the same store and key function
        )
        self.name = self.coder.name
        self.usage = Usage(step=step, model=self.name)

    @staticmethod
    def display(spec: str) -> str:
        """The name a spec gets in outputs (as the coders record it: credentials stripped)."""
        return parse_spec(spec).text

    def _key(self, call: Call, response_model: type[BaseModel], prompt_hash: str) -> str:
        return cache_key(
            provider=self.coder.spec.provider,
            endpoint=self.coder.spec.endpoint(),
            model=self.coder.model,
            settings=self.coder.settings,
            prompt_hash=prompt_hash,
            codebook_hash=f"study:{self.step}:{response_model.__name__}:{json.dumps(response_model.model_json_schema(), sort_keys=True)}",
            unit_content=json.dumps(call.messages, ensure_ascii=False, sort_keys=True),
        )

    def run(self, calls: Sequence[Call], response_model: type[BaseModel], prompt_hash: str) -> list[CallResult]:
        """Answer every call (concurrently, cached answers first); one result per call, in order."""
        results = _run_sync(self._arun(list(calls), response_model, prompt_hash))
        self.usage.add(results, self.coder.stats)
        return results

    async def _arun(self, calls: list[Call], response_model: type[BaseModel], prompt_hash: str) -> list[CallResult]:
        self.coder._reset_stats()
        cache = LabelCache(self.cache_path) if self.cache_path is not None else None
        results: list[CallResult | None] = [None] * len(calls)
        keys = [self._key(c, response_model, prompt_hash) for c in calls]
        todo = []
        for i, call in enumerate(calls):
            hit = cache.get(keys[i]) if cache is not None else None
            if hit is not None:
                results[i] = CallResult(call.key, response_model.model_validate(hit["answer"]), None,
                                        hit["tokens_in"], hit["tokens_out"], cached=True)
            else:
                todo.append(i)
        try:
            if todo:
                client, sdk = self.coder._make_client()
                semaphore = asyncio.Semaphore(self.coder.options.concurrency)

                async def ask(i: int) -> None:
                    async with semaphore:
                        outcome = await self.coder._request(client, calls[i].messages, response_model, 1)
                    result = CallResult(calls[i].key, outcome.answer, outcome.error,
                                        outcome.stats.tokens_in, outcome.stats.tokens_out)
                    if outcome.error is None and outcome.answer is None:
                        result.error = "no answer"
                    if cache is not None and result.ok:
                        cache.put(keys[i], result.answer.model_dump(mode="json"), result.tokens_in, result.tokens_out)
                    results[i] = result

                tasks = [asyncio.ensure_future(ask(i)) for i in todo]
                try:
                    await asyncio.gather(*tasks)
                except BaseException:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    raise
                finally:
                    await sdk.close()
        finally:
            if cache is not None:
                cache.close()
        return [r for r in results if r is not None]


def _run_sync(coroutine: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    from concurrent.futures import ThreadPoolExecutor  # inside a running loop (a notebook)

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def user_turn(text: str) -> list[dict[str, str]]:
    """A one-message chat: the rendered prompt as the user turn."""
    return [{"role": "user", "content": text}]


def usage_table(usages: Sequence[Usage], n_items: int | None = None, unit: str = "items") -> list[dict[str, Any]]:
    return [u.row(n_items, unit) for u in usages]
