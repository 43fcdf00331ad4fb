"""Apply proposals (next version + migration), re-code only marked units, agreement before/after, history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from thoughtcode.cli import main
from thoughtcode.drafting import (
    DraftingError,
    Proposal,
    apply_proposals,
    codebook_history,
    measure_revision,
    recode_revision,
)
from thoughtcode.labels import LabelRecord
from thoughtcode.taxonomy import load_codebook_file, parse_codebook
from thoughtcode.taxonomy.export import to_yaml
from thoughtcode.taxonomy.migrate import migrate_labels


def small_codebook(version: str = "0.1.0", ordinal: bool = False):
    categories = [
        {"id": "recipes", "name": "Recipes", "definition": "Asks for a recipe or how to cook a dish."},
        {"id": "meal_plans", "name": "Meal plans", "definition": "Asks for a plan of meals over days."},
        {"id": "coding", "name": "Coding", "definition": "Asks for help with program code."},
        {"id": "greetings", "name": "Greetings", "definition": "Says hello or thanks."},
    ]
    data = {"name": "food_draft", "version": version, "title": "t", "unit": "reason", "categories": categories}
    if ordinal:
        data["order"] = [c["id"] for c in categories]
    return parse_codebook(data)


def proposal(pid: str, change: dict, categories: list[str]) -> Proposal:
    return Proposal(id=pid, kind=change["op"], categories=categories, summary=f"{change['op']} {categories}", rationale="", evidence={}, change=change)


MERGE = proposal("P1", {"op": "merge", "into": "recipes", "merge": ["meal_plans"], "name": "Food", "definition": None}, ["recipes", "meal_plans"])
SHARPEN = proposal("P2", {"op": "sharpen", "categories": ["coding", "greetings"], "definitions": {"coding": "Program code only."}}, ["coding", "greetings"])
SPLIT = proposal(
    "P3",
    {"op": "split", "category": "coding", "into": [
        {"id": "coding_python", "name": "Coding: Python", "definition": "Python code.", "examples": [{"unit_id": "u1", "text": "my python script"}]},
        {"id": "coding_web", "name": "Coding: web", "definition": "Web pages and JavaScript.", "examples": []},
    ]},
    ["coding"],
)  # fmt: skip
ADD = proposal("P4", {"op": "add", "category": {"id": "diet", "name": "Diet", "definition": "Asks about diets."}, "recode_from": ["recipes"]}, ["recipes"])
RETIRE = proposal("P5", {"op": "retire", "category": "greetings"}, ["greetings"])


def test_merge_keeps_old_spellings_as_aliases_and_needs_no_recoding():
    old = small_codebook()
    new = apply_proposals(old, [MERGE], when="2026-01-01")
    assert new.version == "0.2.0"
    assert new.migration.from_version == "0.1.0" and new.migration.map == {"meal_plans": "recipes"}
    food = new.category("recipes")
    assert food.name == "Food" and "Also covers what was Meal plans" in food.definition
    assert new.normalise_label("meal_plans") == "recipes" and new.normalise_label("Meal plans") == "recipes"
    assert new.changelog[-1].version == "0.2.0" and new.changelog[-1].date == "2026-01-01"
    assert new.changelog[-1].changes == ["merge ['recipes', 'meal_plans'] (P1)."]
    labels = pd.DataFrame({"unit_id": ["a", "b"], "coder": "x", "label": ["meal_plans", "coding"], "codebook": old.ref})
    migrated = migrate_labels(labels, old, new, versions=[old, new])
    assert migrated.frame["label"].tolist() == ["recipes", "coding"] and migrated.report.to_recode == 0


def test_every_kind_of_change_in_one_version_with_its_migration(tmp_path):
    old = load_codebook_file(_write(tmp_path / "v1.yaml", small_codebook("1.0.0", ordinal=True)))
    new = apply_proposals(old, [MERGE, SPLIT, ADD, RETIRE])
    assert new.version == "2.0.0"  # ids went away from a 1.x codebook: a major version
    assert new.migration.map == {
        "meal_plans": "recipes",
        "coding": ["coding_python", "coding_web"],
        "recipes": ["recipes", "diet"],
        "greetings": None,
    }
    assert new.order == ["recipes", "coding_python", "coding_web", "diet"]
    assert [c.id for c in new.categories] == ["recipes", "diet", "coding_python", "coding_web"]
    assert new.category("coding_python").examples[0].source == "u1"
    # the file the CLI writes loads back to the same codebook, and old labels migrate with it
    reloaded = load_codebook_file(_write(tmp_path / "v2.yaml", new))
    assert reloaded.content_hash == new.content_hash  # the retired id stays in the map as null
    assert "greetings: null" in (tmp_path / "v2.yaml").read_text()
    labels = pd.DataFrame({"unit_id": list("abcd"), "coder": "x", "label": ["recipes", "meal_plans", "coding", "greetings"], "codebook": old.ref})
    frame = migrate_labels(labels, old, new, versions=[old, new]).frame
    assert frame["needs_recoding"].tolist() == [True, False, True, True]
    assert frame["recode_candidates"].tolist()[:3] == [["recipes", "diet"], None, ["coding_python", "coding_web"]]


def test_sharpen_adds_mutual_exclusions_and_marks_both_categories():
    new = apply_proposals(small_codebook("1.2.0"), [SHARPEN])
    assert new.version == "1.3.0"  # no id went away: a minor version
    coding, greetings = new.category("coding"), new.category("greetings")
    assert coding.definition == "Program code only."
    assert coding.exclude == ["Not Greetings (greetings): Says hello or thanks."]
    assert greetings.exclude == ["Not Coding (coding): Program code only."]
    assert new.migration.map == {"coding": ["coding", "greetings"], "greetings": ["coding", "greetings"]}


def test_conflicting_proposals_are_refused():
    old = small_codebook()
    with pytest.raises(DraftingError, match="P2 changes 'coding', which P3 already removed"):
        apply_proposals(old, [SPLIT, SHARPEN])
    with pytest.raises(DraftingError, match="P5 and P2 both decide what becomes of 'greetings'"):
        apply_proposals(old, [SHARPEN, RETIRE])
    with pytest.raises(DraftingError, match="nothing to apply"):
        apply_proposals(old, [])


class SpyCoder:
    """A coder that labels every unit 'coding' and remembers which units it was asked about."""

    def __init__(self, name: str, label: str = "coding"):
        self.name, self.model, self.settings = name, None, {}
        self.label = label
        self.seen: list[str] = []

    def code(self, units, codebook, scheme):
        self.seen += [u.unit_id for u in units]
        return [LabelRecord(unit_id=u.unit_id, scheme=scheme, label=self.label, coder=self.name, codebook=codebook.ref) for u in units]


class Unit:
    def __init__(self, unit_id: str):
        self.unit_id = unit_id


def test_recode_sends_only_marked_units_and_keeps_human_rows_pending():
    old = small_codebook()
    new = apply_proposals(old, [MERGE, SHARPEN])
    labels = pd.DataFrame(
        {
            "unit_id": ["a", "b", "c", "d"] * 2,
            "coder": ["bot"] * 4 + ["human"] * 4,
            "label": ["recipes", "meal_plans", "coding", "greetings", "recipes", "recipes", "greetings", "coding"],
            "scheme": "food",
            "status": "ok",
            "codebook": old.ref,
        }
    )
    bot = SpyCoder("bot")
    result = recode_revision(labels, old, new, [Unit(u) for u in "abcd"], {"bot": bot})
    assert sorted(bot.seen) == ["c", "d"]  # the sharpened pair; the merge needs no re-coding
    assert result.marked == {"bot": ["c", "d"], "human": ["c", "d"]}
    assert result.recoded == {"bot": 2} and result.pending == {"human": ["c", "d"]}
    frame = result.frame
    bot_rows = frame.loc[frame["coder"] == "bot"].set_index("unit_id")
    assert bot_rows["label"].to_dict() == {"a": "recipes", "b": "recipes", "c": "coding", "d": "coding"}
    assert set(bot_rows["codebook"]) == {new.ref}
    human = frame.loc[frame["coder"] == "human"].set_index("unit_id")
    assert human.loc[["c", "d"], "status"].tolist() == ["failed", "failed"]
    assert "1 unit(s)" not in result.format_text() and "pending" in result.format_text()


def test_measure_is_paired_and_matches_cohen_kappa():
    rng = np.random.default_rng(1)
    n = 120
    truth = rng.choice(["x", "y", "z"], size=n)
    noisy = np.where(rng.random(n) < 0.4, rng.choice(["x", "y", "z"], size=n), truth)
    before = pd.DataFrame({"unit_id": [*range(n), *range(n)], "coder": ["a"] * n + ["b"] * n, "label": [*truth, *noisy]})
    better = np.where(rng.random(n) < 0.1, rng.choice(["x", "y", "z"], size=n), truth)
    after = pd.DataFrame({"unit_id": [*range(n), *range(n)], "coder": ["a"] * n + ["b"] * n, "label": [*truth, *better]})
    measure = measure_revision(before, after, bootstrap=500, seed=3)
    assert measure.n_units == n
    assert measure.before["cohen_kappa"]["value"] == pytest.approx(cohen_kappa_score(truth, noisy))
    assert measure.after["cohen_kappa"]["value"] == pytest.approx(cohen_kappa_score(truth, better))
    diff = measure.difference["cohen_kappa"]
    assert diff["value"] == pytest.approx(measure.after["cohen_kappa"]["value"] - measure.before["cohen_kappa"]["value"])
    assert 0 < diff["ci"][0] < diff["value"] < diff["ci"][1]
    assert "raised" in measure.headline()
    same = measure_revision(before, before, bootstrap=200)
    assert same.difference["cohen_kappa"] == {"value": 0.0, "ci": [0.0, 0.0]}  # paired: identical resamples
    assert "no clear change" in same.headline()
    # units labelled by both coders under one version only are left out, and counted
    partial = after.loc[after["unit_id"] != 0]
    fewer = measure_revision(before, partial, bootstrap=0)
    assert fewer.excluded["not_labelled_by_both_after"] == 1
    assert (fewer.n_units, fewer.n_units_total, fewer.left_out["other"]) == (n - 1, n, 1)
    assert fewer.coverage.startswith(f"measured on {n - 1} of {n} units; 1 lack a label")
    assert f"on the same {n - 1} of {n} units" in fewer.headline()
    assert measure.coverage == f"measured on all {n} units both coders labelled"
    with pytest.raises(DraftingError, match="name the two coders"):
        measure_revision(pd.concat([before, before.assign(coder="c")]), after)


def _write(path, codebook):
    path.write_text(to_yaml(codebook), encoding="utf-8")
    return path


def test_history_lists_versions_changelogs_and_agreement(tmp_path, capsys):
    old = small_codebook()
    new = apply_proposals(old, [MERGE])
    _write(tmp_path / "v1.yaml", old)
    _write(tmp_path / "v2.yaml", new)
    units = [f"u{i}" for i in range(10)]
    a = ["recipes", "meal_plans", "coding", "greetings", "recipes"] * 2
    b = ["meal_plans", "recipes", "coding", "greetings", "recipes"] * 2
    before = pd.DataFrame({"unit_id": units * 2, "coder": ["a"] * 10 + ["b"] * 10, "label": a + b, "codebook": old.ref})
    after = before.assign(label=[x if x != "meal_plans" else "recipes" for x in a + b], codebook=new.ref)
    stray = before.head(2).assign(codebook="food_draft@0.1.0#00000000")
    history = codebook_history(tmp_path / "v2.yaml", labels=[before, after, stray])
    assert [v.version for v in history.versions] == ["0.1.0", "0.2.0"]
    first, second = history.versions
    assert first.agreement["coefficients"]["cohen_kappa"] == pytest.approx(cohen_kappa_score(a, b))
    assert second.agreement["coefficients"]["cohen_kappa"] == pytest.approx(1.0)
    assert second.migration_map == {"meal_plans": "recipes"} and second.changes
    assert history.unmatched == {"food_draft@0.1.0#00000000": 2}
    before.to_csv(tmp_path / "before.csv", index=False)
    after.to_csv(tmp_path / "after.csv", index=False)
    code = main(["taxonomy", "history", "food_draft", "--dir", str(tmp_path), "--labels", str(tmp_path / "before.csv"),
                 "--labels", str(tmp_path / "after.csv")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0] == "food_draft: 2 version(s)"
    assert "agreement on 10 units, 2 coders: cohen_kappa" in out
    assert "migrates from 0.1.0: 1 mapped id(s)" in out
    assert main(["taxonomy", "history", "no_such_codebook"]) == 2
