"""The ``thoughtcode analyze`` command end to end: report, results.json, tables and figures."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from test_analyses_support import DEV, SAMPLE, relation_labels, topic_labels, write_topics_codebook

from thoughtcode.analyses import load_inputs, run_analyses, write_outputs
from thoughtcode.cli import main
from thoughtcode.labels import write_labels


def _no_nan(value: str):
    raise ValueError(f"non-JSON number {value} in results.json")


@pytest.fixture(scope="module")
def sample_labels(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("labels")
    codebook = write_topics_codebook(folder)
    return [
        write_labels(relation_labels(SAMPLE), folder / "relations.jsonl"),
        write_labels(topic_labels(codebook, SAMPLE), folder / "topics.csv"),
    ]


OVERLAPS: dict[str, list[tuple[str, str]]] = {}


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, sample_labels):
    """Every analysis on the sample with relations and topics labels and the dev file as a baseline; each
    figure is checked for overlapping texts as it is drawn for the report."""
    out = tmp_path_factory.mktemp("report")
    inputs = load_inputs(SAMPLE, labels=sample_labels, baselines=[DEV])
    results = run_analyses(inputs, n_boot=100, n_permutations=50)
    for result in results:
        for name, make in list(result.figures.items()):
            def checked(make=make, name=name):
                fig = make()
                OVERLAPS[name] = _text_overlaps(fig)
                return fig

            result.figures[name] = checked
    write_outputs(results, out, inputs)
    return out


def test_report_is_self_contained_with_every_figure(full_run):
    page = (full_run / "report.html").read_text(encoding="utf-8")
    pngs = sorted((full_run / "figures").glob("*.png"))
    expected = {"length_histogram", "tokens_by_role", "demographics", "topics", "relations_overall",
                "relations_flow", "relations_flow_bars", "reasons_categories", "reactions_categories",
                "reasons_by_stage_bars", "reasons_by_stage_flow", "reasons_by_stage_residuals",
                "reactions_by_relation_bars", "reasons_by_topic_residuals", "reactions_by_length_bars",
                "shift_differences", "shift_distances"}
    assert expected <= {p.stem for p in pngs}
    assert page.count("data:image/png;base64,") == len(pngs)
    assert not re.search(r"<script|<link|src=['\"]http", page)
    for title in ("Conversation length", "Demographics", "Topics", "Turn relations", "Thought categories",
                  "Stage dependence", "embedding shift"):
        assert title in page
    assert page.count("(not available)") == 2 and "not run: it needs an LLM judge" in page  # no --judge given


def test_results_json_is_strict_json_and_matches_the_tables(full_run):
    payload = json.loads((full_run / "results.json").read_text(encoding="utf-8"), parse_constant=_no_nan)
    analyses = payload["analyses"]
    assert set(analyses) == {"lengths", "demographics", "topics", "relations", "categories", "stages", "shift",
                             "coverage", "inference"}
    assert [name for name, a in analyses.items() if not a["available"]] == ["coverage", "inference"]  # no judge given
    assert {t for t in payload["outputs"]["tables"]} == {p.name for p in (full_run / "tables").glob("*.csv")}
    # stage counts table (named columns) against an independent count from the labels in the corpus
    counts = pd.read_csv(full_run / "tables" / "reasons_by_stage_counts.csv", index_col=0)
    inputs = load_inputs(SAMPLE)
    reasons = inputs.thoughts[inputs.thoughts["kind"] == "reason"]
    assert int(counts.to_numpy().sum()) == len(reasons)
    by_stage = reasons.groupby("stage").size()
    for stage, n in by_stage.items():
        assert int(counts.loc[stage].sum()) == n
    assert int(counts.loc["Early", "Task Motivation & Goal"]) == int(
        ((reasons["stage"] == "Early") & (reasons["label"] == "task_motivation")).sum()
    )
    relations = pd.read_csv(full_run / "tables" / "relations_overall.csv").set_index("relation")
    raw = relation_labels(SAMPLE)["label"].value_counts()
    for relation, n in raw.items():
        assert relations.loc[relation, "count"] == n
    shift = pd.read_csv(full_run / "tables" / "shift_metrics.csv").set_index("pair_type")
    for name, entry in analyses["shift"]["pair_types"].items():
        assert shift.loc[name, "n_pairs"] == entry["n_pairs"]
    lengths = pd.read_csv(full_run / "tables" / "length_summary.csv").set_index("corpus")
    assert set(lengths.index) == {SAMPLE.name, DEV.name}


def _text_overlaps(fig) -> list[tuple[str, str]]:
    """Pairs of visible texts (tick labels, annotations, legend entries) of one axes whose boxes overlap."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found = []
    for ax in fig.axes:
        texts = [t for t in ax.get_xticklabels() + ax.get_yticklabels() + ax.texts if t.get_visible() and t.get_text().strip()]
        if ax.get_legend():
            texts += list(ax.get_legend().get_texts())
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
        for i, (ta, a) in enumerate(boxes):
            for tb, b in boxes[i + 1 :]:
                if min(a.x1, b.x1) - max(a.x0, b.x0) > 1 and min(a.y1, b.y1) - max(a.y0, b.y0) > 1:
                    found.append((ta, tb))
    return found


