"""Conversation length and tokens per message, for one corpus or several overlaid (e.g. WildChat next to
ThoughtTrace). Length counts user and assistant messages (system prompts are not turns)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from thoughtcode.analyses.common import AnalysisResult, rounded
from thoughtcode.analyses.inputs import AnalysisInputs
from thoughtcode.corpus import TOKENIZER_NAME, Conversation, count_tokens, dialogue

BUCKET = 2


def bucket_label(n_messages: int, bucket: int = BUCKET) -> str:
    b = (max(n_messages, 1) - 1) // bucket
    return f"{b * bucket + 1}-{(b + 1) * bucket}"


def _summary(values: pd.Series) -> dict[str, float | int | None]:
    if values.empty:
        return {"n": 0, "mean": None, "q1": None, "median": None, "q3": None, "min": None, "max": None}
    return {
        "n": int(values.size),
        "mean": rounded(values.mean(), 3),
        "q1": float(values.quantile(0.25)),
        "median": float(values.median()),
        "q3": float(values.quantile(0.75)),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def length_frames(corpora: Sequence[tuple[str, Sequence[Conversation]]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-conversation lengths and per-message token counts of several corpora."""
    conv_rows, token_rows = [], []
    for name, conversations in corpora:
        for conversation in conversations:
            messages = dialogue(conversation)
            conv_rows.append({"corpus": name, "conversation_id": conversation.id, "messages": len(messages)})
            for message in messages:
                token_rows.append({"corpus": name, "role": message.type, "tokens": count_tokens(message.content)})
    lengths = pd.DataFrame(conv_rows, columns=["corpus", "conversation_id", "messages"])
    tokens = pd.DataFrame(token_rows, columns=["corpus", "role", "tokens"])
    return lengths, tokens


def length_analysis(inputs: AnalysisInputs) -> AnalysisResult:
    """Messages per conversation (2-message histogram, median, quartiles) and tokens per message by role."""
    corpora = [(inputs.name, inputs.conversations), *inputs.baselines]
    lengths, tokens = length_frames(corpora)
    result = AnalysisResult("lengths", "Conversation length and message tokens")
    max_bucket = int((lengths["messages"].clip(lower=1).max() - 1) // BUCKET) if len(lengths) else 0
    order = [f"{b * BUCKET + 1}-{(b + 1) * BUCKET}" for b in range(max_bucket + 1)]
    hist_rows = []
    summary_rows, token_rows = [], []
    per_corpus = {}
    for name, _ in corpora:
        mine = lengths[lengths["corpus"] == name]["messages"]
        counts = mine.map(bucket_label).value_counts().reindex(order, fill_value=0)
        total = int(counts.sum())
        for bucket, count in counts.items():
            hist_rows.append({"corpus": name, "bucket": bucket, "count": int(count), "share": count / total if total else 0.0})
        length_summary = _summary(mine)
        summary_rows.append({"corpus": name, **length_summary})
        role_summaries = {}
        for role in ("user", "assistant"):
            values = tokens[(tokens["corpus"] == name) & (tokens["role"] == role)]["tokens"]
            role_summaries[role] = _summary(values)
            token_rows.append({"corpus": name, "role": role, **role_summaries[role]})
        per_corpus[name] = {
            "conversations": int(mine.size),
            "messages_per_conversation": length_summary,
            "histogram": {b: int(c) for b, c in counts.items()},
            "tokens_per_message": role_summaries,
        }
    histogram = pd.DataFrame(hist_rows)
    result.tables["length_histogram"] = histogram.assign(share=histogram["share"].round(4))
    result.tables["length_summary"] = pd.DataFrame(summary_rows)
    result.tables["tokens_summary"] = pd.DataFrame(token_rows)
    result.data = {"tokenizer": TOKENIZER_NAME, "bucket_size": BUCKET, "corpora": per_corpus}
    result.primary_tables = ["length_summary", "tokens_summary"]
    result.notes.append(
        f"tokens counted offline with {TOKENIZER_NAME} (GPT-style pre-tokens; close to, slightly below, BPE counts)"
    )
    if inputs.baselines:
        result.notes.append("histogram shares are per corpus (each corpus sums to 100%) so corpora of any size compare")

    from thoughtcode.analyses import figures

    if len(lengths):  # a corpus without conversations has nothing to draw
        result.figures["length_histogram"] = lambda: figures.length_histogram(histogram)
        result.captions["length_histogram"] = "Share of conversations per 2-message length bucket" + (
            ", corpora overlaid." if inputs.baselines else "."
        )
    if len(tokens):
        result.figures["tokens_by_role"] = lambda: figures.token_boxplots(tokens)
        result.captions["tokens_by_role"] = "Tokens per message by role (offline GPT-style pre-token count)."
    return result
