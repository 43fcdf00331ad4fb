"""Study 2, pure parts: rewrite candidates (checked against an independent pandas count), message-arm items,
the quoting check and the dissatisfaction counts."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from thoughtcode.analyses.studies import rewrites as R
from thoughtcode.corpus import load_corpus


@pytest.fixture(scope="module")
def dev(dev_file):
    return load_corpus(dev_file)


def _reactions_table(path) -> pd.DataFrame:
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            msgs = [m for m in record["messages"] if m["type"] in ("user", "assistant")]
            for index, m in enumerate(msgs):
                for r in m.get("reactions") or []:
                    rows.append({"conv": record["id"], "msg": str(m["id"]), "index": index, "n_messages": len(msgs),
                                 "empty_reply": not m["content"].strip(),
                                 "label": r["label"], "text": r["content"]})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("min_words,max_messages", [(6, 20), (3, 20), (10, 12)])
def test_candidates_match_pandas(dev_file, dev, min_words, max_messages):
    table = _reactions_table(dev_file)
    words = table["text"].str.split().str.len()
    letters = table["text"].str.contains(r"[A-Za-z]", regex=True)
    keep = (
        table["label"].isin(["content_relevance", "presentation_style", "scope_fit"])
        & (words >= min_words) & letters
        & table["n_messages"].between(2, max_messages) & (table["index"] > 0) & ~table["empty_reply"]
    )
    expected = table[keep].groupby(["conv", "msg"], sort=False).size()
    candidates = R.rewrite_candidates(dev, min_words=min_words, max_messages=max_messages)
    assert len(candidates) == len(expected)
    got = {(c.conversation_id, c.message_id): len(c.guidance) for c in candidates}
    assert got == {k: int(v) for k, v in expected.items()}


def test_candidate_context_and_guidance(dev):
    for c in R.rewrite_candidates(dev):
        assert c.arm == "thought"
        assert c.context and c.context[-1].type == "user"
        assert len(c.context) == c.reply_index
        assert all(label in R.DISSATISFIED_LABELS for label in c.labels)
        assert all(R.qualifying_reaction(g) for g in c.guidance)
        assert c.reaction_ids[0].startswith(f"{c.conversation_id}:{c.message_id}:reaction:")


def test_thresholds_are_parameters(dev):
    default = R.rewrite_candidates(dev)
    assert len(R.rewrite_candidates(dev, labels=("scope_fit",))) < len(default)
    assert len(R.rewrite_candidates(dev, min_words=1)) >= len(default)
    assert R.rewrite_candidates(dev, min_messages=21) == []


def test_labels_from_a_table_override_the_release(dev):
    candidates = R.rewrite_candidates(dev)
    first = candidates[0]
    mapping = {first.reaction_ids[0]: "explicit_affirmation"}  # every other reaction: unlabelled
    relabelled = R.rewrite_candidates(dev, reaction_labels=mapping)
    assert relabelled == []
    mapping = {first.reaction_ids[0]: "scope_fit"}
    assert [c.candidate_id for c in R.rewrite_candidates(dev, reaction_labels=mapping)] == [first.candidate_id]


def test_qualifying_reaction():
    assert R.qualifying_reaction("it was far too long to read")
    assert not R.qualifying_reaction("too long")
    assert not R.qualifying_reaction("1 2 3 4 5 6 7")
    assert R.qualifying_reaction("c'était beaucoup trop long pour moi")


def test_message_arm_items(dev_file, dev):
    items = R.message_arm_items(dev)
    expected = 0
    with open(dev_file, encoding="utf-8") as handle:
        for line in handle:
            msgs = [m for m in json.loads(line)["messages"] if m["type"] in ("user", "assistant")]
            if 2 <= len(msgs) <= 20:
                expected += sum(
                    1 for i in range(1, len(msgs) - 1)
                    if msgs[i]["type"] == "assistant" and msgs[i]["content"].strip()
                    and msgs[i + 1]["type"] == "user" and msgs[i + 1]["content"].strip()
                )
    assert len(items) == expected
    for item in items[:50]:
        assert item.arm == "message" and item.guidance == (item.next_message,)
        assert item.context[-1].type == "user"
    # the thought arm's replies that a user message follows are all in the message arm
    ids = {i.candidate_id for i in items}
    followed = [c for c in R.rewrite_candidates(dev) if c.next_message is not None and c.next_message.strip()]
    assert all(c.candidate_id in ids for c in followed)


def test_quotes_guidance():
    reaction = "The answer is far too long and it misses the budget part"
    assert R.quotes_guidance("Sure. The answer is far too long and it misses the budget", [reaction])
    assert not R.quotes_guidance("Here is a short answer covering the budget.", [reaction])
    assert R.quotes_guidance("THE ANSWER IS FAR TOO LONG, AND...", [reaction], n=5)


def test_dissatisfaction_counts():
    dev_like = [
        R.RewriteCandidate("c1:2", "thought", "c1", "2", (), "r", ("g",)),
        R.RewriteCandidate("c1:4", "thought", "c1", "4", (), "r", ("g",)),
        R.RewriteCandidate("c2:2", "thought", "c2", "2", (), "r", ("g",)),
    ]
    decisions = pd.DataFrame(
        {"candidate_id": ["c1:2", "c1:4", "c2:2", "c3:2", "c3:4"], "dissatisfied": [True, False, None, True, False]}
    )
    counts = R.dissatisfaction_counts(dev_like, decisions, n_conversations=3)
    assert counts["thought_arm_dissatisfied"] == 3
    assert counts["message_arm_dissatisfied"] == 2
    assert counts["both"] == 1 and counts["thought_only"] == 2 and counts["message_only"] == 1
    assert counts["message_arm_failed"] == 1 and counts["ratio_thought_to_message"] == 1.5
