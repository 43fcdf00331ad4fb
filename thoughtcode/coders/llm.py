"""LLM coders (OpenAI, Anthropic, any OpenAI-compatible server) built on instructor.

Every request goes through :class:`~thoughtcode.coders.client.LLMClient`, which owns what all LLM users of
thoughtcode share: providers and keys, HTTP retries (429 with ``Retry-After``, 5xx, timeouts), validation
re-asks up to ``max_retries``, truncation as failure, token accounting over every attempt and the concurrency
limit. What is added here is what coding needs on top:

* **Codebook answers.** The answer must validate against a response model generated from the codebook
  (``coders.response``); an answer that stays invalid is recorded as ``failed`` with the reason. There is no
  default label anywhere.
* **Batching.** ``units_per_request=K`` codes K units per request, paying for the codebook once. Units
  whose key is missing from the answer, or given twice with different codes, are re-asked alone; so is every
  unit of a batch whose answer failed as a whole.
* **Samples.** ``samples=K`` codes each unit K times and keeps the majority; the confidence is then the
  share of samples that agree with it.
* **Cache per unit.** Validated codes are stored in SQLite (``coders.cache``) per unit and sample, under a
  key of provider, endpoint, model, settings (``units_per_request`` among them), prompt, codebook and unit
  content, so a re-run costs nothing even when a resumed run groups the remaining units into other batches.
* **Provider batch APIs.** ``batch=True`` sends every first request through the OpenAI or Anthropic batch
  API (``coders.batch``); answers then take the same path as above (validation, fallbacks, records, cache).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from thoughtcode.coders.cache import LabelCache, cache_key
from thoughtcode.coders.client import Answer, ClientOptions, LLMClient, gather_all, run_sync
from thoughtcode.coders.prompts import PromptBuilder, RenderedUnit, load_template
from thoughtcode.coders.response import answer_labels, response_model
from thoughtcode.coders.spec import CoderSpec, CoderSpecError, parse_spec
from thoughtcode.corpus.units import Unit
from thoughtcode.labels import LabelRecord, utc_now
from thoughtcode.taxonomy import Codebook

RecordCallback = Callable[[LabelRecord, bool], None]
Asker = Callable[[], Awaitable[Answer[Any]]]


@dataclass
class FirstRequest:
    """The first request for some units in one sample (one unit, or a batch of ``units_per_request``):
    its messages, the response model its answer must validate against and its output token limit."""

    units: list[RenderedUnit]
    sample: int
    messages: list[dict[str, Any]]
    schema: Any
    max_tokens: int


@dataclass
class LLMOptions(ClientOptions):
    """Options of an LLM coder: the client's (:class:`~thoughtcode.coders.client.ClientOptions`) and the
    coding ones. Those in :meth:`output_settings` change answers and are recorded with every label;
    ``max_tokens`` None sizes each request's limit by its number of units."""

    units_per_request: int = 1
    samples: int = 1
    few_shot: int = 0
    examples: str | Path | None = None
    prompt: str | Path | None = None
    seed: int = 0
    batch: bool = False
    poll_interval: float = 30.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check({"units_per_request": self.units_per_request >= 1, "samples": self.samples >= 1, "few_shot": self.few_shot >= 0,
                     "poll_interval": self.poll_interval > 0})
        if self.few_shot and self.examples is None:
            raise ValueError("--few-shot needs --examples FILE (a labelled corpus or a table with text and label)")

    def client_options(self) -> dict[str, Any]:
        """The options that configure the :class:`LLMClient` (the coder keeps its own unit-level cache)."""
        return {f.name: getattr(self, f.name) for f in fields(ClientOptions)} | {"cache": None}

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
        if self.options.batch and self.spec.provider not in ("openai", "anthropic"):
            raise CoderSpecError(f"--batch needs an openai: or anthropic: coder (a provider batch API), not {self.spec.text!r}")
        self.client = LLMClient(self.spec, **self.options.client_options())
        self.name = self.spec.text
        self.model = self.spec.model
        self.settings = self.options.output_settings()
        self._cache_hits = 0
        self._reasked_alone = 0

    @property
    def stats(self) -> dict[str, int]:
        """Counters of the last run: the client's (requests, HTTP attempts and retries, re-asks, tokens) plus
        units served from the coder's cache and units of a batch re-asked alone."""
        return self.client.stats | {"cache_hits": self._cache_hits, "units_reasked_alone": self._reasked_alone}

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
        batch_state: str | Path | None = None,
    ) -> list[LabelRecord]:
        """Code ``units`` concurrently; ``on_record(record, cached)`` is called as each unit is finished.

        ``exclude_conversations``: conversations whose units must not be used as few-shot examples
        (default: those of ``units``); the runner passes every conversation of the input so that the
        examples, and so the prompt hash, do not depend on which units are still to do.

        With the ``batch`` option the first request of every batch of units goes through the provider's
        batch API (``coders.batch``); ``batch_state`` is the file that keeps the submitted batch's id so
        that a re-run resumes it.
        """
        self.client.reset_stats()
        self._cache_hits = self._reasked_alone = 0
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
                        self._cache_hits += 1
                        results[unit.unit_id][sample] = _Sample(
                            answer["labels"], answer.get("rationale"), answer.get("confidence"),
                            answer.get("prompt_hash") or run_builder.prompt_hash, hit["tokens_in"], hit["tokens_out"], None, True,
                        )
                    else:
                        pending[sample].append(unit)
            for unit in rendered:  # units entirely served from the cache are finished right away
                finish(unit.unit_id)

            if any(pending):
                # Wrapped once here: instructor would otherwise rebuild the schema class on every call.
                from instructor import response_schema

                single_model = response_schema(response_model(codebook, batch=False))
                batch_model = response_schema(response_model(codebook, batch=True))

                async def ask_alone(unit: RenderedUnit, sample: int, share: tuple[int, int] = (0, 0), first: Asker | None = None) -> None:
                    messages, _ = single.messages([unit])
                    if first is None:
                        outcome = await self.client.ask(messages, single_model, max_tokens=self.options.max_tokens_for(1))
                    else:
                        outcome = await first()
                    tokens_in = share[0] + outcome.tokens_in
                    tokens_out = share[1] + outcome.tokens_out
                    answer = outcome.value
                    if answer is None:
                        deliver(unit, sample, _Sample(None, None, None, single.prompt_hash, tokens_in, tokens_out, outcome.error))
                        return
                    deliver(
                        unit,
                        sample,
                        _Sample(answer_labels(answer), answer.rationale, float(answer.confidence), single.prompt_hash, tokens_in, tokens_out),
                    )

                async def ask_batch(chunk: list[RenderedUnit], sample: int, first: Asker) -> None:
                    _, unit_keys = batch.messages(chunk)
                    outcome = await first()
                    shares_in = _split(outcome.tokens_in, len(chunk))
                    shares_out = _split(outcome.tokens_out, len(chunk))
                    by_key: dict[str, list[Any]] = {}
                    if outcome.value is not None:
                        for item in outcome.value.answers:
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
                    self._reasked_alone += len(alone)
                    await gather_all(alone)

                size = self.options.units_per_request
                requests: list[FirstRequest] = []
                for sample, todo in enumerate(pending):
                    for start in range(0, len(todo), size):
                        chunk = todo[start : start + size]
                        grouped = use_batch and len(chunk) > 1
                        messages, _ = (batch if grouped else single).messages(chunk)
                        requests.append(FirstRequest(chunk, sample, messages, batch_model if grouped else single_model,
                                                     self.options.max_tokens_for(len(chunk))))
                async with self.client:  # one connection pool for the whole run (opened before any job exists)
                    if self.options.batch:
                        from thoughtcode.coders.batch import submit_batch

                        askers = await submit_batch(self.client, requests, batch_state, self.options.poll_interval)
                    else:
                        askers = [functools.partial(self.client.ask, r.messages, r.schema, max_tokens=r.max_tokens) for r in requests]
                    await gather_all(
                        ask_batch(r.units, r.sample, first) if len(r.units) > 1 else ask_alone(r.units[0], r.sample, first=first)
                        for r, first in zip(requests, askers, strict=True)
                    )
        finally:
            if cache is not None:
                cache.close()
        if self.options.batch:  # every answer of the batch is recorded: nothing left to resume
            from thoughtcode.coders.batch import forget_batch

            forget_batch(batch_state)
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
