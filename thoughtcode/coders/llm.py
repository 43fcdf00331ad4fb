"""LLM coders (OpenAI, Anthropic, any OpenAI-compatible server) built on instructor.

Design choices and why:

* **Structured output through instructor.** The answer must validate against a response model generated
  from the codebook (``coders.response``); an invalid answer is re-asked by instructor with the validation
  error, up to ``max_retries`` times, and is then recorded as ``failed`` with the reason. There is no
  default label anywhere.
* **Our own HTTP retries.** The SDKs' built-in retries are switched off (``max_retries=0``) and the SDK's
  create call is wrapped: 429 (honouring ``Retry-After``/``retry-after-ms``), 408/409/5xx/529, timeouts and
  connection errors are retried with exponential backoff and jitter. That way every attempt is seen and
  counted, and a 429 pauses all workers, not just the one that got it. 401/403/404, and a server that
  cannot be reached after all retries, stop the run: every other unit would fail the same way.
* **Every token counted.** A per-request instructor hook adds the usage of every completion, including
  re-asks and truncated answers, to that request's total.
* **Truncation is failure.** An answer cut off by the token limit (finish reason ``length`` /
  ``max_tokens``) is recorded as failed, never parsed into an empty label.
* **Batching.** ``units_per_request=K`` codes K units per request, paying for the codebook once. Units
  whose key is missing from the answer, or given twice with different codes, are re-asked alone; so is every
  unit of a batch whose answer failed as a whole.
* **Samples.** ``samples=K`` codes each unit K times and keeps the majority; the confidence is then the
  share of samples that agree with it.
* **Cache.** Validated answers are stored in SQLite (``coders.cache``) under a key of provider, endpoint,
  model, settings, prompt, codebook and unit content, so a re-run costs nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import functools
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thoughtcode.coders.cache import DEFAULT_CACHE, LabelCache, cache_key
from thoughtcode.coders.prompts import PromptBuilder, RenderedUnit, load_template
from thoughtcode.coders.response import answer_labels, response_model
from thoughtcode.coders.spec import CoderSpec, parse_spec, redact
from thoughtcode.corpus.units import Unit
from thoughtcode.labels import LabelRecord, utc_now
from thoughtcode.taxonomy import Codebook


class _RedactKeys(logging.Filter):
    """Scrub keys from log records of the libraries we drive (a server may echo the key in an error)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


# instructor logs every failed attempt at ERROR level; without a handler Python would print them on stderr.
logging.getLogger("instructor").addHandler(logging.NullHandler())
for _name in ("instructor", "instructor.v2", "instructor.v2.retry"):
    logging.getLogger(_name).addFilter(_RedactKeys())

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}
FATAL_STATUS = {401, 403, 404}
MODES = ("tools", "json")
RecordCallback = Callable[[LabelRecord, bool], None]


class CoderFatalError(ValueError):
    """An error that every request would hit (bad key, unknown model or endpoint): the run stops."""


@dataclass
class LLMOptions:
    """Options of an LLM coder. The ones in :meth:`output_settings` change answers and are recorded."""

    concurrency: int = 8
    max_retries: int = 2
    http_retries: int = 6
    timeout: float = 60.0
    backoff: float = 1.0
    max_backoff: float = 60.0
    max_retry_after: float = 300.0
    units_per_request: int = 1
    samples: int = 1
    temperature: float | None = None
    max_tokens: int | None = None
    mode: str = "tools"
    few_shot: int = 0
    examples: str | Path | None = None
    prompt: str | Path | None = None
    cache: str | Path | None = DEFAULT_CACHE
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            "concurrency": self.concurrency >= 1,
            "max_retries": self.max_retries >= 0,
            "http_retries": self.http_retries >= 0,
            "timeout": self.timeout > 0,
            "units_per_request": self.units_per_request >= 1,
            "samples": self.samples >= 1,
            "few_shot": self.few_shot >= 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid coder option(s): {', '.join(bad)}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.few_shot and self.examples is None:
            raise ValueError("--few-shot needs --examples FILE (a labelled corpus or a table with text and label)")

    def max_tokens_for(self, n_units: int) -> int:
        """Output token limit of a request for ``n_units`` units: room for a short rationale per unit,
        unless set explicitly."""
        return self.max_tokens if self.max_tokens is not None else 300 + 150 * n_units

    def output_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "mode": self.mode,
            "max_tokens": self.max_tokens if self.max_tokens is not None else "auto",
            "units_per_request": self.units_per_request,
            "samples": self.samples,
            "few_shot": self.few_shot,
        }
        if self.temperature is not None:
            settings["temperature"] = self.temperature
        return settings