def test_figures_have_no_overlapping_labels(full_run):
    assert len(OVERLAPS) == len(list((full_run / "figures").glob("*.png")))
    assert {name: found for name, found in OVERLAPS.items() if found} == {}


def test_analyze_stages_json_on_the_dev_file(capsys):
    assert main(["analyze", "stages", str(DEV), "--json", "--bootstrap", "200"]) == 0
    data = json.loads(capsys.readouterr().out)
    for scheme in ("reasons", "reactions"):
        entry = data["schemes"][scheme]
        assert set(entry["shares_by_stage"]) == {"Early", "Mid-Early", "Mid-Late", "Late"}
        assert 0 < entry["chi2_p_value"] < 1
        low, high = entry["cramers_v_ci"]
        assert low <= entry["cramers_v"] <= high or low > 0
    assert [c["holds"] for c in data["paper_directions"]] == [True, True, True]


def test_analyze_shift_json_on_the_dev_file(capsys):
    assert main(["analyze", "shift", str(DEV), "--json", "--permutations", "30", "--bootstrap", "30"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["pair_types"]) == {"consecutive", "message_reason", "reaction_next"}
    assert data["paper_ordering"]["holds"] in (True, False)
    medians = data["paper_ordering"]["medians"]
    assert data["paper_ordering"]["holds"] == (medians["consecutive"] < medians["message_reason"] < medians["reaction_next"])


def test_subcommands_text_output_and_forms(tmp_path, capsys, sample_labels):
    assert main(["analyze", "relations", str(SAMPLE), "--labels", str(sample_labels[0])]) == 0
    out = capsys.readouterr().out
    assert "Turn relations" in out and "relations_flow" in out
    assert main(["analyze", "topics", str(SAMPLE)]) == 0
    assert "not available" in capsys.readouterr().out
    for form in (["analyze", str(SAMPLE)], ["analyze", "all", str(SAMPLE)]):  # the two spellings of 'all'
        out = tmp_path / str(len(form))
        assert main([*form, "--no-release-labels", "--out", str(out), "--permutations", "10", "--bootstrap", "10"]) == 0
        page = (out / "report.html").read_text(encoding="utf-8")
        assert page.count("data:image/png;base64,") == len(list((out / "figures").glob("*.png"))) > 0
        payload = json.loads((out / "results.json").read_text(encoding="utf-8"))
        assert payload["analyses"]["stages"]["available"] is False  # no thought labels without the release's
    assert main(["analyze", "lengths", str(SAMPLE), "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "figures" / "length_histogram.png").exists()
    assert not (tmp_path / "b" / "report.html").exists()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["analyze", "stagez", str(SAMPLE)])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["analyze", "stages", str(tmp_path / "missing.jsonl")]) == 2
    assert main(["analyze", "categories", str(SAMPLE), "--codebook", "reasons"]) == 2


def test_analyze_an_empty_corpus_writes_a_report_without_figures(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["analyze", str(empty), "--out", str(out), "--permutations", "10", "--bootstrap", "10"]) == 0
    payload = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert payload["analyses"]["lengths"]["corpora"]["empty.jsonl"]["conversations"] == 0
    assert not list((out / "figures").glob("*.png")) and (out / "report.html").exists()
