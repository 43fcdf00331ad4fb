"""Coders: turn units into labels with a codebook (LLM coders through instructor, and a local coder).

Public API::

    make_coder("openai:gpt-4o-mini" | "anthropic:MODEL" | "openai-compatible:URL#MODEL" | "local", **options)
    LLMClient(spec, concurrency=8, max_retries=2, http_retries=6, timeout=60, backoff=1.0, temperature=None,
              max_tokens=None, mode="tools", cache=DEFAULT_CACHE)             # any structured or free-text call
        await .ask(messages, ResponseModel) / .ask_many(list_of_messages, ResponseModel) -> Answer(s)
        await .generate(messages) / .generate_many(list_of_messages) -> Answer(s) with the text
        .ask_sync / .ask_many_sync / .generate_sync / .generate_many_sync; .stats
    LLMCoder(spec, concurrency=8, units_per_request=1, samples=1, few_shot=0, examples=None, prompt=None,
             cache=DEFAULT_CACHE, max_retries=2, timeout=60, temperature=None, ...)
        .code(units, codebook, scheme) -> list[LabelRecord]       # the Coder protocol
        .acode(units, codebook, scheme, on_record=...)             # streaming form used by the runner
    run_coding(corpus_path, scheme, coder, out_path, codebook=None, retry_failed=False, ...) -> summary dict
    parse_spec(text) -> CoderSpec; redact(text) -> text without keys
    PromptBuilder, load_template, render_codebook, escape_data; response_model(codebook, batch=False)
    LabelCache(path); format_summary(summary)

Importing this package does not import instructor or the provider SDKs; they load on the first request.
"""

from thoughtcode.coders.base import Coder
from thoughtcode.coders.cache import DEFAULT_CACHE, LabelCache, cache_key
from thoughtcode.coders.client import Answer, ClientOptions, CoderFatalError, LLMClient
from thoughtcode.coders.llm import LLMCoder, LLMOptions
from thoughtcode.coders.prompts import (
    PromptBuilder,
    PromptError,
    PromptTemplate,
    escape_data,
    load_template,
    render_codebook,
)
from thoughtcode.coders.response import answer_labels, response_model
from thoughtcode.coders.run import RunError, read_out, resolve_codebook, run_coding
from thoughtcode.coders.spec import CoderSpec, CoderSpecError, make_coder, parse_spec, redact
from thoughtcode.coders.summary import agreement_summary, format_summary

__all__ = [
    "DEFAULT_CACHE",
    "Answer",
    "ClientOptions",
    "Coder",
    "CoderFatalError",
    "CoderSpec",
    "CoderSpecError",
    "LLMClient",
    "LLMCoder",
    "LLMOptions",
    "LabelCache",
    "PromptBuilder",
    "PromptError",
    "PromptTemplate",
    "RunError",
    "agreement_summary",
    "answer_labels",
    "cache_key",
    "escape_data",
    "format_summary",
    "load_template",
    "make_coder",
    "parse_spec",
    "read_out",
    "redact",
    "render_codebook",
    "resolve_codebook",
    "response_model",
    "run_coding",
]