@dataclass
class _RequestStats:
    """Counters of one logical request (all its HTTP attempts and re-asks)."""

    http_attempts: int = 0
    http_retries: int = 0
    completions: int = 0
    tokens_in: int = 0
    tokens_out: int = 0

    def add_response(self, response: Any) -> None:
        self.completions += 1
        usage = getattr(response, "usage", None)
        if usage is None:
            return
        prompt = getattr(usage, "prompt_tokens", None)
        if prompt is None:  # Anthropic: input tokens, plus prompt-cache reads and writes
            prompt = sum(
                int(getattr(usage, name, 0) or 0)
                for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
            )
        completion = getattr(usage, "completion_tokens", None)
        if completion is None:
            completion = getattr(usage, "output_tokens", 0)
        self.tokens_in += int(prompt or 0)
        self.tokens_out += int(completion or 0)


_CURRENT: contextvars.ContextVar[_RequestStats | None] = contextvars.ContextVar("thoughtcode_request", default=None)


@dataclass
class _Outcome:
    answer: Any = None
    error: str | None = None
    stats: _RequestStats = field(default_factory=_RequestStats)


@dataclass
class _Sample:
    """The answer for one unit in one sample, or why there is none."""

    labels: list[str] | None
    rationale: str | None
    confidence: float | None
    prompt_hash: str
    tokens_in: int = 0
    tokens_out: int = 0
    error: str | None = None
    cached: bool = False


def _header(exc: Any, name: str) -> str | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        return headers.get(name)
    except Exception:
        return None


