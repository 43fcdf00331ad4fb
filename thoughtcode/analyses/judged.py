"""LLM-judged thought properties: semantic coverage and inference difficulty (ThoughtTrace, issue 5).

* **Semantic coverage** (:func:`coverage_analysis`): how much does what the user typed put a thought into
  words? A reason is compared with the message it is attached to; a reaction with the user's *next* message
  (the previous reaction, seen from that message). A judge LLM scores 1-5. Paper: 3.22 (reasons), 2.00
  (reactions).
* **Inference difficulty** (:func:`inference_analysis`): a predictor LLM reads the conversation up to the
  message that carries the thought (for a reaction: up to the reply, not the user's answer to it) and writes
  the thought in free text; a judge LLM, never one of the predictors, scores its similarity to the real
  thought 1-5. Several predictors give a per-model table. Paper: 2.93 (reasons), 2.54 (reactions).

Prompts are the text files in ``prompts/``; calls go through :class:`~thoughtcode.analyses.studies.llm.StudyModel`
(the coders' public client), so they are cached, concurrent and counted like the coders'. A failed call is a
failure row and is counted, never given a score; means are over scored items, with 95% intervals from a
bootstrap that resamples whole conversations (thoughts of one conversation are not independent).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from thoughtcode.analyses.common import (
    AnalysisResult,
    PromptFiles,
    group_bootstrap_interval,
    sample_items,
    unavailable,
)
from thoughtcode.analyses.inputs import AnalysisInputs
from thoughtcode.analyses.studies.llm import Call, ModelSettings, StudyModel, Usage, usage_table, user_turn
from thoughtcode.coders import Answer
from thoughtcode.corpus import Conversation, Message, dialogue, shorten, thought_units, transcript

KINDS: tuple[str, str] = ("reason", "reaction")
SCORES = (1, 2, 3, 4, 5)
PAPER = {"coverage": {"reason": 3.22, "reaction": 2.00}, "inference": {"reason": 2.93, "reaction": 2.54}}
DESCRIPTION = {"reason": "reason for sending a message", "reaction": "reaction to an assistant's reply"}
PROMPTS = PromptFiles(Path(__file__).parent / "prompts")
MAX_TOKENS = 300  # a score with one sentence, or a thought of one or two sentences
ALL = "all predictors"


@dataclass(frozen=True)
class ThoughtItem:
    """A reason or reaction with what the judged analyses show about it."""

    item_id: str  # the thought's unit id
    conversation_id: str
    kind: str
    thought: str
    message: str  # the message carrying the thought
    next_user_message: str | None  # reactions: the user's next message, if any
    context: tuple[Message, ...]  # the dialogue up to and including the message carrying the thought

    @property
    def covering_text(self) -> str | None:
        """The user's own text judged for coverage: a reason's message, a reaction's next user message."""
        return self.message if self.kind == "reason" else self.next_user_message


class JudgeScore(BaseModel):
    """A judge's answer on the 1-5 scales of both analyses."""

    rationale: str = Field(description="One sentence explaining the score.")
    score: int = Field(ge=1, le=5, description="The score, an integer from 1 to 5.")


def thought_items(conversations: Sequence[Conversation]) -> list[ThoughtItem]:
    """Every non-empty reason and reaction, in corpus order."""
    dialogues = {c.id: dialogue(c) for c in conversations}
    return [
        ThoughtItem(u.unit_id, u.conversation_id, u.kind, u.text, u.message,
                    u.next_message if u.kind == "reaction" else None,
                    tuple(dialogues[u.conversation_id][: u.message_index + 1]))
        for u in thought_units(conversations)
        if u.text.strip()
    ]


def pick_items(items: Sequence[ThoughtItem], limit: int | None, seed: int) -> list[ThoughtItem]:
    """Reasons then reactions, at most ``limit`` of each kind drawn at random (seeded), in corpus order."""
    return [it for kind in KINDS for it in sample_items([i for i in items if i.kind == kind], limit, seed)]


def check_roles(judge: str, predictors: Iterable[str]) -> None:
    """A model must not judge its own inferences: raise when the judge is also a predictor."""
    if StudyModel.display(judge) in {StudyModel.display(p) for p in predictors}:
        raise ValueError(f"the judge {StudyModel.display(judge)} is also a predictor: a model must not judge its own "
                         "inferences; give a different --judge")


