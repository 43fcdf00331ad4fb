"""Study 1: do a user's private thoughts help predict what the user says next?

Pipeline (each step usable on its own):

1. :func:`prediction_items`: every assistant message that a user message follows is an item; its history is
   the dialogue up to and including that reply, its target the user's next message.
2. Optional quality filter (:func:`rate_informativeness`): an LLM rates 1-5 how much the thoughts in the
   item's context reveal about the user beyond their messages; items at or above a threshold (default 4, as
   in the paper) are kept. The filter sees the history and the thoughts, never the target.
3. Two contexts per item (:func:`render_context`): the history alone, and the history with the user's
   reasons and reactions interleaved at their turns, each marked as a private thought the assistant never saw.
   A reason attached to the target message is never shown (it would describe the answer).
4. Each predictor writes the next user message for both contexts (:func:`predict`).
5. Scoring: an LLM judge rates semantic similarity to the real message on 0-100 (:func:`judge_similarity`;
   a predictor is never its own judge, see :func:`assign_judges`), and an offline embedding cosine
   similarity (:func:`cosine_scores`) that needs no model calls.
6. :func:`table1` (the paper's Table 1: rows history-only and thought-augmented, a column per predictor and
   their mean, the relative gain) and :func:`paired_tests` (paired bootstrap intervals, Wilcoxon signed-rank
   and paired t-test per predictor and pooled).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from thoughtcode.analyses.common import sample_items
from thoughtcode.analyses.studies._common import (
    message_block,
    paired_summary,
    render,
    template_hash,
    write_json,
    write_jsonl,
)
from thoughtcode.analyses.studies.llm import Call, ModelSettings, StudyModel, Usage, usage_table, user_turn
from thoughtcode.analyses.studies.report import Section, write_report
from thoughtcode.corpus import Conversation, Message, dialogue, shorten

HISTORY = "history-only"
AUGMENTED = "thought-augmented"
CONDITIONS: tuple[str, str] = (HISTORY, AUGMENTED)
ThoughtScope = Literal["all", "last"]

REASON_MARK = "Private thought of the user (their reason for sending the message above; the assistant never saw it)"
REACTION_MARK = "Private thought of the user (their reaction to the reply above; the assistant never saw it)"


@dataclass(frozen=True)
class ContextThought:
    """A reason or reaction visible in an item's context, at the message it is attached to."""

    position: int  # index of the message in the item's history
    kind: Literal["reason", "reaction"]
    text: str
    label: str | None


@dataclass(frozen=True)
class PredictionItem:
    """An assistant reply followed by a user message: predict that message from what came before."""

    item_id: str
    conversation_id: str
    message_id: str  # the assistant reply
    target_message_id: str
    history: tuple[Message, ...]
    target: str
    thoughts: tuple[ContextThought, ...] = field(default=())

    @property
    def n_thoughts(self) -> int:
        return len(self.thoughts)

    @property
    def n_history(self) -> int:
        return len(self.history)


def _context_thoughts(history: Sequence[Message], scope: ThoughtScope) -> tuple[ContextThought, ...]:
    last = len(history) - 1
    keep = range(len(history)) if scope == "all" else range(max(last - 1, 0), last + 1)
    found = []
    for index in keep:
        message = history[index]
        kind: Literal["reason", "reaction"] = "reason" if message.type == "user" else "reaction"
        for thought in message.thoughts(kind):
            if thought.content.strip():
                found.append(ContextThought(index, kind, thought.content.strip(), thought.label))
    return tuple(found)


def prediction_items(
    conversations: Iterable[Conversation],
    require_thoughts: bool = True,
    thought_scope: ThoughtScope = "all",
    min_target_chars: int = 1,
) -> list[PredictionItem]:
    """Every assistant message directly followed by a user message, as a prediction item.

    ``thought_scope="all"`` shows every thought of the history in the augmented context, ``"last"`` only the
    reaction to the last reply and the reason of the user message before it. With ``require_thoughts`` items
    whose context holds no thought are left out (both contexts would be identical). Targets shorter than
    ``min_target_chars`` (empty messages) are skipped.
    """
    if thought_scope not in ("all", "last"):
        raise ValueError(f"thought_scope must be 'all' or 'last', not {thought_scope!r}")
    items = []
    for conversation in conversations:
        messages = dialogue(conversation)
        for index in range(len(messages) - 1):
            reply, nxt = messages[index], messages[index + 1]
            if reply.type != "assistant" or nxt.type != "user":
                continue
            if len(nxt.content.strip()) < min_target_chars:
                continue
            history = tuple(messages[: index + 1])
            thoughts = _context_thoughts(history, thought_scope)
            if require_thoughts and not thoughts:
                continue
            items.append(
                PredictionItem(
                    item_id=f"{conversation.id}:{reply.id}",
                    conversation_id=conversation.id,
                    message_id=str(reply.id),
                    target_message_id=str(nxt.id),
                    history=history,
                    target=nxt.content,
                    thoughts=thoughts,
                )
            )
    return items


