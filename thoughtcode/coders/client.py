"""One LLM request path for all of thoughtcode: structured answers and free text, done the same careful way.

The coders, the studies, the LLM-judged analyses and the codebook namer all call LLMs; they must all behave
alike, so the request path lives here once:

* **Providers.** OpenAI, Anthropic and any OpenAI-compatible server, named by a spec (``coders.spec``);
  keys come from the environment and are redacted from every error message and log record.
* **Our own HTTP retries.** The SDKs' retries are off (``max_retries=0``) and the SDK's create call is
  wrapped: 429 (honouring ``Retry-After``/``retry-after-ms``), 408/409/5xx/529, timeouts and connection
  errors are retried with exponential backoff and jitter, so every attempt is seen and counted, and a 429
  pauses every request of the client, not just the one that got it. 401/403/404, and a server that cannot
  be reached after all retries, raise :class:`CoderFatalError`: every other request would fail the same way.
* **Structured answers** (:meth:`LLMClient.ask`) validate against any pydantic model through instructor; an
  invalid answer is re-asked with the validation error up to ``max_retries`` times, then is a failure with
  the reason. **Free text** (:meth:`LLMClient.generate`) is the assistant's plain reply.
* **Truncation is failure.** An answer cut off by the token limit (finish reason ``length`` / stop reason
  ``max_tokens``) is never parsed or returned; nor is an empty reply.
* **Every token counted.** Usage of every completion of a request (re-asks and truncated answers included)
  is summed into that request's :class:`Answer` and into :attr:`LLMClient.stats`.
* **Cache.** Successful answers are kept in SQLite (``coders.cache``) under a key of provider, endpoint,
  model, output settings, a caller's namespace (e.g. a prompt hash), the answer schema and the messages,
  so a re-run costs nothing. Failures are not cached: they are retried next time.
* **Concurrency.** At most ``concurrency`` requests of a client are in flight at once.

A failure is an :class:`Answer` whose ``value`` is ``None`` and whose ``error`` says why: callers record it,
they never substitute a default. Usage::

    client = LLMClient("openai:gpt-4o-mini", max_tokens=300)
    answers = client.ask_many_sync([messages_1, messages_2], Score, cache_namespace="coverage:1f2e")
    reply = client.generate_sync([{"role": "user", "content": "Say hello"}]).value
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import functools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from thoughtcode.coders.cache import DEFAULT_CACHE, LabelCache, cache_key
from thoughtcode.coders.spec import CoderSpec, parse_spec, redact

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Messages = list[dict[str, Any]]

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}
FATAL_STATUS = {401, 403, 404}
MODES = ("tools", "json")
DEFAULT_MAX_TOKENS = 1024


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


class CoderFatalError(ValueError):
    """An error that every request would hit (bad key, unknown model or endpoint): the run stops."""


class _Unusable(Exception):
    """A completion that arrived but cannot be used (truncated or empty); the message says why."""


class _Truncated(_Unusable):
    pass


@dataclass
class ClientOptions:
    """How an :class:`LLMClient` calls its model. ``max_tokens`` is the default output limit of a request
    (None: 1024); ``mode`` is instructor's way of asking for structure (``tools`` or ``json``)."""

    concurrency: int = 8
    max_retries: int = 2
    http_retries: int = 6
    timeout: float = 60.0
    backoff: float = 1.0
    max_backoff: float = 60.0
    max_retry_after: float = 300.0
    temperature: float | None = None
    max_tokens: int | None = None
    mode: str = "tools"
    cache: str | Path | None = DEFAULT_CACHE

    def __post_init__(self) -> None:
        self._check({
            "concurrency": self.concurrency >= 1,
            "max_retries": self.max_retries >= 0,
            "http_retries": self.http_retries >= 0,
            "timeout": self.timeout > 0,
            "max_tokens": self.max_tokens is None or self.max_tokens >= 1,
        })
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")

    @staticmethod
    def _check(checks: dict[str, bool]) -> None:
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid LLM option(s): {', '.join(bad)}")