def retry_after_seconds(exc: Any) -> float | None:
    """The wait a 429/503 response asks for (``retry-after-ms``, or ``Retry-After`` in seconds or as a date)."""
    millis = _header(exc, "retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = _header(exc, "retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def classify(exc: BaseException) -> str:
    """``retry`` (transient), ``fatal`` (stop the run) or ``fail`` (this request fails) for an SDK error."""
    names = _class_names(exc)
    if names & {"APITimeoutError", "APIConnectionError", "TimeoutError", "TimeoutException"}:
        return "retry"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        if status in RETRY_STATUS or status >= 500:
            return "retry"
        if status in FATAL_STATUS:
            return "fatal"
        return "fail"
    return "fail"


def describe_http_error(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    message = getattr(exc, "message", None) or str(exc)
    message = " ".join(str(message).split())[:300]
    if status is not None:
        return f"HTTP {status}: {message}"
    if "Timeout" in " ".join(_class_names(exc)):
        return "request timed out"
    return f"{type(exc).__name__}: {message}"


def describe_validation_error(exc: BaseException) -> str:
    """A one-line account of why an answer was not valid."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            items = errors()
        except Exception:
            items = []
        parts = []
        for item in items[:4]:
            where = ".".join(str(p) for p in item.get("loc", ())) or "answer"
            if item.get("type") == "json_invalid":
                parts.append("the answer is not valid JSON")
                continue
            got = item.get("input")
            got_text = f" (got {str(got)[:60]!r})" if got is not None and not isinstance(got, dict) else ""
            parts.append(f"{where}: {item.get('msg', 'invalid')}{got_text}")
        if parts:
            return "; ".join(parts)
    return " ".join(str(exc).split())[:300]


def _find_cause(exc: BaseException, predicate: Callable[[BaseException], bool]) -> BaseException | None:
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if predicate(current):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _normalise_key(value: str) -> str | None:
    text = str(value).strip().lower()
    if text.startswith("u"):
        text = text[1:]
    return f"u{int(text)}" if text.isdigit() else None


def _split(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` integers that differ by at most one and sum to ``total``."""
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def aggregate_samples(samples: Sequence[_Sample], codebook: Codebook) -> _Sample:
    """Majority over samples; confidence = share of successful samples agreeing with it."""
    ok = [s for s in samples if s.error is None and s.labels]
    tokens_in = sum(s.tokens_in for s in samples)
    tokens_out = sum(s.tokens_out for s in samples)
    cached = all(s.cached for s in samples)
    if not ok:
        errors = [s.error for s in samples if s.error]
        reason = errors[0] if errors else "no answer"
        if len(samples) > 1:
            reason = f"all {len(samples)} samples failed; first: {reason}"
        return _Sample(None, None, None, samples[0].prompt_hash, tokens_in, tokens_out, reason, cached)
    if len(samples) == 1:
        only = ok[0]
        return _Sample(only.labels, only.rationale, only.confidence, only.prompt_hash, tokens_in, tokens_out, None, cached)
    order = {label: i for i, label in enumerate(codebook.label_ids)}
    if codebook.multi_label:
        counts = Counter(label for s in ok for label in set(s.labels or []))
        share = {label: count / len(ok) for label, count in counts.items()}
        chosen = [label for label in codebook.label_ids if share.get(label, 0) > 0.5]
        if not chosen:
            top = max(share.values())
            chosen = [label for label in codebook.label_ids if share.get(label, 0) == top]
        confidence = sum(share[label] for label in chosen) / len(chosen)
        best = max(ok, key=lambda s: len(set(s.labels or []) & set(chosen)))
        return _Sample(chosen, best.rationale, round(confidence, 4), best.prompt_hash, tokens_in, tokens_out, None, cached)
    counts = Counter((s.labels or [""])[0] for s in ok)

    def rank(label: str) -> tuple[int, float, int]:
        confidences = [s.confidence or 0.0 for s in ok if (s.labels or [""])[0] == label]
        return counts[label], sum(confidences) / len(confidences), -order.get(label, 0)

    winner = max(counts, key=rank)
    best = next(s for s in ok if (s.labels or [""])[0] == winner)
    confidence = counts[winner] / len(ok)
    return _Sample([winner], best.rationale, round(confidence, 4), best.prompt_hash, tokens_in, tokens_out, None, cached)


def run_sync(factory: Callable[[], Any]) -> Any:
    """Run the coroutine ``factory()`` makes to completion, also when called inside a running event loop
    (a notebook): then it runs in a worker thread with its own loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


class LLMCoder:
    """A coder that asks an LLM, through instructor, to code units with a codebook.

    Implements the :class:`~thoughtcode.coders.base.Coder` protocol (``code``) and the streaming form the
    runner uses (``acode`` with a callback per finished unit).
    """

    def __init__(self, spec: str | CoderSpec, **options: Any):
        self.spec = parse_spec(spec) if isinstance(spec, str) else spec
        if not self.spec.is_llm:
            raise ValueError("LLMCoder needs an LLM spec (openai:, anthropic: or openai-compatible:)")
        self.options = LLMOptions(**options)
        self.name = self.spec.text
        self.model = self.spec.model
        self.settings = self.options.output_settings()
        self.stats: dict[str, int] = {}
        self._reset_stats()
        self._pause_until = 0.0

    def _reset_stats(self) -> None:
        self.stats = {
            "requests": 0,
            "http_attempts": 0,
            "http_retries": 0,
            "reasks": 0,
            "completions": 0,
            "tokens_in": 0,
            "tokens_out": 0,
            "cache_hits": 0,
            "units_reasked_alone": 0,
        }

    # --- clients ---------------------------------------------------------------------------------------
    def _with_http_retries(self, create: Callable[..., Any]) -> Callable[..., Any]:
        options = self.options

        @functools.wraps(create)
        async def call(*args: Any, **kwargs: Any) -> Any:
            stats = _CURRENT.get()
            attempt = 0
            while True:
                wait = self._pause_until - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if stats is not None:
                    stats.http_attempts += 1
                self.stats["http_attempts"] += 1
                try:
                    return await create(*args, **kwargs)
                except Exception as exc:
                    kind = classify(exc)
                    if kind == "fatal":
                        raise CoderFatalError(
                            f"{self.name}: {redact(describe_http_error(exc))} (check the key, the model name and the endpoint)"
                        ) from None
                    if kind != "retry" or attempt >= options.http_retries:
                        if kind == "retry" and "APITimeoutError" not in _class_names(exc) and "APIConnectionError" in _class_names(exc):
                            raise CoderFatalError(
                                f"{self.name}: cannot reach {self.spec.endpoint() or 'the provider'} after "
                                f"{attempt + 1} attempt(s): {redact(describe_http_error(exc))}"
                            ) from None
                        raise
                    delay = None
                    if getattr(exc, "status_code", None) in (429, 503, 529):
                        delay = retry_after_seconds(exc)
                    if delay is not None:
                        delay = min(delay, options.max_retry_after)
                        self._pause_until = max(self._pause_until, time.monotonic() + delay)
                    else:
                        delay = min(options.max_backoff, options.backoff * 2**attempt) * random.uniform(0.5, 1.5)
                    attempt += 1
                    if stats is not None:
                        stats.http_retries += 1
                    self.stats["http_retries"] += 1
                    await asyncio.sleep(delay)

        return call

    def _make_client(self) -> tuple[Any, Any]:
        """An instructor async client whose SDK calls go through our retry wrapper; and the SDK client."""
        import instructor

        mode = instructor.Mode.TOOLS if self.options.mode == "tools" else instructor.Mode.JSON
        key = self.spec.api_key()
        endpoint = self.spec.endpoint()
        if self.spec.provider == "anthropic":
            import anthropic

            sdk = anthropic.AsyncAnthropic(api_key=key, base_url=endpoint, timeout=self.options.timeout, max_retries=0)
            sdk.messages.create = self._with_http_retries(sdk.messages.create)  # type: ignore[method-assign]
            return instructor.from_anthropic(sdk, mode=mode), sdk
        import openai

        sdk = openai.AsyncOpenAI(api_key=key, base_url=endpoint, timeout=self.options.timeout, max_retries=0)
        sdk.chat.completions.create = self._with_http_retries(sdk.chat.completions.create)  # type: ignore[method-assign]
        return instructor.from_openai(sdk, mode=mode), sdk

    def _request_params(self, n_units: int) -> dict[str, Any]:
        max_tokens = self.options.max_tokens_for(n_units)
        params: dict[str, Any] = {"model": self.model}
        if self.spec.provider == "openai":
            params["max_completion_tokens"] = max_tokens
        else:
            params["max_tokens"] = max_tokens
        if self.options.temperature is not None:
            if self.spec.provider == "anthropic":
                params["extra_body"] = {"temperature": self.options.temperature}
            else:
                params["temperature"] = self.options.temperature
        return params

    async def _request(self, client: Any, messages: list[dict[str, Any]], model: type, n_units: int) -> _Outcome:
        """One logical request: HTTP retries and validation re-asks included, usage summed over all of them."""
        from instructor.core import IncompleteOutputException, InstructorError
        from instructor.core.hooks import Hooks

        stats = _RequestStats()
        hooks = Hooks()
        hooks.on("completion:response", stats.add_response)
        token = _CURRENT.set(stats)
        self.stats["requests"] += 1
        outcome = _Outcome(stats=stats)
        try:
            outcome.answer = await client.create(
                response_model=model,
                messages=messages,
                max_retries=self.options.max_retries,
                strict=False,
                hooks=hooks,
                **self._request_params(n_units),
            )
        except CoderFatalError:
            raise
        except IncompleteOutputException:
            outcome.error = (
                f"truncated answer: the output hit the token limit (max_tokens={self.options.max_tokens_for(n_units)}) "
                "before it was complete"
            )
        except Exception as exc:  # every other failure becomes a recorded reason, never a label
            fatal = _find_cause(exc, lambda e: isinstance(e, CoderFatalError))
            if fatal is not None:
                raise fatal from None
            truncated = _find_cause(exc, lambda e: isinstance(e, IncompleteOutputException))
            http = _find_cause(exc, lambda e: getattr(e, "status_code", None) is not None or "APIConnectionError" in _class_names(e))
            if truncated is not None:
                outcome.error = "truncated answer: the output hit the token limit before it was complete"
            elif http is not None:
                outcome.error = f"{describe_http_error(http)} (after {stats.http_attempts} HTTP attempt(s))"
            elif isinstance(exc, InstructorError) and stats.completions:
                cause = exc.__cause__ or exc
                outcome.error = (
                    f"invalid answer after {stats.completions} attempt(s) (max retries {self.options.max_retries}): "
                    f"{describe_validation_error(cause)}"
                )
            else:
                outcome.error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            outcome.error = redact(outcome.error)
        finally:
            _CURRENT.reset(token)
            self.stats["completions"] += stats.completions
            self.stats["reasks"] += max(0, stats.completions - 1)
            self.stats["tokens_in"] += stats.tokens_in
            self.stats["tokens_out"] += stats.tokens_out
        return outcome

    # --- coding ----------------------------------------------------------------------------------------
    def code(self, units: Sequence[Unit], codebook: Codebook, scheme: str) -> list[LabelRecord]:
        """Code ``units`` and return one record per unit, in order (the Coder protocol)."""
        return run_sync(functools.partial(self.acode, list(units), codebook, scheme))

    def _examples(self, codebook: Codebook, exclude_conversations: Iterable[str]) -> list[Any]:
        if not self.options.few_shot:
            return []
        from thoughtcode.coders.fewshot import load_examples

        assert self.options.examples is not None
        return load_examples(self.options.examples, codebook, self.options.few_shot, exclude_conversations, self.options.seed)

    def builders(self, codebook: Codebook, exclude_conversations: Iterable[str] = ()) -> tuple[PromptBuilder, PromptBuilder]:
        """The single-unit and the batch prompt builders for a codebook."""
        template = load_template(codebook.unit, self.options.prompt)
        examples = self._examples(codebook, exclude_conversations)
        single = PromptBuilder(codebook, template, codebook.unit, batch=False, examples=examples)
        batch = PromptBuilder(codebook, template, codebook.unit, batch=True, examples=examples)
        return single, batch

    async def acode(
        self,
        units: Sequence[Unit],
        codebook: Codebook,
        scheme: str,
        on_record: RecordCallback | None = None,
        exclude_conversations: Iterable[str] | None = None,
    ) -> list[LabelRecord]:
        """Code ``units`` concurrently; ``on_record(record, cached)`` is called as each unit is finished.

        ``exclude_conversations``: conversations whose units must not be used as few-shot examples
        (default: those of ``units``); the runner passes every conversation of the input so that the
        examples, and so the prompt hash, do not depend on which units are still to do.
        """
        self._reset_stats()
        units = list(units)
        if exclude_conversations is None:
            exclude_conversations = {getattr(u, "conversation_id", u.unit_id) for u in units}
        single, batch = self.builders(codebook, exclude_conversations)
        use_batch = self.options.units_per_request > 1
        run_builder = batch if use_batch else single
        rendered = [single.render_unit(u) for u in units]
        samples_needed = self.options.samples
        results: dict[str, list[_Sample | None]] = {u.unit_id: [None] * samples_needed for u in units}
        records: dict[str, LabelRecord] = {}
        cache = LabelCache(self.options.cache) if self.options.cache is not None else None
        keys: dict[tuple[str, int], str] = {}
        codebook_hash, codebook_ref = codebook.content_hash, codebook.ref  # hashing the codebook is not free

        def finish(unit_id: str) -> None:
            samples = results[unit_id]
            if any(s is None for s in samples) or unit_id in records:
                return
            merged = aggregate_samples([s for s in samples if s is not None], codebook)
            record = self._record(unit_id, scheme, codebook_ref, codebook.multi_label, merged)
            records[unit_id] = record
            if on_record is not None:
                on_record(record, merged.cached)

        def deliver(unit: RenderedUnit, sample: int, result: _Sample) -> None:
            results[unit.unit_id][sample] = result
            if cache is not None and result.error is None and not result.cached:
                cache.put(
                    keys[(unit.unit_id, sample)],
                    {"labels": result.labels, "rationale": result.rationale, "confidence": result.confidence, "prompt_hash": result.prompt_hash},
                    result.tokens_in,
                    result.tokens_out,
                )
            finish(unit.unit_id)

        try:
            pending: list[list[RenderedUnit]] = [[] for _ in range(samples_needed)]
            for unit in rendered:
                for sample in range(samples_needed):
                    key = cache_key(
                        provider=self.spec.provider,
                        endpoint=self.spec.endpoint(),
                        model=self.model,
                        settings=self.settings,
                        prompt_hash=run_builder.prompt_hash_full,
                        codebook_hash=codebook_hash,
                        unit_content=unit.content,
                        sample=sample,
                    )
                    keys[(unit.unit_id, sample)] = key
                    hit = cache.get(key) if cache is not None else None
                    if hit is not None:
                        answer = hit["answer"]
                        self.stats["cache_hits"] += 1
                        results[unit.unit_id][sample] = _Sample(
                            answer["labels"], answer.get("rationale"), answer.get("confidence"),
                            answer.get("prompt_hash") or run_builder.prompt_hash, hit["tokens_in"], hit["tokens_out"], None, True,
                        )
                    else:
                        pending[sample].append(unit)
            for unit in rendered:  # units entirely served from the cache are finished right away
                finish(unit.unit_id)

            if any(pending):
                client, sdk = self._make_client()
                semaphore = asyncio.Semaphore(self.options.concurrency)
                # Wrapped once here: instructor would otherwise rebuild the schema class on every call.
                from instructor import response_schema

                single_model = response_schema(response_model(codebook, batch=False))
                batch_model = response_schema(response_model(codebook, batch=True))

                async def ask_alone(unit: RenderedUnit, sample: int, share: tuple[int, int] = (0, 0)) -> None:
                    messages, _ = single.messages([unit])
                    async with semaphore:
                        outcome = await self._request(client, messages, single_model, 1)
                    tokens_in = share[0] + outcome.stats.tokens_in
                    tokens_out = share[1] + outcome.stats.tokens_out
                    if outcome.error is not None:
                        deliver(unit, sample, _Sample(None, None, None, single.prompt_hash, tokens_in, tokens_out, outcome.error))
                        return
                    answer = outcome.answer
                    deliver(
                        unit,
                        sample,
                        _Sample(answer_labels(answer), answer.rationale, float(answer.confidence), single.prompt_hash, tokens_in, tokens_out),
                    )

                async def ask_batch(chunk: list[RenderedUnit], sample: int) -> None:
                    messages, unit_keys = batch.messages(chunk)
                    async with semaphore:
                        outcome = await self._request(client, messages, batch_model, len(chunk))
                    shares_in = _split(outcome.stats.tokens_in, len(chunk))
                    shares_out = _split(outcome.stats.tokens_out, len(chunk))
                    by_key: dict[str, list[Any]] = {}
                    if outcome.error is None:
                        for item in outcome.answer.answers:
                            key = _normalise_key(item.unit_id)
                            if key is not None:
                                by_key.setdefault(key, []).append(item)
                    alone = []
                    for i, (key, unit) in enumerate(zip(unit_keys, chunk, strict=True)):
                        items = by_key.get(key, [])
                        distinct = {tuple(answer_labels(item)) for item in items}
                        if len(distinct) == 1:
                            item = items[0]
                            deliver(
                                unit,
                                sample,
                                _Sample(answer_labels(item), item.rationale, float(item.confidence), batch.prompt_hash, shares_in[i], shares_out[i]),
                            )
                        else:  # missing, or given twice with different codes: ask again, alone
                            alone.append(ask_alone(unit, sample, (shares_in[i], shares_out[i])))
                    self.stats["units_reasked_alone"] += len(alone)
                    if alone:
                        await asyncio.gather(*alone)

                jobs = []
                size = self.options.units_per_request
                for sample, todo in enumerate(pending):
                    for start in range(0, len(todo), size):
                        chunk = todo[start : start + size]
                        jobs.append(ask_batch(chunk, sample) if use_batch and len(chunk) > 1 else ask_alone(chunk[0], sample))
                tasks = [asyncio.ensure_future(job) for job in jobs]
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
        return [records[u.unit_id] for u in units]

    def _record(self, unit_id: str, scheme: str, codebook_ref: str, multi_label: bool, result: _Sample) -> LabelRecord:
        common: dict[str, Any] = {
            "unit_id": unit_id,
            "scheme": scheme,
            "coder": self.name,
            "model": self.model,
            "codebook": codebook_ref,
            "prompt_hash": result.prompt_hash,
            "settings": dict(self.settings),
            "tokens_in": result.tokens_in,
            "tokens_out": result.tokens_out,
            "created_at": utc_now(),
        }
        if result.error is not None or not result.labels:
            error = result.error or "no answer"
            return LabelRecord(**common, status="failed", error=error if len(error) <= 500 else error[:497] + "...")
        if multi_label:
            return LabelRecord(**common, labels=list(result.labels), confidence=result.confidence, rationale=result.rationale)
        return LabelRecord(**common, label=result.labels[0], confidence=result.confidence, rationale=result.rationale)