# --- prompts --------------------------------------------------------------------------------------------
def coverage_prompt(item: ThoughtItem, max_chars: int | None = 4000) -> str:
    fields = {"thought": item.thought, "message": shorten(item.covering_text or "", max_chars)}
    if item.kind == "reaction":
        fields["reply"] = shorten(item.message, max_chars)
    return PROMPTS.render(f"coverage_{item.kind}", **fields)


def infer_prompt(item: ThoughtItem, max_chars: int | None = 4000) -> str:
    return PROMPTS.render(f"infer_{item.kind}", context=transcript(item.context, max_chars))


def judge_prompt(item: ThoughtItem, inferred: str, max_chars: int | None = 4000) -> str:
    return PROMPTS.render("judge_inference", description=DESCRIPTION[item.kind], kind=item.kind,
                          message=shorten(item.message, max_chars), thought=item.thought, inferred=inferred)


# --- model calls ----------------------------------------------------------------------------------------
def judge_coverage(judge: StudyModel, items: Sequence[ThoughtItem], max_chars: int | None = 4000) -> pd.DataFrame:
    """One row per item: the judge's coverage score, or the failure."""
    calls = [Call(it.item_id, user_turn(coverage_prompt(it, max_chars))) for it in items]
    answers = judge.run(calls, JudgeScore, PROMPTS.hash("coverage_reason", "coverage_reaction"))
    return pd.DataFrame([{"item_id": it.item_id, "conversation_id": it.conversation_id, "kind": it.kind,
                          "judge": judge.name, **_scored(a)} for it, a in zip(items, answers, strict=True)],
                        columns=["item_id", "conversation_id", "kind", "judge", "score", "rationale", "status", "error"])


def infer_thoughts(predictor: StudyModel, items: Sequence[ThoughtItem], max_chars: int | None = 4000) -> pd.DataFrame:
    """One row per item with the predictor's inferred thought (free text) or the failure. Thoughts of the
    same message share one prompt, so the predictor is asked once per message."""
    prompts = [infer_prompt(it, max_chars) for it in items]
    unique = list(dict.fromkeys(prompts))
    answers = predictor.generate([Call(str(i), user_turn(p)) for i, p in enumerate(unique)],
                                 PROMPTS.hash("infer_reason", "infer_reaction"))
    by_prompt = dict(zip(unique, answers, strict=True))
    rows = []
    for item, prompt in zip(items, prompts, strict=True):
        answer = by_prompt[prompt]
        rows.append({"item_id": item.item_id, "conversation_id": item.conversation_id, "kind": item.kind,
                     "predictor": predictor.name, "inferred": answer.value.strip() if answer.ok else None,
                     "prediction_status": "ok" if answer.ok else "failed", "prediction_error": answer.error})
    return pd.DataFrame(rows)


def judge_inferences(judge: StudyModel, items: Sequence[ThoughtItem], inferred: pd.DataFrame,
                     max_chars: int | None = 4000) -> pd.DataFrame:
    """``inferred`` with the judge's similarity score for every successful inference (failed ones stay
    unscored, with status ``failed``)."""
    by_id = {it.item_id: it for it in items}
    todo = inferred.index[inferred["prediction_status"] == "ok"].tolist()
    calls = [Call(str(i), user_turn(judge_prompt(by_id[inferred.at[i, "item_id"]], inferred.at[i, "inferred"], max_chars)))
             for i in todo]
    answers = judge.run(calls, JudgeScore, PROMPTS.hash("judge_inference"))
    judged = pd.DataFrame([_scored(a) for a in answers], index=todo, columns=["score", "rationale", "status", "error"])
    frame = inferred.assign(judge=judge.name).join(judged)
    failed_prediction = frame["prediction_status"] != "ok"
    frame.loc[failed_prediction, ["judge", "status"]] = [None, "failed"]
    frame.loc[failed_prediction, "error"] = "inference failed: " + frame.loc[failed_prediction, "prediction_error"].astype(str)
    return frame


def _scored(answer: Answer[JudgeScore]) -> dict[str, Any]:
    value = answer.value if answer.ok else None
    return {"score": value.score if value else None, "rationale": value.rationale if value else None,
            "status": "ok" if value else "failed", "error": answer.error}


