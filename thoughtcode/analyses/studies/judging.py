"""Pairwise judging of a model's answers against a baseline's, with position-bias and style control.

* :func:`load_answers` reads an answers file (JSONL; one answer per prompt) in a few common shapes:
  ``{"id", "prompt", "answer"}``, Arena-Hard's ``{"question_id", "choices": [{"turns": [{"content"}]}]}``, or
  a chat record whose last assistant message is the answer. No prompt set ships with thoughtcode.
* :func:`judge_pairs` asks an LLM judge about every prompt twice, once with each answer first, so position
  bias cancels; every verdict is a *game* scored from the model's side: win 1, tie 0.5, loss 0.
* :func:`win_rate` is the mean game score (ties count half), with a bootstrap interval over prompts.
* :func:`style_controlled` fits a logistic (two-player Bradley-Terry) model of the game outcome on an
  intercept, style covariates and the position: the style covariates, after Arena-Hard's style control, are
  the normalised differences ``(model - baseline) / (model + baseline)`` of answer length in tokens and of the
  counts of markdown headers, list items and bold spans, each divided by its standard deviation (not centred,
  so zero means "same style"). The position covariate is +1 when the model's answer was shown first, -1
  otherwise. The style-controlled win rate is ``sigmoid(intercept)``: the chance of a win between answers of
  equal style in a balanced order. Ties enter as half a win and half a loss. Bootstrap intervals resample
  prompts (both games of a prompt together) and refit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from thoughtcode.analyses.studies._common import (
    percentile_interval,
    render,
    template_hash,
    write_json,
)
from thoughtcode.analyses.studies.llm import Call, ModelSettings, StudyModel, Usage, usage_table, user_turn
from thoughtcode.analyses.studies.report import Section, write_report
from thoughtcode.corpus import count_tokens
from thoughtcode.textio import read_jsonl

Verdict = Literal["A>>B", "A>B", "A=B", "B>A", "B>>A"]
VERDICTS: tuple[str, ...] = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
STYLE_FEATURES: tuple[str, ...] = ("length", "headers", "lists", "bold")

_HEADER = re.compile(r"^\s{0,3}#{1,6}\s+\S", re.MULTILINE)
_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+?\*\*|__[^_\n]+?__")
_ID_KEYS = ("id", "question_id", "prompt_id", "uid")
_PROMPT_KEYS = ("prompt", "question", "instruction")
_ANSWER_KEYS = ("answer", "response", "output", "completion")


# --- answers -----------------------------------------------------------------------------------------------
def _first(record: dict[str, Any], keys: Sequence[str]) -> Any:
    return next((record[k] for k in keys if record.get(k) is not None), None)


def _prompt_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # chat turns or Arena-Hard's [{"content": ...}]
        users = [t.get("content", "") for t in value if isinstance(t, dict) and t.get("role", "user") == "user"]
        return users[-1] if users else None
    return str(value)


def load_answers(path: Path | str, model: str | None = None) -> tuple[str, dict[str, dict[str, str | None]]]:
    """The model name and ``{prompt_id: {"prompt": ..., "answer": ...}}`` of an answers file.

    The model name is ``model`` if given, else the file's ``model``/``model_id``/``generator`` field, else
    the file name. A record without an id or an answer raises ``ValueError`` naming its line.
    """
    rows = read_jsonl(path)
    answers: dict[str, dict[str, str | None]] = {}
    names = set()
    for number, row in enumerate(rows, 1):
        pid = _first(row, _ID_KEYS)
        if pid is None:
            raise ValueError(f"{path}:{number}: no id (expected one of {', '.join(_ID_KEYS)})")
        answer = _first(row, _ANSWER_KEYS)
        prompt = _prompt_text(_first(row, _PROMPT_KEYS) or row.get("turns"))
        if answer is None and isinstance(row.get("choices"), list) and row["choices"]:
            turns = row["choices"][0].get("turns") or []
            answer = turns[0].get("content") if turns and isinstance(turns[0], dict) else None
        if answer is None and isinstance(row.get("messages"), list):
            chat = [m for m in row["messages"] if isinstance(m, dict)]
            assistant = [m.get("content") for m in chat if m.get("role") == "assistant"]
            answer = assistant[-1] if assistant else None
            prompt = prompt or _prompt_text([m for m in chat if m.get("role") == "user"])
        if answer is None:
            raise ValueError(f"{path}:{number}: no answer (expected one of {', '.join(_ANSWER_KEYS)}, choices or messages)")
        if str(pid) in answers:
            raise ValueError(f"{path}:{number}: duplicate id {pid!r}")
        answers[str(pid)] = {"prompt": prompt, "answer": str(answer)}
        name = _first(row, ("model", "model_id", "generator"))
        if name:
            names.add(str(name))
    name = model or (names.pop() if len(names) == 1 else Path(path).name.split(".")[0])
    return name, answers


def load_prompts(path: Path | str) -> dict[str, str]:
    """A prompt set (JSONL with an id and a prompt/question/turns field) as ``{prompt_id: prompt}``."""
    prompts = {}
    for number, row in enumerate(read_jsonl(path), 1):
        pid = _first(row, _ID_KEYS)
        text = _prompt_text(_first(row, _PROMPT_KEYS) or row.get("turns"))
        if pid is None or text is None:
            raise ValueError(f"{path}:{number}: a prompt needs an id and a prompt")
        prompts[str(pid)] = text
    return prompts


def pair_answers(
    model_answers: dict[str, dict[str, str | None]],
    baseline_answers: dict[str, dict[str, str | None]],
    prompts: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Prompts answered by both sides: ``prompt_id, prompt, model_answer, baseline_answer``.

    The prompt text comes from ``prompts`` if given, else from either answers file; a shared prompt with no
    text anywhere raises ``ValueError``.
    """
    rows = []
    for pid in sorted(set(model_answers) & set(baseline_answers), key=_natural):
        prompt = (prompts or {}).get(pid) or model_answers[pid]["prompt"] or baseline_answers[pid]["prompt"]
        if prompt is None:
            raise ValueError(f"prompt {pid!r} has no text: give a prompt set with --prompts")
        rows.append({"prompt_id": pid, "prompt": prompt, "model_answer": model_answers[pid]["answer"],
                     "baseline_answer": baseline_answers[pid]["answer"]})
    return pd.DataFrame(rows, columns=["prompt_id", "prompt", "model_answer", "baseline_answer"])


