"""The four built-in codebooks: ids as in the study, pinned hashes, real examples, faithful exports."""

from __future__ import annotations

import json

import pytest
import yaml

from thoughtcode.corpus import load_corpus
from thoughtcode.taxonomy import builtin_codebooks, load_codebook, parse_codebook
from thoughtcode.taxonomy.export import label_json_schema, to_json, to_markdown, to_yaml

PINNED = {
    "reasons": "reasons@1.0.0#d6a6939a",
    "reactions": "reactions@1.0.0#ba284b4a",
    "relations": "relations@1.0.0#d4faae2b",
    "topics": "topics@1.0.0#b588b46c",
}
IDS = {
    "reasons": [
        "task_motivation",
        "task_continuation",
        "context_grounding_and_constraints",
        "content_expectation",
        "social_and_others",
        "style_expectation",
        "task_reorientation",
    ],
    "reactions": [
        "explicit_affirmation",
        "content_relevance",
        "presentation_style",
        "scope_fit",
        "partial_satisfaction",
    ],
    "relations": ["first_request", "extend", "new_request", "retry", "variant"],
}
TOPIC_GROUPS = {
    "Culture & Lifestyle": 9,
    "Education & Knowledge": 7,
    "Business & Society": 6,
    "Health & Relationships": 6,
    "Technology": 3,
    "Arts & Entertainment": 3,
    "Other Topics": 2,
}


@pytest.fixture(scope="module")
def conversations(sample_file, dev_file):
    """Sample and development conversations by id (the sample is drawn from the dev file)."""
    found = {c.id: c for c in load_corpus(dev_file)}
    found.update({c.id: c for c in load_corpus(sample_file)})
    return found


@pytest.fixture(scope="module")
def sample_ids(sample_file):
    return {c.id for c in load_corpus(sample_file)}


def test_builtins_load_with_pinned_references():
    """A released version never changes: any edit to a built-in file must come with a new version."""
    assert {cb.name: cb.ref for cb in builtin_codebooks()} == PINNED
    for name, ref in PINNED.items():
        assert load_codebook(ref).ref == ref == load_codebook(name).ref


@pytest.mark.parametrize("name", sorted(IDS))
def test_ids_follow_the_study(name):
    codebook = load_codebook(f"{name}@1.0.0")
    assert codebook.label_ids == IDS[name]
    assert not codebook.multi_label and not codebook.is_hierarchical


def test_topics_have_7_groups_and_36_subtopics():
    topics = load_codebook("topics@1.0.0")
    assert topics.multi_label and topics.unit == "conversation"
    assert [c.name for c in topics.parents] == list(TOPIC_GROUPS)
    assert len(topics.leaves) == 36 and all(c.parent for c in topics.leaves)
    for group in topics.parents:
        assert len(topics.children_of(group.id)) == TOPIC_GROUPS[group.name]
    assert topics.normalise_label("Food, cooking and recipes") == "food_cooking_recipes"


def test_display_names_aliases_and_release_labels_normalise(conversations):
    reasons, reactions = load_codebook("reasons"), load_codebook("reactions")
    assert reasons.normalise_label("Task Motivation & Goal") == "task_motivation"
    assert reasons.normalise_label("task motivation") == "task_motivation"
    assert reactions.normalise_label("Scope Fit") == "scope_fit"
    for conversation in conversations.values():
        for message in conversation.messages:
            for thought in message.reasons:
                assert reasons.normalise_label(thought.label) == thought.label
            for thought in message.reactions:
                assert reactions.normalise_label(thought.label) == thought.label


@pytest.mark.parametrize("codebook", builtin_codebooks(), ids=lambda cb: cb.name)
def test_every_category_is_documented(codebook):
    assert "ThoughtTrace" in codebook.description and "arXiv:2605.20087" in codebook.description
    assert "thoughtcode's own" in codebook.description
    assert codebook.instructions.strip()
    assert [entry.version for entry in codebook.changelog] == ["1.0.0"]
    for category in codebook.categories:
        assert category.definition and category.include and category.exclude, category.id
        assert len(category.examples) >= 2, category.id
        assert all(e.note for e in category.examples + category.near_misses), category.id


