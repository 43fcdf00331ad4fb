"""The whole loop: draft -> code (two LLM coders on stand-in servers) -> suggest -> new version with its
migration -> re-code only the marked units -> agreement before and after; then the same through the CLI.

The stand-in servers speak the OpenAI HTTP API and answer by rule (tests/standin.py): coder A picks the draft
category whose keywords a unit's text shares most; coder B answers like A but swaps two categories (so they
are interchangeable, a merge) and moves half of a third category's units to a fourth (a boundary to
sharpen, whose units are re-coded): every second unit A puts there, so at least three.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from standin import StandIn

from thoughtcode.cli import main
from thoughtcode.coders import LLMCoder
from thoughtcode.corpus import load_corpus, units_for
from thoughtcode.drafting import (
    InduceConfig,
    SuggestConfig,
    codebook_history,
    induce,
    revise,
    suggest_revisions,
)
from thoughtcode.labels import labels_frame, read_labels, write_labels
from thoughtcode.taxonomy import load_codebook_file
from thoughtcode.taxonomy.export import to_yaml


class Rules:
    """The two stand-in 'models'; B's confusions are set once A's labels are known."""

    def __init__(self, keywords: dict[str, set[str]]):
        self.keywords = keywords
        self.swap: tuple[str, str] | None = None
        self.move: tuple[str, str] | None = None
        self.moved: set[str] = set()

    def a(self, text: str, labels: list[str]) -> str:
        words = set(re.findall(r"[a-z]+", text.lower()))
        scores = [len(words & self.keywords.get(label, set())) for label in labels]
        return labels[max(range(len(labels)), key=lambda i: (scores[i], -i))]

    def b(self, text: str, labels: list[str]) -> str:
        label = self.a(text, labels)
        if self.swap and set(self.swap) <= set(labels) and label in self.swap:
            return self.swap[1] if label == self.swap[0] else self.swap[0]
        if self.move and set(self.move) <= set(labels) and label == self.move[0] and text.strip() in self.moved:
            return self.move[1]
        return label


class Spy:
    """Passes calls to a coder and remembers which units it was asked to code."""

    def __init__(self, coder):
        self.coder, self.name, self.model, self.settings = coder, coder.name, coder.model, coder.settings
        self.seen: list[str] = []

    def code(self, units, codebook, scheme):
        self.seen += [u.unit_id for u in units]
        return self.coder.code(units, codebook, scheme)


@pytest.fixture(scope="module")
def loop(sample_file, tmp_path_factory):
    folder = tmp_path_factory.mktemp("loop")
    units = list(units_for(load_corpus(sample_file), "reason"))
    draft = induce([u.text for u in units], [u.unit_id for u in units], "reasons", InduceConfig(n_categories=5, stability_runs=0), source=str(sample_file))
    draft.write(folder / "draft.yaml")
    rules = Rules({c.id: {w for w, _ in c.keywords} for c in draft.categories})
    with StandIn(rule=rules.a) as server_a, StandIn(rule=rules.b) as server_b:
        coder_a = LLMCoder(f"openai-compatible:{server_a.openai_base_url}#model-a", units_per_request=10, cache=None)
        coder_b = LLMCoder(f"openai-compatible:{server_b.openai_base_url}#model-b", units_per_request=10, cache=None)
        labels_a = labels_frame(coder_a.code(units, draft.codebook, "reasons_draft"))
        counts = labels_a["label"].value_counts()
        ranked = list(counts.index) + [c for c in draft.codebook.label_ids if c not in counts.index]
        rules.swap, rules.move = (ranked[0], ranked[1]), (ranked[2], ranked[3])
        texts = {u.unit_id: u.text.strip() for u in units}
        rules.moved = {texts[u] for u in labels_a.loc[labels_a["label"] == ranked[2], "unit_id"].iloc[::2]}
        labels_b = labels_frame(coder_b.code(units, draft.codebook, "reasons_draft"))
        yield {
            "folder": folder,
            "units": units,
            "draft": draft,
            "rules": rules,
            "servers": (server_a, server_b),
            "coders": (coder_a, coder_b),
            "before": pd.concat([labels_a, labels_b], ignore_index=True),
        }


def test_draft_code_suggest_revise_recode_measure(loop):
    draft, before, units = loop["draft"], loop["before"], loop["units"]
    coder_a, coder_b = loop["coders"]
    assert set(before["status"]) == {"ok"} and set(before["codebook"]) == {draft.codebook.ref}
    swap, move = loop["rules"].swap, loop["rules"].move

    # suggest: the swapped pair is a merge, the moved one a boundary to sharpen; both with evidence
    report = suggest_revisions(draft.codebook, before, texts={u.unit_id: u.text for u in units}, config=SuggestConfig(bootstrap=200))
    by_kind = {p.kind: p for p in report.proposals}
    merge, sharpen = by_kind["merge"], by_kind["sharpen"]
    assert set(merge.categories) == set(swap) and merge.evidence["confusion_rate"] == 1.0
    assert set(sharpen.categories) == set(move) and sharpen.evidence["units_with_both"] >= 3
    assert all(e["text"] for e in merge.evidence["examples"])
    assert report.agreement["per_category"][swap[0]]["value"] < 0.4

    # apply both: version 0.2.0 with its migration; re-code only what it marks
    spies = {c.name: Spy(c) for c in (coder_a, coder_b)}
    result = revise(draft.codebook, [merge, sharpen], labels=before, units=units, coders=spies, bootstrap=1000, seed=1)
    new = result.codebook
    assert new.version == "0.2.0" and new.migration.from_version == "0.1.0"
    kept, gone = merge.change["into"], merge.change["merge"][0]
    assert new.migration.map == {gone: kept, move[0]: list(move), move[1]: list(move)}
    path = loop["folder"] / "v2.yaml"
    path.write_text(to_yaml(new), encoding="utf-8")
    assert load_codebook_file(path).content_hash == new.content_hash

    for name, spy in spies.items():
        old = before.loc[before["coder"] == name].set_index("unit_id")["label"]
        marked = sorted(old.index[old.isin(move)])
        assert sorted(spy.seen) == marked, name  # the sharpened pair only; the merge is a plain rewrite
        assert sorted(result.recode.marked[name]) == marked
        assert result.recode.recoded[name] == len(marked) and not result.recode.pending
        assert 0 < len(marked) < len(units)
    after = result.recode.frame
    assert set(after["codebook"]) == {new.ref} and set(after["status"]) == {"ok"}
    assert gone not in set(after["label"])

    # agreement on the same units, before and after, with a paired interval of the difference
    measure = result.measure
    assert measure.n_units == len(units)
    assert measure.after["cohen_kappa"]["value"] > measure.before["cohen_kappa"]["value"]
    low, high = measure.difference["cohen_kappa"]["ci"]
    assert 0 < low <= measure.difference["cohen_kappa"]["value"] <= high
    assert "raised" in measure.headline()

    # history: both versions with their agreement
    history = codebook_history(path, labels=[before, after])
    assert [v.version for v in history.versions] == ["0.1.0", "0.2.0"]
    kappas = [v.agreement["coefficients"]["cohen_kappa"] for v in history.versions]
    assert kappas == pytest.approx([measure.before["cohen_kappa"]["value"], measure.after["cohen_kappa"]["value"]])


def test_the_loop_through_the_cli(loop, sample_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the LLM coders' default cache lives in the working folder
    draft = tmp_path / "draft.yaml"
    draft.write_text((loop["folder"] / "draft.yaml").read_text())
    before = tmp_path / "before.jsonl"
    write_labels(loop["before"], before)
    assert main(["taxonomy", "suggest", "--codebook", str(draft), "--labels", str(before), "--corpus", str(sample_file),
                 "--out", "suggestions.md"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "wrote suggestions.md, suggestions.json" in out
    ids = dict(re.findall(r"^\s+(P\d+)\s+(\w+)", out, re.MULTILINE))
    merge = next(pid for pid, kind in ids.items() if kind == "merge")
    coder_a, coder_b = loop["coders"]
    code = main(["taxonomy", "apply", "suggestions.json", "--accept", merge, "--out", "v2.yaml", "--labels", str(before),
                 "--corpus", str(sample_file), "--coder", coder_a.name, "--coder", coder_b.name, "--bootstrap", "300"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "wrote v2.yaml: reasons_draft@0.2.0" in out
    assert "to re-code 0" in out  # a merge rewrites labels, nothing to re-code
    assert re.search(r"Cohen's kappa -?\d\.\d+ -> \d\.\d+ \(\+\d\.\d+, 95% CI", out)
    assert main(["taxonomy", "validate", "v2.yaml"]) == 0
    recoded = read_labels(tmp_path / "v2.labels.jsonl")
    assert len(recoded) == len(loop["before"]) and recoded["codebook"].str.startswith("reasons_draft@0.2.0#").all()
    total = loop["before"]["unit_id"].nunique()
    assert f"agreement measured on all {total} units both coders labelled" in out
    # the sharpened boundary without --coder: its marked units stay pending, and the measure says it covers fewer
    sharpen = next(pid for pid, kind in ids.items() if kind == "sharpen")
    labels = loop["before"]
    pending = labels.loc[labels["label"].isin(loop["rules"].move), "unit_id"].astype(str).nunique()
    measured = total - pending
    assert 0 < pending < total
    command = ["taxonomy", "apply", "suggestions.json", "--accept", sharpen, "--out", "sharpened/v2.yaml", "--labels", str(before),
               "--bootstrap", "100"]  # fmt: skip
    assert main(command) == 0
    out = capsys.readouterr().out
    coverage = f"measured on {measured} of {total} units; {pending} marked for re-coding are pending: pass --coder"
    assert f"agreement {coverage}" in out
    assert f"on the same {measured} of {total} units" in out
    assert main([*command, "--json"]) == 0
    agreement = json.loads(capsys.readouterr().out)["agreement"]
    assert (agreement["n_units"], agreement["n_units_total"]) == (measured, total)
    assert agreement["units_left_out"]["pending_recoding"] == pending and agreement["coverage"].startswith(coverage)
    assert main(["taxonomy", "history", "v2.yaml", "--labels", str(before), "--labels", "v2.labels.jsonl"]) == 0
    out = capsys.readouterr().out
    assert out.count("agreement on 53 units, 2 coders") == 2
    # the suggestions were made for the draft: another codebook is refused
    assert main(["taxonomy", "apply", "suggestions.json", "--accept", merge, "--out", "x.yaml", "--codebook", "v2.yaml"]) == 2
