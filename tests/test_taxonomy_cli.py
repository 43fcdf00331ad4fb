"""The `thoughtcode taxonomy` commands as a user types them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from thoughtcode.cli import main
from thoughtcode.labels import write_labels
from thoughtcode.taxonomy import load_codebook


@pytest.fixture
def reasons_1_1(tmp_path) -> Path:
    """reasons 1.1.0 as a user's file: social_and_others renamed, task_reorientation retired."""
    data = load_codebook("reasons@1.0.0").model_dump(mode="json", by_alias=True, exclude={"changelog"})
    data["version"] = "1.1.0"
    data["categories"] = [c for c in data["categories"] if c["id"] != "task_reorientation"]
    social = next(c for c in data["categories"] if c["id"] == "social_and_others")
    social.update(id="social_interaction", name="Social Interaction", aliases=[])
    data["migration"] = {
        "from": "1.0.0",
        "map": {"social_and_others": "social_interaction", "task_reorientation": None},
    }
    path = tmp_path / "reasons-1.1.0.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def labels_file(tmp_path) -> Path:
    ref = load_codebook("reasons@1.0.0").ref
    rows = [
        {
            "unit_id": f"u{i}",
            "scheme": "reasons",
            "label": label,
            "coder": "ann",
            "codebook": ref,
            "status": "ok",
        }
        for i, label in enumerate(["social_and_others", "task_reorientation", "task_motivation"])
    ]
    return write_labels(pd.DataFrame(rows), tmp_path / "labels.jsonl")


def test_show_topics_json_has_7_parents_and_36_leaves():
    result = subprocess.run(
        [sys.executable, "-m", "thoughtcode.cli", "taxonomy", "show", "topics@1.0.0", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    categories = json.loads(result.stdout)["categories"]
    parents = {c["parent"] for c in categories if c.get("parent")}
    assert len(parents) == 7 and len([c for c in categories if c["id"] not in parents]) == 36


def test_list_shows_every_builtin_with_its_reference(capsys):
    assert main(["taxonomy", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("reasons", "reactions", "relations", "topics"):
        assert load_codebook(name).ref in out
    assert main(["taxonomy", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    topics = next(r for r in rows if r["name"] == "topics")
    assert (topics["labels"], topics["categories"], topics["unit"]) == (36, 43, "conversation")


def test_show_markdown_yaml_and_schema(capsys):
    assert main(["taxonomy", "show", "reasons"]) == 0
    assert "### Task Motivation & Goal (`task_motivation`)" in capsys.readouterr().out
    assert main(["taxonomy", "show", "reactions@1.0.0", "--format", "yaml"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["categories"][3]["id"] == "scope_fit"
    assert main(["taxonomy", "show", "relations", "--format", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["properties"]["label"]["enum"][0] == "first_request"


def test_show_unknown_reference_exits_2(capsys):
    assert main(["taxonomy", "show", "reasons@3.0.0"]) == 2
    assert "has no version 3.0.0" in capsys.readouterr().err


def test_validate_prints_the_reference(reasons_1_1, capsys):
    assert main(["taxonomy", "validate", str(reasons_1_1)]) == 0
    out = capsys.readouterr().out.strip()
    assert out == load_codebook(reasons_1_1).ref and out.startswith("reasons@1.1.0#")


def test_validate_lists_every_problem_and_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.json"
    bad = {
        "name": "mine",
        "version": "one",
        "title": "Mine",
        "unit": "reason",
        "categories": [
            {"id": "a", "name": "A", "definition": ""},
            {"id": "a", "name": "B", "definition": "b", "parent": "x"},
        ],
    }
    path.write_text(json.dumps(bad), encoding="utf-8")
    assert main(["taxonomy", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "4 problem(s)" in err
    for part in (
        "version 'one' is not semantic",
        "definition: must not be empty",
        "duplicate category id(s): a",
        "unknown parent 'x'",
    ):
        assert part in err


def test_diff_text_and_json(reasons_1_1, capsys):
    assert main(["taxonomy", "diff", "reasons@1.0.0", str(reasons_1_1)]) == 0
    out = capsys.readouterr().out
    assert (
        "> renamed social_and_others -> social_interaction" in out and "- retired task_reorientation" in out
    )
    assert main(["taxonomy", "diff", "reasons@1.0.0", str(reasons_1_1), "--json"]) == 0
    diff = json.loads(capsys.readouterr().out)
    assert diff["retired"] == ["task_reorientation"] and diff["identical"] is False


def test_migrate_writes_the_table_and_reports(reasons_1_1, labels_file, tmp_path, capsys):
    out = tmp_path / "migrated.jsonl"
    args = ["taxonomy", "migrate", str(labels_file), "--from", "reasons@1.0.0", "--to", str(reasons_1_1)]
    assert main([*args, "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["rewritten"], report["unchanged"], report["to_recode"]) == (1, 1, 1)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["label"] for r in rows] == ["social_interaction", None, "task_motivation"]
    assert {r["codebook"] for r in rows} == {load_codebook(reasons_1_1).ref}
    assert rows[1]["needs_recoding"] is True and rows[1]["status"] == "failed"
    assert main(args) == 0
    assert "dry run" in capsys.readouterr().out


def test_migrate_refuses_mixed_hashes(reasons_1_1, tmp_path, capsys):
    rows = [
        {"unit_id": "u1", "label": "task_motivation", "coder": "ann", "codebook": "reasons@1.0.0#0badc0de"}
    ]
    path = write_labels(pd.DataFrame(rows), tmp_path / "old.jsonl")
    code = main(["taxonomy", "migrate", str(path), "--from", "reasons@1.0.0", "--to", str(reasons_1_1)])
    assert code == 2
    assert "reasons@1.0.0#0badc0de (1 rows)" in capsys.readouterr().err
