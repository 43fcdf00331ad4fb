"""Corpus statistics and data-quality findings on real files."""

from __future__ import annotations

import json

from thoughtcode.corpus import check_corpus, corpus_stats, count_tokens, load_corpus


def test_stats_of_the_development_file_are_exact(dev_file):
    stats = corpus_stats(load_corpus(dev_file))
    assert stats["conversations"] == 216
    assert stats["users"] == 203
    assert stats["messages"] == {"user": 830, "assistant": 830}
    assert stats["thoughts"]["by_kind"] == {"reason": 519, "reaction": 609}
    assert stats["thoughts"]["by_label"]["reason"]["task_motivation"] == 188
    assert stats["thoughts"]["by_label"]["reaction"]["explicit_affirmation"] == 455
    lengths = stats["messages_per_conversation"]
    assert lengths["median"] == 6 and lengths["min"] == 2 and lengths["max"] == 20
    assert sum(lengths["histogram"].values()) == 216
    assert list(lengths["histogram"])[:2] == ["1-2", "3-4"]
    assert stats["survey"]["conversations_with_survey"] == 212
    json.dumps(stats)  # JSON-ready


def test_user_messages_are_short_and_replies_long(dev_file):
    tokens = corpus_stats(load_corpus(dev_file))["tokens_per_message"]
    assert tokens["user"]["median"] == 13  # the paper reports about 13 for user messages
    assert tokens["assistant"]["median"] > 20 * tokens["user"]["median"]


def test_token_counter_counts_words_numbers_and_punctuation():
    assert count_tokens("how do i get motivated") == 5
    assert count_tokens("It's 12345!") == 5  # It, 's, 123, 45, !
    assert count_tokens("") == 0


def test_check_lists_real_gaps(dev_file):
    result = check_corpus(load_corpus(dev_file))
    assert result["counts"]["missing_survey"] == 4
    assert result["counts"]["empty_message"] == 4
    kinds = {f["kind"] for f in result["findings"]}
    assert {"empty_reasons", "empty_reactions"} <= kinds


def test_check_finds_impossible_ages_and_time_order(sample_file, tmp_path):
    record = json.loads(sample_file.read_text().splitlines()[0])
    record["survey_answers"][0]["age"] = "366"
    record["messages"][1]["timestamp"] = "2020-01-01T00:00:00Z"
    path = tmp_path / "gaps.jsonl"
    path.write_text(json.dumps(record) + "\n" + json.dumps(record) + "\n")
    result = check_corpus(load_corpus(path))
    assert result["counts"]["impossible_age"] == 2
    assert result["counts"]["timestamp_out_of_order"] == 2
    assert result["counts"]["duplicate_conversation_id"] == 1


def test_check_finds_time_order_without_a_time_zone(tmp_path):
    # Timestamps without an offset (common in CSV exports) are ordered among themselves too.
    record = {
        "id": "c1",
        "messages": [
            {"id": 1, "type": "user", "content": "hi", "timestamp": "2024-05-01T10:00:00"},
            {"id": 2, "type": "assistant", "content": "hello", "timestamp": "2024-05-01 09:00:00"},
            {"id": 3, "type": "user", "content": "thanks", "timestamp": "2024-05-01T11:00:00Z"},
        ],
    }
    path = tmp_path / "naive.jsonl"
    path.write_text(json.dumps(record) + "\n")
    findings = check_corpus(load_corpus(path))["findings"]
    out_of_order = [f["message_id"] for f in findings if f["kind"] == "timestamp_out_of_order"]
    assert out_of_order == ["2"]  # the aware time after a naive one has no known order: not reported
