"""Provider batch APIs (``--batch``): the real openai and anthropic SDKs against the stand-in server's batch
endpoints (file upload, batch create/retrieve, results), nothing mocked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from standin import Environment

from thoughtcode.cli import main
from thoughtcode.coders import LLMCoder, run_coding
from thoughtcode.coders.batch import batch_state_path

PROVIDERS = ["openai:gpt-standin", "anthropic:claude-standin"]
BATCH = {"batch": True, "poll_interval": 0.01, "backoff": 0.01, "cache": None}


@pytest.fixture
def env(server, monkeypatch):
    server.reset()
    server.api_key = None
    server.rule = None
    server.keywords = {}
    environment = Environment(server).apply(monkeypatch)
    server.key = environment.key
    return server


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("units_per_request", [1, 3])
@pytest.mark.parametrize("spec", PROVIDERS)
def test_batch_gives_the_labels_of_the_synchronous_path_and_the_servers_tokens(env, spec, units_per_request, reasons, reason_units, sample_file, tmp_path):
    units = reason_units[:6]
    synchronous = LLMCoder(spec, cache=None, units_per_request=units_per_request).code(units, reasons, "reasons")
    env.reset()
    env.batch_in_progress = 2
    out = tmp_path / "labels.jsonl"
    coder = LLMCoder(spec, units_per_request=units_per_request, **BATCH)
    summary = run_coding(sample_file, "reasons", coder, out, limit=6, progress=False, bootstrap=10)
    rows = _rows(out)
    assert [r["unit_id"] for r in rows] == [u.unit_id for u in units]
    assert [r["label"] for r in rows] == [r.label for r in synchronous]
    assert all(r["status"] == "ok" and r["coder"] == spec for r in rows)
    assert len(env.batch_creates) == 1 and env.batch_polls >= 3  # two "in_progress" polls, then done
    assert env.requests == 6 // units_per_request  # every request answered by the batch, none sent alone
    assert summary["tokens_in"] == sum(r["tokens_in"] for r in rows) == env.tokens_in > 0
    assert summary["tokens_out"] == sum(r["tokens_out"] for r in rows) == env.tokens_out > 0
    assert not batch_state_path(out).exists()  # finished: nothing left to resume


@pytest.mark.parametrize("spec", PROVIDERS)
def test_invalid_batch_answer_is_reasked_through_the_normal_path(env, spec, reasons, reason_units):
    units = reason_units[:3]
    env.queue("bad_label")  # the first request of the batch names a code outside the codebook
    records = LLMCoder(spec, **BATCH).code(units, reasons, "reasons")
    assert [r.status for r in records] == ["ok"] * 3
    assert [r.label for r in records] == [env.choose(u.text, reasons.label_ids) for u in units]
    assert env.requests == 4 and len(env.batch_creates) == 1  # 3 in the batch, 1 re-ask alone
    assert sum(r.tokens_in for r in records) == env.tokens_in and sum(r.tokens_out for r in records) == env.tokens_out


@pytest.mark.parametrize("spec", PROVIDERS)
def test_answer_that_stays_invalid_is_recorded_failed(env, spec, reasons, reason_units):
    unit = reason_units[2]
    env.triggers[unit.text.strip()[:40]] = "bad_label"
    [record] = LLMCoder(spec, max_retries=2, **BATCH).code([unit], reasons, "reasons")
    assert record.status == "failed" and record.label is None
    assert "not_a_code" in record.error and "invalid batch answer" in record.error
    assert env.requests == 3  # the batch answer, then max_retries re-asks through the normal path, as without --batch
    assert record.tokens_in == env.tokens_in and record.tokens_out == env.tokens_out


@pytest.mark.parametrize("spec", PROVIDERS)
def test_truncated_batch_answer_is_a_failure(env, spec, reasons, reason_units):
    env.queue("truncate")
    [record] = LLMCoder(spec, **BATCH).code(reason_units[:1], reasons, "reasons")
    assert record.status == "failed" and record.label is None and "truncated" in record.error
    assert env.requests == 1 and record.tokens_out == env.tokens_out > 0


def test_errored_batch_request_is_asked_again_alone(env, reasons, reason_units):
    env.queue("500")
    records = LLMCoder("anthropic:claude-standin", **BATCH).code(reason_units[:2], reasons, "reasons")
    assert [r.status for r in records] == ["ok", "ok"] and env.requests == 3


@pytest.mark.parametrize("spec", PROVIDERS)
def test_cached_units_are_not_resubmitted(env, spec, reasons, reason_units, sample_file, tmp_path):
    cache = tmp_path / "cache.sqlite"
    LLMCoder(spec, cache=cache).code(reason_units[:2], reasons, "reasons")
    env.reset()
    out = tmp_path / "labels.jsonl"
    coder = LLMCoder(spec, **(BATCH | {"cache": cache}))
    summary = run_coding(sample_file, "reasons", coder, out, limit=5, progress=False, bootstrap=10)
    assert summary["cached"] == 2 and summary["coded"] == 5
    assert len(env.batch_creates) == 1 and env.requests == 3
    assert {u.text for log in env.log for u in log.units} == {u.text.strip() for u in reason_units[2:5]}


@pytest.mark.parametrize("spec", PROVIDERS)
def test_interrupted_batch_run_resumes_the_same_batch(env, spec, reasons, sample_file, tmp_path):
    env.batch_in_progress = 10**6  # the batch waits until the test lets it finish
    out = tmp_path / "labels.jsonl"
    args = ["code", str(sample_file), "--scheme", "reasons", "--coder", spec, "--out", str(out), "--limit", "4",
            "--batch", "--poll-interval", "0.01", "--no-cache", "--no-progress", "--bootstrap", "10"]
    environ = os.environ | Environment(env).variables()
    process = subprocess.Popen([sys.executable, "-m", "thoughtcode.cli", *args], env=environ,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while env.batch_polls < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        assert env.batch_polls >= 2, process.stderr.read().decode() if process.poll() is not None else "no poll"
    finally:
        process.kill()
        process.wait()
    state = json.loads(batch_state_path(out).read_text())
    assert state["id"] == env.batch_creates[0] and state["coder"] == spec
    assert not out.exists() or not _rows(out)  # nothing recorded before the batch ended
    env.batch_in_progress = 0
    assert main(args) == 0
    assert env.batch_creates == [state["id"]]  # resumed, not submitted again
    rows = _rows(out)
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows) and env.requests == 4
    assert not batch_state_path(out).exists()


@pytest.mark.parametrize("coder", ["local", "openai-compatible:http://127.0.0.1:9/v1#m"])
def test_batch_needs_a_provider_batch_api(coder, sample_file, tmp_path, capsys):
    code = main(["code", str(sample_file), "--scheme", "reasons", "--coder", coder, "--out", str(tmp_path / "o.jsonl"), "--batch"])
    assert code == 2 and "--batch" in capsys.readouterr().err
