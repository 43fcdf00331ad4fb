"""Codebook validation: user files are checked strictly and every problem is named."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from thoughtcode.taxonomy import CodebookError, codebook_versions, load_codebook, load_codebook_file
from thoughtcode.taxonomy.model import Codebook


def minimal(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "mood",
        "version": "1.0.0",
        "title": "Mood",
        "unit": "reaction",
        "categories": [
            {"id": "happy", "name": "Happy", "definition": "The user is pleased.", "aliases": ["Glad"]},
            {"id": "unhappy", "name": "Unhappy", "definition": "The user is displeased."},
        ],
    }
    data.update(changes)
    return data


def write_yaml(tmp_path: Path, data: dict[str, Any], name: str = "book.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def problems_of(tmp_path: Path, data: dict[str, Any]) -> str:
    with pytest.raises(CodebookError) as info:
        load_codebook_file(write_yaml(tmp_path, data))
    return str(info.value)


def test_valid_file_loads_with_a_reference_and_stable_hash(tmp_path):
    codebook = load_codebook_file(write_yaml(tmp_path, minimal()))
    assert re.fullmatch(r"mood@1\.0\.0#[0-9a-f]{8}", codebook.ref)
    json_path = tmp_path / "book.json"
    json_path.write_text(json.dumps(minimal()), encoding="utf-8")
    assert load_codebook_file(json_path).content_hash == codebook.content_hash


def test_hash_follows_the_codes_not_the_changelog(tmp_path):
    base = load_codebook_file(write_yaml(tmp_path, minimal()))
    logged = Codebook.model_validate(minimal(changelog=[{"version": "1.0.0", "changes": ["first"]}]))
    assert logged.content_hash == base.content_hash
    edited = minimal()
    edited["categories"][0]["definition"] = "The user is delighted."
    assert Codebook.model_validate(edited).content_hash != base.content_hash


def test_duplicate_ids_are_named(tmp_path):
    data = minimal()
    data["categories"].append({"id": "happy", "name": "Cheerful", "definition": "Again."})
    assert "duplicate category id(s): happy" in problems_of(tmp_path, data)


def test_unknown_parent_is_named(tmp_path):
    data = minimal()
    data["categories"][1]["parent"] = "feelings"
    assert "category 'unhappy' has unknown parent 'feelings'" in problems_of(tmp_path, data)


def test_own_parent_and_parent_cycles_are_named(tmp_path):
    data = minimal()
    data["categories"][0]["parent"] = "happy"
    assert "category 'happy' is its own parent" in problems_of(tmp_path, data)
    data = minimal()
    data["categories"][0]["parent"] = "unhappy"
    data["categories"][1]["parent"] = "happy"
    assert "form a parent cycle" in problems_of(tmp_path, data)


def test_empty_definition_names_the_category_and_field(tmp_path):
    data = minimal()
    data["categories"][1]["definition"] = "   "
    message = problems_of(tmp_path, data)
    assert "categories[1] (id 'unhappy').definition: must not be empty" in message


def test_alias_collisions_are_named(tmp_path):
    data = minimal()
    data["categories"][1]["aliases"] = ["glad"]
    assert "alias collision: 'glad' names both 'happy' and 'unhappy'" in problems_of(tmp_path, data)
    data = minimal()
    data["categories"][1]["name"] = "HAPPY"
    assert "alias collision: 'HAPPY'" in problems_of(tmp_path, data)


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "1.0.0.0", 1])
def test_version_must_be_semver(tmp_path, version):
    message = problems_of(tmp_path, minimal(version=version))
    assert f"version {str(version)!r} is not semantic" in message


def test_ids_fields_and_units_are_checked(tmp_path):
    data = minimal(unit="sentence")
    data["categories"][0]["id"] = "Happy"
    data["categories"][1]["defintion"] = data["categories"][1].pop("definition")
    message = problems_of(tmp_path, data)
    assert "category id 'Happy' must be lower snake_case" in message
    assert "categories[1] (id 'unhappy').defintion: Extra inputs are not permitted" in message
    assert "categories[1] (id 'unhappy').definition: Field required" in message
    assert "unit: Input should be 'reason', 'reaction', 'user_turn' or 'conversation'" in message


def test_every_problem_is_listed_at_once(tmp_path):
    data = minimal(version="2")
    data["categories"][0]["definition"] = ""
    data["categories"].append({"id": "unhappy", "name": "Sad", "definition": "x", "parent": "nowhere"})
    message = problems_of(tmp_path, data)
    assert "4 problem(s)" in message
    for part in (
        "not semantic",
        "must not be empty",
        "duplicate category id(s): unhappy",
        "unknown parent 'nowhere'",
    ):
        assert part in message


def test_order_must_list_every_assignable_id_once(tmp_path):
    message = problems_of(tmp_path, minimal(order=["happy", "happy", "calm"]))
    assert "order lists id(s) that are not assignable categories: calm" in message
    assert "order misses assignable category id(s): unhappy" in message
    assert "order repeats id(s): happy" in message


def test_ordinal_order_sets_label_order():
    codebook = Codebook.model_validate(minimal(order=["unhappy", "happy"]))
    assert codebook.label_ids == ["unhappy", "happy"]


def test_migration_section_is_checked(tmp_path):
    data = minimal(
        version="1.1.0", migration={"from": "1.1.0", "map": {"glad": "joyful", "sad": ["unhappy"]}}
    )
    message = problems_of(tmp_path, data)
    assert "migration.from 1.1.0 must be an earlier version than 1.1.0" in message
    assert "migration.map['glad'] points to 'joyful', not an assignable category" in message
    assert "migration.map['sad']: a split needs two or more distinct ids" in message


def test_unreadable_and_non_mapping_files(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(CodebookError, match="not valid YAML"):
        load_codebook_file(broken)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(CodebookError, match="must be a mapping at the top level"):
        load_codebook_file(listing)
    with pytest.raises(CodebookError, match="no such codebook file"):
        load_codebook_file(tmp_path / "missing.yaml")


def test_labels_normalise_through_names_and_aliases():
    codebook = Codebook.model_validate(minimal())
    assert codebook.normalise_label(" GLAD ") == "happy"
    assert codebook.normalise_label("Unhappy") == "unhappy"
    with pytest.raises(CodebookError, match="'angry' is not a category of mood@1.0.0"):
        codebook.normalise_label("angry")


def test_references_resolve_and_check_the_hash():
    reasons = load_codebook("reasons")
    assert load_codebook("reasons@1.0.0").ref == reasons.ref
    assert load_codebook(reasons.ref).content_hash == reasons.content_hash
    with pytest.raises(CodebookError, match="hash mismatch"):
        load_codebook("reasons@1.0.0#00000000")
    with pytest.raises(CodebookError, match="has no version 9.9.9"):
        load_codebook("reasons@9.9.9")
    with pytest.raises(CodebookError, match="no built-in codebook 'feelings'"):
        load_codebook("feelings")


def test_codebook_versions_reads_search_dirs_and_refuses_a_broken_version(tmp_path):
    write_yaml(tmp_path, minimal(), "mood-1.0.0.yaml")
    write_yaml(tmp_path, minimal(version="1.2.0"), "mood-1.2.0.yaml")
    (tmp_path / "notes.yaml").write_text("just: notes\n", encoding="utf-8")
    assert [cb.version for cb in codebook_versions("mood", [tmp_path])] == ["1.0.0", "1.2.0"]
    write_yaml(tmp_path, minimal(version="1.3"), "mood-1.3.yaml")
    with pytest.raises(CodebookError, match="not semantic"):
        codebook_versions("mood", [tmp_path])


def test_codebook_versions_refuses_two_texts_of_one_version(tmp_path):
    # Two files both claiming mood@1.0.0 with different codes: which one a chained migration used would
    # depend on file names, so labels of two codebook texts could be mixed silently.
    write_yaml(tmp_path, minimal(), "mood-1.0.0.yaml")
    copy = minimal(title="Mood (draft)")
    copy["categories"][0]["definition"] = "The user is content."
    write_yaml(tmp_path, copy, "mood-1.0.0-draft.yaml")
    with pytest.raises(CodebookError, match=r"both mood@1\.0\.0 with different content"):
        codebook_versions("mood", [tmp_path])
    write_yaml(tmp_path, minimal(), "mood-1.0.0-draft.yaml")  # an identical copy is harmless
    assert [cb.version for cb in codebook_versions("mood", [tmp_path])] == ["1.0.0"]
