"""Revision proposals from agreement, confusions, sizes and unit texts, each with its evidence."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from thoughtcode.corpus import load_corpus, reference_labels, units_for
from thoughtcode.drafting import DraftingError, SuggestConfig, read_suggestions, suggest_revisions
from thoughtcode.taxonomy import load_codebook


@pytest.fixture(scope="module")
def reasons():
    return load_codebook("reasons@1.0.0")


@pytest.fixture(scope="module")
def dev_units(dev_file):
    return list(units_for(load_corpus(dev_file), "reason"))


@pytest.fixture(scope="module")
def release(dev_units, reasons):
    frame = reference_labels(dev_units, "reasons")
    frame["codebook"] = reasons.ref
    return frame


def simulated_coder(release: pd.DataFrame) -> pd.DataFrame:
    """A coder that swaps content and style expectations and often codes a continuation as a motivation."""
    rng = np.random.default_rng(0)
    out = release.copy()
    out["coder"] = "sim"
    swap = {"content_expectation": "style_expectation", "style_expectation": "content_expectation"}
    labels = []
    for label in out["label"]:
        if label in swap:
            label = swap[label]
        elif label == "task_continuation" and rng.random() < 0.6:
            label = "task_motivation"
        labels.append(label)
    out["label"] = labels
    out["confidence"] = 0.9
    return out


@pytest.fixture(scope="module")
def report(reasons, release, dev_units):
    texts = {u.unit_id: u.text for u in dev_units}
    return suggest_revisions(reasons, simulated_coder(release), release, texts=texts, config=SuggestConfig(bootstrap=100))


def test_interchangeable_categories_give_a_merge_with_evidence(report):
    merges = [p for p in report.proposals if p.kind == "merge"]
    assert len(merges) == 1
    merge = merges[0]
    assert set(merge.categories) == {"content_expectation", "style_expectation"}
    assert merge.change["into"] == "content_expectation"  # the larger one is kept
    assert merge.change["merge"] == ["style_expectation"]
    evidence = merge.evidence
    assert evidence["confusion_rate"] == 1.0
    assert evidence["units_with_both"] == evidence["units_with_either"] > 0
    assert set(evidence["kappa_j"]) == {"content_expectation", "style_expectation"}
    assert all(v < 0 for v in evidence["kappa_j"].values())  # swapped: worse than chance
    assert len(evidence["examples"]) == 3
    assert all(e["text"] and set(e["labels"]) == {"sim", "release"} for e in evidence["examples"])


def test_often_confused_pair_gives_a_sharpen_and_rare_category_a_retire(report, release):
    sharpen = [p for p in report.proposals if p.kind == "sharpen"]
    assert [set(p.categories) for p in sharpen] == [{"task_continuation", "task_motivation"}]
    evidence = sharpen[0].evidence
    assert 0.15 <= evidence["confusion_rate"] < 0.5
    assert evidence["kappa_j_ci"]["task_continuation"][0] <= evidence["kappa_j"]["task_continuation"]
    retire = [p for p in report.proposals if p.kind == "retire"]
    assert [p.categories for p in retire] == [["task_reorientation"]]
    assert retire[0].evidence["units"] < retire[0].evidence["threshold"] == 6  # 1% of 519 units, rounded up
    # per-category kappa of every used category, with a bootstrap interval
    per_category = report.agreement["per_category"]
    assert set(per_category) == set(load_codebook("reasons").label_ids)
    assert all(v["ci"] is not None for v in per_category.values() if v["value"] is not None)
    assert report.counts["task_reorientation"] == int((release["label"] == "task_reorientation").sum())


def test_proposals_are_ordered_numbered_and_flag_conflicts(report):
    assert [p.id for p in report.proposals] == [f"P{i}" for i in range(1, len(report.proposals) + 1)]
    kinds = [p.kind for p in report.proposals]
    assert kinds == sorted(kinds, key=["merge", "sharpen", "split", "add", "retire"].index)
    for p in report.proposals:
        for other in p.conflicts:
            q = next(x for x in report.proposals if x.id == other)
            assert p.id in q.conflicts
            assert p.removes() & set(q.categories) or q.removes() & set(p.categories)


def test_split_proposals_are_checked_on_texts(report):
    for p in report.proposals:
        if p.kind != "split":
            continue
        parts = p.change["into"]
        assert len(parts) == 2 and all(part["id"].startswith(p.change["category"] + "_") for part in parts)
        assert p.evidence["silhouette"] >= 0.03 and p.evidence["stability_ari"] >= 0.6
        assert sum(part["size"] for part in p.evidence["parts"]) <= p.evidence["units"]


def test_markdown_and_json_round_trip(report, tmp_path):
    written = report.write(tmp_path / "suggestions.md")
    assert [p.name for p in written] == ["suggestions.md", "suggestions.json"]
    text = written[0].read_text()
    assert "# Revision proposals for reasons@1.0.0" in text
    assert f"| task_reorientation | {report.counts['task_reorientation']} |" in text
    assert "## P1: merge" in text and "Apply with" in text
    again = read_suggestions(written[1])
    assert again.to_dict() == json.loads(json.dumps(report.to_dict(), default=str))
    with pytest.raises(DraftingError, match="not a suggestions file"):
        (tmp_path / "x.json").write_text("{}")
        read_suggestions(tmp_path / "x.json")


def test_low_confidence_units_are_clustered_into_add_candidates(reasons, release, dev_units):
    texts = {u.unit_id: u.text for u in dev_units}
    coded = release.copy()
    coded["coder"] = "model"
    # the model is unsure about every greeting or thanks, and about nothing else
    unsure = coded["unit_id"].map(lambda u: any(w in texts[u].lower() for w in ("thank", "hello", "hi ", "greet")))
    coded["confidence"] = np.where(unsure, 0.2, 0.95)
    config = SuggestConfig(add_min_units=3, add_min_gain=-1.0, bootstrap=0)
    result = suggest_revisions(reasons, coded, texts=texts, config=config)
    assert "one coder and no reference" in " ".join(result.notes)
    adds = [p for p in result.proposals if p.kind == "add"]
    assert adds, [p.kind for p in result.proposals]
    for p in adds:
        assert p.change["category"]["id"] not in reasons.label_ids
        assert sum(p.evidence["coded_as"].values()) == p.evidence["units"]
        assert all(e["labels"]["why"] == "low confidence" for e in p.evidence["examples"])
        assert set(p.change["recode_from"]) <= set(p.evidence["coded_as"])


def test_inputs_are_checked(reasons, release):
    other = release.assign(codebook="reasons@0.9.0#12345678")
    with pytest.raises(DraftingError, match="migrate them first"):
        suggest_revisions(reasons, other)
    bad = release.assign(label="not_a_code")
    with pytest.raises(DraftingError, match="not a category"):
        suggest_revisions(reasons, bad)
    twice = pd.concat([release, release])
    with pytest.raises(DraftingError, match="several labels"):
        suggest_revisions(reasons, twice)
    topics = load_codebook("topics")
    with pytest.raises(DraftingError, match="single-label"):
        suggest_revisions(topics, release.assign(codebook=topics.ref))