def _natural(key: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", key))


# --- style -----------------------------------------------------------------------------------------------------
def style_features(text: str) -> dict[str, int]:
    """Length in tokens (offline count) and the numbers of markdown headers, list items and bold spans."""
    return {
        "length": count_tokens(text),
        "headers": len(_HEADER.findall(text)),
        "lists": len(_LIST.findall(text)),
        "bold": len(_BOLD.findall(text)),
    }


def normalised_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a - b) / (a + b)``, zero where both are zero (Arena-Hard's style-control normalisation)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    total = a + b
    return np.divide(a - b, total, out=np.zeros_like(total), where=total != 0)


# --- games ------------------------------------------------------------------------------------------------------
def game_score(verdict: str, model_first: bool) -> float:
    """The model's score for one verdict: 1 win, 0.5 tie, 0 loss (strong and weak verdicts alike)."""
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}")
    if verdict == "A=B":
        return 0.5
    a_wins = verdict.startswith("A")
    return 1.0 if a_wins == model_first else 0.0


def games_frame(pairs: pd.DataFrame, verdicts: dict[tuple[str, bool], str | None]) -> pd.DataFrame:
    """One row per (prompt, order) game: verdict, model score and the style features of both answers.

    ``verdicts`` maps ``(prompt_id, model_first)`` to the judge's verdict, or None when judging failed
    (such games are kept with a NaN score and left out of every statistic).
    """
    rows = []
    for pair in pairs.itertuples(index=False):
        m_style, b_style = style_features(pair.model_answer), style_features(pair.baseline_answer)
        for model_first in (True, False):
            verdict = verdicts.get((pair.prompt_id, model_first))
            row = {
                "prompt_id": pair.prompt_id,
                "model_first": model_first,
                "verdict": verdict,
                "score": game_score(verdict, model_first) if verdict else math.nan,
            }
            for name in STYLE_FEATURES:
                row[f"model_{name}"] = m_style[name]
                row[f"baseline_{name}"] = b_style[name]
            rows.append(row)
    return pd.DataFrame(rows)