def items_frame(items: Sequence[PredictionItem]) -> pd.DataFrame:
    """One row per item: ids, history length, thought counts and the target."""
    return pd.DataFrame(
        [
            {
                "item_id": it.item_id,
                "conversation_id": it.conversation_id,
                "message_id": it.message_id,
                "target_message_id": it.target_message_id,
                "n_history": it.n_history,
                "n_thoughts": it.n_thoughts,
                "n_reasons": sum(t.kind == "reason" for t in it.thoughts),
                "n_reactions": sum(t.kind == "reaction" for t in it.thoughts),
                "target": it.target,
            }
            for it in items
        ],
        columns=[
            "item_id", "conversation_id", "message_id", "target_message_id",
            "n_history", "n_thoughts", "n_reasons", "n_reactions", "target",
        ],
    )


def render_context(item: PredictionItem, with_thoughts: bool, max_chars_per_message: int | None = None) -> str:
    """The conversation so far as text; with thoughts, each one follows its message, clearly marked."""
    by_position: dict[int, list[ContextThought]] = {}
    if with_thoughts:
        for thought in item.thoughts:
            by_position.setdefault(thought.position, []).append(thought)
    blocks = []
    for index, message in enumerate(item.history):
        blocks.append(message_block(message, max_chars_per_message))
        for thought in by_position.get(index, []):
            mark = REASON_MARK if thought.kind == "reason" else REACTION_MARK
            blocks.append(f"<<{mark}>>\n{thought.text}\n<</private thought>>")
    return "\n\n".join(blocks)


def render_thoughts(item: PredictionItem) -> str:
    """The item's thoughts alone, one per line with the message they belong to (for the quality filter)."""
    lines = []
    for thought in item.thoughts:
        role = item.history[thought.position].type
        what = "reason for sending" if thought.kind == "reason" else "reaction to"
        lines.append(f"- ({what} {role} message {thought.position + 1}) {thought.text}")
    return "\n".join(lines)


def filter_items(items: Sequence[PredictionItem], ratings: dict[str, int | None], threshold: int = 4) -> list[PredictionItem]:
    """Items whose informativeness rating is at least ``threshold`` (unrated or failed items are dropped)."""
    return [it for it in items if (ratings.get(it.item_id) or 0) >= threshold]


# --- judges ---------------------------------------------------------------------------------------------------
def assign_judges(predictors: Sequence[str], judges: Sequence[str]) -> dict[str, str]:
    """A judge for every predictor that is not the predictor itself.

    Each predictor gets the first listed judge different from it; when every listed judge is the predictor
    itself, the next other predictor (in cyclic order) judges it. With one model and nothing else there is no
    honest judge and a ``ValueError`` says so.
    """
    if not predictors:
        raise ValueError("at least one predictor is needed")
    assignment = {}
    for i, predictor in enumerate(predictors):
        judge = next((j for j in judges if j != predictor), None)
        if judge is None:
            others = [predictors[(i + k) % len(predictors)] for k in range(1, len(predictors))]
            judge = next((p for p in others if p != predictor), None)
        if judge is None:
            raise ValueError(
                f"predictor {predictor!r} would judge itself: give a different --judge or a second --predictor"
            )
        assignment[predictor] = judge
    return assignment