@dataclass(frozen=True)
class Answer(Generic[T]):
    """The outcome of one logical request: ``value`` (a validated model, or the text) or ``error``.

    Tokens cover every completion of the request (re-asks and truncated answers included); a cached answer
    reports the tokens it cost when it was made. ``attempts`` counts HTTP requests (0 when cached).
    """

    value: T | None
    error: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cached: bool = False
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None and self.value is not None


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
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):  # not a date either: no advice, back off as usual
            return None
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


def run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """Run the coroutine ``factory()`` makes to completion, also when called inside a running event loop
    (a notebook): then it runs in a worker thread with its own loop."""

    async def main() -> T:
        return await factory()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


async def gather_all(jobs: Iterable[Awaitable[T]]) -> list[T]:
    """Run jobs concurrently, results in order; when one raises (a fatal error), the others are cancelled
    before the error propagates, so no request outlives its run."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


@functools.lru_cache(maxsize=64)
def _schema_text(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(), sort_keys=True)


@dataclass
class _Session:
    """What one event loop's requests share: the limit, the cache, and the SDK and instructor clients, made
    on the first request that the cache cannot answer (so a fully cached run needs no key and no network)."""

    semaphore: asyncio.Semaphore
    cache: LabelCache | None
    connect: Callable[[], tuple[Any, Any]]
    users: int = 0
    _clients: tuple[Any, Any] | None = None

    def clients(self) -> tuple[Any, Any]:
        if self._clients is None:
            self._clients = self.connect()
        return self._clients

    async def close(self) -> None:
        try:
            if self._clients is not None:
                await self._clients[0].close()
        finally:
            if self.cache is not None:
                self.cache.close()


class LLMClient:
    """Structured and free-text calls to one model, with retries, validation, caching and token accounting.

    Use it as ``async with client:`` to share one connection pool across many calls; the single calls open
    and close one themselves. ``stats`` sums requests, HTTP attempts and retries, re-asks, completions,
    tokens and cache hits since creation or :meth:`reset_stats`. A client is used from one thread at a time.
    """

    def __init__(self, spec: str | CoderSpec, **options: Any):
        self.spec = parse_spec(spec) if isinstance(spec, str) else spec
        if not self.spec.is_llm:
            raise ValueError("an LLM client needs an LLM spec (openai:, anthropic: or openai-compatible:)")
        self.options = ClientOptions(**options)
        self.name = self.spec.text
        self.model = self.spec.model
        self.stats: dict[str, int] = {}
        self.reset_stats()
        self._pause_until = 0.0
        self._session: _Session | None = None

    def reset_stats(self) -> None:
        self.stats = dict.fromkeys(
            ("requests", "http_attempts", "http_retries", "reasks", "completions", "tokens_in", "tokens_out", "cache_hits"), 0
        )

    # --- public calls ------------------------------------------------------------------------------------
    async def ask(self, messages: Messages, response_model: type[M], *, max_tokens: int | None = None,
                  cache_namespace: str = "", max_retries: int | None = None) -> Answer[M]:
        """One structured answer validated against ``response_model`` (re-asked when invalid, up to
        ``max_retries``: the client's option unless given)."""
        return await self._answer(messages, response_model, max_tokens, cache_namespace, max_retries)

    async def ask_many(self, requests: Sequence[Messages], response_model: type[M], *, max_tokens: int | None = None,
                       cache_namespace: str = "") -> list[Answer[M]]:
        """Structured answers to many requests, concurrently (cached ones first); one answer per request, in order."""
        async with self:
            return await gather_all(self.ask(m, response_model, max_tokens=max_tokens, cache_namespace=cache_namespace)
                                    for m in requests)

    async def generate(self, messages: Messages, *, max_tokens: int | None = None, cache_namespace: str = "") -> Answer[str]:
        """The model's plain-text reply; a truncated or empty reply is a failure."""
        return await self._answer(messages, None, max_tokens, cache_namespace)

    async def generate_many(self, requests: Sequence[Messages], *, max_tokens: int | None = None,
                            cache_namespace: str = "") -> list[Answer[str]]:
        """Plain-text replies to many requests, concurrently; one answer per request, in order."""
        async with self:
            return await gather_all(self.generate(m, max_tokens=max_tokens, cache_namespace=cache_namespace) for m in requests)

    def ask_sync(self, messages: Messages, response_model: type[M], **kwargs: Any) -> Answer[M]:
        return run_sync(lambda: self.ask(messages, response_model, **kwargs))

    def ask_many_sync(self, requests: Sequence[Messages], response_model: type[M], **kwargs: Any) -> list[Answer[M]]:
        return run_sync(lambda: self.ask_many(requests, response_model, **kwargs))

    def generate_sync(self, messages: Messages, **kwargs: Any) -> Answer[str]:
        return run_sync(lambda: self.generate(messages, **kwargs))

    def generate_many_sync(self, requests: Sequence[Messages], **kwargs: Any) -> list[Answer[str]]:
        return run_sync(lambda: self.generate_many(requests, **kwargs))

    # --- sessions --------------------------------------------------------------------------------------
    async def __aenter__(self) -> LLMClient:
        if self._session is None:
            cache = LabelCache(self.options.cache) if self.options.cache is not None else None
            self._session = _Session(asyncio.Semaphore(self.options.concurrency), cache, self._connect)
        self._session.users += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        session = self._session
        assert session is not None
        session.users -= 1
        if session.users == 0:
            self._session = None
            await session.close()

    def _connect(self) -> tuple[Any, Any]:
        """An SDK client whose create call goes through our retry wrapper, and instructor's client on top."""
        import instructor

        mode = instructor.Mode.TOOLS if self.options.mode == "tools" else instructor.Mode.JSON
        key, endpoint, timeout = self.spec.api_key(), self.spec.endpoint(), self.options.timeout
        if self.spec.provider == "anthropic":
            import anthropic

            sdk = anthropic.AsyncAnthropic(api_key=key, base_url=endpoint, timeout=timeout, max_retries=0)
            sdk.messages.create = self._with_http_retries(sdk.messages.create)  # type: ignore[method-assign]
            structured = instructor.from_anthropic(sdk, mode=mode)
        else:
            import openai

            sdk = openai.AsyncOpenAI(api_key=key, base_url=endpoint, timeout=timeout, max_retries=0)
            sdk.chat.completions.create = self._with_http_retries(sdk.chat.completions.create)  # type: ignore[method-assign]
            structured = instructor.from_openai(sdk, mode=mode)
        return sdk, structured

    # --- one request -----------------------------------------------------------------------------------
    async def _answer(self, messages: Messages, schema: type[BaseModel] | None, max_tokens: int | None,
                      namespace: str, max_retries: int | None = None) -> Answer[Any]:
        limit = max_tokens or self.options.max_tokens or DEFAULT_MAX_TOKENS
        async with self:
            session = self._session
            assert session is not None
            cache = session.cache
            key = self._cache_key(messages, schema, limit, namespace) if cache is not None else ""
            hit = cache.get(key) if cache is not None else None
            if hit is not None:
                self.stats["cache_hits"] += 1
                value = schema.model_validate(hit["answer"]) if schema is not None else hit["answer"]["text"]
                return Answer(value, None, hit["tokens_in"], hit["tokens_out"], cached=True)
            sdk, structured = session.clients()
            send = self._structured(structured, messages, schema, limit, max_retries) if schema is not None else self._text(sdk, messages, limit)
            async with session.semaphore:
                answer = await self._request(send, limit)
            if cache is not None and answer.ok:
                stored = answer.value.model_dump(mode="json") if schema is not None else {"text": answer.value}
                cache.put(key, stored, answer.tokens_in, answer.tokens_out)
            return answer

    def _cache_key(self, messages: Messages, schema: type[BaseModel] | None, max_tokens: int, namespace: str) -> str:
        settings: dict[str, Any] = {"max_tokens": max_tokens}
        if schema is not None:
            settings["mode"] = self.options.mode
        if self.options.temperature is not None:
            settings["temperature"] = self.options.temperature
        return cache_key(
            provider=self.spec.provider,
            endpoint=self.spec.endpoint(),
            model=self.model,
            settings=settings,
            prompt_hash=namespace,
            codebook_hash=_schema_text(schema) if schema is not None else "text",
            unit_content=json.dumps(messages, ensure_ascii=False, sort_keys=True),
        )

    def _params(self, max_tokens: int) -> dict[str, Any]:
        params: dict[str, Any] = {"model": self.model}
        params["max_completion_tokens" if self.spec.provider == "openai" else "max_tokens"] = max_tokens
        if self.options.temperature is not None:
            if self.spec.provider == "anthropic":
                params["extra_body"] = {"temperature": self.options.temperature}
            else:
                params["temperature"] = self.options.temperature
        return params

    def _structured(self, structured: Any, messages: Messages, schema: type[BaseModel],
                    max_tokens: int, max_retries: int | None = None) -> Callable[[_RequestStats], Awaitable[Any]]:
        retries = self.options.max_retries if max_retries is None else max_retries

        async def send(stats: _RequestStats) -> Any:
            from instructor.core.hooks import Hooks

            hooks = Hooks()
            hooks.on("completion:response", stats.add_response)
            return await structured.create(
                response_model=schema, messages=messages, max_retries=retries, strict=False, hooks=hooks,
                **self._params(max_tokens),
            )

        return send

    def _text(self, sdk: Any, messages: Messages, max_tokens: int) -> Callable[[_RequestStats], Awaitable[str]]:
        async def send(stats: _RequestStats) -> str:
            if self.spec.provider == "anthropic":
                system = "\n\n".join(str(m["content"]) for m in messages if m["role"] == "system")
                turns = [m for m in messages if m["role"] != "system"]
                response = await sdk.messages.create(
                    messages=turns, **({"system": system} if system else {}), **self._params(max_tokens)
                )
                text = "".join(block.text for block in response.content if getattr(block, "type", "") == "text")
                truncated = response.stop_reason == "max_tokens"
            else:
                response = await sdk.chat.completions.create(messages=messages, **self._params(max_tokens))
                choice = response.choices[0]
                text, truncated = choice.message.content or "", choice.finish_reason == "length"
            stats.add_response(response)
            if truncated:
                raise _Truncated
            if not text.strip():
                raise _Unusable("empty answer: the model returned no text")
            return text

        return send

    async def _request(self, send: Callable[[_RequestStats], Awaitable[Any]], max_tokens: int) -> Answer[Any]:
        """One logical request: HTTP retries and validation re-asks included, usage summed over all of them."""
        stats = _RequestStats()
        token = _CURRENT.set(stats)
        self.stats["requests"] += 1
        value, error = None, None
        try:
            value = await send(stats)
        except CoderFatalError:
            raise
        except Exception as exc:  # every other failure becomes a recorded reason, never a value
            fatal = _find_cause(exc, lambda e: isinstance(e, CoderFatalError))
            if fatal is not None:
                raise fatal from None
            error = redact(self._describe_failure(exc, stats, max_tokens))
        finally:
            _CURRENT.reset(token)
            self.stats["completions"] += stats.completions
            self.stats["reasks"] += max(0, stats.completions - 1)
            self.stats["tokens_in"] += stats.tokens_in
            self.stats["tokens_out"] += stats.tokens_out
        if error is None and value is None:
            error = "no answer"
        return Answer(value, error, stats.tokens_in, stats.tokens_out, False, stats.http_attempts)

    def _describe_failure(self, exc: BaseException, stats: _RequestStats, max_tokens: int) -> str:
        from instructor.core import IncompleteOutputException, InstructorError

        if _find_cause(exc, lambda e: isinstance(e, (IncompleteOutputException, _Truncated))) is not None:
            return f"truncated answer: the output hit the token limit (max_tokens={max_tokens}) before it was complete"
        if isinstance(exc, _Unusable):
            return str(exc)
        http = _find_cause(exc, lambda e: getattr(e, "status_code", None) is not None or "APIConnectionError" in _class_names(e))
        if http is not None:
            return f"{describe_http_error(http)} (after {stats.http_attempts} HTTP attempt(s))"
        if isinstance(exc, InstructorError) and stats.completions:
            return (f"invalid answer after {stats.completions} attempt(s) (max retries {self.options.max_retries}): "
                    f"{describe_validation_error(exc.__cause__ or exc)}")
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"

    # --- requests sent outside the SDK's create call (the provider batch APIs, ``coders.batch``) ---------
    def sdk(self) -> Any:
        """The provider SDK client of the open session (``async with client:``), made on first use."""
        assert self._session is not None, "open a session first: async with client"
        return self._session.clients()[0]

    def _instructor_mode(self) -> Any:
        import instructor

        return instructor.Mode.TOOLS if self.options.mode == "tools" else instructor.Mode.JSON

    def _instructor_provider(self) -> Any:
        import instructor

        return instructor.Provider.ANTHROPIC if self.spec.provider == "anthropic" else instructor.Provider.OPENAI

    def request_body(self, messages: Messages, schema: type[BaseModel], max_tokens: int | None = None) -> dict[str, Any]:
        """The JSON body of the structured request :meth:`ask` would send first (instructor builds the tool
        or JSON-mode instructions), for a provider's batch API."""
        import copy

        from instructor.processing.response import handle_response_model

        params = self._params(max_tokens or self.options.max_tokens or DEFAULT_MAX_TOKENS)
        params.update(params.pop("extra_body", {}))
        _, body = handle_response_model(schema, mode=self._instructor_mode(), provider=self._instructor_provider(),
                                        messages=copy.deepcopy(messages), **params)
        return body

    def read_completion(self, body: dict[str, Any], schema: type[M], max_tokens: int | None = None) -> tuple[Answer[M], bool]:
        """Validate a completion received as JSON (a batch result) the way :meth:`ask` validates one.

        Returns the answer and whether a re-ask could help: a truncated or empty answer is a failure as it
        stands (False), an invalid one may be re-asked (True). Its tokens are added to :attr:`stats`.
        """
        from instructor.processing.response import process_response

        limit = max_tokens or self.options.max_tokens or DEFAULT_MAX_TOKENS
        if self.spec.provider == "anthropic":
            from anthropic.types import Message

            completion: Any = Message.model_validate(body)
            truncated = completion.stop_reason == "max_tokens"
        else:
            from openai.types.chat import ChatCompletion

            completion = ChatCompletion.model_validate(body)
            truncated = bool(completion.choices) and completion.choices[0].finish_reason == "length"
        stats = _RequestStats()
        stats.add_response(completion)
        self.stats["requests"] += 1
        self.stats["completions"] += 1
        self.stats["tokens_in"] += stats.tokens_in
        self.stats["tokens_out"] += stats.tokens_out
        value, error, reask = None, None, False
        if truncated:
            error = self._describe_failure(_Truncated(), stats, limit)
        else:
            try:
                value = process_response(completion, response_model=schema, stream=False, strict=False,
                                         mode=self._instructor_mode(), provider=self._instructor_provider())
            except Exception as exc:  # the answer is not valid against the schema: the caller may re-ask
                error, reask = f"invalid answer: {describe_validation_error(exc)}", True
        return Answer(value, redact(error) if error else None, stats.tokens_in, stats.tokens_out, False, 0), reask

    def with_http_retries(self, call: Callable[..., Any]) -> Callable[..., Any]:
        """``call`` (an async SDK method) with this client's HTTP retries and fatal-error handling."""
        return self._with_http_retries(call)

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
                                f"{self.name}: cannot reach {self.spec.shown_endpoint() or 'the provider'} after "
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
