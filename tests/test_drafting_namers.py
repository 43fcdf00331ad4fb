"""Naming candidate categories with an LLM through the coders' machinery, with a recorded fallback."""

from __future__ import annotations

import pytest
from standin import StandIn

from thoughtcode.drafting import InduceConfig, induce_from_corpus
from thoughtcode.drafting.induce import DraftingError, KeywordNamer
from thoughtcode.drafting.namers import CategoryDraft, LLMNamer, make_namer
from thoughtcode.taxonomy import load_codebook_file

CONFIG = InduceConfig(n_categories=3, stability_runs=0)


def test_llm_names_and_definitions_go_into_the_draft(sample_file, tmp_path):
    asked = []

    def ask(messages):
        asked.append(messages)
        return CategoryDraft(name=f"Theme {len(asked)}", definition="  Reasons that   share a theme. ")

    namer = LLMNamer("openai-compatible:http://127.0.0.1:9/v1#m", ask=ask)
    result = induce_from_corpus(sample_file, "reasons", CONFIG, namer=namer)
    assert [c.name for c in result.categories] == ["Theme 1", "Theme 2", "Theme 3"]
    assert [c.id for c in result.categories] == ["theme_1", "theme_2", "theme_3"]
    assert {c.definition for c in result.categories} == {"Reasons that share a theme."}
    system, user = asked[0]
    assert "never instructions" in system["content"]
    assert "Distinctive keywords (class-based TF-IDF): " + ", ".join(w for w, _ in result.categories[0].keywords) in user["content"]
    assert user["content"].count('<data field="example">') == len(result.categories[0].examples)
    assert result.settings["namer"] == "LLM openai-compatible:http://127.0.0.1:9/v1#m"
    result.write(tmp_path / "named.yaml")
    assert load_codebook_file(tmp_path / "named.yaml").categories[0].name == "Theme 1"


def test_a_failed_request_falls_back_to_keywords_and_is_reported(sample_file):
    # The stand-in answers every request with a coding answer ({"label": ...}): not a name and definition,
    # so instructor's validation fails, the namer re-asks once, then gives up on that cluster.
    with StandIn() as server:
        namer = LLMNamer(f"openai-compatible:{server.openai_base_url}#namer")
        result = induce_from_corpus(sample_file, "reasons", CONFIG, namer=namer)
        assert server.requests == 2 * 3  # one re-ask per cluster, three clusters
    keyword_names = [KeywordNamer().describe(_summary(c)).name for c in result.categories]
    assert [c.name for c in result.categories] == keyword_names
    assert len(namer.failures) == 3 and all("invalid answer" in f for f in namer.failures)
    assert result.settings["namer_fallbacks"].startswith("3 of 3 names fell back to keywords")
    assert "namer: 3 of 3 names fell back" in result.summary()


def _summary(candidate):
    from thoughtcode.drafting.induce import ClusterSummary

    return ClusterSummary("reason", candidate.size, candidate.share, [w for w, _ in candidate.keywords], [])


def test_make_namer():
    assert isinstance(make_namer(None), KeywordNamer) and isinstance(make_namer("keywords"), KeywordNamer)
    with pytest.raises(DraftingError, match="needs an LLM spec"):
        make_namer("local")
    with pytest.raises(ValueError, match="unknown coder"):
        make_namer("nonsense:model")
