"""The coding runner and `thoughtcode code`: append-as-you-go output, resume, retry of failures, summary,
and a run killed with SIGKILL and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from standin import Environment

from thoughtcode.cli import main
from thoughtcode.coders import LLMCoder, RunError, read_out, run_coding
from thoughtcode.corpus import load_corpus, units_for

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(server, monkeypatch):
    server.reset()
    server.latency = 0.0
    server.keywords = {}
    environment = Environment(server).apply(monkeypatch)
    server.key = environment.key
    return server


def ids_in(path: Path) -> Counter:
    return Counter(row["unit_id"] for row in read_out(path, repair=False))


def test_resume_codes_only_what_is_missing(env, sample_file, tmp_path):
    out = tmp_path / "labels.jsonl"
    first = run_coding(sample_file, "reasons", LLMCoder("openai:m", cache=None), out, limit=10, progress=False)
    assert first["coded"] == 10 and first["already_done"] == 0 and env.requests == 10
    second = run_coding(sample_file, "reasons", LLMCoder("openai:m", cache=None), out, progress=False)
    total = len(list(units_for(load_corpus(sample_file), "reason")))
    assert second["already_done"] == 10 and second["coded"] == total - 10
    assert env.requests == total
    counts = ids_in(out)
    assert len(counts) == total and set(counts.values()) == {1}
    third = run_coding(sample_file, "reasons", LLMCoder("openai:m", cache=None), out, progress=False)
    assert third["coded"] == 0 and third["to_code"] == 0 and env.requests == total


def test_a_line_cut_short_by_a_kill_is_recoded(env, sample_file, tmp_path):
    out = tmp_path / "labels.jsonl"
    run_coding(sample_file, "reasons", LLMCoder("openai:m", cache=None), out, limit=4, progress=False)
    data = out.read_bytes()
    out.write_bytes(data[: -len(data.splitlines()[-1]) // 2 - 1])  # the last line loses its second half
    summary = run_coding(sample_file, "reasons", LLMCoder("openai:m", cache=None), out, limit=4, progress=False)
    assert summary["coded"] == 1 and summary["already_done"] == 3
    counts = ids_in(out)
    assert len(counts) == 4 and set(counts.values()) == {1}


def test_retry_failed_rewrites_one_row_per_unit(env, sample_file, tmp_path):
    units = list(units_for(load_corpus(sample_file), "reason"))[:6]
    env.triggers[units[2].text.strip()[:30]] = "bad_label"
    out = tmp_path / "labels.jsonl"
    first = run_coding(sample_file, "reasons", LLMCoder("openai:m", cache=None, max_retries=0), out, limit=6, progress=False)
    assert first["failed"] == 1 and first["failed_examples"][0]["unit_id"] == units[2].unit_id
    env.triggers.clear()
    again = run_coding(sample_file, "reasons", LLMCoder("openai:m", cache=None), out, limit=6, progress=False)
    assert again["to_code"] == 0  # a plain re-run does not touch recorded failures
    retried = run_coding(sample_file, "reasons", LLMCoder("openai:m", cache=None), out, limit=6, retry_failed=True, progress=False)
    assert retried["to_code"] == 1 and retried["coded"] == 1 and retried["failed_in_file"] == 0
    rows = read_out(out)
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows)
    assert not list(tmp_path.glob("*.tmp"))


def test_output_cannot_mix_coders_or_codebook_versions(env, sample_file, tmp_path):
    out = tmp_path / "labels.jsonl"
    run_coding(sample_file, "reasons", LLMCoder("openai:m", cache=None), out, limit=2, progress=False)
    with pytest.raises(RunError, match="mix coders"):
        run_coding(sample_file, "reasons", LLMCoder("anthropic:c", cache=None), out, limit=3, progress=False)
    rows = read_out(out)
    rows[0]["codebook"] = "reasons@0.9.0#00000000"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(RunError, match="codebook"):
        run_coding(sample_file, "reasons", LLMCoder("openai:m", cache=None), out, limit=3, progress=False)


def test_cli_code_prints_summary_with_agreement_and_cost(env, sample_file, tmp_path, capsys):
    out = tmp_path / "reactions.jsonl"
    cache = tmp_path / "cache.sqlite"
    argv = [
        "code", str(sample_file), "--scheme", "reactions", "--coder", "openai:gpt-standin", "--out", str(out),
        "--cache", str(cache), "--concurrency", "4", "--price-in", "2.5", "--price-out", "10", "--bootstrap", "200",
        "--limit", "30", "--no-progress", "--json",
    ]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    n = 30
    assert summary["coded"] == n and summary["failed"] == 0 and summary["cached"] == 0
    assert summary["tokens_in"] == env.tokens_in and summary["tokens_out"] == env.tokens_out
    expected = env.tokens_in / 1e6 * 2.5 + env.tokens_out / 1e6 * 10
    assert summary["cost"]["total"] == pytest.approx(expected, rel=1e-4)
    agreement = summary["agreement"]
    for name in ("kappa", "alpha", "accuracy", "macro-F1"):
        assert agreement[name]["value"] is not None and len(agreement[name]["ci"]) == 2
    matrix = agreement["confusion_matrix"]
    assert sum(map(sum, matrix["matrix"])) == n == agreement["n_units"]
    # the same command into a new file is served from the cache: no request, no token, no cost
    requests = env.requests
    assert main([*argv[:7], str(tmp_path / "again.jsonl"), *argv[8:]]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["cached"] == n and again["tokens_in"] == 0 and again["cost"]["total"] == 0 and env.requests == requests
    # text summary
    assert main(["code", str(sample_file), "--scheme", "topics", "--coder", "anthropic:c", "--out", str(tmp_path / "t.jsonl"),
                 "--no-cache", "--limit", "3", "--units-per-request", "3", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "coded 3 unit(s), failed 0" in text and "tokens in" in text
    rows = read_out(tmp_path / "t.jsonl")
    assert all(r["labels"] and r["label"] is None for r in rows)


def test_cli_errors_are_one_line(env, sample_file, tmp_path, capsys, monkeypatch):
    assert main(["code", str(sample_file), "--scheme", "reasons", "--coder", "gemini:x", "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "unknown coder" in capsys.readouterr().err
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    assert main(["code", str(sample_file), "--scheme", "reasons", "--coder", "anthropic:c", "--out", str(tmp_path / "o.jsonl"),
                 "--no-cache", "--no-progress"]) == 2
    assert "ANTHROPIC_API_KEY" in capsys.readouterr().err
    assert main(["code", str(sample_file), "--scheme", "reasons", "--coder", "openai:m", "--out", str(tmp_path / "o.csv")]) == 2
    assert ".jsonl" in capsys.readouterr().err


def test_killed_run_resumes_without_losing_or_duplicating(env, sample_file, tmp_path):
    env.latency = 0.06
    out = tmp_path / "labels.jsonl"
    command = [
        sys.executable, "-m", "thoughtcode.cli", "code", str(sample_file), "--scheme", "reactions", "--limit", "30",
        "--coder", "openai:gpt-standin", "--out", str(out), "--no-cache", "--concurrency", "2", "--no-progress",
    ]
    child_env = {**os.environ, **Environment(env).variables()}
    process = subprocess.Popen(command, env=child_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= 10:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    done_before = len(read_out(out, repair=False))
    units = list(units_for(load_corpus(sample_file), "reaction"))[:30]
    n = len(units)
    assert 10 <= done_before < n
    resumed = subprocess.run([*command, "--json"], env=child_env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["already_done"] == done_before and summary["coded"] == n - done_before
    counts = ids_in(out)
    assert len(counts) == n and set(counts.values()) == {1}
    assert set(counts) == {u.unit_id for u in units}
    # at most the requests in flight at the kill (concurrency 2) were made twice
    assert n <= env.requests <= n + 2


# --- one model per output file ---------------------------------------------------------------------------
def _set_model(path: Path, model: str) -> bytes:
    """Rewrite OUT as if its labels had been made by ``model`` (what a spec mapping to another model, or an
    older version of a model file, would have left) and return its bytes."""
    rows = read_out(path)
    path.write_text("".join(json.dumps({**r, "model": model}) + "\n" for r in rows))
    return path.read_bytes()


def test_resume_refuses_labels_of_another_llm_model(env, sample_file, tmp_path):
    out = tmp_path / "labels.jsonl"
    run_coding(sample_file, "reasons", LLMCoder("openai:m", cache=None), out, limit=3, progress=False)
    before = _set_model(out, "m-2024-01")
    requests = env.requests
    with pytest.raises(RunError) as caught:
        run_coding(sample_file, "reasons", LLMCoder("openai:m", cache=None), out, limit=6, progress=False)
    message = str(caught.value)
    assert str(out) in message and "'m-2024-01'" in message and "'m'" in message
    assert "new --out" in message and "delete the file" in message
    assert out.read_bytes() == before and env.requests == requests  # refused before asking or writing anything
    # the same model resumes as before
    _set_model(out, "m")
    summary = run_coding(sample_file, "reasons", LLMCoder("openai:m", cache=None), out, limit=6, progress=False)
    assert summary["already_done"] == 3 and summary["coded"] == 3 and summary["model"] == "m"
    assert {r["model"] for r in read_out(out)} == {"m"}


def test_retry_failed_refuses_labels_of_another_llm_model(env, sample_file, tmp_path):
    units = list(units_for(load_corpus(sample_file), "reason"))[:4]
    env.triggers[units[1].text.strip()[:30]] = "bad_label"
    out = tmp_path / "labels.jsonl"
    first = run_coding(sample_file, "reasons", LLMCoder("openai:m", cache=None, max_retries=0), out, limit=4, progress=False)
    assert first["failed"] == 1
    env.triggers.clear()
    before = _set_model(out, "m-2024-01")
    with pytest.raises(RunError, match="m-2024-01"):
        run_coding(sample_file, "reasons", LLMCoder("openai:m", cache=None), out, limit=4, retry_failed=True, progress=False)
    assert out.read_bytes() == before
    # failed rows carry no label: a file whose only rows of another model failed may be retried
    rows = read_out(out)
    out.write_text("".join(json.dumps(r) + "\n" for r in rows if r["status"] == "failed"))
    retried = run_coding(sample_file, "reasons", LLMCoder("openai:m", cache=None), out, limit=4, retry_failed=True, progress=False)
    assert retried["coded"] == 1 and [r["model"] for r in read_out(out)] == ["m"]


class _LateModelCoder:
    """A coder that can only tell its model once it has coded (``model`` None up front, no ``model_for``)."""

    def __init__(self, model: str):
        self.name, self.model, self.settings, self._model = "late", None, {}, model

    def code(self, units, codebook, scheme):
        from thoughtcode.labels import LabelRecord

        self.model = self._model
        return [LabelRecord(unit_id=u.unit_id, scheme=scheme, coder=self.name, model=self._model, codebook=codebook.ref,
                            label=codebook.label_ids[0]) for u in units]


def test_a_record_of_another_model_is_never_appended(sample_file, tmp_path):
    out = tmp_path / "labels.jsonl"
    run_coding(sample_file, "reasons", _LateModelCoder("v1"), out, limit=3, progress=False, bootstrap=0)
    before = out.read_bytes()
    with pytest.raises(RunError, match="'v1'.*'v2'.*new --out"):
        run_coding(sample_file, "reasons", _LateModelCoder("v2"), out, limit=6, progress=False, bootstrap=0)
    assert out.read_bytes() == before
    assert run_coding(sample_file, "reasons", _LateModelCoder("v1"), out, limit=6, progress=False, bootstrap=0)["coded"] == 3


def _train_model(sample_file: Path, path: Path, **params) -> str:
    """Train a reactions model on the bundled sample into ``path``; its ``model`` label (``m.joblib#hash8``)."""
    from thoughtcode.coders.local import load_model, save_model, train_local_model
    from thoughtcode.taxonomy import load_codebook

    units = list(units_for(load_corpus(sample_file), "reaction"))
    model, _ = train_local_model(units, [u.label for u in units], load_codebook("reactions"), "reactions", params=params)
    return load_model(save_model(model, path)).label


def test_resume_refuses_labels_of_a_retrained_local_model(sample_file, tmp_path):
    from thoughtcode.coders.local import load_local_coder

    path = tmp_path / "m.joblib"
    old = _train_model(sample_file, path, C=0.01, ngram_weight=0.5, calibration="none")
    out = tmp_path / "labels.jsonl"
    first = run_coding(sample_file, "reactions", load_local_coder(f"local:{path}"), out, limit=5, progress=False, bootstrap=0)
    assert first["coded"] == 5 and {r["model"] for r in read_out(out)} == {old}
    new = _train_model(sample_file, path, C=1.0, ngram_weight=0.2, calibration="none")  # retrained in place
    assert new != old and new.startswith("m.joblib#")
    before = out.read_bytes()
    for retry in (False, True):
        with pytest.raises(RunError) as caught:
            run_coding(sample_file, "reactions", load_local_coder(f"local:{path}"), out, limit=10, retry_failed=retry,
                       progress=False, bootstrap=0)
        message = str(caught.value)
        assert str(out) in message and repr(old) in message and repr(new) in message and "new --out" in message
        assert out.read_bytes() == before
    # into a new file, the retrained model codes as usual
    fresh = run_coding(sample_file, "reactions", load_local_coder(f"local:{path}"), tmp_path / "new.jsonl", limit=10,
                       progress=False, bootstrap=0)
    assert fresh["coded"] == 10 and {r["model"] for r in read_out(tmp_path / "new.jsonl")} == {new}
    assert first["model"] == old and fresh["model"] == new  # the summary names the model before any unit is coded


def test_resume_refuses_labels_of_an_older_shipped_model(sample_file, tmp_path):
    from thoughtcode.coders.local import load_local_coder

    out = tmp_path / "labels.jsonl"
    first = run_coding(sample_file, "reasons", load_local_coder("local"), out, limit=3, progress=False, bootstrap=0)
    assert first["model"].startswith("reasons.joblib#")
    before = _set_model(out, "reasons.joblib#00000000")  # labels of the model an earlier release shipped
    with pytest.raises(RunError, match=r"reasons\.joblib#00000000.*" + first["model"]):
        run_coding(sample_file, "reasons", load_local_coder("local"), out, limit=6, progress=False, bootstrap=0)
    assert out.read_bytes() == before
