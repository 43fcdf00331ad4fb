"""Pairwise judging, pure parts: answer files, style features, games, win rate, style-controlled model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from thoughtcode.analyses.studies import judging as J


def test_style_features():
    text = "# Title\n\nSome **bold** and __also bold__ text.\n\n- one\n- two\n1. three\n2) four\n\n## Sub\nplain"
    f = J.style_features(text)
    assert f["headers"] == 2 and f["lists"] == 4 and f["bold"] == 2
    assert f["length"] > 10
    assert J.style_features("") == {"length": 0, "headers": 0, "lists": 0, "bold": 0}
    assert J.style_features("#hashtag is not a header\n-not a list")["headers"] == 0


def test_normalised_difference():
    d = J.normalised_difference(np.array([3, 0, 0]), np.array([1, 0, 2]))
    assert d.tolist() == [0.5, 0.0, -1.0]


def test_game_score_from_the_models_side():
    assert J.game_score("A>>B", model_first=True) == 1.0
    assert J.game_score("A>B", model_first=False) == 0.0
    assert J.game_score("B>A", model_first=False) == 1.0
    assert J.game_score("A=B", model_first=True) == 0.5
    with pytest.raises(ValueError):
        J.game_score("A", True)


def _pairs(n):
    return pd.DataFrame(
        {"prompt_id": [f"q{i}" for i in range(n)], "prompt": ["p"] * n, "model_answer": ["m"] * n, "baseline_answer": ["b"] * n}
    )


def test_win_rate_counts_ties_half_and_reports_position_bias():
    pairs = _pairs(4)
    verdicts = {
        ("q0", True): "A>B", ("q0", False): "B>A",  # model wins both orders
        ("q1", True): "A=B", ("q1", False): "A=B",  # ties
        ("q2", True): "A>B", ("q2", False): "A>B",  # the first answer always wins: inconsistent
        ("q3", True): None, ("q3", False): "A>>B",  # one failed game
    }
    games = J.games_frame(pairs, verdicts)
    result = J.win_rate(games, n_boot=200)
    assert result["games"] == 7 and result["failed_games"] == 1
    assert (result["wins"], result["ties"], result["losses"]) == (3, 2, 2)
    assert result["win_rate"] == pytest.approx((3 + 1) / 7)
    assert result["first_position_win_share"] == pytest.approx(4 / 5)
    assert result["order_agreement"] == pytest.approx(2 / 3)
    low, high = result["ci"]
    assert low <= result["win_rate"] <= high


def _simulated_games(rng, n_prompts=400, strength=0.4, length_effect=1.2, model_scale=1):
    """Answers vary in length and the judge likes length; the true intercept is ``strength``. With
    ``model_scale`` > 1 the model's answers are systematically longer than the baseline's."""
    rows = []
    for i in range(n_prompts):
        m_len = int(rng.integers(50, 800)) * model_scale
        b_len = int(rng.integers(50, 800))
        for model_first in (True, False):
            d = (m_len - b_len) / (m_len + b_len)
            p = 1 / (1 + np.exp(-(strength + length_effect * d / 0.3)))
            score = float(rng.random() < p)
            rows.append({"prompt_id": f"q{i}", "model_first": model_first, "verdict": "x", "score": score,
                         "model_length": m_len, "baseline_length": b_len, "model_headers": 0, "baseline_headers": 0,
                         "model_lists": 0, "baseline_lists": 0, "model_bold": 0, "baseline_bold": 0})
    return pd.DataFrame(rows)


def test_logistic_fit_matches_statsmodels():
    rng = np.random.default_rng(0)
    games = _simulated_games(rng)
    X, names, _ = J.style_design(games)
    assert names == ["intercept", "length", "position"]  # features without variation are dropped
    beta = J.fit_logistic(X, games["score"].to_numpy(), ridge=0.0)
    reference = sm.Logit(games["score"].to_numpy(), X).fit(disp=0).params
    assert beta == pytest.approx(reference, abs=1e-6)


def test_style_control_recovers_the_strength_behind_a_length_bias():
    rng = np.random.default_rng(5)
    # equal strength, but the model writes 3x longer answers: its raw win rate is inflated by length alone
    games = _simulated_games(rng, strength=0.0, length_effect=1.5, model_scale=3)
    plain = J.win_rate(games, n_boot=100)
    controlled = J.style_controlled(games, n_boot=100)
    assert controlled["coefficients"]["length"] > 0.5
    assert plain["win_rate"] > 0.75
    assert abs(controlled["win_rate"] - 0.5) < 0.1
    low, high = controlled["ci"]
    assert low <= controlled["win_rate"] <= high


def test_ties_enter_as_half_wins():
    games = pd.DataFrame({"prompt_id": ["a", "a", "b", "b"], "model_first": [True, False, True, False],
                          "verdict": "A=B", "score": [0.5, 0.5, 1.0, 0.0]})
    for side in ("model", "baseline"):
        for name in J.STYLE_FEATURES:
            games[f"{side}_{name}"] = 1
    result = J.style_controlled(games, n_boot=20)
    assert result["win_rate"] == pytest.approx(0.5, abs=1e-6)


def test_separation_stays_finite():
    games = J.games_frame(_pairs(5), {(f"q{i}", o): ("A>B" if o else "B>A") for i in range(5) for o in (True, False)})
    result = J.style_controlled(games, n_boot=20)
    assert 0.9 < result["win_rate"] <= 1.0 and np.isfinite(list(result["coefficients"].values())).all()


def test_load_answers_in_several_shapes(tmp_path):
    simple = tmp_path / "model.jsonl"
    simple.write_text("\n".join(json.dumps(r) for r in [
        {"id": "1", "prompt": "Say hi", "answer": "Hi!", "model": "m1"},
        {"id": "2", "prompt": "Count", "answer": "1 2 3", "model": "m1"},
    ]))
    arena = tmp_path / "baseline.jsonl"
    arena.write_text("\n".join(json.dumps(r) for r in [
        {"question_id": 1, "model_id": "base", "choices": [{"index": 0, "turns": [{"content": "Hello."}]}]},
        {"question_id": 3, "model_id": "base", "choices": [{"index": 0, "turns": [{"content": "x"}]}]},
    ]))
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"id": "1", "messages": [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hey"}]}))
    name, model = J.load_answers(simple)
    assert name == "m1" and model["1"] == {"prompt": "Say hi", "answer": "Hi!"}
    base_name, base = J.load_answers(arena)
    assert base_name == "base" and base["1"]["answer"] == "Hello." and base["1"]["prompt"] is None
    assert J.load_answers(chat)[1]["1"] == {"prompt": "Say hi", "answer": "Hey"}
    pairs = J.pair_answers(model, base)
    assert pairs["prompt_id"].tolist() == ["1"] and pairs.loc[0, "prompt"] == "Say hi"
    with pytest.raises(ValueError, match="no text"):
        J.pair_answers({"3": {"prompt": None, "answer": "a"}}, base)
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"question_id": 3, "turns": [{"content": "What?"}]}))
    assert J.pair_answers({"3": {"prompt": None, "answer": "a"}}, base, J.load_prompts(prompts)).loc[0, "prompt"] == "What?"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": 1}))
    with pytest.raises(ValueError, match=":1: no answer"):
        J.load_answers(bad)


def test_results_table():
    games = J.games_frame(_pairs(3), {(f"q{i}", o): "A=B" for i in range(3) for o in (True, False)})
    table = J.results_table("m", "b", J.win_rate(games, n_boot=10), J.style_controlled(games, n_boot=10))
    assert table.loc[0, "win_rate"] == 50.0 and table.loc[0, "ties"] == 6