# --- scoring ---------------------------------------------------------------------------------------------------
def cosine_scores(embedder: Any, predictions: Sequence[str], targets: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """Cosine similarity of each prediction to its target with an embedder whose ``encode`` returns
    L2-normalised rows (normalised here again, so any embedder works). Empty predictions score NaN."""
    if len(predictions) != len(targets):
        raise ValueError("predictions and targets must have the same length")
    if not predictions:
        return np.zeros(0)
    texts = list(predictions) + list(targets)
    vectors = np.vstack([np.asarray(embedder.encode(texts[i : i + batch_size]), dtype=float) for i in range(0, len(texts), batch_size)])
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    n = len(predictions)
    scores = np.sum(vectors[:n] * vectors[n:], axis=1)
    empty = np.array([not (p or "").strip() for p in predictions])
    scores[empty] = np.nan
    return scores


def table1(results: pd.DataFrame, metric: str = "judge_score", predictors: Sequence[str] | None = None) -> pd.DataFrame:
    """The paper's Table 1: mean ``metric`` per condition (rows) and predictor (columns) plus their mean,
    and a row with the relative gain of thought-augmented over history-only (in %).

    Only items scored in both conditions for a predictor count (paired comparison). ``results`` is the
    per-item table of :func:`score_frame`-like shape: columns ``item_id, predictor, condition, <metric>``.
    """
    predictors = list(predictors) if predictors is not None else list(dict.fromkeys(results["predictor"]))
    table = pd.DataFrame(index=[HISTORY, AUGMENTED, "relative gain (%)"], columns=[*predictors, "mean"], dtype=float)
    for predictor in predictors:
        wide = paired_wide(results, predictor, metric)
        table.loc[HISTORY, predictor] = wide[HISTORY].mean() if len(wide) else np.nan
        table.loc[AUGMENTED, predictor] = wide[AUGMENTED].mean() if len(wide) else np.nan
    for row in (HISTORY, AUGMENTED):
        table.loc[row, "mean"] = table.loc[row, predictors].astype(float).mean()
    for col in table.columns:
        base, aug = table.loc[HISTORY, col], table.loc[AUGMENTED, col]
        table.loc["relative gain (%)", col] = 100 * (aug / base - 1) if base and np.isfinite(base) else np.nan
    table.index.name = "condition"
    return table


def paired_wide(results: pd.DataFrame, predictor: str | None, metric: str) -> pd.DataFrame:
    """Items as rows, the two conditions as columns, for one predictor (or averaged over predictors when
    ``predictor`` is None: an item counts when every predictor scored it in both conditions)."""
    frame = results.dropna(subset=[metric])
    if predictor is not None:
        frame = frame[frame["predictor"] == predictor]
        wide = frame.pivot_table(index="item_id", columns="condition", values=metric, aggfunc="mean")
    else:
        n_pred = results["predictor"].nunique()
        per = frame.pivot_table(index=["item_id", "predictor"], columns="condition", values=metric, aggfunc="mean")
        per = per.dropna()
        complete = per.groupby(level="item_id").size() == n_pred
        per = per[per.index.get_level_values("item_id").isin(complete[complete].index)]
        wide = per.groupby(level="item_id").mean()
    for condition in CONDITIONS:
        if condition not in wide.columns:
            wide[condition] = np.nan
    return wide[list(CONDITIONS)].dropna()


def paired_tests(
    results: pd.DataFrame,
    metric: str = "judge_score",
    predictors: Sequence[str] | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Thought-augmented minus history-only, per predictor and pooled (``all``: the per-item mean over
    predictors): n, means, mean difference with a paired bootstrap 95% interval, relative gain with its
    interval, Wilcoxon signed-rank and paired t-test p-values."""
    predictors = list(predictors) if predictors is not None else list(dict.fromkeys(results["predictor"]))
    rows = []
    groups: list[str | None] = [*predictors, None] if len(predictors) > 1 else list(predictors)
    for predictor in groups:
        wide = paired_wide(results, predictor, metric)
        summary = paired_summary(wide[HISTORY].to_numpy(), wide[AUGMENTED].to_numpy(), n_boot=n_boot, seed=seed)
        rows.append(
            {
                "predictor": predictor or "all",
                "metric": metric,
                "n": summary["n"],
                "history_only": summary["mean_a"],
                "thought_augmented": summary["mean_b"],
                "diff": summary["mean_diff"],
                "diff_ci_low": summary["diff_ci"][0],
                "diff_ci_high": summary["diff_ci"][1],
                "relative_gain": summary["relative_gain"],
                "gain_ci_low": summary["gain_ci"][0],
                "gain_ci_high": summary["gain_ci"][1],
                "wilcoxon_p": summary["wilcoxon_p"],
                "t_stat": summary["t_stat"],
                "t_p": summary["t_p"],
            }
        )
    return pd.DataFrame(rows)


# --- model calls -----------------------------------------------------------------------------------------------
class Informativeness(BaseModel):
    """The quality filter's answer."""

    rationale: str = Field(description="One sentence on what the thoughts reveal, or why they reveal little.")
    rating: int = Field(ge=1, le=5, description="How informative the thoughts are, 1 (not at all) to 5 (very).")


class Similarity(BaseModel):
    """The judge's answer."""

    rationale: str = Field(description="One sentence comparing the meaning of the two messages.")
    score: int = Field(ge=0, le=100, description="Semantic similarity from 0 (unrelated) to 100 (same meaning).")


PREDICT_TEMPLATES = ("predict_next", "note_history", "note_thoughts")


def predict_prompt(item: PredictionItem, condition: str, max_chars_per_message: int | None = None) -> str:
    """The predictor's prompt for one item in one condition."""
    with_thoughts = condition == AUGMENTED
    note = render("note_thoughts" if with_thoughts else "note_history").strip()
    return render("predict_next", context_note=note, context=render_context(item, with_thoughts, max_chars_per_message))


def filter_prompt(item: PredictionItem, max_chars_per_message: int | None = None) -> str:
    return render("filter_informativeness", context=render_context(item, False, max_chars_per_message), thoughts=render_thoughts(item))


def judge_prompt(item: PredictionItem, prediction: str, max_chars_per_message: int | None = None) -> str:
    return render("judge_similarity", last_reply=shorten(item.history[-1].content, max_chars_per_message),
                  prediction=prediction, actual=item.target)


def rate_informativeness(
    model: StudyModel, items: Sequence[PredictionItem], threshold: int = 4, max_chars_per_message: int | None = None
) -> pd.DataFrame:
    """The quality filter: one row per item with its rating (None when the call failed), ``keep`` and the
    rationale. Failed ratings are not kept."""
    calls = [Call(it.item_id, user_turn(filter_prompt(it, max_chars_per_message))) for it in items]
    results = model.run(calls, Informativeness, template_hash("filter_informativeness"))
    rows = []
    for item, result in zip(items, results, strict=True):
        rating = result.value.rating if result.ok else None
        rows.append({"item_id": item.item_id, "n_thoughts": item.n_thoughts, "rating": rating,
                     "keep": rating is not None and rating >= threshold, "threshold": threshold,
                     "rationale": result.value.rationale if result.ok else None, "filter": model.name,
                     "status": "ok" if result.ok else "failed", "error": result.error,
                     "tokens_in": result.tokens_in, "tokens_out": result.tokens_out})
    return pd.DataFrame(rows)


def predict(model: StudyModel, items: Sequence[PredictionItem], max_chars_per_message: int | None = None) -> pd.DataFrame:
    """Both conditions for every item with one predictor: one row per (item, condition). The prediction is
    the predictor's plain-text reply (the prompt asks for the message only), not a JSON field."""
    calls = [Call(f"{it.item_id}|{cond}", user_turn(predict_prompt(it, cond, max_chars_per_message))) for it in items for cond in CONDITIONS]
    results = model.generate(calls, template_hash(*PREDICT_TEMPLATES))
    rows = []
    for call, result in zip(calls, results, strict=True):
        item_id, condition = call.key.rsplit("|", 1)
        text = result.value.strip() if result.value is not None else None
        error = result.error if not result.ok else (None if text else "empty prediction")
        rows.append({"item_id": item_id, "predictor": model.name, "condition": condition, "prediction": text or None,
                     "prediction_status": "ok" if error is None else "failed", "prediction_error": error,
                     "predict_tokens_in": result.tokens_in, "predict_tokens_out": result.tokens_out})
    return pd.DataFrame(rows)


def judge_similarity(
    model: StudyModel, items: dict[str, PredictionItem], predictions: pd.DataFrame, max_chars_per_message: int | None = None
) -> pd.DataFrame:
    """Judge scores (0-100) for the successful predictions in ``predictions``; adds ``judge``,
    ``judge_score``, ``judge_rationale``, ``judge_status``/``judge_error`` and token columns."""
    frame = predictions.copy()
    for column in ("judge", "judge_score", "judge_rationale", "judge_status", "judge_error"):
        frame[column] = None
    frame["judge_tokens_in"] = 0
    frame["judge_tokens_out"] = 0
    todo = frame.index[frame["prediction_status"] == "ok"].tolist()
    calls = [Call(str(i), user_turn(judge_prompt(items[frame.at[i, "item_id"]], frame.at[i, "prediction"], max_chars_per_message))) for i in todo]
    results = model.run(calls, Similarity, template_hash("judge_similarity"))
    for i, result in zip(todo, results, strict=True):
        frame.at[i, "judge"] = model.name
        frame.at[i, "judge_score"] = float(result.value.score) if result.ok else None
        frame.at[i, "judge_rationale"] = result.value.rationale if result.ok else None
        frame.at[i, "judge_status"] = "ok" if result.ok else "failed"
        frame.at[i, "judge_error"] = result.error
        frame.at[i, "judge_tokens_in"] = result.tokens_in
        frame.at[i, "judge_tokens_out"] = result.tokens_out
    frame["judge_score"] = pd.to_numeric(frame["judge_score"], errors="coerce")
    return frame


@dataclass
class PredictionStudy:
    """Everything a prediction run produced (see :func:`run_prediction_study`)."""

    items: list[PredictionItem]
    evaluated: list[PredictionItem]
    filter_decisions: pd.DataFrame | None
    results: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    usage: list[Usage]
    settings: dict[str, Any]
    notes: list[str]


def run_prediction_study(
    conversations: Iterable[Conversation],
    predictors: Sequence[str],
    judges: Sequence[str],
    filter_judge: str | None = None,
    threshold: int = 4,
    limit: int | None = None,
    seed: int = 0,
    thought_scope: ThoughtScope = "all",
    max_chars_per_message: int | None = 4000,
    embedder: Any = "static",
    settings: ModelSettings | None = None,
    n_boot: int = 2000,
    max_tokens: dict[str, int] | None = None,
) -> PredictionStudy:
    """Study 1 end to end: items, optional filter, predictions in both contexts, judge and cosine scores,
    Table 1 (judge and cosine) and the paired tests. ``embedder`` is a spec for
    :func:`thoughtcode.embeddings.load_embedder`, an object with ``encode``, or None to skip cosine."""
    limits = {"filter": 300, "predict": 400, "judge": 300, **(max_tokens or {})}
    assignment = assign_judges(predictors, judges)
    items = prediction_items(conversations, require_thoughts=True, thought_scope=thought_scope)
    if not items:
        raise ValueError("no prediction items: the corpus has no assistant reply followed by a user message with thoughts before it")
    candidates = sample_items(items, limit, seed)
    notes = [f"{len(items)} items (assistant replies followed by a user message, with at least one thought in context)"]
    if limit is not None and limit < len(items):
        notes.append(f"--limit {limit}: {len(candidates)} items drawn at random (seed {seed})")
    usage: list[Usage] = []
    decisions = None
    evaluated = candidates
    if filter_judge:
        model = StudyModel(filter_judge, "filter", limits["filter"], settings)
        decisions = rate_informativeness(model, candidates, threshold, max_chars_per_message)
        usage.append(model.usage)
        kept = set(decisions.loc[decisions["keep"], "item_id"])
        evaluated = [it for it in candidates if it.item_id in kept]
        failed = int((decisions["status"] == "failed").sum())
        notes.append(f"quality filter {model.name}: {len(evaluated)} of {len(candidates)} items rated >= {threshold}"
                     + (f" ({failed} ratings failed and were dropped)" if failed else ""))
        if not evaluated:
            raise ValueError(f"the quality filter kept no item (threshold {threshold}); lower --threshold or drop --filter-judge")
    by_id = {it.item_id: it for it in evaluated}
    frames = []
    judge_models: dict[str, StudyModel] = {}
    for predictor in predictors:
        model = StudyModel(predictor, "predict", limits["predict"], settings)
        predictions = predict(model, evaluated, max_chars_per_message)
        usage.append(model.usage)
        judge_spec = assignment[predictor]
        judge = judge_models.setdefault(judge_spec, StudyModel(judge_spec, "judge", limits["judge"], settings))
        frames.append(judge_similarity(judge, by_id, predictions, max_chars_per_message))
    usage.extend(m.usage for m in judge_models.values())
    results = pd.concat(frames, ignore_index=True)
    results.insert(1, "conversation_id", results["item_id"].map(lambda i: by_id[i].conversation_id))
    results["target"] = results["item_id"].map(lambda i: by_id[i].target)
    results["cosine"] = np.nan
    if embedder is not None:
        if isinstance(embedder, str):
            from thoughtcode.embeddings import load_embedder

            embedder = load_embedder(embedder)
        ok = results["prediction_status"] == "ok"
        results.loc[ok, "cosine"] = cosine_scores(embedder, results.loc[ok, "prediction"].tolist(), results.loc[ok, "target"].tolist())
    predictor_names = [StudyModel.display(p) for p in predictors]
    tables = {"table1_judge": table1(results, "judge_score", predictor_names),
              "tests_judge": paired_tests(results, "judge_score", predictor_names, n_boot=n_boot, seed=seed)}
    if embedder is not None:
        tables["table1_cosine"] = table1(results, "cosine", predictor_names)
        tables["tests_cosine"] = paired_tests(results, "cosine", predictor_names, n_boot=n_boot, seed=seed)
    failed_pred = int((results["prediction_status"] != "ok").sum())
    failed_judge = int((results["judge_status"] == "failed").sum())
    if failed_pred or failed_judge:
        notes.append(f"{failed_pred} predictions and {failed_judge} judge calls failed; an item counts for a predictor "
                     "only when both of its conditions were scored")
    notes.append("judges: " + ", ".join(f"{p} judged by {j}" for p, j in assignment.items()))
    run_settings = {"predictors": list(predictors), "judges": assignment, "filter_judge": filter_judge,
                    "threshold": threshold if filter_judge else None, "limit": limit, "seed": seed,
                    "thought_scope": thought_scope, "max_chars_per_message": max_chars_per_message,
                    "prompt_hashes": {"predict": template_hash(*PREDICT_TEMPLATES), "judge": template_hash("judge_similarity"),
                                      "filter": template_hash("filter_informativeness")},
                    "n_items": len(items), "n_candidates": len(candidates), "n_evaluated": len(evaluated)}
    return PredictionStudy(items, evaluated, decisions, results, tables, usage, run_settings, notes)


def write_prediction_study(study: PredictionStudy, out_dir: Path) -> dict[str, Path]:
    """Write the per-item results, the filter decisions, the tables, usage, a summary and ``report.html``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"results": out_dir / "results.jsonl", "summary": out_dir / "summary.json", "report": out_dir / "report.html"}
    write_jsonl(study.results.to_dict(orient="records"), paths["results"])
    study.results.drop(columns=["prediction", "target", "judge_rationale"]).to_csv(out_dir / "results.csv", index=False)
    if study.filter_decisions is not None:
        paths["filter"] = out_dir / "filter_decisions.jsonl"
        write_jsonl(study.filter_decisions.to_dict(orient="records"), paths["filter"])
    for name, table in study.tables.items():
        table.to_csv(out_dir / f"{name}.csv", index=name.startswith("table1"))
    n = len(study.evaluated)
    usage = usage_table(study.usage, study.settings["n_candidates"])
    pd.DataFrame(usage).to_csv(out_dir / "usage.csv", index=False)
    write_json({"study": "next-user-message prediction", "settings": study.settings, "notes": study.notes,
                "tables": {k: _records(v) for k, v in study.tables.items()}, "usage": usage}, paths["summary"])
    sections = [
        Section("Table 1: LLM-judge similarity (0-100)",
                ["Mean similarity of the predicted to the real next user message, per predictor, with the history "
                 "only and with the user's thoughts interleaved; last row: relative gain."],
                {"judge similarity": study.tables["table1_judge"].round(2)}),
        Section("Paired comparison (thought-augmented minus history-only)",
                ["Paired bootstrap 95% intervals over items; Wilcoxon signed-rank and paired t-test, two-sided."],
                {"judge similarity": study.tables["tests_judge"].round(4)}),
    ]
    if "table1_cosine" in study.tables:
        sections.append(Section("Offline embedding cosine similarity", [],
                                {"cosine": study.tables["table1_cosine"].round(4), "paired tests": study.tables["tests_cosine"].round(4)}))
    sections.append(Section("Model calls and tokens",
                            [f"{study.settings['n_candidates']} items entered the study, {n} were evaluated; tokens per 1,000 "
                             "items are per item entering the study (filter included)."],
                            {"usage": pd.DataFrame(usage)}, study.notes))
    write_report(paths["report"], "Study 1: do thoughts help predict the next user message?", sections,
                 f"thoughtcode; predictors {', '.join(study.settings['predictors'])}")
    return paths


def _records(frame: pd.DataFrame) -> Any:
    if frame.index.name:
        frame = frame.reset_index()
    return frame.to_dict(orient="records")
