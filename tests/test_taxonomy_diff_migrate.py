"""Diffs between codebook versions and label migrations across them, on real files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from thoughtcode.labels import LabelRecord, read_labels, write_labels
from thoughtcode.taxonomy import Codebook, CodebookError, load_codebook, load_codebook_file
from thoughtcode.taxonomy.diff import diff_codebooks, token_jaccard
from thoughtcode.taxonomy.migrate import migrate_labels, migration_path, plan_migration

Edit = Callable[[dict[str, Any]], None]


def category(data: dict[str, Any], category_id: str) -> dict[str, Any]:
    return next(c for c in data["categories"] if c["id"] == category_id)


def drop(data: dict[str, Any], *ids: str) -> None:
    data["categories"] = [c for c in data["categories"] if c["id"] not in ids]


def new_version(tmp_path: Path, base: Codebook, version: str, edit: Edit, migration: dict | None) -> Codebook:
    """Write an edited copy of ``base`` as a YAML file and load it back, as a user would."""
    data = base.model_dump(mode="json", by_alias=True, exclude={"changelog"})
    data["version"] = version
    data["migration"] = migration
    edit(data)
    path = tmp_path / f"{base.name}-{version}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return load_codebook_file(path)


def edit_1_1(data: dict[str, Any]) -> None:
    social = category(data, "social_and_others")
    social.update(id="social_interaction", name="Social Interaction", aliases=[])
    category(data, "task_continuation")["name"] = "Task Follow-up"
    category(data, "task_continuation")["aliases"] = ["Continuation"]
    category(data, "context_grounding_and_constraints")["definition"] = "Facts about the user's situation."
    drop(data, "style_expectation", "task_reorientation", "task_motivation")
    data["categories"] += [
        {"id": "task_goal", "name": "Task Goal", "definition": "The user states what they want done."},
        {"id": "task_curiosity", "name": "Task Curiosity", "definition": "The user asks out of curiosity."},
    ]


MAP_1_1 = {
    "from": "1.0.0",
    "map": {
        "social_and_others": "social_interaction",
        "style_expectation": "content_expectation",
        "task_motivation": ["task_goal", "task_curiosity"],
        "task_reorientation": None,
    },
}


def edit_2_0(data: dict[str, Any]) -> None:
    category(data, "task_goal").update(id="goal", name="Goal")
    category(data, "social_interaction").update(id="social", name="Social")
    drop(data, "task_curiosity")


MAP_2_0 = {
    "from": "1.1.0",
    "map": {"task_goal": "goal", "social_interaction": "social", "task_curiosity": None},
}


@pytest.fixture
def chain(tmp_path) -> tuple[Codebook, Codebook, Codebook]:
    v1 = load_codebook("reasons@1.0.0")
    v11 = new_version(tmp_path, v1, "1.1.0", edit_1_1, MAP_1_1)
    v2 = new_version(tmp_path, v11, "2.0.0", edit_2_0, MAP_2_0)
    return v1, v11, v2


def labels_of(codebook: Codebook, labels: list[str | None], **extra: Any) -> pd.DataFrame:
    rows = []
    for i, label in enumerate(labels):
        row = {
            "unit_id": f"u{i}",
            "scheme": codebook.name,
            "label": label,
            "coder": "ann",
            "codebook": codebook.ref,
        }
        row.update(status="ok" if label else "failed", error=None if label else "timeout", **extra)
        rows.append(row)
    return pd.DataFrame(rows)


# --- diff -------------------------------------------------------------------------------------------------
def test_identical_codebooks_have_an_empty_diff():
    reasons = load_codebook("reasons")
    diff = diff_codebooks(reasons, reasons)
    assert diff.is_empty and diff.to_dict()["identical"] is True
    assert "no differences" in diff.format_text()


def test_diff_reports_renames_merges_splits_retirements_and_redefinitions(chain):
    v1, v11, _ = chain
    diff = diff_codebooks(v1, v11)
    renames = {(r.old_id, r.new_id): r.evidence for r in diff.renamed}
    assert renames == {
        ("social_and_others", "social_interaction"): "declared in migration",
        ("task_continuation", "task_continuation"): "same id",
    }
    assert [(m.old_ids, m.new_id) for m in diff.merged] == [
        (["style_expectation", "content_expectation"], "content_expectation")
    ]
    assert [(s.old_id, s.new_ids) for s in diff.split] == [
        ("task_motivation", ["task_goal", "task_curiosity"])
    ]
    assert diff.retired == ["task_reorientation"]
    assert diff.added == [] and diff.removed == []
    assert [(d.id, [c.field for c in d.changes]) for d in diff.redefined] == [
        ("context_grounding_and_constraints", ["definition"])
    ]
    assert [c.field for c in diff.aliases_changed] == ["task_continuation", "social_interaction"]
    assert diff.metadata == []
    text = diff.format_text()
    assert "> renamed social_and_others -> social_interaction" in text
    assert "< split task_motivation -> task_goal, task_curiosity" in text
    assert "- retired task_reorientation" in text
    json.dumps(diff.to_dict())


def test_undeclared_rename_is_found_by_similar_definition(tmp_path):
    v1 = load_codebook("reactions")

    def rename(data: dict[str, Any]) -> None:
        category(data, "scope_fit").update(id="amount_fit", name="Amount Fit", aliases=[])

    v2 = new_version(tmp_path, v1, "1.1.0", rename, None)
    diff = diff_codebooks(v1, v2)
    assert [(r.old_id, r.new_id) for r in diff.renamed] == [("scope_fit", "amount_fit")]
    assert diff.renamed[0].evidence == "similar definition (J=1.00)"
    assert diff.added == [] and diff.removed == []


def test_different_meaning_under_a_new_id_is_added_and_removed(tmp_path):
    v1 = load_codebook("reactions")

    def replace(data: dict[str, Any]) -> None:
        category(data, "scope_fit").update(
            id="speed", name="Speed", aliases=[], definition="The reply came too late."
        )

    v2 = new_version(tmp_path, v1, "1.1.0", replace, None)
    diff = diff_codebooks(v1, v2)
    assert diff.added == ["speed"] and diff.removed == ["scope_fit"] and diff.renamed == []
    assert token_jaccard(v1.category("scope_fit").definition, "The reply came too late.") < 0.8


def test_moves_example_changes_and_metadata(tmp_path):
    topics = load_codebook("topics")

    def reshape(data: dict[str, Any]) -> None:
        category(data, "ai_digital_tools")["parent"] = "education_knowledge"
        category(data, "pets_animals")["examples"].append({"text": "Is it safe for dogs to eat grapes?"})
        data["title"] = "Topics, revised"

    v2 = new_version(tmp_path, topics, "1.1.0", reshape, None)
    diff = diff_codebooks(topics, v2)
    assert [(m.id, m.old_parent, m.new_parent) for m in diff.moved] == [
        ("ai_digital_tools", "technology", "education_knowledge")
    ]
    assert [(e.id, e.field, e.added) for e in diff.examples_changed] == [
        ("pets_animals", "examples", ["Is it safe for dogs to eat grapes?"])
    ]
    assert [(c.field, c.new) for c in diff.metadata] == [("title", "Topics, revised")]

    def ordinal(data: dict[str, Any]) -> None:
        data.update(
            multi_label=True, unit="user_turn", order=list(reversed([c["id"] for c in data["categories"]]))
        )

    reactions = load_codebook("reactions")
    changed = diff_codebooks(reactions, new_version(tmp_path, reactions, "2.0.0", ordinal, None))
    assert [c.field for c in changed.metadata] == ["unit", "multi_label", "order"]


# --- migration ------------------------------------------------------------------------------------------
def test_migration_rewrites_renames_and_merges_and_marks_splits_and_retirements(chain):
    v1, v11, _ = chain
    frame = labels_of(
        v1,
        [
            "social_and_others",
            "Style Expectation",
            "task_motivation",
            "task_reorientation",
            "content_expectation",
            None,
        ],
    )
    result = migrate_labels(frame, v1, v11, versions=[v1, v11])
    out = result.frame.set_index("unit_id")
    assert (out["codebook"] == v11.ref).all() and (out["previous_codebook"] == v1.ref).all()
    assert out.loc["u0", "label"] == "social_interaction" and out.loc["u0", "status"] == "ok"
    assert (
        out.loc["u1", "label"] == "content_expectation"
        and out.loc["u1", "previous_label"] == "Style Expectation"
    )
    assert out.loc["u4", "label"] == "content_expectation" and not out.loc["u4", "needs_recoding"]
    split = out.loc["u2"]
    assert split["label"] is None and split["status"] == "failed" and split["needs_recoding"]
    assert split["recode_candidates"] == ["task_goal", "task_curiosity"]
    assert "split into task_goal, task_curiosity" in split["error"]
    retired = out.loc["u3"]
    assert (
        retired["needs_recoding"]
        and retired["recode_candidates"] is None
        and "retired" in retired["recode_reason"]
    )
    assert out.loc["u5", "status"] == "failed" and out.loc["u5", "error"] == "timeout"
    report = result.report
    assert (report.rewritten, report.unchanged, report.to_recode, report.failed_before) == (2, 1, 2, 1)
    kinds = {o.old_id: (o.kind, o.rows) for o in report.outcomes}
    assert kinds == {
        "task_motivation": ("split", 1),
        "content_expectation": ("unchanged", 1),
        "social_and_others": ("renamed", 1),
        "style_expectation": ("merged", 1),
        "task_reorientation": ("retired", 1),
    }
    assert "re-code among task_goal, task_curiosity" in report.format_text()


def test_migrated_table_keeps_the_labels_contract_through_a_file(chain, tmp_path):
    v1, v11, _ = chain
    frame = labels_of(v1, ["social_and_others", "task_motivation", None])
    path = write_labels(migrate_labels(frame, v1, v11, versions=[v1, v11]).frame, tmp_path / "migrated.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    records = [LabelRecord.model_validate(row) for row in rows]
    assert [r.status for r in records] == ["ok", "failed", "failed"]
    assert rows[1]["recode_candidates"] == ["task_goal", "task_curiosity"]
    assert len(read_labels(path)) == 3


def test_chained_migration_composes_every_step(chain):
    v1, v11, v2 = chain
    assert [cb.version for cb in migration_path(v1, v2, [v1, v11, v2])] == ["1.0.0", "1.1.0", "2.0.0"]
    plan = plan_migration(v1, v2, [v1, v11, v2])
    assert (plan["social_and_others"].kind, plan["social_and_others"].new_id) == ("renamed", "social")
    assert (plan["task_motivation"].kind, plan["task_motivation"].candidates) == ("split", ["goal"])
    assert plan["task_reorientation"].kind == "retired"
    frame = labels_of(v1, ["social_and_others", "task_motivation", "style_expectation"])
    result = migrate_labels(frame, v1, v2, versions=[v1, v11, v2])
    assert result.report.path == [v1.ref, v11.ref, v2.ref]
    assert list(result.frame["label"]) == ["social", None, "content_expectation"]
    assert result.frame.loc[1, "recode_candidates"] == ["goal"]


def test_two_single_steps_give_the_same_labels_as_one_chained_step(chain, tmp_path):
    v1, v11, v2 = chain
    frame = labels_of(v1, ["social_and_others", "style_expectation", "task_continuation"])
    step = migrate_labels(frame, v1, v11, versions=[v1, v11]).frame
    path = write_labels(step, tmp_path / "step.jsonl")
    twice = migrate_labels(read_labels(path), v11, v2, versions=[v11, v2]).frame
    once = migrate_labels(frame, v1, v2, versions=[v1, v11, v2]).frame
    assert (
        list(twice["label"]) == list(once["label"]) == ["social", "content_expectation", "task_continuation"]
    )
    assert set(twice["codebook"]) == set(once["codebook"]) == {v2.ref}


def test_rename_there_and_back_restores_the_labels(tmp_path):
    v1 = load_codebook("reasons")

    def there(data: dict[str, Any]) -> None:
        category(data, "style_expectation").update(id="form_expectation", name="Form Expectation", aliases=[])

    def back(data: dict[str, Any]) -> None:
        category(data, "form_expectation").update(id="style_expectation", name="Style Expectation")

    v11 = new_version(
        tmp_path, v1, "1.1.0", there, {"from": "1.0.0", "map": {"style_expectation": "form_expectation"}}
    )
    v12 = new_version(
        tmp_path, v11, "1.2.0", back, {"from": "1.1.0", "map": {"form_expectation": "style_expectation"}}
    )
    original = ["style_expectation", "task_motivation", "style_expectation"]
    result = migrate_labels(labels_of(v1, original), v1, v12, versions=[v1, v11, v12])
    assert list(result.frame["label"]) == original
    assert (result.report.rewritten, result.report.unchanged) == (0, 3)
    assert [r.kind for r in result.report.outcomes] == ["unchanged", "unchanged"]


def test_multi_label_rows_map_each_label(tmp_path):
    topics = load_codebook("topics")

    def revise(data: dict[str, Any]) -> None:
        drop(data, "music_film_games", "software_coding")
        data["categories"] += [
            {
                "id": "programming",
                "name": "Programming",
                "definition": "Writing code.",
                "parent": "technology",
            },
            {
                "id": "data_science",
                "name": "Data science",
                "definition": "Working with data.",
                "parent": "technology",
            },
        ]

    mapping = {
        "from": "1.0.0",
        "map": {"music_film_games": "hobbies_leisure", "software_coding": ["programming", "data_science"]},
    }
    v11 = new_version(tmp_path, topics, "1.1.0", revise, mapping)
    frame = pd.DataFrame(
        [
            {
                "unit_id": "c1",
                "labels": ["music_film_games", "hobbies_leisure"],
                "coder": "a",
                "codebook": topics.ref,
            },
            {"unit_id": "c2", "labels": ["Travel"], "coder": "a", "codebook": topics.ref},
            {
                "unit_id": "c3",
                "labels": ["software_coding", "devices_gadgets"],
                "coder": "a",
                "codebook": topics.ref,
            },
        ]
    )
    result = migrate_labels(frame, topics, v11, versions=[topics, v11])
    out = result.frame
    assert out.loc[0, "labels"] == ["hobbies_leisure"] and out.loc[0, "previous_labels"] == [
        "music_film_games",
        "hobbies_leisure",
    ]
    assert out.loc[1, "labels"] == ["travel_trip_planning"]
    assert out.loc[2, "labels"] is None and out.loc[2, "recode_candidates"] == ["programming", "data_science"]
    assert (result.report.rewritten, result.report.to_recode) == (2, 1)


def test_csv_list_cells_are_read_back(tmp_path):
    topics = load_codebook("topics")

    def rename(data: dict[str, Any]) -> None:
        category(data, "parenting").update(id="parenting_children", aliases=[])

    v11 = new_version(
        tmp_path, topics, "1.0.1", rename, {"from": "1.0.0", "map": {"parenting": "parenting_children"}}
    )
    frame = pd.DataFrame(
        [
            {
                "unit_id": "c1",
                "labels": ["parenting", "relationships_family"],
                "coder": "a",
                "codebook": topics.ref,
            }
        ]
    )
    path = tmp_path / "labels.csv"
    frame.to_csv(path, index=False)
    result = migrate_labels(read_labels(path), topics, v11, versions=[topics, v11])
    assert result.frame.loc[0, "labels"] == ["parenting_children", "relationships_family"]


# --- refusals ---------------------------------------------------------------------------------------------
def test_labels_of_another_hash_are_refused_not_mixed(chain):
    v1, v11, _ = chain
    frame = labels_of(v1, ["task_motivation", "social_and_others", "style_expectation"])
    frame.loc[1:, "codebook"] = "reasons@1.0.0#deadbeef"
    with pytest.raises(CodebookError) as info:
        migrate_labels(frame, v1, v11, versions=[v1, v11])
    message = str(info.value)
    assert "2 row(s) were made with another version or text of 'reasons'" in message
    assert "reasons@1.0.0#deadbeef (2 rows)" in message and f"expected {v1.ref}" in message


def test_rows_of_other_codebooks_pass_through_untouched(chain):
    v1, v11, _ = chain
    reactions = load_codebook("reactions")
    frame = pd.concat(
        [labels_of(v1, ["task_motivation"]), labels_of(reactions, ["scope_fit"])], ignore_index=True
    )
    result = migrate_labels(frame, v1, v11, versions=[v1, v11])
    assert result.report.other_codebooks == {reactions.ref: 1}
    assert result.frame.loc[1, "label"] == "scope_fit" and result.frame.loc[1, "codebook"] == reactions.ref


def test_unstamped_rows_are_refused_unless_assumed(chain):
    v1, v11, _ = chain
    frame = labels_of(v1, ["social_and_others", "task_continuation"]).drop(columns=["codebook"])
    with pytest.raises(CodebookError, match="2 row\\(s\\) carry no codebook reference"):
        migrate_labels(frame, v1, v11, versions=[v1, v11])
    result = migrate_labels(frame, v1, v11, versions=[v1, v11], assume_unstamped=True)
    assert list(result.frame["label"]) == ["social_interaction", "task_continuation"]


def test_unknown_labels_stop_the_migration(chain):
    v1, v11, _ = chain
    with pytest.raises(
        CodebookError, match="not assignable categories of reasons@1.0.0.*'curiosity' \\(2\\)"
    ):
        migrate_labels(labels_of(v1, ["curiosity", "curiosity"]), v1, v11, versions=[v1, v11])


def test_chain_and_step_errors_are_explained(chain, tmp_path):
    v1, v11, v2 = chain
    with pytest.raises(CodebookError, match="migrates from 1.1.0, which does not lead back to reasons@1.0.0"):
        migration_path(v1, v2, versions=[v1, v2])
    with pytest.raises(CodebookError, match="the target must be a later version"):
        migration_path(v2, v1, versions=[v1, v2])
    with pytest.raises(CodebookError, match="they are different codebooks"):
        migration_path(v1, load_codebook("reactions"))

    def lose(data: dict[str, Any]) -> None:
        drop(data, "task_reorientation")

    lost = new_version(tmp_path, v1, "1.0.1", lose, {"from": "1.0.0", "map": {}})
    with pytest.raises(CodebookError, match="does not say what becomes of 'task_reorientation'"):
        migration_path(v1, lost, versions=[v1, lost])
    stray = new_version(
        tmp_path, v1, "1.0.2", lambda data: None, {"from": "1.0.0", "map": {"curiosity": "task_motivation"}}
    )
    with pytest.raises(CodebookError, match="maps 'curiosity', which reasons@1.0.0#.* does not have"):
        migration_path(v1, stray, versions=[v1, stray])
    silent = new_version(tmp_path, v1, "1.0.3", lambda data: None, None)
    with pytest.raises(CodebookError, match="declares no migration"):
        migration_path(v1, silent, versions=[v1, silent])


def test_yaml_export_keeps_retired_categories_in_the_migration_map():
    from thoughtcode.taxonomy import load_codebook, parse_codebook
    from thoughtcode.taxonomy.export import to_yaml

    old = load_codebook("reactions@1.0.0")
    data = old.model_dump(mode="json", by_alias=True)
    data["version"] = "1.1.0"
    data["categories"] = [c for c in data["categories"] if c["id"] != "partial_satisfaction"]
    data["migration"] = {"from": "1.0.0", "map": {"partial_satisfaction": None}}
    new = parse_codebook(data)
    again = parse_codebook(yaml.safe_load(to_yaml(new)))
    assert again.migration.map == {"partial_satisfaction": None}
    assert again.content_hash == new.content_hash
