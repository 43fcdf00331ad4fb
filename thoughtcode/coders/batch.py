"""Provider batch APIs (OpenAI Batch, Anthropic Message Batches) for large coding jobs: half price, no rate limits.

The coder (``LLMCoder`` with ``batch=True``) builds its first request for every batch of units exactly as
it would send it (prompt, response model, instructor's tool or JSON-mode instructions:
:meth:`LLMClient.request_body`), and :func:`submit_batch` sends them all as one provider batch, polls it
until it ends and hands back, per request, what to use as its first answer:

* a valid answer, validated with instructor against the same response model (:meth:`LLMClient.read_completion`),
  with the tokens of the batch result's usage;
* a truncated or empty answer: a failure, as on the normal path (a batch of units then falls back to its
  units alone, exactly like the normal path does);
* an invalid answer: re-asked through the normal path (:meth:`LLMClient.ask`), the batch answer counting
  as the first attempt, so there are at most ``max_retries`` re-asks as on the normal path; their tokens
  are added. (The re-ask sends the original messages, not the invalid answer with its error.)
* a request the batch did not answer (error file / errored result, expired batch): asked through the
  normal path.

Everything after the first answer (per-unit fallbacks, records, cache, tokens) is the coder's ordinary path.
The id of a submitted batch is kept in a small state file next to OUT (``OUT.batch.json``): a re-run of the
same command after an interruption resumes polling that batch instead of submitting and paying again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from thoughtcode.coders.client import Answer, LLMClient
from thoughtcode.coders.spec import redact

log = logging.getLogger(__name__)

OPENAI_ENDPOINT = "/v1/chat/completions"
OPENAI_DONE = {"completed", "failed", "expired", "cancelled"}
Result = tuple[str, Any]  # ("ok", completion body) or ("error", reason)
Asker = Callable[[], Awaitable[Answer[Any]]]


class BatchError(ValueError):
    """A batch that cannot be used or resumed (the message says why and what to do)."""


def batch_state_path(out: str | Path) -> Path:
    """The state file of a batch run writing to ``out``: ``OUT.batch.json`` next to it."""
    out = Path(out)
    return out.with_name(out.name + ".batch.json")


def forget_batch(state_path: str | Path | None) -> None:
    """Remove the state file once every answer of its batch has been recorded."""
    if state_path is not None:
        Path(state_path).unlink(missing_ok=True)


def _custom_ids(bodies: Sequence[dict[str, Any]], samples: Sequence[int]) -> list[str]:
    """A stable id per request (content and sample index), so a resumed run finds its requests again."""
    seen: dict[str, int] = {}
    ids = []
    for body, sample in zip(bodies, samples, strict=True):
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()[:40]
        base = f"s{sample}-{digest}"
        seen[base] = seen.get(base, -1) + 1
        ids.append(f"{base}-{seen[base]}")
    return ids


def _load_state(path: Path | None, client: LLMClient) -> dict[str, Any] | None:
    if path is None or not path.exists():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if state.get("coder") != client.name or not state.get("id") or not isinstance(state.get("requests"), list):
            raise ValueError("not a batch of this coder")
    except (OSError, ValueError) as exc:
        raise BatchError(f"{path}: cannot resume this batch ({exc}); delete the file to submit a new batch") from None
    return state


def _save_state(path: Path | None, state: dict[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


# --- OpenAI ----------------------------------------------------------------------------------------------
async def _openai_create(client: LLMClient, requests: dict[str, dict[str, Any]]) -> str:
    sdk = client.sdk()
    lines = [json.dumps({"custom_id": cid, "method": "POST", "url": OPENAI_ENDPOINT, "body": body}, ensure_ascii=False)
             for cid, body in requests.items()]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    uploaded = await client.with_http_retries(sdk.files.create)(file=("thoughtcode-batch.jsonl", data, "application/jsonl"), purpose="batch")
    batch = await client.with_http_retries(sdk.batches.create)(
        input_file_id=uploaded.id, endpoint=OPENAI_ENDPOINT, completion_window="24h"
    )
    return str(batch.id)


async def _openai_results(client: LLMClient, batch_id: str, poll_interval: float) -> dict[str, Result]:
    sdk = client.sdk()
    retrieve = client.with_http_retries(sdk.batches.retrieve)
    while True:
        batch = await retrieve(batch_id)
        if batch.status in OPENAI_DONE:
            break
        log.info("batch %s: %s", batch_id, batch.status)
        await asyncio.sleep(poll_interval)
    if batch.status == "failed":
        errors = "; ".join(str(e.message) for e in (batch.errors.data or [])) if batch.errors else "no reason given"
        raise BatchError(f"{client.name}: batch {batch_id} failed: {redact(errors)}")
    results: dict[str, Result] = {}
    for file_id in (batch.output_file_id, batch.error_file_id):
        if not file_id:
            continue
        content = await client.with_http_retries(sdk.files.content)(file_id)
        for line in content.text.splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            response = row.get("response") or {}
            if row.get("error") is None and response.get("status_code") == 200:
                results[row["custom_id"]] = ("ok", response.get("body"))
            else:
                detail = row.get("error") or (response.get("body") or {}).get("error") or {}
                message = detail.get("message") if isinstance(detail, dict) else detail
                results[row["custom_id"]] = ("error", f"batch request failed (HTTP {response.get('status_code')}): {message}")
    return results


# --- Anthropic ---------------------------------------------------------------------------------------------
async def _anthropic_create(client: LLMClient, requests: dict[str, dict[str, Any]]) -> str:
    sdk = client.sdk()
    batch = await client.with_http_retries(sdk.messages.batches.create)(
        requests=[{"custom_id": cid, "params": body} for cid, body in requests.items()]
    )
    return str(batch.id)


async def _anthropic_results(client: LLMClient, batch_id: str, poll_interval: float) -> dict[str, Result]:
    sdk = client.sdk()
    retrieve = client.with_http_retries(sdk.messages.batches.retrieve)
    while True:
        batch = await retrieve(batch_id)
        if batch.processing_status == "ended":
            break
        log.info("batch %s: %s", batch_id, batch.processing_status)
        await asyncio.sleep(poll_interval)
    results: dict[str, Result] = {}
    decoder = await client.with_http_retries(sdk.messages.batches.results)(batch_id)
    async for item in decoder:
        result = item.result
        if result.type == "succeeded":
            results[item.custom_id] = ("ok", result.message.model_dump(mode="json"))
        else:
            error = getattr(getattr(getattr(result, "error", None), "error", None), "message", None)
            results[item.custom_id] = ("error", f"batch request {result.type}" + (f": {error}" if error else ""))
    return results


# --- the run -----------------------------------------------------------------------------------------------
def _asker(client: LLMClient, request: Any, result: Result | None) -> Asker:
    async def first() -> Answer[Any]:
        if result is None or result[0] != "ok":  # the batch did not answer it: ask through the normal path
            return await client.ask(request.messages, request.schema, max_tokens=request.max_tokens)
        answer, reask = client.read_completion(result[1], request.schema, request.max_tokens)
        retries = client.options.max_retries
        if answer.ok or not reask or retries == 0:
            return answer
        # The batch answer was the first attempt: the normal path makes the remaining max_retries.
        again = await client.ask(request.messages, request.schema, max_tokens=request.max_tokens, max_retries=retries - 1)
        error = again.error
        if error is not None:
            error = f"{error} (after an invalid batch answer: {answer.error})"
        return Answer(again.value, error, answer.tokens_in + again.tokens_in, answer.tokens_out + again.tokens_out,
                      False, again.attempts)

    return first


async def submit_batch(client: LLMClient, requests: Sequence[Any], state_path: str | Path | None,
                       poll_interval: float = 30.0) -> list[Asker]:
    """Send the first request of every ``requests`` item (``llm.FirstRequest``) as one provider batch, or
    resume the batch recorded in ``state_path``; wait for it and return, per request, its first answer's
    asker. Call inside ``async with client``."""
    if client.spec.provider not in ("openai", "anthropic"):
        raise BatchError(f"{client.name}: batch mode needs an openai: or anthropic: coder")
    path = Path(state_path) if state_path is not None else None
    bodies = [client.request_body(r.messages, r.schema, r.max_tokens) for r in requests]
    ids = _custom_ids(bodies, [r.sample for r in requests])
    openai = client.spec.provider == "openai"
    state = _load_state(path, client)
    if state is not None:
        missing = set(ids) - set(state["requests"])
        if missing:
            raise BatchError(
                f"{path} holds batch {state['id']} of other requests ({len(missing)} of this run's {len(ids)} are not in it: "
                "options, prompt or input changed); re-run with the same options to finish it, or delete the file to submit a new batch"
            )
        batch_id = str(state["id"])
        log.info("resuming batch %s", batch_id)
    else:
        unique = dict(zip(ids, bodies, strict=True))
        batch_id = await (_openai_create if openai else _anthropic_create)(client, unique)
        _save_state(path, {"id": batch_id, "coder": client.name, "provider": client.spec.provider, "requests": ids})
        log.info("submitted batch %s with %d request(s)", batch_id, len(unique))
    results = await (_openai_results if openai else _anthropic_results)(client, batch_id, poll_interval)
    return [_asker(client, request, results.get(cid)) for request, cid in zip(requests, ids, strict=True)]