# --- tables ---------------------------------------------------------------------------------------------
def score_summary(frame: pd.DataFrame, by: list[str], analysis: str, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per group: items, scored, failed, the mean score with a 95% interval (conversations resampled) and
    the paper's value. Failures are counted, never scored."""
    rows = []
    for key, part in frame.groupby(by, sort=False):
        keys = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        ok = part[part["status"] == "ok"]
        scores = ok["score"].astype(float).to_numpy()
        ci = group_bootstrap_interval(scores, ok["conversation_id"].to_numpy(), np.mean, n_boot, seed=seed) if len(ok) else None
        rows.append({**keys, "items": len(part), "scored": len(ok), "failed": int((part["status"] != "ok").sum()),
                     "mean": float(scores.mean()) if len(ok) else None, "ci_low": ci[0] if ci else None,
                     "ci_high": ci[1] if ci else None, "paper": PAPER[analysis][keys["kind"]]})
    return pd.DataFrame(rows)


def score_distribution(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group and score 1-5: count and share of the scored items (zero rows kept)."""
    ok = frame[frame["status"] == "ok"]
    if ok.empty:
        return pd.DataFrame(columns=[*by, "score", "count", "share"])
    counts = pd.crosstab([ok[c] for c in by], ok["score"].astype(int)).reindex(columns=list(SCORES), fill_value=0)
    long = counts.stack().reset_index()
    long.columns = [*by, "score", "count"]
    long["share"] = long["count"] / long.groupby(by, sort=False)["count"].transform("sum")
    return long


def _finish(result: AnalysisResult, items: pd.DataFrame, summary: pd.DataFrame, distribution: pd.DataFrame,
            usage: list[Usage], n_items: int, settings: dict[str, Any], label: str) -> AnalysisResult:
    """Shared tail of both analyses: tables, data, notes on failures, tokens and the figure."""
    name = result.name
    usage_rows = usage_table(usage, n_items, "thoughts")
    result.tables.update({f"{name}_summary": summary, f"{name}_distribution": distribution,
                          f"{name}_items": items, f"{name}_usage": pd.DataFrame(usage_rows)})
    result.data = {**settings, "summary": summary.to_dict(orient="records"), "usage": usage_rows,
                   "tokens": {"in": sum(u.tokens_in for u in usage), "out": sum(u.tokens_out for u in usage)},
                   "paper": PAPER[name]}
    if settings["limit"] is not None:
        result.notes.append(f"--limit {settings['limit']}: at most {settings['limit']} thoughts of each kind drawn at "
                            f"random (seed {settings['seed']})")
    failed = int((items["status"] != "ok").sum())
    if failed:
        errors = items.loc[items["status"] != "ok", "error"].dropna().unique()[:3]
        result.notes.append(f"{failed} of {len(items)} scores failed and are left out of the means (never defaulted): "
                            + "; ".join(map(str, errors)))
    cached = sum(u.cached for u in usage)
    result.notes.append(f"{sum(u.calls for u in usage)} model calls ({cached} answered from the cache); tokens "
                        f"{result.data['tokens']['in']:,} in / {result.data['tokens']['out']:,} out, a cached answer "
                        "counted at what it cost when it was made")

    def draw():
        from thoughtcode.analyses import figures

        return figures.score_panels(distribution.assign(group=_groups(distribution)), summary.assign(group=_groups(summary)),
                                    result.title, label)

    result.figures[f"{name}_scores"] = draw
    result.captions[f"{name}_scores"] = (f"Left: share of scored thoughts at each score ({label}); right: mean score "
                                         "with its 95% interval (conversations resampled); grey marks: the paper's means.")
    result.primary_tables = [f"{name}_summary", f"{name}_usage"] + ([f"{name}_by_model"] if name == "inference" else [])
    return result


def _groups(frame: pd.DataFrame) -> pd.Series:
    """Figure label of each row: its predictor (inference) and kind."""
    return frame[[c for c in ("predictor", "kind") if c in frame]].astype(str).agg(" · ".join, axis=1)


# --- the analyses ---------------------------------------------------------------------------------------
def _not_run(name: str, title: str, judge: str | None, items: list[ThoughtItem], need: str) -> AnalysisResult | None:
    """The result saying why an analysis cannot run (no judge was asked for, or no thoughts), or None."""
    if judge is None:
        return unavailable(name, title, f"not run: it needs an LLM judge ({need}); LLM calls are made only when asked for")
    if not items:
        return unavailable(name, title, "no thoughts: the corpus carries no reasons or reactions")
    return None


def coverage_analysis(inputs: AnalysisInputs, judge: str | None = None, limit: int | None = None, seed: int = 0,
                      n_boot: int = 2000, settings: ModelSettings | None = None, max_chars: int | None = 4000) -> AnalysisResult:
    """Semantic coverage of reasons (by their message) and reactions (by the user's next message), 1-5."""
    title = "Semantic coverage (LLM-judged)"
    every = thought_items(inputs.conversations)
    skipped = _not_run("coverage", title, judge, every, "--judge SPEC")
    if skipped is not None:
        return skipped
    assert judge is not None  # checked by _not_run
    coverable = [it for it in every if it.covering_text is not None]
    chosen = pick_items(coverable, limit, seed)
    model = StudyModel(judge, "coverage_judge", MAX_TOKENS, settings)
    items = judge_coverage(model, chosen, max_chars)
    summary = score_summary(items, ["kind"], "coverage", n_boot, seed)
    result = AnalysisResult("coverage", title)
    ended = len(every) - len(coverable)
    if ended:
        result.notes.append(f"{ended} reaction(s) have no next user message (the conversation ends there) and cannot be covered")
    settings_out = {"judge": model.name, "limit": limit, "seed": seed, "n_boot": n_boot,
                    "prompt_hash": PROMPTS.hash("coverage_reason", "coverage_reaction"), "thoughts": len(every),
                    "judged": len(chosen)}
    return _finish(result, items, summary, score_distribution(items, ["kind"]), [model.usage], len(chosen),
                   settings_out, "1 = not verbalised, 5 = fully")


def inference_analysis(inputs: AnalysisInputs, predictors: Sequence[str] = (), judge: str | None = None,
                       limit: int | None = None, seed: int = 0, n_boot: int = 2000, settings: ModelSettings | None = None,
                       max_chars: int | None = 4000) -> AnalysisResult:
    """Inference difficulty: each predictor infers each thought from its context; the judge scores 1-5."""
    title = "Inference difficulty (LLM-judged)"
    predictors = list(dict.fromkeys(predictors))
    every = thought_items(inputs.conversations)
    skipped = _not_run("inference", title, judge, every, "--judge SPEC and --predictor SPEC")
    if skipped is not None:
        return skipped
    assert judge is not None  # checked by _not_run
    if not predictors:
        return unavailable("inference", title, "not run: it needs at least one predictor (--predictor SPEC)")
    check_roles(judge, predictors)
    chosen = pick_items(every, limit, seed)
    judge_model = StudyModel(judge, "inference_judge", MAX_TOKENS, settings)
    frames, usage = [], []
    for spec in predictors:
        model = StudyModel(spec, "infer", MAX_TOKENS, settings)
        frames.append(judge_inferences(judge_model, chosen, infer_thoughts(model, chosen, max_chars), max_chars))
        usage.append(model.usage)
    usage.append(judge_model.usage)
    items = pd.concat(frames, ignore_index=True)
    pooled = items.assign(predictor=ALL)
    summary = pd.concat([score_summary(items, ["predictor", "kind"], "inference", n_boot, seed),
                         score_summary(pooled, ["predictor", "kind"], "inference", n_boot, seed)], ignore_index=True)
    result = AnalysisResult("inference", title)
    result.tables["inference_by_model"] = summary.pivot(index="predictor", columns="kind", values="mean").reindex(
        index=[*(StudyModel.display(p) for p in predictors), ALL], columns=list(KINDS))
    settings_out = {"predictors": [StudyModel.display(p) for p in predictors], "judge": judge_model.name, "limit": limit,
                    "seed": seed, "n_boot": n_boot, "thoughts": len(every), "judged": len(chosen),
                    "prompt_hashes": {"infer": PROMPTS.hash("infer_reason", "infer_reaction"),
                                      "judge": PROMPTS.hash("judge_inference")}}
    return _finish(result, items, summary, score_distribution(items, ["predictor", "kind"]), usage, len(chosen),
                   settings_out, "1 = unrelated, 5 = same meaning")