@pytest.mark.parametrize("name,kind", [("reasons", "reasons"), ("reactions", "reactions")])
def test_thought_examples_are_real_thoughts_with_that_label(name, kind, conversations, sample_ids):
    codebook = load_codebook(name)
    for category in codebook.categories:
        for example in category.examples:
            thoughts = [
                (t.content, t.label) for m in conversations[example.source].messages for t in getattr(m, kind)
            ]
            assert (example.text, category.id) in thoughts, (category.id, example.text)
        for example in category.near_misses:
            thoughts = [
                (t.content, t.label) for m in conversations[example.source].messages for t in getattr(m, kind)
            ]
            assert any(text == example.text and label != category.id for text, label in thoughts), (
                example.text
            )
        assert any(e.source in sample_ids for e in category.examples), category.id


# Subtopics the sample and dev conversations have too few requests for: short written requests fill in.
WRITTEN_EXAMPLES_ALLOWED = {
    "math_logic",
    "workplace_communication_writing",
    "news_politics_society",
    "creative_writing_storytelling",
    "visual_arts_design",
    "miscellaneous_requests",
}


@pytest.mark.parametrize("name", ["relations", "topics"])
def test_message_examples_are_real_user_turns(name, conversations, sample_ids):
    codebook = load_codebook(name)
    for category in codebook.categories:
        for example in category.examples + category.near_misses:
            if example.source is None:
                assert category.id in WRITTEN_EXAMPLES_ALLOWED, category.id
                continue
            turns = [m.content for m in conversations[example.source].messages if m.type == "user"]
            assert example.text in turns, (category.id, example.text)
        assert any(e.source for e in category.examples) or category.id in WRITTEN_EXAMPLES_ALLOWED, (
            category.id
        )
    assert any(e.source in sample_ids for c in codebook.categories for e in c.examples)


def test_first_requests_are_opening_turns(conversations):
    for example in load_codebook("relations").category("first_request").examples:
        first = next(m for m in conversations[example.source].messages if m.type == "user")
        assert first.content == example.text


@pytest.mark.parametrize("codebook", builtin_codebooks(), ids=lambda cb: cb.name)
def test_yaml_and_json_exports_load_back_to_the_same_hash(codebook):
    assert parse_codebook(yaml.safe_load(to_yaml(codebook))).ref == codebook.ref
    assert parse_codebook(json.loads(to_json(codebook))).ref == codebook.ref


@pytest.mark.parametrize("codebook", builtin_codebooks(), ids=lambda cb: cb.name)
def test_markdown_is_a_complete_printable_codebook(codebook):
    text = to_markdown(codebook)
    assert text.startswith(f"# {codebook.title}\n") and codebook.ref in text and "## How to code" in text
    for category in codebook.categories:
        assert f"({category.id})" in text.replace("`", "")
        assert category.definition in text
        for example in category.examples:
            assert " ".join(example.text.split()) in text
            if example.source:
                assert f"source: {example.source}" in text


def test_topics_markdown_shows_the_hierarchy():
    text = to_markdown(load_codebook("topics"))
    assert "- **Technology** (`technology`)\n  - **Software and coding** (`software_coding`)" in text
    assert "### Technology (`technology`)" in text and "#### Software and coding (`software_coding`)" in text


def test_single_label_schema_is_an_enum_of_label_ids():
    reasons = load_codebook("reasons")
    schema = label_json_schema(reasons)
    assert schema["required"] == ["unit_id", "label"] and schema["additionalProperties"] is False
    assert schema["properties"]["label"]["enum"] == reasons.label_ids
    assert schema["properties"]["confidence"] == {"type": "number", "minimum": 0, "maximum": 1}
    assert schema["x-codebook"] == reasons.ref
    json.dumps(schema)


def test_multi_label_schema_is_a_non_empty_set_of_subtopics():
    topics = load_codebook("topics")
    labels = label_json_schema(topics)["properties"]["labels"]
    assert labels["type"] == "array" and labels["minItems"] == 1 and labels["uniqueItems"] is True
    assert labels["items"]["enum"] == topics.label_ids and "culture_lifestyle" not in labels["items"]["enum"]
    assert label_json_schema(topics)["required"] == ["unit_id", "labels"]
