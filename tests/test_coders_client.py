"""The public LLM client on its own: structured and free-text calls over real HTTP to the stand-in server."""

from __future__ import annotations

import pytest
from pydantic import BaseModel
from standin import Environment, StandIn

from thoughtcode.coders import CoderFatalError, LLMClient

PROVIDERS = ["openai:gpt-standin", "anthropic:claude-standin"]


class Echo(BaseModel):
    words: int


def answer(prompt: str, schema: dict | None) -> dict | str:
    return {"words": len(prompt.split())} if schema is not None else "hello " + prompt.split()[-1]


@pytest.fixture(scope="module")
def server():
    with StandIn(answer=answer) as standin:
        yield standin


@pytest.fixture
def env(server, monkeypatch):
    server.reset()
    server.api_key = None
    Environment(server).apply(monkeypatch)
    return server


def chat(text: str, system: str | None = None) -> list[dict[str, str]]:
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]


@pytest.mark.parametrize("spec", PROVIDERS)
def test_free_text_and_structured_answers_in_order(env, spec):
    client = LLMClient(spec, cache=None, concurrency=3)
    texts = client.generate_many_sync([chat(f"say {i}", system="Be brief.") for i in range(5)], max_tokens=50)
    assert [a.value for a in texts] == [f"hello {i}" for i in range(5)]
    assert all(a.ok and a.attempts == 1 and not a.cached for a in texts)
    assert "Be brief." in env.log[0].prompt  # the system turn reached the provider (Anthropic: as `system`)
    [structured] = client.ask_many_sync([chat("one two three")], Echo)
    assert isinstance(structured.value, Echo) and structured.value.words == 3
    assert client.stats["requests"] == 6 == env.requests
    assert client.stats["tokens_in"] == env.tokens_in == sum(a.tokens_in for a in [*texts, structured])


@pytest.mark.parametrize("spec", PROVIDERS)
def test_truncated_free_text_is_a_failure(env, spec):
    env.queue("truncate")
    answer = LLMClient(spec, cache=None).generate_sync(chat("a long story"), max_tokens=7)
    assert answer.value is None and not answer.ok
    assert answer.error.startswith("truncated answer") and "max_tokens=7" in answer.error
    assert answer.tokens_out == env.tokens_out > 0


def test_cached_answers_need_no_request_and_no_key(env, tmp_path, monkeypatch):
    cache = tmp_path / "cache.sqlite"
    first = LLMClient("openai:m", cache=cache).generate_many_sync([chat("x"), chat("y")], cache_namespace="test")
    monkeypatch.delenv("OPENAI_API_KEY")
    again = LLMClient("openai:m", cache=cache).generate_many_sync([chat("x"), chat("y")], cache_namespace="test")
    assert env.requests == 2 and [a.value for a in again] == [a.value for a in first]
    assert all(a.cached and a.attempts == 0 for a in again) and again[0].tokens_in == first[0].tokens_in
    other = LLMClient("openai:m", cache=cache, temperature=0.5)  # other settings, other key: a new request
    monkeypatch.setenv("OPENAI_API_KEY", "sk-standin-SECRET-0123456789abcdef")
    assert not other.generate_sync(chat("x"), cache_namespace="test").cached and env.requests == 3


def test_a_bad_key_stops_everything(env):
    env.api_key = "the-right-key-000000"
    with pytest.raises(CoderFatalError, match="HTTP 401"):
        LLMClient("openai:m", cache=None).ask_many_sync([chat("a"), chat("b")], Echo)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"retry-after": "2"}, 2.0), ({"retry-after-ms": "1500"}, 1.5), ({"retry-after": "soon"}, None), ({}, None),
     ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0)],
)
def test_retry_after_header_forms(headers, expected):
    """A malformed Retry-After means 'no advice' (back off as usual); it must not fail the request."""
    from types import SimpleNamespace

    from thoughtcode.coders.client import retry_after_seconds

    exc = SimpleNamespace(response=SimpleNamespace(headers=headers))
    assert retry_after_seconds(exc) == expected