def _prompt_groups(games: pd.DataFrame) -> list[np.ndarray]:
    return [np.asarray(ix) for ix in games.groupby("prompt_id", sort=False).indices.values()]


def win_rate(games: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, Any]:
    """Win rate of the model over the baseline (ties count half) with a prompt-bootstrap interval, plus the
    counts of wins, ties and losses and two judge diagnostics: how often the answer shown first won (among
    decisive games) and how often the two orders of a prompt agreed."""
    done = games.dropna(subset=["score"]).reset_index(drop=True)
    out: dict[str, Any] = {
        "games": int(len(done)),
        "failed_games": int(len(games) - len(done)),
        "wins": int((done["score"] == 1).sum()),
        "ties": int((done["score"] == 0.5).sum()),
        "losses": int((done["score"] == 0).sum()),
        "win_rate": float(done["score"].mean()) if len(done) else None,
        "ci": [None, None],
    }
    if len(done):
        decisive = done[done["score"] != 0.5]
        first_won = (decisive["score"] == 1) == decisive["model_first"]
        out["first_position_win_share"] = float(first_won.mean()) if len(decisive) else None
        both = done.groupby("prompt_id")["score"].agg(["size", "nunique"])
        both = both[both["size"] == 2]
        out["order_agreement"] = float((both["nunique"] == 1).mean()) if len(both) else None
        groups = _prompt_groups(done)
        scores = done["score"].to_numpy()
        sums = np.array([scores[g].sum() for g in groups])
        sizes = np.array([len(g) for g in groups])
        rng = np.random.default_rng(seed)
        picks = rng.integers(0, len(groups), size=(n_boot, len(groups)))
        out["ci"] = percentile_interval(sums[picks].sum(axis=1) / sizes[picks].sum(axis=1), level)
    return out


def style_design(games: pd.DataFrame, scale: dict[str, float] | None = None) -> tuple[np.ndarray, list[str], dict[str, float]]:
    """The design matrix of the style-controlled model: intercept, scaled style differences (features
    without variation are dropped) and the position covariate. Returns it with column names and scales."""
    columns = [np.ones(len(games))]
    names = ["intercept"]
    scales = dict(scale or {})
    for name in STYLE_FEATURES:
        diff = normalised_difference(games[f"model_{name}"].to_numpy(), games[f"baseline_{name}"].to_numpy())
        sd = scales.get(name, float(np.std(diff)))
        if sd > 1e-12:
            columns.append(diff / sd)
            names.append(name)
            scales[name] = sd
    columns.append(np.where(games["model_first"].to_numpy(dtype=bool), 1.0, -1.0))
    names.append("position")
    return np.column_stack(columns), names, scales


def fit_logistic(
    X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, ridge: float = 1e-3, max_iter: int = 100
) -> np.ndarray:
    """Weighted logistic regression for outcomes ``y`` in [0, 1] (a tie is y=0.5) by Newton's method with a
    small ridge penalty ``ridge * |beta|^2 / 2`` that keeps the estimates finite under separation."""
    n, k = X.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    beta = np.zeros(k)
    penalty = ridge * np.eye(k)

    def loss(b: np.ndarray) -> float:
        z = X @ b
        return float(np.sum(w * (np.logaddexp(0, z) - y * z)) + ridge * b @ b / 2)

    current = loss(beta)
    for _ in range(max_iter):
        p = 1 / (1 + np.exp(-(X @ beta)))
        grad = X.T @ (w * (p - y)) + ridge * beta
        hess = (X * (w * p * (1 - p))[:, None]).T @ X + penalty
        step = np.linalg.lstsq(hess, grad, rcond=None)[0]
        t = 1.0
        while t > 1e-10:  # halve the step until the penalised loss does not increase
            value = loss(beta - t * step)
            if value <= current + 1e-12:
                break
            t /= 2
        else:
            break
        beta = beta - t * step
        improvement, current = current - value, value
        if improvement < 1e-10 and float(np.max(np.abs(t * step))) < 1e-7:
            break
    return beta


