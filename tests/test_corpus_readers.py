"""Reading every supported format, and what happens with broken input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from thoughtcode.corpus import CorpusError, detect_format, load_corpus, read_corpus, write_jsonl, write_table
from thoughtcode.corpus.units import dialogue

FORMATS = Path(__file__).parent / "data" / "formats"


def _sample_lines(sample_file: Path) -> list[str]:
    return sample_file.read_text(encoding="utf-8").splitlines()


def test_release_format_reads_every_field(sample_file):
    conversations = load_corpus(sample_file)
    assert len(conversations) == 20
    first = conversations[0]
    assert first.id == "user918_task2_conversation1"
    assert first.user_id == "user918"
    assert first.messages[0].type == "user" and first.messages[0].id == 1776014335874
    assert first.survey is not None and first.survey.age_years is not None
    assert sum(len(m.reasons) for c in conversations for m in c.messages) == 53
    assert sum(len(m.reactions) for c in conversations for m in c.messages) == 60


def test_release_format_round_trips_losslessly(sample_file, tmp_path):
    conversations = load_corpus(sample_file)
    out = tmp_path / "copy.jsonl.gz"
    assert write_jsonl(conversations, out) == 20
    again = load_corpus(out)
    assert [c.model_dump() for c in again] == [c.model_dump() for c in conversations]
    original = [json.loads(line) for line in _sample_lines(sample_file)]
    with gzip.open(out, "rt", encoding="utf-8") as handle:
        written = [json.loads(line) for line in handle]
    assert written[0]["messages"][0] == original[0]["messages"][0]
    assert set(written[0]) == set(original[0])


def test_unknown_fields_are_kept(tmp_path, sample_file):
    record = json.loads(_sample_lines(sample_file)[0])
    record["study_arm"] = "B"
    record["messages"][0]["client"] = "web"
    record["messages"][0]["reasons"] = [{"content": "x", "label": "task_motivation", "timestamp": None, "score": 3}]
    path = tmp_path / "extra.jsonl"
    path.write_text(json.dumps(record) + "\n")
    conversation = load_corpus(path)[0]
    assert conversation.to_record()["study_arm"] == "B"
    assert conversation.to_record()["messages"][0]["client"] == "web"
    assert conversation.messages[0].reasons[0].model_dump()["score"] == 3


@pytest.mark.parametrize(
    ("name", "expected_format"),
    [
        ("openai_chat.jsonl", "openai"),
        ("sharegpt.jsonl", "sharegpt"),
        ("wildchat.jsonl", "wildchat"),
        ("lmsys.jsonl", "wildchat"),
        ("turns.csv", "table"),
        ("turns.parquet", "table"),
        ("thoughttrace.jsonl.gz", "thoughttrace"),
    ],
)
def test_every_format_gives_the_same_dialogue(name, expected_format, sample_file):
    reference = load_corpus(sample_file)[:3]
    reader = read_corpus(FORMATS / name)
    conversations = list(reader)
    assert reader.report.format == expected_format
    assert [c.id for c in conversations] == [c.id for c in reference]
    for got, want in zip(conversations, reference, strict=True):
        assert [(m.type, m.content) for m in dialogue(got)] == [(m.type, m.content) for m in want.messages]


def test_openai_system_prompt_is_kept_but_is_not_a_turn():
    conversation = load_corpus(FORMATS / "openai_chat.jsonl")[0]
    assert conversation.messages[0].type == "system"
    assert dialogue(conversation)[0].type == "user"


def test_wildchat_keeps_its_metadata():
    conversation = load_corpus(FORMATS / "wildchat.jsonl")[0]
    extra = conversation.model_dump()
    assert extra["language"] == "English" and conversation.model_name
    assert conversation.messages[0].model_dump()["language"] == "English"


def test_turn_table_keeps_thoughts(sample_file, tmp_path):
    reference = load_corpus(sample_file)
    for suffix in (".csv", ".parquet"):
        path = tmp_path / f"turns{suffix}"
        write_table(reference, path)
        again = load_corpus(path)
        assert [m.model_dump() for c in again for m in c.messages] == [
            m.model_dump() for c in reference for m in c.messages
        ]


def test_detect_format_explains_unknown_records():
    with pytest.raises(ValueError, match="--format"):
        detect_format({"text": "hello"})


def test_format_can_be_forced(tmp_path):
    path = tmp_path / "chat.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    assert read_corpus(path, format="openai").__iter__().__next__().messages[0].content == "hi"
    with pytest.raises(ValueError, match="unknown format"):
        read_corpus(path, format="csv")


# --- malformed input -------------------------------------------------------------------------------------
def _write_with_broken_line(tmp_path: Path, sample_file: Path, line_no: int, broken: str) -> Path:
    lines = _sample_lines(sample_file)[:5]
    lines[line_no - 1] = broken
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_json_names_file_and_line(tmp_path, sample_file):
    path = _write_with_broken_line(tmp_path, sample_file, 3, '{"id": "x", "messages": [')
    with pytest.raises(CorpusError) as info:
        load_corpus(path)
    assert info.value.line == 3
    assert f"{path}:3" in str(info.value) and "invalid JSON" in str(info.value)


def test_missing_required_field_names_the_field(tmp_path, sample_file):
    record = json.loads(_sample_lines(sample_file)[0])
    del record["messages"][2]["type"]
    path = _write_with_broken_line(tmp_path, sample_file, 1, json.dumps(record))
    with pytest.raises(CorpusError) as info:
        load_corpus(path)
    assert info.value.line == 1 and info.value.field == "messages[2].type"
    assert "messages[2].type" in str(info.value)


def test_wrong_type_names_the_field(tmp_path, sample_file):
    record = json.loads(_sample_lines(sample_file)[3])
    record["messages"][0]["reasons"] = "not a list"
    path = _write_with_broken_line(tmp_path, sample_file, 4, json.dumps(record))
    with pytest.raises(CorpusError, match=r":4: field 'messages\[0\]\.reasons'"):
        load_corpus(path)


def test_skip_invalid_counts_and_reports(tmp_path, sample_file):
    path = _write_with_broken_line(tmp_path, sample_file, 3, "{not json")
    reader = read_corpus(path, skip_invalid=True)
    conversations = list(reader)
    assert len(conversations) == 4
    assert reader.report.n_read == 4
    assert [s.line for s in reader.report.skipped] == [3]


def test_table_errors_name_the_row(tmp_path, sample_file):
    path = tmp_path / "turns.csv"
    write_table(load_corpus(sample_file)[:2], path)
    text = path.read_text().replace(",assistant,", ",robot,", 1)
    path.write_text(text)
    with pytest.raises(CorpusError, match=r"turns\.csv:row 2: field 'role': unknown role 'robot'"):
        load_corpus(path)


def test_table_rows_must_be_grouped_by_conversation(tmp_path):
    path = tmp_path / "turns.csv"
    path.write_text("conversation_id,turn,role,content\na,0,user,hi\nb,0,user,yo\na,1,assistant,hello\n")
    with pytest.raises(CorpusError, match="not contiguous"):
        load_corpus(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_corpus(tmp_path / "nope.jsonl")


def test_reader_streams(tmp_path, sample_file):
    """Counting a large file keeps one conversation at a time: the reader is a lazy iterator."""
    line = _sample_lines(sample_file)[0]
    path = tmp_path / "big.jsonl"
    with path.open("w") as handle:
        for i in range(3000):
            handle.write(line.replace("user918_task2_conversation1", f"user{i}_task1_conversation1") + "\n")
    reader = iter(read_corpus(path))
    first = next(reader)
    assert first.id == "user0_task1_conversation1"
    assert sum(1 for _ in reader) == 2999


def test_empty_first_conversation_does_not_decide_the_format(tmp_path, sample_file):
    # A conversation with no messages looks like OpenAI chat and ThoughtTrace alike; it must not lock
    # the whole file into the wrong format.
    lines = [json.dumps({"id": "empty_one", "messages": []}), *_sample_lines(sample_file)[:3]]
    path = tmp_path / "empty_first.jsonl"
    path.write_text("\n".join(lines) + "\n")
    reader = read_corpus(path)
    conversations = list(reader)
    assert [c.id for c in conversations][0] == "empty_one"
    assert len(conversations) == 4 and conversations[0].messages == []
    assert reader.report.format == "thoughttrace"
