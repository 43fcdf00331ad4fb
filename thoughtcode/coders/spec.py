"""Coder specs (``local``, ``openai:MODEL``, ...) and the keys they need, kept out of every output.

A spec is what the user types after ``--coder``; it is also the ``coder`` column of every label, so it must
be readable and must never carry a secret. Keys come only from environment variables, and
:func:`redact` scrubs them (and anything that looks like a key) from every error message we record.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

Provider = Literal["local", "openai", "anthropic", "openai-compatible"]
PROVIDERS: tuple[str, ...] = ("local", "openai", "anthropic", "openai-compatible")

#: Environment variable holding the key of each provider. OpenAI-compatible servers get their own variable
#: so a real OpenAI key is never sent to a third-party or self-hosted endpoint by accident.
KEY_ENV: dict[str, str] = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "openai-compatible": "OPENAI_COMPATIBLE_API_KEY",
}
#: Environment variables that override the default endpoint of the hosted providers (proxies, gateways).
BASE_URL_ENV: dict[str, str] = {"openai": "OPENAI_BASE_URL", "anthropic": "ANTHROPIC_BASE_URL"}
#: Key sent to OpenAI-compatible servers that need none (vLLM, Ollama, llama.cpp accept any string).
NO_KEY = "not-needed"

_KEYLIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{12,}")
_BEARER = re.compile(r"(?i)(bearer\s+|x-api-key[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9_\-.]{8,}")


class CoderSpecError(ValueError):
    """A ``--coder`` value that cannot be used; the message says what would work."""


@dataclass(frozen=True)
class CoderSpec:
    """A parsed coder spec.

    ``text`` is the spec as shown in provenance (any user:password in a base URL removed); ``model`` the model
    name sent to the provider; ``base_url`` the endpoint (``None``: the SDK's default or its env override);
    ``path`` the model file of a ``local:PATH`` spec.
    """

    text: str
    provider: Provider
    model: str | None = None
    base_url: str | None = None
    path: str | None = None

    @property
    def is_llm(self) -> bool:
        return self.provider != "local"

    def api_key(self, environ: dict[str, str] | os._Environ[str] | None = None) -> str:
        """The key from the environment; required for hosted providers, optional for compatible servers."""
        env = os.environ if environ is None else environ
        if self.provider == "local":
            raise CoderSpecError("the local coder needs no key")
        variable = KEY_ENV[self.provider]
        key = env.get(variable, "").strip()
        if key:
            return key
        if self.provider == "openai-compatible":
            return NO_KEY
        raise CoderSpecError(f"{self.provider} needs an API key: set the environment variable {variable}")

    def endpoint(self, environ: dict[str, str] | os._Environ[str] | None = None) -> str | None:
        """Base URL to call: the spec's own, or the provider's env override, or ``None`` for the default."""
        if self.base_url:
            return self.base_url
        env = os.environ if environ is None else environ
        variable = BASE_URL_ENV.get(self.provider)
        return (env.get(variable) or None) if variable else None

    def shown_endpoint(self, environ: dict[str, str] | os._Environ[str] | None = None) -> str | None:
        """:meth:`endpoint` as it may appear in messages: any user:password in the URL removed."""
        url = self.endpoint(environ)
        return _strip_userinfo(url) if url else url


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


def parse_spec(text: str) -> CoderSpec:
    """Parse ``local``, ``local:PATH``, ``openai:MODEL``, ``anthropic:MODEL``, ``openai-compatible:URL#MODEL``."""
    raw = text.strip()
    if not raw:
        raise CoderSpecError("empty coder spec; use local, openai:MODEL, anthropic:MODEL or openai-compatible:URL#MODEL")
    provider, sep, rest = raw.partition(":")
    provider = provider.lower()
    if provider == "local":
        return CoderSpec(text=raw, provider="local", model=None, path=rest or None)
    if provider not in PROVIDERS:
        raise CoderSpecError(
            f"unknown coder {raw!r}; use local, local:PATH, openai:MODEL, anthropic:MODEL or "
            "openai-compatible:BASE_URL#MODEL"
        )
    if not sep or not rest.strip():
        example = "openai-compatible:http://127.0.0.1:8000/v1#MODEL" if provider == "openai-compatible" else f"{provider}:MODEL"
        raise CoderSpecError(f"coder {raw!r} names no model; write it as {example}")
    if provider == "openai-compatible":
        url, hash_sign, model = rest.rpartition("#")
        if not hash_sign or not url or not model:
            raise CoderSpecError(
                f"coder {raw!r}: write openai-compatible:BASE_URL#MODEL, e.g. openai-compatible:http://127.0.0.1:8000/v1#llama3"
            )
        if not re.match(r"^https?://", url):
            raise CoderSpecError(f"coder {raw!r}: the base URL must start with http:// or https://")
        clean = _strip_userinfo(url)
        return CoderSpec(text=f"openai-compatible:{clean}#{model}", provider="openai-compatible", model=model, base_url=url)
    return CoderSpec(text=raw, provider=provider, model=rest.strip())  # type: ignore[arg-type]


def known_secrets(environ: dict[str, str] | os._Environ[str] | None = None) -> list[str]:
    """The key values currently in the environment (to scrub from messages)."""
    env = os.environ if environ is None else environ
    return [v for name in KEY_ENV.values() if len(v := env.get(name, "").strip()) >= 4]


def redact(text: Any, secrets: list[str] | None = None) -> str:
    """``text`` with every known key and anything shaped like a key replaced by ``***``."""
    out = str(text)
    for secret in sorted(set(known_secrets() + list(secrets or [])), key=len, reverse=True):
        if secret and secret != NO_KEY:
            out = out.replace(secret, "***")
    out = _KEYLIKE.sub("***", out)
    return _BEARER.sub(lambda m: m.group(1) + "***", out)


def make_coder(spec: str | CoderSpec, **options: Any):
    """Build the coder a spec names; ``options`` go to the LLM coder (ignored by the local coder)."""
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    if parsed.provider == "local":
        try:
            from thoughtcode.coders.local import load_local_coder
        except ImportError as exc:  # the local coder ships separately
            raise CoderSpecError(f"the local coder is not available in this installation ({exc})") from None
        return load_local_coder(parsed.text)
    from thoughtcode.coders.llm import LLMCoder

    return LLMCoder(parsed, **options)
