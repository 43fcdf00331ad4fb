"""The LLM-judged analyses (semantic coverage, inference difficulty) end to end through the CLI, against two
stand-in servers (real openai and anthropic SDKs through instructor, real HTTP on 127.0.0.1).

The stand-ins answer by transparent rules on the request text, recomputed here from the corpus with the
corpus API alone (not with :mod:`thoughtcode.analyses.judged`), so the tables can be checked value by value:

* judge (both analyses): 1 + the number of words two texts share, capped at 5; for coverage the texts are
  the thought and the message judged (a reason's own message, a reaction's next user message), for inference
  the inferred and the real thought.
* predictors (free text): the first 20 words (server A) or the first 6 words (server B) of the last message
  of the conversation they are shown, which is the message the thought belongs to.

They are not language models: these tests show that each model gets the right inputs, that answers are
parsed, failures counted and never scored, tokens accounted, calls cached, and the statistics right.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from standin import Environment, StandIn

from thoughtcode.analyses import load_inputs
from thoughtcode.analyses.judged import coverage_analysis, inference_analysis
from thoughtcode.analyses.studies.llm import ModelSettings
from thoughtcode.cli import main
from thoughtcode.corpus import load_corpus, thought_units

WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def overlap_score(a: str, b: str) -> int:
    return 1 + min(4, len(words(a) & words(b)))


def block(prompt: str, tag: str) -> str:
    match = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", prompt, re.DOTALL)
    return match.group(1) if match else ""


def first_words(n: int):
    def predict(text: str) -> str:
        return " ".join(text.split()[:n])

    return predict


def answerer(predict):
    def answer(prompt: str, schema: dict | None) -> dict | str:
        if "<inferred>" in prompt:
            return {"rationale": "shared words", "score": overlap_score(block(prompt, "inferred"), block(prompt, "actual"))}
        if "<reason>" in prompt:
            return {"rationale": "shared words", "score": overlap_score(block(prompt, "message"), block(prompt, "reason"))}
        if "<reaction>" in prompt:
            return {"rationale": "shared words", "score": overlap_score(block(prompt, "next_message"), block(prompt, "reaction"))}
        assert schema is None, "a predictor answers in free text"
        last = re.split(r"\n\n(?:User|Assistant): ", "\n\n" + block(prompt, "conversation"))[-1]
        return predict(last)

    return answer


PREDICT_A, PREDICT_B = first_words(20), first_words(6)


@pytest.fixture(scope="module")
def servers():
    with StandIn(answer=answerer(PREDICT_A)) as a, StandIn(answer=answerer(PREDICT_B)) as b:
        yield a, b


@pytest.fixture
def env(servers, monkeypatch):
    for server in servers:
        server.reset()
    Environment(servers[0]).apply(monkeypatch)
    return servers


@pytest.fixture(scope="module")
def units(sample_file):
    return {u.unit_id: u for u in thought_units(load_corpus(sample_file))}


def covering(unit) -> str:
    return unit.message if unit.kind == "reason" else unit.next_message


def check_means(summary: pd.DataFrame, expected: pd.DataFrame, by: list[str]) -> None:
    """Means, counts and intervals of the summary against the expected per-item scores."""
    means = expected.groupby(by)["score"].agg(["mean", "size"])
    for row in summary.itertuples():
        key = tuple(getattr(row, c) for c in by)
        assert row.mean == pytest.approx(means.loc[key if len(key) > 1 else key[0], "mean"])
        assert row.scored == row.items == means.loc[key if len(key) > 1 else key[0], "size"] and row.failed == 0
        assert row.ci_low <= row.mean <= row.ci_high


def test_coverage_end_to_end_with_cache(env, sample_file, units, tmp_path, capsys):
    server = env[0]
    out, cache = tmp_path / "coverage", tmp_path / "cache.sqlite"
    argv = ["analyze", "coverage", str(sample_file), "--judge", "anthropic:judge-standin", "--limit", "12",
            "--bootstrap", "300", "--cache", str(cache), "--out", str(out), "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)

    items = pd.read_csv(out / "tables" / "coverage_items.csv")
    coverable = [u for u in units.values() if covering(u) is not None]
    assert items.groupby("kind").size().to_dict() == {"reason": 12, "reaction": 12}
    assert set(items["item_id"]) <= {u.unit_id for u in coverable}
    expected = pd.DataFrame([{"kind": units[i].kind, "score": overlap_score(covering(units[i]), units[i].text)}
                             for i in items["item_id"]])
    assert items["score"].tolist() == expected["score"].tolist()  # every score as the rule gives it
    assert (items["status"] == "ok").all() and (items["judge"] == "anthropic:judge-standin").all()

    summary = pd.read_csv(out / "tables" / "coverage_summary.csv")
    check_means(summary, expected, ["kind"])
    assert dict(zip(summary["kind"], summary["paper"], strict=True)) == {"reason": 3.22, "reaction": 2.00}
    distribution = pd.read_csv(out / "tables" / "coverage_distribution.csv")
    counts = expected.groupby(["kind", "score"]).size()
    for row in distribution.itertuples():
        assert row.count == counts.get((row.kind, row.score), 0)
    assert sorted(set(distribution["score"])) == [1, 2, 3, 4, 5]
    pd.testing.assert_frame_equal(pd.DataFrame(data["summary"]), summary, check_dtype=False)  # --json says the same

    usage = pd.read_csv(out / "tables" / "coverage_usage.csv")
    assert usage["calls"].sum() == server.requests == 24
    assert usage["tokens_in"].sum() == server.tokens_in and usage["tokens_out"].sum() == server.tokens_out
    assert data["tokens"] == {"in": server.tokens_in, "out": server.tokens_out}
    assert (out / "figures" / "coverage_scores.png").stat().st_size > 0

    # a re-run is served from the cache: no request, the same tables
    assert main(argv[:-3] + ["--out", str(tmp_path / "again")]) == 0
    assert server.requests == 24
    again = pd.read_csv(tmp_path / "again" / "tables" / "coverage_summary.csv")
    pd.testing.assert_frame_equal(again, summary)
    assert pd.read_csv(tmp_path / "again" / "tables" / "coverage_usage.csv")["cached"].sum() == 24


def test_inference_per_model_table(env, sample_file, units, tmp_path, capsys):
    server_a, server_b = env
    model_b = f"openai-compatible:{server_b.openai_base_url}#predictor-b"
    out = tmp_path / "inference"
    assert main(["analyze", "inference", str(sample_file), "--predictor", "openai:predictor-a", "--predictor", model_b,
                 "--judge", "anthropic:judge-standin", "--limit", "8", "--bootstrap", "300", "--no-cache",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Inference difficulty" in printed and "inference_by_model" in printed

    items = pd.read_csv(out / "tables" / "inference_items.csv")
    rules = {"openai:predictor-a": PREDICT_A, model_b: PREDICT_B}
    assert items.groupby("predictor").size().to_dict() == {p: 16 for p in rules}
    for row in items.itertuples():  # the predictor saw the context up to the thought's message, and nothing after
        unit = units[row.item_id]
        assert row.inferred == rules[row.predictor](unit.message)
        assert row.score == overlap_score(row.inferred, unit.text)
    expected = items[["predictor", "kind"]].assign(
        score=[overlap_score(rules[p](units[i].message), units[i].text) for p, i in zip(items["predictor"], items["item_id"], strict=True)])

    summary = pd.read_csv(out / "tables" / "inference_summary.csv")
    check_means(summary[summary["predictor"] != "all predictors"], expected, ["predictor", "kind"])
    check_means(summary[summary["predictor"] == "all predictors"], expected.assign(predictor="all predictors"), ["predictor", "kind"])
    by_model = pd.read_csv(out / "tables" / "inference_by_model.csv", index_col=0)
    means = expected.groupby(["predictor", "kind"])["score"].mean().unstack()
    assert list(by_model.index) == ["openai:predictor-a", model_b, "all predictors"]
    for predictor in rules:
        for kind in ("reason", "reaction"):
            assert by_model.loc[predictor, kind] == pytest.approx(means.loc[predictor, kind])
    assert by_model.loc["all predictors", "reason"] == pytest.approx(expected.loc[expected["kind"] == "reason", "score"].mean())
    assert by_model.loc["openai:predictor-a", "reason"] != by_model.loc[model_b, "reason"]  # the models differ

    usage = pd.read_csv(out / "tables" / "inference_usage.csv").set_index("model")
    assert usage.loc[model_b, "tokens_in"] == server_b.tokens_in and server_b.requests == usage.loc[model_b, "calls"]
    assert usage["tokens_in"].sum() == server_a.tokens_in + server_b.tokens_in
    assert usage["tokens_out"].sum() == server_a.tokens_out + server_b.tokens_out


def test_a_failed_call_is_counted_never_scored(env, sample_file, units):
    server = env[0]
    server.queue("truncate")  # one worker: the first reason's judge call is cut off by the token limit
    result = coverage_analysis(load_inputs(sample_file), judge="openai:judge", limit=3, n_boot=100,
                               settings=ModelSettings(concurrency=1, max_retries=0, cache=None))
    items = result.tables["coverage_items"]
    failed = items[items["status"] == "failed"]
    assert len(failed) == 1 and failed.iloc[0]["kind"] == "reason" and pd.isna(failed.iloc[0]["score"])
    assert "truncated answer" in failed.iloc[0]["error"]
    reasons = result.tables["coverage_summary"].set_index("kind").loc["reason"]
    scored = items[(items["kind"] == "reason") & (items["status"] == "ok")]
    expected = [overlap_score(units[i].message, units[i].text) for i in scored["item_id"]]
    assert reasons["items"] == 3 and reasons["scored"] == 2 and reasons["failed"] == 1
    assert reasons["mean"] == pytest.approx(np.mean(expected))
    distribution = result.tables["coverage_distribution"]
    assert distribution.loc[distribution["kind"] == "reason", "count"].sum() == 2
    assert any("1 of 6 scores failed" in note for note in result.notes)

    server.reset()
    server.queue("truncate")  # now the first inference: a failed prediction is not judged, and counted
    result = inference_analysis(load_inputs(sample_file), predictors=["openai:p"], judge="anthropic:j", limit=2, n_boot=100,
                                settings=ModelSettings(concurrency=1, max_retries=0, cache=None))
    items = result.tables["inference_items"]
    failed = items[items["status"] == "failed"]
    assert len(failed) == 1 and pd.isna(failed.iloc[0]["inferred"]) and pd.isna(failed.iloc[0]["score"])
    assert failed.iloc[0]["error"].startswith("inference failed: truncated answer")
    assert server.requests == 4 + 3  # four inferences, three of them judged
    summary = result.tables["inference_summary"]
    assert summary["failed"].sum() == 2 and summary["scored"].sum() == 6  # the predictor's row and the pooled row


def test_the_judge_must_not_be_a_predictor(env, sample_file, tmp_path, capsys):
    code = main(["analyze", "inference", str(sample_file), "--predictor", "openai:m", "--predictor", "anthropic:c",
                 "--judge", "openai:m", "--no-cache"])
    assert code == 2 and "must not judge its own inferences" in capsys.readouterr().err
    code = main(["analyze", str(sample_file), "--out", str(tmp_path), "--judge", "openai:m", "--predictor", "openai:m"])
    assert code == 2 and env[0].requests == 0


def test_full_report_renders_every_figure(env, sample_file, tmp_path):
    out = tmp_path / "report"
    assert main(["analyze", str(sample_file), "--out", str(out), "--judge", "anthropic:judge-standin",
                 "--predictor", "openai:predictor-a", "--limit", "3", "--bootstrap", "50", "--permutations", "10",
                 "--no-cache"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    pngs = sorted((out / "figures").glob("*.png"))
    assert {"coverage_scores", "inference_scores"} <= {p.stem for p in pngs}
    assert page.count("data:image/png;base64,") == len(pngs)
    for title in ("Semantic coverage (LLM-judged)", "Inference difficulty (LLM-judged)", "inference_by_model"):
        assert title in page
    payload = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert payload["analyses"]["coverage"]["available"] and payload["analyses"]["inference"]["available"]
    assert payload["analyses"]["coverage"]["judge"] == "anthropic:judge-standin"


def test_without_a_judge_the_report_says_why_they_were_not_run(env, sample_file, tmp_path):
    out = tmp_path / "plain"
    assert main(["analyze", str(sample_file), "--out", str(out), "--bootstrap", "20", "--permutations", "10"]) == 0
    payload = json.loads((out / "results.json").read_text(encoding="utf-8"))
    for name in ("coverage", "inference"):
        entry = payload["analyses"][name]
        assert not entry["available"] and "not run" in entry["notes"][0] and "--judge" in entry["notes"][0]
    assert "not run: it needs an LLM judge" in (out / "report.html").read_text(encoding="utf-8")
    assert env[0].requests == 0
