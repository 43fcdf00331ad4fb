"""Preference pairs: TRL's conversational DPO format, split by conversation, datasheet, file validation."""

from __future__ import annotations

import json

import pytest

from thoughtcode.analyses.studies import preference as F
from thoughtcode.analyses.studies._common import chat_messages
from thoughtcode.analyses.studies.rewrites import rewrite_candidates
from thoughtcode.corpus import load_corpus


def _rewrite(candidate, text="A better, shorter reply."):
    return {
        "candidate_id": candidate.candidate_id,
        "arm": candidate.arm,
        "conversation_id": candidate.conversation_id,
        "message_id": candidate.message_id,
        "context": chat_messages(candidate.context),
        "reply": candidate.reply,
        "rewrite": text,
        "labels": list(candidate.labels),
        "guidance": list(candidate.guidance),
        "rewriter": "openai:stand-in",
        "prompt_hash": "abc",
    }


@pytest.fixture(scope="module")
def pairs(dev_file):
    return [F.make_pair(_rewrite(c), source="dev") for c in rewrite_candidates(load_corpus(dev_file))]


def test_pairs_have_the_conversational_format(pairs):
    for pair in pairs:
        assert F.validate_pair(pair) == []
        assert list(pair)[:3] == ["prompt", "chosen", "rejected"]
        assert pair["prompt"][-1]["role"] == "user"
        assert {t["role"] for t in pair["prompt"]} <= {"user", "assistant"}
        assert pair["chosen"] == [{"role": "assistant", "content": "A better, shorter reply."}]
        assert pair["rejected"][0]["role"] == "assistant"
        assert set(F.METADATA_KEYS) <= set(pair)


def test_validate_pair_names_problems(pairs):
    bad = dict(pairs[0], chosen=[{"role": "assistant", "content": ""}])
    assert any("non-empty" in p for p in F.validate_pair(bad))
    bad = dict(pairs[0], prompt=pairs[0]["prompt"] + [{"role": "assistant", "content": "x"}])
    assert F.validate_pair(bad) == ["the prompt must end with a user message"]
    bad = dict(pairs[0], rejected=pairs[0]["chosen"])
    assert F.validate_pair(bad) == ["chosen and rejected are identical"]
    bad = dict(pairs[0], prompt=[{"role": "human", "content": "x"}])
    assert F.validate_pair(bad)


def test_split_by_conversation_is_seeded_and_disjoint(pairs):
    train, val = F.split_pairs(pairs, 0.1, seed=3)
    assert len(train) + len(val) == len(pairs)
    train_c = {p["conversation_id"] for p in train}
    val_c = {p["conversation_id"] for p in val}
    assert not train_c & val_c
    n_conv = len(train_c | val_c)
    assert len(val_c) == round(0.1 * n_conv)
    again = F.split_pairs(pairs, 0.1, seed=3)
    assert [p["pair_id"] for p in again[1]] == [p["pair_id"] for p in val]
    other = F.split_pairs(pairs, 0.1, seed=4)
    assert {p["conversation_id"] for p in other[1]} != val_c
    # tiny sets still get a validation conversation; a zero fraction gets none
    two = [dict(pairs[0], conversation_id="a"), dict(pairs[1], conversation_id="b")]
    assert len(F.split_pairs(two, 0.1)[1]) == 1
    assert F.split_pairs(two, 0.0)[1] == []
    with pytest.raises(ValueError):
        F.split_pairs(two, 1.0)


def test_write_preference_data_and_datasheet(tmp_path, pairs):
    broken = dict(pairs[0], pair_id="broken", chosen=[])
    sheet = F.write_preference_data([*pairs, broken], tmp_path, seed=1, extra={"source": "dev"})
    n_train = F.validate_dpo_file(tmp_path / "train.jsonl")
    n_val = F.validate_dpo_file(tmp_path / "validation.jsonl")
    assert n_train + n_val == len(pairs)
    assert sheet["invalid_pairs"] == 1 and sheet["invalid_examples"][0]["pair_id"] == "broken"
    assert sheet["splits"]["train"]["pairs"] == n_train
    assert sheet["all"]["by_arm"] == {"thought": len(pairs)}
    labels = sum(sheet["all"]["by_label"].values())
    assert labels == sum(len(p["labels"]) for p in pairs)
    assert sheet["all"]["mean_tokens"]["chosen"] > 0
    assert json.loads((tmp_path / "datasheet.json").read_text())["source"] == "dev"
    md = (tmp_path / "datasheet.md").read_text()
    assert "| train |" in md and "| validation |" in md


def test_validate_dpo_file_rejects_bad_lines(tmp_path, pairs):
    path = tmp_path / "x.jsonl"
    rows = [pairs[0], dict(pairs[1], prompt=[])]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(ValueError, match=":2:"):
        F.validate_dpo_file(path)
    rows = [pairs[0], dict(pairs[1], labels="scope_fit")]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(ValueError, match="changes type"):
        F.validate_dpo_file(path)