def _sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def style_controlled(games: pd.DataFrame, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, Any]:
    """Style-controlled win rate ``sigmoid(intercept)`` with its prompt-bootstrap interval and the fitted
    coefficients (per standard deviation of each normalised style difference)."""
    done = games.dropna(subset=["score"]).reset_index(drop=True)
    if not len(done):
        return {"win_rate": None, "ci": [None, None], "coefficients": {}}
    X, names, scales = style_design(done)
    y = done["score"].to_numpy(dtype=float)
    beta = fit_logistic(X, y)
    groups = _prompt_groups(done)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        rows = np.concatenate([groups[i] for i in rng.integers(0, len(groups), size=len(groups))])
        sample = done.iloc[rows]
        Xb, names_b, _ = style_design(sample, scales)
        if names_b != names:  # a feature lost its variation in this replicate: refit without it
            Xb, _, _ = style_design(sample)
        boot.append(_sigmoid(fit_logistic(Xb, y[rows])[0]))
    return {
        "win_rate": _sigmoid(beta[0]),
        "ci": percentile_interval(boot, level),
        "coefficients": dict(zip(names, (float(b) for b in beta), strict=True)),
        "feature_scales": scales,
    }


def results_table(model: str, baseline: str, plain: dict[str, Any], controlled: dict[str, Any]) -> pd.DataFrame:
    """One row: the model, its win rate and style-controlled win rate against the baseline (in %) with
    their intervals, and the game counts."""
    def pct(v: float | None) -> float | None:
        return None if v is None else round(100 * v, 1)

    return pd.DataFrame(
        [
            {
                "model": model,
                "baseline": baseline,
                "win_rate": pct(plain["win_rate"]),
                "win_ci": f"[{pct(plain['ci'][0])}, {pct(plain['ci'][1])}]",
                "style_controlled": pct(controlled["win_rate"]),
                "style_ci": f"[{pct(controlled['ci'][0])}, {pct(controlled['ci'][1])}]",
                "wins": plain["wins"],
                "ties": plain["ties"],
                "losses": plain["losses"],
                "failed": plain["failed_games"],
            }
        ]
    )


# --- model calls -----------------------------------------------------------------------------------------------
class PairwiseVerdict(BaseModel):
    """The pairwise judge's answer."""

    rationale: str = Field(description="One or two sentences comparing the answers.")
    verdict: Verdict = Field(description='"A>>B", "A>B", "A=B", "B>A" or "B>>A".')


def pairwise_prompt(prompt: str, answer_a: str, answer_b: str) -> str:
    return render("pairwise_judge", prompt=prompt, answer_a=answer_a, answer_b=answer_b)


def judge_pairs(model: StudyModel, pairs: pd.DataFrame) -> tuple[dict[tuple[str, bool], str | None], pd.DataFrame]:
    """Ask the judge about every prompt in both orders. Returns the verdicts keyed by
    ``(prompt_id, model_first)`` and one row per game with the rationale, status and tokens."""
    calls, keys = [], []
    for pair in pairs.itertuples(index=False):
        for model_first in (True, False):
            a, b = (pair.model_answer, pair.baseline_answer) if model_first else (pair.baseline_answer, pair.model_answer)
            calls.append(Call(f"{pair.prompt_id}|{int(model_first)}", user_turn(pairwise_prompt(pair.prompt, a, b))))
            keys.append((pair.prompt_id, model_first))
    results = model.run(calls, PairwiseVerdict, template_hash("pairwise_judge"))
    verdicts: dict[tuple[str, bool], str | None] = {}
    rows = []
    for key, result in zip(keys, results, strict=True):
        verdicts[key] = result.value.verdict if result.ok else None
        rows.append({"prompt_id": key[0], "model_first": key[1], "judge": model.name,
                     "rationale": result.value.rationale if result.ok else None, "status": "ok" if result.ok else "failed",
                     "error": result.error, "tokens_in": result.tokens_in, "tokens_out": result.tokens_out})
    return verdicts, pd.DataFrame(rows)


