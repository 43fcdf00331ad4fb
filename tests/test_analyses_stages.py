"""Stage dependence on the real dev file, checked against the brief's numbers and independent computations."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from test_analyses_support import (
    DEV,
    SAMPLE,
    dialogue_messages,
    raw_records,
    relation_labels,
    topic_labels,
    write_topics_codebook,
)

from thoughtcode.analyses import (
    adjusted_residuals,
    bootstrap_cramers_v,
    contingency,
    cramers_v,
    independence_test,
    load_inputs,
    stage_analysis,
)
from thoughtcode.analyses.stages import _v_from_tables, length_bucket

STAGES = ["Early", "Mid-Early", "Mid-Late", "Late"]


def raw_thoughts(path=DEV) -> pd.DataFrame:
    """Every thought with its stage, computed from the plain JSON (study rule round(3p))."""
    rows = []
    for record in raw_records(path):
        messages = dialogue_messages(record)
        n = len(messages)
        for i, message in enumerate(messages):
            p = i / (n - 1) if n > 1 else 0.0
            for kind, key in (("reason", "reasons"), ("reaction", "reactions")):
                for k, thought in enumerate(message.get(key) or []):
                    rows.append({
                        "unit_id": f"{record['id']}:{message['id']}:{kind}:{k}",
                        "conversation_id": record["id"],
                        "message_id": str(message["id"]),
                        "index": i,
                        "kind": kind,
                        "label": thought.get("label"),
                        "stage": STAGES[round(3 * p)],
                        "n_messages": n,
                    })
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def dev_result():
    inputs = load_inputs(DEV)
    return stage_analysis(inputs, n_boot=200, seed=1)


def test_stage_shares_reproduce_the_brief_exactly(dev_result):
    shares = dev_result.data["schemes"]
    percent = {
        (scheme, category): [round(100 * shares[scheme]["shares_by_stage"][s][category]) for s in STAGES]
        for scheme, category in [("reasons", "task_motivation"), ("reasons", "task_continuation"),
                                 ("reactions", "explicit_affirmation")]
    }
    assert percent[("reasons", "task_motivation")] == [65, 32, 17, 15]
    assert percent[("reasons", "task_continuation")] == [2, 28, 36, 28]
    assert percent[("reactions", "explicit_affirmation")] == [68, 69, 77, 83]
    assert all(check["holds"] is True for check in dev_result.data["paper_directions"])


def test_stage_tables_and_tests_match_independent_computation(dev_result):
    thoughts = raw_thoughts()
    for scheme, kind in (("reasons", "reason"), ("reactions", "reaction")):
        mine = thoughts[thoughts["kind"] == kind]
        expected = pd.crosstab(mine["stage"], mine["label"]).reindex(STAGES)
        got = dev_result.tables[f"{scheme}_by_stage_counts"]
        entry = dev_result.data["schemes"][scheme]
        got_ids = pd.DataFrame(entry["factors"]["stage"]["counts"]).T.reindex(STAGES)
        assert (got_ids[expected.columns].to_numpy() == expected.to_numpy()).all()
        assert int(got.to_numpy().sum()) == len(mine)
        chi2, p, dof, _ = stats.chi2_contingency(expected.to_numpy(), correction=False)
        test = entry["factors"]["stage"]["test"]
        assert test["p_value"] == pytest.approx(p, rel=1e-9)
        assert test["chi2"] == pytest.approx(chi2, abs=1e-3)
        assert test["dof"] == dof
        n = expected.to_numpy().sum()
        v = np.sqrt(chi2 / (n * (min(expected.shape) - 1)))
        assert entry["cramers_v"] == pytest.approx(v, abs=1e-4)
        low, high = entry["cramers_v_ci"]
        assert low <= high and low > 0
        assert entry["chi2_p_value"] == test["p_value"]


def test_adjusted_residuals_by_hand():
    table = pd.DataFrame([[20, 5, 10], [5, 15, 10]], index=["a", "b"], columns=["x", "y", "z"])
    got = adjusted_residuals(table)
    n = 65.0
    for _i, r in enumerate(table.index):
        for _j, c in enumerate(table.columns):
            row, col = table.loc[r].sum(), table[c].sum()
            e = row * col / n
            expected = (table.loc[r, c] - e) / np.sqrt(e * (1 - row / n) * (1 - col / n))
            assert got.loc[r, c] == pytest.approx(expected)


def test_cramers_v_extremes_and_bias_correction():
    assert cramers_v(np.array([[30, 0], [0, 30]])) == pytest.approx(1.0)
    assert cramers_v(np.array([[10, 20], [20, 40]])) == pytest.approx(0.0)
    table = np.array([[12, 7, 3], [5, 9, 11], [2, 4, 10]], dtype=float)
    n = table.sum()
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    r, c = table.shape
    phi2 = max(0.0, chi2 / n - (r - 1) * (c - 1) / (n - 1))
    rt, ct = r - (r - 1) ** 2 / (n - 1), c - (c - 1) ** 2 / (n - 1)
    assert cramers_v(table, corrected=True) == pytest.approx(np.sqrt(phi2 / min(rt - 1, ct - 1)))
    assert cramers_v(table, corrected=True) < cramers_v(table)
    result = independence_test(np.array([[5, 0, 3], [0, 0, 0], [2, 0, 9]]))  # empty row and column ignored
    assert result["dof"] == 1


def test_vectorised_v_equals_scipy_per_table():
    rng = np.random.default_rng(3)
    tables = rng.integers(0, 9, size=(25, 4, 5)).astype(float)
    tables[0, 1, :] = 0  # an empty row
    tables[1, :, 2] = 0  # an empty column
    got = _v_from_tables(tables)
    for k in range(len(tables)):
        assert got[k] == pytest.approx(cramers_v(tables[k]), rel=1e-9)


def test_bootstrap_resamples_conversations_like_a_slow_reference():
    thoughts = raw_thoughts(DEV)
    reasons = thoughts[thoughts["kind"] == "reason"].reset_index(drop=True)
    rows = pd.Categorical(reasons["stage"], categories=STAGES).codes
    cats = sorted(reasons["label"].unique())
    cols = pd.Categorical(reasons["label"], categories=cats).codes
    fast = bootstrap_cramers_v(rows, cols, reasons["conversation_id"], (4, len(cats)), n_boot=600, seed=0)
    # reference: draw conversations with replacement, stack their thoughts, recount the table, V with scipy
    rng = np.random.default_rng(123)
    members = [np.flatnonzero(reasons["conversation_id"].to_numpy() == c) for c in reasons["conversation_id"].unique()]
    values = []
    for _ in range(600):
        chosen = np.concatenate([members[i] for i in rng.integers(0, len(members), size=len(members))])
        table = np.zeros((4, len(cats)))
        for r, c in zip(rows[chosen], cols[chosen], strict=False):
            table[r, c] += 1
        values.append(cramers_v(table))
    low, high = np.quantile(values, [0.025, 0.975])
    assert fast["resampled"] == "conversations" and fast["n_groups"] == len(members)
    assert fast["low"] == pytest.approx(low, abs=0.03)
    assert fast["high"] == pytest.approx(high, abs=0.03)
    again = bootstrap_cramers_v(rows, cols, reasons["conversation_id"], (4, len(cats)), n_boot=600, seed=0)
    assert again["low"] == fast["low"] and again["high"] == fast["high"]


def test_contingency_keeps_order_and_unseen_levels():
    frame = pd.DataFrame({"f": ["b", "a", "a"], "label": ["y", "x", "y"]})
    table = contingency(frame, "f", "label", ["a", "b", "c"], ["y", "x", "z"])
    assert list(table.index) == ["a", "b", "c"] and list(table.columns) == ["y", "x", "z"]
    assert table.loc["a", "x"] == 1 and table.loc["c"].sum() == 0 and table["z"].sum() == 0


def test_relation_topic_and_length_factors_match_pandas(tmp_path):
    relations = relation_labels(SAMPLE)
    topics = topic_labels(write_topics_codebook(tmp_path), SAMPLE)
    inputs = load_inputs(SAMPLE, labels=[relations, topics])
    result = stage_analysis(inputs, n_boot=50)
    thoughts = raw_thoughts(SAMPLE)
    turn_label = dict(zip(relations["unit_id"], relations["label"], strict=False))
    # next user turn of each assistant message, from the raw records
    next_user = {}
    for record in raw_records(SAMPLE):
        messages = dialogue_messages(record)
        for i, message in enumerate(messages):
            later = [m for m in messages[i + 1 :] if m["type"] == "user"]
            next_user[(record["id"], str(message["id"]))] = f"{record['id']}:{later[0]['id']}" if later else None

    def relation(row):
        if row["kind"] == "reason":
            return turn_label[f"{row['conversation_id']}:{row['message_id']}"]
        unit = next_user[(row["conversation_id"], row["message_id"])]
        return turn_label[unit] if unit else "(ended)"

    thoughts["relation"] = thoughts.apply(relation, axis=1)
    parent = {"coding": "tech", "ai_tools": "tech", "study": "learning", "science_math": "learning",
              "food": "life", "travel": "life", "misc": "other"}
    first_topic = {u: parent[labels[0]] for u, labels in zip(topics["unit_id"], topics["labels"], strict=False)}
    thoughts["topic"] = thoughts["conversation_id"].map(first_topic)
    thoughts["length"] = thoughts["n_messages"].map(length_bucket)
    for scheme, kind in (("reasons", "reason"), ("reactions", "reaction")):
        mine = thoughts[thoughts["kind"] == kind]
        factors = result.data["schemes"][scheme]["factors"]
        for factor in ("relation", "topic", "length"):
            expected = pd.crosstab(mine[factor], mine["label"])
            got = pd.DataFrame(factors[factor]["counts"]).T
            assert set(got.index) == set(expected.index), (scheme, factor)
            got = got.loc[expected.index, expected.columns]
            assert (got.to_numpy() == expected.to_numpy()).all(), (scheme, factor)
            p = stats.chi2_contingency(expected.to_numpy(), correction=False)[1]
            assert factors[factor]["test"]["p_value"] == pytest.approx(p, rel=1e-9)
    factors_seen = {(r["scheme"], r["factor"]) for r in result.data["association_by_factor"]}
    assert factors_seen == {(s, f) for s in ("reasons", "reactions") for f in ("stage", "relation", "topic", "length")}
    assert "association_by_factor" in result.tables and result.data["reading"]


def test_given_labels_override_release_and_are_named(tmp_path):
    thoughts = raw_thoughts(SAMPLE)
    reasons = thoughts[thoughts["kind"] == "reason"]
    table = pd.DataFrame({"unit_id": reasons["unit_id"], "scheme": "reasons", "label": "task_motivation",
                          "coder": "everything-motivation", "status": "ok"})
    failed = pd.DataFrame([{"unit_id": reasons["unit_id"].iloc[0], "scheme": "reasons", "label": None,
                            "coder": "everything-motivation", "status": "failed", "error": "timeout"}])
    stray = pd.DataFrame([{"unit_id": "nope:1:reason:0", "scheme": "reasons", "label": "task_motivation",
                           "coder": "everything-motivation", "status": "ok"}])
    path = tmp_path / "reasons.csv"
    pd.concat([failed, table.iloc[1:], stray]).to_csv(path, index=False)
    inputs = load_inputs(SAMPLE, labels=[path])
    assert any("instead of the release labels" in n for n in inputs.notes)
    label_set = inputs.label_sets["reasons"]
    assert label_set.source == str(path) and len(label_set.frame) == len(reasons) - 1
    assert any("failed" in n for n in label_set.notes) and any("not in the corpus" in n for n in label_set.notes)
    result = stage_analysis(inputs, n_boot=20)
    entry = result.data["schemes"]["reasons"]
    assert entry["source"] == str(path)
    assert all(v["task_motivation"] == 1.0 for v in entry["shares_by_stage"].values() if v["task_motivation"] is not None)
    assert entry["factors"]["stage"]["test"]["p_value"] is None  # one category: nothing to test
    assert result.data["schemes"]["reactions"]["source"].startswith("release labels")


def test_several_coders_use_the_one_with_most_labels():
    thoughts = raw_thoughts(SAMPLE)
    reactions = thoughts[thoughts["kind"] == "reaction"]
    a = pd.DataFrame({"unit_id": reactions["unit_id"], "label": reactions["label"], "coder": "human"})
    b = a.iloc[:10].assign(coder="llm", label="scope_fit")
    inputs = load_inputs(SAMPLE, labels=[pd.concat([a, b])], release_labels=False)
    label_set = inputs.for_kind("reaction")
    assert label_set.coder == "human" and any("2 coders" in n for n in label_set.notes)
    counts = Counter(label_set.frame["label"])
    assert counts == Counter(reactions["label"])
    other = load_inputs(SAMPLE, labels=[pd.concat([a, b])], release_labels=False, coder="llm")
    assert set(other.for_kind("reaction").frame["label"]) == {"scope_fit"}


def test_labels_of_several_codebook_versions_are_not_mixed():
    thoughts = raw_thoughts(SAMPLE)
    reactions = thoughts[thoughts["kind"] == "reaction"]
    a = pd.DataFrame({"unit_id": reactions["unit_id"], "label": reactions["label"], "coder": "human",
                      "codebook": "reactions@1.0.0"})
    b = a.iloc[:10].assign(codebook="reactions@2.0.0")
    with pytest.raises(ValueError, match="2 codebooks"):
        load_inputs(SAMPLE, labels=[pd.concat([a.iloc[10:], b])], release_labels=False)
    inputs = load_inputs(SAMPLE, labels=[a], release_labels=False)  # one version: fine
    assert len(inputs.for_kind("reaction").frame) == len(reactions)
