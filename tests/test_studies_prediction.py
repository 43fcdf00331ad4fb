"""Study 1, pure parts: prediction items, contexts, judge assignment, cosine scoring, Table 1 and tests."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from thoughtcode.analyses.studies import prediction as P
from thoughtcode.analyses.studies._common import paired_summary
from thoughtcode.corpus import load_corpus


@pytest.fixture(scope="module")
def dev(dev_file):
    return load_corpus(dev_file)


def _raw(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_items_match_an_independent_count(dev_file, dev):
    # every assistant message directly followed by a (non-empty) user message, counted on the raw JSON
    rows = []
    for record in _raw(dev_file):
        msgs = [m for m in record["messages"] if m["type"] in ("user", "assistant")]
        for i in range(len(msgs) - 1):
            if msgs[i]["type"] == "assistant" and msgs[i + 1]["type"] == "user" and msgs[i + 1]["content"].strip():
                seen = msgs[: i + 1]
                n_thoughts = sum(
                    len([t for t in (m.get("reasons") or []) + (m.get("reactions") or []) if t["content"].strip()])
                    for m in seen
                )
                rows.append({"id": f"{record['id']}:{msgs[i]['id']}", "n_thoughts": n_thoughts})
    expected = pd.DataFrame(rows)
    all_items = P.prediction_items(dev, require_thoughts=False)
    assert [it.item_id for it in all_items] == expected["id"].tolist()
    assert [it.n_thoughts for it in all_items] == expected["n_thoughts"].tolist()
    with_thoughts = P.prediction_items(dev)
    assert len(with_thoughts) == int((expected["n_thoughts"] > 0).sum())
    frame = P.items_frame(with_thoughts)
    assert (frame["n_reasons"] + frame["n_reactions"] == frame["n_thoughts"]).all()


def test_contexts_mark_thoughts_and_never_leak_the_target(dev):
    items = P.prediction_items(dev)
    for item in items[:80]:
        plain = P.render_context(item, with_thoughts=False)
        augmented = P.render_context(item, with_thoughts=True)
        assert "Private thought" not in plain
        assert augmented.count("<<Private thought") == item.n_thoughts
        for thought in item.thoughts:
            assert thought.text in augmented
        # the history ends with the assistant reply; the target message and its reasons are never shown
        assert item.history[-1].type == "assistant"
        assert plain.rstrip().endswith(item.history[-1].content.rstrip())
    # an item whose target carries a reason that appears nowhere earlier
    conv = next(c for c in dev if any(m.type == "user" and m.reasons for m in c.messages[2:]))
    target_index = next(i for i, m in enumerate(conv.messages) if i >= 2 and m.type == "user" and m.reasons)
    item = next(it for it in P.prediction_items([conv], require_thoughts=False) if it.target_message_id == str(conv.messages[target_index].id))
    augmented = P.render_context(item, with_thoughts=True)
    for reason in conv.messages[target_index].reasons:
        earlier = [t.content for m in conv.messages[:target_index] for t in m.reasons + m.reactions]
        if reason.content not in earlier:
            assert reason.content not in augmented


def test_last_scope_keeps_only_the_last_exchange(dev):
    everything = {it.item_id: it for it in P.prediction_items(dev, require_thoughts=False)}
    last = P.prediction_items(dev, require_thoughts=False, thought_scope="last")
    for item in last:
        assert all(t.position >= item.n_history - 2 for t in item.thoughts)
        assert item.n_thoughts <= everything[item.item_id].n_thoughts
    with pytest.raises(ValueError):
        P.prediction_items(dev, thought_scope="some")


def test_filter_keeps_items_at_or_above_threshold(dev):
    items = P.prediction_items(dev)[:5]
    ratings = {items[0].item_id: 5, items[1].item_id: 4, items[2].item_id: 3, items[3].item_id: None}
    kept = P.filter_items(items, ratings, threshold=4)
    assert [it.item_id for it in kept] == [items[0].item_id, items[1].item_id]


def test_assign_judges_never_lets_a_predictor_judge_itself():
    assert P.assign_judges(["a", "b"], ["j"]) == {"a": "j", "b": "j"}
    assert P.assign_judges(["a", "b", "c"], ["a"]) == {"a": "b", "b": "a", "c": "a"}
    assert P.assign_judges(["a", "b"], ["a", "b"]) == {"a": "b", "b": "a"}
    with pytest.raises(ValueError, match="judge itself"):
        P.assign_judges(["a"], ["a"])


class _BagOfWords:
    """A transparent embedder for the test: word counts over a fixed vocabulary."""

    def __init__(self, vocab):
        self.vocab = {w: i for i, w in enumerate(vocab)}

    def encode(self, texts):
        out = np.zeros((len(texts), len(self.vocab)), dtype=np.float32)
        for r, text in enumerate(texts):
            for word in text.lower().split():
                if word in self.vocab:
                    out[r, self.vocab[word]] += 1
        return out


def test_cosine_scores_are_pairwise_cosines():
    emb = _BagOfWords(["book", "flight", "hotel", "cheap"])
    scores = P.cosine_scores(emb, ["book flight", "cheap hotel", ""], ["book flight", "book flight", "hotel"], batch_size=2)
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] == pytest.approx(0.0)
    assert np.isnan(scores[2])


def test_cosine_with_the_shipped_static_embedder():
    from thoughtcode.embeddings import load_embedder

    scores = P.cosine_scores(load_embedder("static"), ["How much is a flight to London?", "thanks"],
                             ["What does a flight to London cost?", "What does a flight to London cost?"])
    assert scores[0] > scores[1]
    assert -1 <= scores.min() <= scores.max() <= 1.0001


def _results(rng, n=40, predictors=("p1", "p2"), lift=(10.0, 20.0)):
    rows = []
    for p, d in zip(predictors, lift, strict=True):
        base = rng.uniform(10, 40, size=n)
        for i in range(n):
            rows.append({"item_id": f"i{i}", "predictor": p, "condition": P.HISTORY, "judge_score": base[i]})
            rows.append({"item_id": f"i{i}", "predictor": p, "condition": P.AUGMENTED, "judge_score": base[i] + d + rng.normal(0, 3)})
    return pd.DataFrame(rows)


def test_table1_layout_and_gain():
    rng = np.random.default_rng(1)
    results = _results(rng)
    table = P.table1(results)
    assert list(table.index) == [P.HISTORY, P.AUGMENTED, "relative gain (%)"]
    assert list(table.columns) == ["p1", "p2", "mean"]
    by = results.groupby(["condition", "predictor"])["judge_score"].mean()
    assert table.loc[P.HISTORY, "p1"] == pytest.approx(by[(P.HISTORY, "p1")])
    assert table.loc[P.AUGMENTED, "mean"] == pytest.approx((by[(P.AUGMENTED, "p1")] + by[(P.AUGMENTED, "p2")]) / 2)
    gain = 100 * (table.loc[P.AUGMENTED, "mean"] / table.loc[P.HISTORY, "mean"] - 1)
    assert table.loc["relative gain (%)", "mean"] == pytest.approx(gain)


def test_table1_uses_only_paired_items():
    results = pd.DataFrame(
        [
            {"item_id": "a", "predictor": "p", "condition": P.HISTORY, "judge_score": 10.0},
            {"item_id": "a", "predictor": "p", "condition": P.AUGMENTED, "judge_score": 30.0},
            {"item_id": "b", "predictor": "p", "condition": P.HISTORY, "judge_score": 90.0},
            {"item_id": "b", "predictor": "p", "condition": P.AUGMENTED, "judge_score": np.nan},  # failed judge
        ]
    )
    table = P.table1(results)
    assert table.loc[P.HISTORY, "p"] == 10.0 and table.loc[P.AUGMENTED, "p"] == 30.0


def test_paired_tests_agree_with_scipy():
    rng = np.random.default_rng(2)
    results = _results(rng)
    tests = P.paired_tests(results, n_boot=500).set_index("predictor")
    assert list(tests.index) == ["p1", "p2", "all"]
    wide = P.paired_wide(results, "p1", "judge_score")
    assert tests.loc["p1", "wilcoxon_p"] == pytest.approx(stats.wilcoxon(wide[P.AUGMENTED], wide[P.HISTORY]).pvalue)
    assert tests.loc["p1", "t_p"] == pytest.approx(stats.ttest_rel(wide[P.AUGMENTED], wide[P.HISTORY]).pvalue)
    assert tests.loc["p1", "diff_ci_low"] < 10 < tests.loc["p1", "diff_ci_high"]
    assert tests.loc["all", "diff"] == pytest.approx(15, abs=1.5)
    assert tests.loc["all", "n"] == 40


def test_paired_summary_edge_cases():
    same = paired_summary([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], n_boot=50)
    assert same["mean_diff"] == 0 and same["wilcoxon_p"] is None
    const = paired_summary([1.0, 2.0, 3.0], [2.0, 3.0, 4.0], n_boot=50)
    assert const["t_p"] == 0.0 and const["diff_ci"] == pytest.approx([1.0, 1.0])
    empty = paired_summary([], [], n_boot=50)
    assert empty["n"] == 0 and empty["mean_diff"] is None
    with pytest.raises(ValueError):
        paired_summary([1.0], [1.0, 2.0])
