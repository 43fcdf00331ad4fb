"""Conversation properties (lengths, demographics, topics, relations) and thought categories, checked
against independent computations on the plain JSON of the real files."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from test_analyses_support import (
    DEV,
    SAMPLE,
    TOPIC_PARENT,
    dialogue_messages,
    raw_records,
    relation_labels,
    topic_labels,
    write_topics_codebook,
)

from thoughtcode.analyses import (
    category_analysis,
    demographics_analysis,
    length_analysis,
    load_inputs,
    purpose_themes,
    relation_analysis,
    topic_analysis,
)
from thoughtcode.corpus import count_tokens


@pytest.fixture(scope="module")
def dev_inputs():
    return load_inputs(DEV, baselines=[SAMPLE])


def test_lengths_match_numpy(dev_inputs):
    result = length_analysis(dev_inputs)
    for path in (DEV, SAMPLE):
        records = raw_records(path)
        lengths = np.array([len(dialogue_messages(r)) for r in records])
        entry = result.data["corpora"][path.name]
        m = entry["messages_per_conversation"]
        assert m["median"] == np.median(lengths)
        assert m["q1"] == np.percentile(lengths, 25) and m["q3"] == np.percentile(lengths, 75)
        buckets = Counter(f"{2 * ((n - 1) // 2) + 1}-{2 * ((n - 1) // 2) + 2}" for n in lengths)
        assert {k: v for k, v in entry["histogram"].items() if v} == dict(buckets)
        user_tokens = [count_tokens(m["content"]) for r in records for m in r["messages"] if m["type"] == "user"]
        assert entry["tokens_per_message"]["user"]["median"] == np.median(user_tokens)
    hist = result.tables["length_histogram"]
    assert set(hist["corpus"]) == {DEV.name, SAMPLE.name}
    assert hist.groupby("corpus")["share"].sum().round(3).eq(1.0).all()
    assert set(result.figures) == {"length_histogram", "tokens_by_role"}


def test_lengths_overlay_a_wildchat_style_baseline(tmp_path):
    path = tmp_path / "wildchat.jsonl"
    rows = [
        {"conversation_hash": "a", "conversation": [{"role": "user", "content": "hi there"},
                                                    {"role": "assistant", "content": "Hello! How can I help?"}]},
        {"conversation_hash": "b", "conversation": [{"role": "user", "content": "one"}, {"role": "assistant", "content": "two"},
                                                    {"role": "user", "content": "three"}, {"role": "assistant", "content": "four"}]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    result = length_analysis(load_inputs(SAMPLE, baselines=[path]))
    entry = result.data["corpora"]["wildchat.jsonl"]
    assert entry["conversations"] == 2 and entry["messages_per_conversation"]["median"] == 3.0
    assert entry["histogram"]["1-2"] == 1 and entry["histogram"]["3-4"] == 1
    assert entry["tokens_per_message"]["assistant"]["n"] == 3


def test_demographics_per_respondent_with_impossible_ages(tmp_path):
    records = raw_records(SAMPLE)
    records[0]["survey_answers"][0]["age"] = "2"
    records[1]["survey_answers"][0]["age"] = "366"
    records[2]["survey_answers"][0]["age"] = "twenty"
    records[3]["survey_answers"] = []
    path = tmp_path / "edited.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    result = demographics_analysis(load_inputs(path))
    first: dict[str, dict] = {}
    for record in records:
        if record.get("survey_answers"):
            first.setdefault(re.match(r"(user\d+)_", record["id"]).group(1), record["survey_answers"][0])
    assert result.data["respondents"] == len(first)
    excluded = result.data["age"]["excluded_impossible_or_out_of_range"]
    assert sorted(map(str, excluded)) == sorted(
        str(a["age"]) for a in first.values() if not (str(a["age"]).isdigit() and 18 <= int(a["age"]) <= 100)
    )
    valid = [int(a["age"]) for a in first.values() if str(a["age"]).isdigit() and 18 <= int(a["age"]) <= 100]
    brackets = {r["value"]: r["count"] for r in result.data["age"]["brackets"]}
    assert brackets["18-24"] == sum(18 <= a <= 24 for a in valid)
    assert brackets["25-34"] == sum(25 <= a <= 34 for a in valid)
    assert sum(brackets.values()) == len(valid)
    genders = {r["value"]: r["count"] for r in result.data["gender"]}
    assert sum(genders.values()) == len(first)
    assert result.data["conversations_without_survey"] == sum(not r.get("survey_answers") for r in records)
    assert any("excluded" in n for n in result.notes)


def test_demographics_on_dev_file(dev_inputs):
    result = demographics_analysis(dev_inputs)
    assert result.data["respondents"] == 199  # distinct user ids with a survey answer
    frequency = {r["value"]: r["count"] for r in result.data["ai_use_frequency"]}
    assert frequency["5"] == 111
    themes = {r["value"]: r for r in result.data["purposes"]["themes"]}
    assert set(themes) == {"learning", "work", "brainstorming", "research", "coding", "planning", "writing",
                           "translation", "other"}
    assert themes["learning"]["count"] > themes["translation"]["count"]


def test_purpose_themes_rules():
    assert purpose_themes("Working (coding, debugging), learning new technologies, planning tasks") == [
        "learning", "work", "coding", "planning"]
    assert purpose_themes("translating things and brainstorming") == ["brainstorming", "translation"]
    assert purpose_themes("help") == ["other"]
    assert purpose_themes("") == [] and purpose_themes(None) == []


def test_topics_tables_match_pandas(tmp_path):
    labels = topic_labels(write_topics_codebook(tmp_path), DEV)
    result = topic_analysis(load_inputs(DEV, labels=[labels]))
    exploded = labels[["unit_id", "labels"]].explode("labels")
    exploded["category"] = exploded["labels"].map(TOPIC_PARENT)
    per_category = exploded.drop_duplicates(["unit_id", "category"])
    n = len(labels)
    expected = per_category["category"].value_counts()
    table = result.tables["topic_categories"].set_index("category")
    for category, count in expected.items():
        assert table.loc[category, "conversations"] == count
        assert table.loc[category, "share_of_conversations"] == pytest.approx(count / n, abs=1e-4)
        assert table.loc[category, "share_of_assignments"] == pytest.approx(count / len(per_category), abs=1e-4)
    fractional = per_category.groupby("unit_id")["category"].transform(lambda s: 1 / len(s))
    expected_fraction = fractional.groupby(per_category["category"]).sum() / n
    for category, value in expected_fraction.items():
        assert table.loc[category, "fractional_share"] == pytest.approx(value, abs=1e-4)
    assert table["fractional_share"].sum() == pytest.approx(1.0, abs=1e-3)
    assert list(table.index) == ["tech", "learning", "life", "other"]  # codebook order
    subtopics = result.tables["topic_subtopics"].set_index("subtopic")
    for subtopic, count in exploded["labels"].value_counts().items():
        assert subtopics.loc[subtopic, "conversations"] == count
    assert result.data["codebook"].startswith("test_topics@0.1.0")
    assert result.data["conversations_with_several_categories"] == int(
        (per_category.groupby("unit_id").size() > 1).sum()
    )


def test_topics_and_relations_say_when_no_labels_are_given(dev_inputs):
    for analysis in (topic_analysis, relation_analysis):
        result = analysis(dev_inputs)
        assert not result.available and "no labels given" in result.notes[0]
        assert result.to_dict()["available"] is False


def test_relations_overall_flow_and_ends_match_manual_counts():
    labels = relation_labels(DEV, skip_every=37)
    result = relation_analysis(load_inputs(DEV, labels=[labels]))
    overall = result.tables["relations_overall"].set_index("relation")
    for relation, count in labels["label"].value_counts().items():
        assert overall.loc[relation, "count"] == count
    lookup = dict(zip(labels["unit_id"], labels["label"], strict=False))
    sequences = []
    for record in raw_records(DEV):
        users = [m for m in record["messages"] if m["type"] == "user"]
        sequences.append([lookup.get(f"{record['id']}:{m['id']}", "(unlabelled)") for m in users])
    flow = result.tables["relations_flow"]

    def expected(k_values):
        outcomes = Counter()
        for seq in sequences:
            for k in k_values:
                if len(seq) >= k - 1:
                    outcomes[seq[k - 1] if len(seq) >= k else "(ended)"] += 1
        return outcomes

    longest = max(len(s) for s in sequences)
    for step, ks in (("turn 2", [2]), ("turn 3", [3]), ("later (turn 4+)", range(4, longest + 2))):
        got = flow[flow["step"] == step].set_index("outcome")
        want = expected(ks)
        assert dict(got["count"]) == dict(want)
        assert got["share"].sum() == pytest.approx(1.0, abs=1e-3)
    turn2 = flow[flow["step"] == "turn 2"].set_index("outcome")
    assert turn2.loc["(ended)", "count"] == sum(len(s) == 1 for s in sequences)
    ends = result.tables["relations_ends_at_turn"].set_index("last_user_turn")
    assert dict(ends["conversations"]) == dict(Counter(len(s) for s in sequences))
    assert result.data["labelled"] == len(labels)
    assert any("unlabelled" in n for n in result.notes)


def test_category_counts_match_raw_labels():
    result = category_analysis(load_inputs(DEV))
    records = raw_records(DEV)
    for scheme, key in (("reasons", "reasons"), ("reactions", "reactions")):
        raw = Counter(t["label"] for r in records for m in r["messages"] for t in (m.get(key) or []))
        table = result.tables[f"{scheme}_categories"].set_index("category")
        assert dict(table.loc[table["count"] > 0, "count"]) == dict(raw)
        assert table["share"].sum() == pytest.approx(1.0, abs=1e-3)
    reasons = pd.DataFrame(result.data["schemes"]["reasons"]["categories"])
    assert reasons["category"].iloc[0] == "task_motivation"  # codebook order, not by count or alphabet
    assert result.data["schemes"]["reasons"]["labelled"] == 519


def test_demographics_frequency_mean_is_none_when_nobody_answered(tmp_path):
    records = raw_records(SAMPLE)
    for record in records:
        for answer in record.get("survey_answers") or []:
            answer.pop("frequency", None)
    path = tmp_path / "no_frequency.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    result = demographics_analysis(load_inputs(path))
    assert result.data["respondents"] > 0
    assert result.data["ai_use_frequency_mean"] is None  # not 0.0: the scale runs from 1 to 5
