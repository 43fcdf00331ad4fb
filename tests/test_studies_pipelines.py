"""Both studies end to end through the CLI, against the coders' stand-in servers (real openai and anthropic
SDKs through instructor, real HTTP on 127.0.0.1).

The stand-in here is the coders' :class:`StandIn` with a scripted ``answer``: instead of a codebook label it
answers the studies' prompts by fixed, transparent rules computed from the request text. It is not a language
model, so these tests show that the pipelines deliver the right inputs to each model, parse the answers,
account for tokens, cache, and compute the tables correctly; they say nothing about how well real models
predict or rewrite. The rules:

* predictor (plain text): with private thoughts in the context it answers with the text of the last thought;
  without them, with the user's last message. So the two contexts give measurably different predictions, and only
  through the thoughts the augmented prompt carries.
* similarity judge: 100 x the Jaccard overlap of the words of the prediction and the real next message.
* quality filter: informativeness from the number of words in the thoughts (>=30: 5, >=15: 4, >=8: 3, ...).
* dissatisfaction classifier: dissatisfied when the next message contains a word from a small lexicon.
* rewriter (plain text): a shortened original reply; it "leaks" the guidance verbatim when that has an even number of
  words, which the pipeline's quoting check must catch.
* pairwise judge: prefers the answer sharing more words with the prompt and, on a tie, the answer shown
  first (a position bias that asking both orders must cancel).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from standin import Environment, StandIn

from thoughtcode.analyses.studies import prediction as P
from thoughtcode.analyses.studies import rewrites as R
from thoughtcode.analyses.studies.preference import validate_dpo_file
from thoughtcode.cli import main
from thoughtcode.corpus import load_corpus

WORD = re.compile(r"[a-z0-9']+")
LEXICON = {"no", "not", "wrong", "shorter", "longer", "instead", "again", "actually", "but", "too", "don't", "simpler"}


def words(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def jaccard_score(a: str, b: str) -> int:
    x, y = words(a), words(b)
    return round(100 * len(x & y) / max(1, len(x | y)))


def block(prompt: str, tag: str) -> str:
    match = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", prompt, re.DOTALL)
    return match.group(1) if match else ""


def filter_rating(n_words: int) -> int:
    return 5 if n_words >= 30 else 4 if n_words >= 15 else 3 if n_words >= 8 else 2 if n_words >= 4 else 1


def shortened(reply: str) -> str:
    return "In short: " + reply[:200].strip()


def pairwise(prompt: str, first: str, second: str) -> str:
    a, b = len(words(first) & words(prompt)), len(words(second) & words(prompt))
    return "B>A" if b > a else "A>B"  # ties go to the first answer: a position bias


def study_answer(prompt: str, schema: dict | None) -> dict | str:
    """The stand-in's answers to the studies' prompts, by the rules above (plain text for free-text requests)."""
    if "write the message the user sends next" in prompt:
        assert schema is None, "the prediction is asked as free text"
        conversation = block(prompt, "conversation")
        thoughts = re.findall(r"<<Private thought[^>]*>>\n(.*?)\n<</private thought>>", conversation, re.DOTALL)
        if thoughts:
            return thoughts[-1]
        users = re.findall(r"\[User\]\n(.*?)(?=\n\n\[|\Z)", conversation, re.DOTALL)
        return users[-1]
    if "<prediction>" in prompt:
        return {"rationale": "word overlap", "score": jaccard_score(block(prompt, "prediction"), block(prompt, "actual"))}
    if "<thoughts>" in prompt:
        return {"rationale": "word count", "rating": filter_rating(len(block(prompt, "thoughts").split()))}
    if "Decide whether the user was dissatisfied" in prompt:
        hit = words(block(prompt, "next_user_message")) & LEXICON
        return {"evidence": ", ".join(sorted(hit)) or "none", "dissatisfied": bool(hit)}
    if "<original_reply>" in prompt:
        assert schema is None, "the rewrite is asked as free text"
        guidance = block(prompt, "private_reaction") or block(prompt, "next_user_message")
        text = shortened(block(prompt, "original_reply"))
        if len(guidance.split()) % 2 == 0:
            text += "\n\nAs you put it: " + guidance
        return text
    if "<answer_a>" in prompt:
        verdict = pairwise(block(prompt, "prompt"), block(prompt, "answer_a"), block(prompt, "answer_b"))
        return {"rationale": "overlap with the prompt", "verdict": verdict}
    raise AssertionError("unexpected prompt: " + prompt[:200])


@pytest.fixture(scope="module")
def server():
    with StandIn(answer=study_answer) as standin:
        yield standin


@pytest.fixture
def env(server, monkeypatch):
    server.reset()
    Environment(server).apply(monkeypatch)
    return server


# --- Study 1 -------------------------------------------------------------------------------------------------
def test_prediction_study_end_to_end(env, sample_file, tmp_path, capsys):
    out = tmp_path / "predict"
    cache = tmp_path / "cache.sqlite"
    argv = ["study", "predict", str(sample_file), "--predictor", "openai:gpt-standin", "--predictor", "anthropic:claude-standin",
            "--judge", "openai:gpt-standin", "--judge", "openai:judge-standin", "--filter-judge", "anthropic:filter-standin",
            "--limit", "10", "--bootstrap", "300", "--cache", str(cache), "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Table 1" in printed and "thought-augmented" in printed and "relative gain" in printed

    items = {it.item_id: it for it in P.prediction_items(load_corpus(sample_file))}
    decisions = pd.read_json(out / "filter_decisions.jsonl", lines=True)
    assert len(decisions) == 10
    for row in decisions.itertuples():  # the filter saw exactly the item's thoughts
        assert row.rating == filter_rating(len(P.render_thoughts(items[row.item_id]).split()))
        assert row.keep == (row.rating >= 4)
    kept = set(decisions.loc[decisions["keep"], "item_id"])
    assert 0 < len(kept) < 10

    results = pd.read_json(out / "results.jsonl", lines=True)
    assert set(results["item_id"]) == kept
    assert len(results) == len(kept) * 2 * 2  # items x conditions x predictors
    for row in results.itertuples():
        item = items[row.item_id]
        if row.condition == P.AUGMENTED:  # the thoughts reached the predictor, in order
            assert row.prediction == item.thoughts[-1].text
        else:  # and never reached it without them
            assert row.prediction == [m for m in item.history if m.type == "user"][-1].content.strip()
        assert row.judge_score == jaccard_score(row.prediction, item.target)
    # a predictor is never its own judge: the openai predictor goes to the second judge
    assert set(results.loc[results["predictor"] == "openai:gpt-standin", "judge"]) == {"openai:judge-standin"}
    assert set(results.loc[results["predictor"] == "anthropic:claude-standin", "judge"]) == {"openai:gpt-standin"}

    # Table 1 as an independent pandas computation from the per-item results
    table = pd.read_csv(out / "table1_judge.csv", index_col=0)
    means = results.groupby(["condition", "predictor"])["judge_score"].mean()
    for predictor in ("openai:gpt-standin", "anthropic:claude-standin"):
        for condition in P.CONDITIONS:
            assert table.loc[condition, predictor] == pytest.approx(means[(condition, predictor)])
    mean_h, mean_a = table.loc[P.HISTORY, "mean"], table.loc[P.AUGMENTED, "mean"]
    assert table.loc["relative gain (%)", "mean"] == pytest.approx(100 * (mean_a / mean_h - 1))
    tests = pd.read_csv(out / "tests_judge.csv").set_index("predictor")
    assert tests.loc["all", "n"] == len(kept)
    assert tests.loc["all", "diff_ci_low"] <= tests.loc["all", "diff"] <= tests.loc["all", "diff_ci_high"]

    # offline cosine with the shipped embedder, recomputed here
    from thoughtcode.embeddings import load_embedder

    emb = load_embedder("static")
    first = results.iloc[0]
    vectors = np.asarray(emb.encode([first["prediction"], first["target"]]), dtype=float)
    expected = float(vectors[0] @ vectors[1] / np.linalg.norm(vectors[0]) / np.linalg.norm(vectors[1]))
    assert first["cosine"] == pytest.approx(expected, abs=1e-5)
    assert (out / "table1_cosine.csv").exists()

    # every token the server counted is accounted for, per step
    usage = pd.read_csv(out / "usage.csv")
    assert usage["tokens_in"].sum() == env.tokens_in and usage["tokens_out"].sum() == env.tokens_out
    assert set(usage["step"]) == {"filter", "predict", "judge"}
    assert (usage["tokens_in_per_1000_items"] > 0).all()  # per item entering the study
    html = (out / "report.html").read_text()
    assert "<table>" in html and "Table 1" in html and "<script" not in html

    # a second run is served from the cache: no request, same tables
    requests = env.requests
    assert main(argv[:-1] + [str(tmp_path / "again")]) == 0
    assert env.requests == requests
    assert pd.read_csv(tmp_path / "again" / "table1_judge.csv", index_col=0).equals(table)


def test_prediction_refuses_a_self_judge(env, sample_file, tmp_path, capsys):
    code = main(["study", "predict", str(sample_file), "--predictor", "openai:m", "--judge", "openai:m", "--out", str(tmp_path)])
    assert code == 2 and "judge itself" in capsys.readouterr().err
    assert env.requests == 0


# --- Study 2: rewrites and DPO pairs --------------------------------------------------------------------------
def test_rewrite_study_end_to_end(env, sample_file, tmp_path, capsys):
    out = tmp_path / "rewrite"
    argv = ["study", "rewrite", str(sample_file), "--rewriter", "anthropic:rewriter-standin",
            "--classifier", "openai:classifier-standin", "--no-cache", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "dissatisfied replies found" in printed and "DPO pairs" in printed

    conversations = load_corpus(sample_file)
    thought = R.rewrite_candidates(conversations)
    items = R.message_arm_items(conversations)
    flagged = [it for it in items if words(it.next_message) & LEXICON]  # the classifier's rule, applied here
    summary = json.loads((out / "summary.json").read_text())
    counts = summary["counts"]
    assert counts["thought_arm_dissatisfied"] == len(thought)
    assert counts["message_arm_dissatisfied"] == len(flagged)
    assert counts["both"] == len({c.candidate_id for c in thought} & {c.candidate_id for c in flagged})
    assert counts["message_arm_replies"] == len(items)
    reacted = sum(1 for c in conversations for i, m in enumerate(c.messages) if i > 0 and m.type == "assistant" and m.reactions)
    assert counts["thought_arm_replies"] == reacted

    rewrites = pd.read_json(out / "rewrites.jsonl", lines=True)
    assert len(rewrites) == len(thought) + len(flagged)
    leaks = rewrites["guidance"].map(lambda g: len("\n\n".join(g).split()) % 2 == 0)
    assert (rewrites["quoted"] == leaks).all()  # the quoting check caught every leak, and only those

    for arm, expected in (("thought", thought), ("message", flagged)):
        folder = out / f"dpo_{arm}"
        n_train = validate_dpo_file(folder / "train.jsonl")
        n_val = validate_dpo_file(folder / "validation.jsonl")
        n_clean = int((~rewrites.loc[rewrites["arm"] == arm, "quoted"]).sum())
        assert n_train + n_val == n_clean
        train = pd.read_json(folder / "train.jsonl", lines=True) if n_train else pd.DataFrame(columns=["conversation_id"])
        val = pd.read_json(folder / "validation.jsonl", lines=True) if n_val else pd.DataFrame(columns=["conversation_id"])
        assert not set(train["conversation_id"]) & set(val["conversation_id"])
        by_id = {c.candidate_id: c for c in expected}
        for pair in pd.concat([train, val]).itertuples():
            candidate = by_id[pair.pair_id.split(":", 1)[1]]
            assert pair.rejected == [{"role": "assistant", "content": candidate.reply}]
            assert pair.chosen == [{"role": "assistant", "content": shortened(candidate.reply)}]
            assert pair.prompt == [{"role": m.type, "content": m.content} for m in candidate.context]
        sheet = json.loads((folder / "datasheet.json").read_text())
        assert sheet["all"]["pairs"] == n_clean and sheet["splits"]["validation"]["pairs"] == n_val
    assert "Study 2" in (out / "report.html").read_text()
    usage = pd.read_csv(out / "usage.csv")
    assert usage["tokens_in"].sum() == env.tokens_in


def test_message_arm_on_a_plain_chat_corpus(env, tmp_path, capsys):
    wildchat = Path(__file__).parent / "data" / "formats" / "wildchat.jsonl"
    out = tmp_path / "wild"
    assert main(["study", "rewrite", str(wildchat), "--arms", "message", "--rewriter", "openai:r", "--classifier", "openai:c",
                 "--no-cache", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    items = R.message_arm_items(load_corpus(wildchat))
    assert summary["counts"]["message_arm_replies"] == len(items) > 0
    assert summary["counts"]["thought_arm_dissatisfied"] == 0
    assert (out / "dpo_message" / "train.jsonl").exists() and not (out / "dpo_thought").exists()


# --- Study 2: pairwise judging ----------------------------------------------------------------------------------
def test_pairwise_judging_end_to_end(env, sample_file, tmp_path, capsys):
    model_rows, baseline_rows = [], []
    for conversation in load_corpus(sample_file):
        user, reply = conversation.messages[0].content, conversation.messages[1].content
        model_rows.append({"id": conversation.id, "prompt": user, "answer": reply, "model": "full-replies"})
        baseline_rows.append({"question_id": conversation.id, "model_id": "first-lines",
                              "choices": [{"turns": [{"content": reply.split("\n")[0]}]}]})
    model_file, baseline_file = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    model_file.write_text("\n".join(json.dumps(r) for r in model_rows))
    baseline_file.write_text("\n".join(json.dumps(r) for r in baseline_rows))
    out = tmp_path / "judge"
    assert main(["study", "judge", str(model_file), str(baseline_file), "--judge", "openai:judge-standin", "--bootstrap", "200",
                 "--no-cache", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "full-replies" in printed and "style_controlled" in printed
    assert env.requests == 2 * len(model_rows)  # every prompt in both orders

    expected = []
    for m, b in zip(model_rows, baseline_rows, strict=True):
        answer_b = b["choices"][0]["turns"][0]["content"]
        first = pairwise(m["prompt"], m["answer"], answer_b)  # model shown first
        second = pairwise(m["prompt"], answer_b, m["answer"])  # baseline shown first
        expected += [1.0 if first == "A>B" else 0.0, 1.0 if second == "B>A" else 0.0]
    games = pd.read_csv(out / "games.csv")
    assert sorted(games["score"]) == sorted(expected)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["win_rate"]["win_rate"] == pytest.approx(np.mean(expected))
    assert summary["style_controlled"]["win_rate"] is not None
    assert set(summary["style_controlled"]["coefficients"]) >= {"intercept", "length", "position"}
    results = pd.read_csv(out / "results.csv")
    assert results.loc[0, "model"] == "full-replies" and results.loc[0, "baseline"] == "first-lines"
    assert results.loc[0, "win_rate"] == pytest.approx(round(100 * np.mean(expected), 1))


def test_train_dpo_without_the_extra_says_what_to_install(tmp_path, capsys, monkeypatch):
    import sys

    from thoughtcode.analyses.studies.training import MissingExtraError, require_train_extra

    monkeypatch.setitem(sys.modules, "trl", None)  # as if TRL were not installed
    with pytest.raises(MissingExtraError, match=r"thoughtcode\[train\].*trl"):
        require_train_extra()
    train = tmp_path / "train.jsonl"
    train.write_text("")
    assert main(["study", "train-dpo", str(train), "--model", "x", "--out", str(tmp_path / "m")]) == 2
    assert "pip install 'thoughtcode[train]'" in capsys.readouterr().err


def test_a_failed_call_is_recorded_and_left_out_never_defaulted(env, sample_file):
    from thoughtcode.analyses.studies.llm import ModelSettings

    env.queue("truncate")  # the very first request (one worker: item 1, history-only, first predictor) is cut off
    study = P.run_prediction_study(
        load_corpus(sample_file), ["openai:p1", "anthropic:p2"], ["openai:j"], limit=4, embedder=None, n_boot=50,
        settings=ModelSettings(concurrency=1, max_retries=0, cache=None),
    )
    results = study.results
    failed = results[results["prediction_status"] == "failed"]
    assert len(failed) == 1 and failed.iloc[0]["predictor"] == "openai:p1" and failed.iloc[0]["condition"] == P.HISTORY
    assert pd.isna(failed.iloc[0]["prediction"]) and pd.isna(failed.iloc[0]["judge_score"])
    assert "truncated answer" in failed.iloc[0]["prediction_error"]
    tests = study.tables["tests_judge"].set_index("predictor")
    assert tests.loc["openai:p1", "n"] == 3 and tests.loc["anthropic:p2", "n"] == 4 and tests.loc["all", "n"] == 3
    assert any("1 predictions and 0 judge calls failed" in note for note in study.notes)