@dataclass
class JudgingStudy:
    model: str
    baseline: str
    games: pd.DataFrame
    plain: dict[str, Any]
    controlled: dict[str, Any]
    table: pd.DataFrame
    usage: list[Usage]
    settings: dict[str, Any]
    notes: list[str]


def run_pairwise_judging(
    model_file: Path | str,
    baseline_file: Path | str,
    judge: str,
    prompts_file: Path | str | None = None,
    limit: int | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    settings: ModelSettings | None = None,
    model_name: str | None = None,
    baseline_name: str | None = None,
    max_tokens: int = 400,
) -> JudgingStudy:
    """Judge the answers of ``model_file`` against ``baseline_file`` on the prompts both answered."""
    model, model_answers = load_answers(model_file, model_name)
    baseline, baseline_answers = load_answers(baseline_file, baseline_name)
    if model == baseline:
        baseline = f"{baseline} (baseline)"
    pairs = pair_answers(model_answers, baseline_answers, load_prompts(prompts_file) if prompts_file else None)
    notes = [f"{len(pairs)} prompts answered by both ({len(model_answers)} by {model}, {len(baseline_answers)} by {baseline})"]
    if not len(pairs):
        raise ValueError("the two answer files share no prompt id")
    if limit is not None and limit < len(pairs):
        pairs = pairs.iloc[:limit].reset_index(drop=True)
        notes.append(f"--limit {limit}: the first {limit} prompts")
    judge_model = StudyModel(judge, "pairwise_judge", max_tokens, settings)
    verdicts, calls = judge_pairs(judge_model, pairs)
    games = games_frame(pairs, verdicts).merge(calls, on=["prompt_id", "model_first"], how="left")
    plain = win_rate(games, n_boot, seed)
    controlled = style_controlled(games, n_boot, seed)
    if plain["failed_games"]:
        notes.append(f"{plain['failed_games']} judge calls failed and are left out")
    if plain.get("first_position_win_share") is not None:
        notes.append(f"position bias: the answer shown first won {100 * plain['first_position_win_share']:.1f}% of decisive games; "
                     f"the two orders of a prompt agreed on {100 * (plain.get('order_agreement') or 0):.1f}% of prompts")
    run_settings = {"model": model, "baseline": baseline, "judge": judge_model.name, "prompts": str(prompts_file) if prompts_file else None,
                    "limit": limit, "n_boot": n_boot, "seed": seed, "prompt_hash": template_hash("pairwise_judge")}
    return JudgingStudy(model, baseline, games, plain, controlled, results_table(model, baseline, plain, controlled),
                        [judge_model.usage], run_settings, notes)


def write_judging(study: JudgingStudy, out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"games": out_dir / "games.csv", "results": out_dir / "results.csv", "summary": out_dir / "summary.json",
             "report": out_dir / "report.html"}
    study.games.to_csv(paths["games"], index=False)
    study.table.to_csv(paths["results"], index=False)
    usage = usage_table(study.usage, len(study.games) // 2 or None, "prompts")
    coefficients = pd.DataFrame([{"term": k, "coefficient": v} for k, v in study.controlled.get("coefficients", {}).items()])
    write_json({"study": "pairwise judging", "settings": study.settings, "win_rate": study.plain,
                "style_controlled": study.controlled, "usage": usage, "notes": study.notes}, paths["summary"])
    sections = [
        Section(f"{study.model} against {study.baseline}",
                ["Win rate: share of games won (ties count half) over both answer orders; style-controlled: the win chance "
                 "between answers of equal length and markdown (headers, lists, bold), from a logistic model with style "
                 "covariates. 95% bootstrap intervals over prompts."],
                {"results (%)": study.table}),
        Section("Style model", ["Coefficients per standard deviation of each normalised style difference "
                                "(model minus baseline); position is +1 when the model's answer was shown first."],
                {"coefficients": coefficients}),
        Section("Model calls and tokens", [], {"usage": pd.DataFrame(usage)}, study.notes),
    ]
    write_report(paths["report"], "Pairwise judging", sections, f"thoughtcode; judge {study.settings['judge']}")
    return paths
