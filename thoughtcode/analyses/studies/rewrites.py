"""Study 2, first half: find dissatisfying replies and rewrite them, guided by thoughts or by messages.

* Thought-guided arm. :func:`rewrite_candidates` keeps conversations of ``min_messages``-``max_messages``
  messages (default 2-20) and, in them, assistant replies with a reaction labelled ``content_relevance``,
  ``presentation_style`` or ``scope_fit`` whose text has at least ``min_words`` words (default 6) and
  contains letters. :func:`rewrite_with_thoughts` has an LLM rewrite each such reply from the context
  before it, guided by the private reaction, which must not be quoted into the new reply.
* Message-guided arm. :func:`message_arm_items` takes, in the same conversations, every reply that a user
  message follows. :func:`classify_dissatisfaction` has an LLM decide from that next message alone whether
  the user was dissatisfied; :func:`rewrite_with_messages` rewrites the flagged replies guided by that
  message. This arm needs no thoughts, so it also runs on plain chat corpora (WildChat, LMSYS, ShareGPT).
* :func:`dissatisfaction_counts` compares how many dissatisfying replies each arm surfaces on the same
  conversations (the paper: about 2.2 times more with thoughts).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from thoughtcode.analyses.studies._common import (
    chat_messages,
    has_letters,
    plain_transcript,
    render,
    template_hash,
    word_count,
    write_json,
    write_jsonl,
)
from thoughtcode.analyses.studies.llm import Call, ModelSettings, StudyModel, Usage, usage_table, user_turn
from thoughtcode.analyses.studies.preference import make_pair, write_preference_data
from thoughtcode.analyses.studies.report import Section, write_report
from thoughtcode.corpus import Conversation, Message, dialogue, shorten

DISSATISFIED_LABELS: tuple[str, ...] = ("content_relevance", "presentation_style", "scope_fit")
Arm = Literal["thought", "message"]


@dataclass(frozen=True)
class RewriteCandidate:
    """An assistant reply to rewrite, with the context before it and the signal that guides the rewrite.

    ``guidance`` holds the qualifying reaction texts (thought arm) or the user's next message (message arm).
    """

    candidate_id: str  # "{conversation_id}:{message_id}"
    arm: Arm
    conversation_id: str
    message_id: str
    context: tuple[Message, ...]  # the dialogue before the reply (ends with a user message)
    reply: str
    guidance: tuple[str, ...]
    labels: tuple[str, ...] = field(default=())
    reaction_ids: tuple[str, ...] = field(default=())  # thought unit ids of the guiding reactions
    next_message: str | None = None
    n_messages: int = 0
    reply_index: int = 0

    def as_row(self) -> dict[str, Any]:
        return {
            "candidate_id": self.candidate_id,
            "arm": self.arm,
            "conversation_id": self.conversation_id,
            "message_id": self.message_id,
            "n_messages": self.n_messages,
            "reply_index": self.reply_index,
            "labels": list(self.labels),
            "reaction_ids": list(self.reaction_ids),
            "guidance": list(self.guidance),
            "next_message": self.next_message,
        }


def _eligible(messages: Sequence[Message], min_messages: int, max_messages: int) -> bool:
    return min_messages <= len(messages) <= max_messages


def qualifying_reaction(text: str, min_words: int = 6) -> bool:
    """A reaction long enough to guide a rewrite: at least ``min_words`` words and some letters."""
    return word_count(text) >= min_words and has_letters(text)


def rewrite_candidates(
    conversations: Iterable[Conversation],
    labels: Sequence[str] = DISSATISFIED_LABELS,
    min_messages: int = 2,
    max_messages: int = 20,
    min_words: int = 6,
    reaction_labels: Mapping[str, str | None] | None = None,
) -> list[RewriteCandidate]:
    """Replies of the thought-guided arm (one per reply, with every qualifying reaction it carries).

    The reaction label comes from the corpus (the release's labels) unless ``reaction_labels`` maps thought
    unit ids (``"{conversation}:{message}:reaction:{k}"``, e.g. from a labels table) to labels; then that
    mapping wins and unmapped reactions count as unlabelled. A reply must have a user message before it and
    some content (an empty reply cannot be the rejected side of a pair).
    """
    wanted = set(labels)
    out = []
    for conversation in conversations:
        messages = dialogue(conversation)
        if not _eligible(messages, min_messages, max_messages):
            continue
        for index, message in enumerate(messages):
            if message.type != "assistant" or index == 0 or not message.content.strip():
                continue
            texts, found_labels, ids = [], [], []
            for k, reaction in enumerate(message.reactions):
                unit_id = f"{conversation.id}:{message.id}:reaction:{k}"
                label = reaction_labels.get(unit_id) if reaction_labels is not None else reaction.label
                if label in wanted and qualifying_reaction(reaction.content, min_words):
                    texts.append(reaction.content.strip())
                    found_labels.append(label)
                    ids.append(unit_id)
            if not texts:
                continue
            nxt = messages[index + 1].content if index + 1 < len(messages) and messages[index + 1].type == "user" else None
            out.append(
                RewriteCandidate(
                    candidate_id=f"{conversation.id}:{message.id}",
                    arm="thought",
                    conversation_id=conversation.id,
                    message_id=str(message.id),
                    context=tuple(messages[:index]),
                    reply=message.content,
                    guidance=tuple(texts),
                    labels=tuple(found_labels),
                    reaction_ids=tuple(ids),
                    next_message=nxt,
                    n_messages=len(messages),
                    reply_index=index,
                )
            )
    return out


def message_arm_items(
    conversations: Iterable[Conversation], min_messages: int = 2, max_messages: int = 20
) -> list[RewriteCandidate]:
    """Replies of the message-guided arm: every assistant reply followed by a user message, in conversations
    of ``min_messages``-``max_messages`` messages (empty replies left out). Thoughts are not used (any chat
    corpus works)."""
    out = []
    for conversation in conversations:
        messages = dialogue(conversation)
        if not _eligible(messages, min_messages, max_messages):
            continue
        for index in range(1, len(messages) - 1):
            reply, nxt = messages[index], messages[index + 1]
            if reply.type != "assistant" or nxt.type != "user" or not nxt.content.strip() or not reply.content.strip():
                continue
            out.append(
                RewriteCandidate(
                    candidate_id=f"{conversation.id}:{reply.id}",
                    arm="message",
                    conversation_id=conversation.id,
                    message_id=str(reply.id),
                    context=tuple(messages[:index]),
                    reply=reply.content,
                    guidance=(nxt.content,),
                    next_message=nxt.content,
                    n_messages=len(messages),
                    reply_index=index,
                )
            )
    return out


def eligible_conversations(conversations: Iterable[Conversation], min_messages: int = 2, max_messages: int = 20) -> list[Conversation]:
    """Conversations whose dialogue has ``min_messages``-``max_messages`` messages."""
    return [c for c in conversations if _eligible(dialogue(c), min_messages, max_messages)]


# --- quoting check ------------------------------------------------------------------------------------------
_TOKEN = re.compile(r"\w+")


def quotes_guidance(rewrite: str, guidance: Iterable[str], n: int = 6) -> bool:
    """True when the rewrite repeats a run of ``n`` consecutive words of a guiding text verbatim
    (case-insensitive): a rewrite must act on a private thought, not leak it into the reply."""
    words = [w.lower() for w in _TOKEN.findall(rewrite)]
    grams = {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}
    for text in guidance:
        g = [w.lower() for w in _TOKEN.findall(text)]
        if any(tuple(g[i : i + n]) in grams for i in range(len(g) - n + 1)):
            return True
    return False


# --- counts ----------------------------------------------------------------------------------------------------
def dissatisfaction_counts(
    thought_candidates: Sequence[RewriteCandidate],
    message_decisions: pd.DataFrame,
    n_conversations: int,
    n_reacted_replies: int | None = None,
) -> dict[str, Any]:
    """How many dissatisfying replies each arm finds on the same conversations, and their overlap.

    ``message_decisions`` has one row per message-arm reply: ``candidate_id`` and ``dissatisfied`` (bool,
    NaN/None when the classifier failed). ``n_reacted_replies``: replies carrying at least one reaction (what
    the thought arm looks at).
    """
    thought_ids = {c.candidate_id for c in thought_candidates}
    decided = message_decisions.dropna(subset=["dissatisfied"]) if len(message_decisions) else message_decisions
    flagged = set(decided.loc[decided["dissatisfied"].astype(bool), "candidate_id"]) if len(decided) else set()
    n_thought, n_message = len(thought_ids), len(flagged)
    return {
        "conversations": n_conversations,
        "thought_arm_replies": n_reacted_replies,
        "message_arm_replies": int(len(message_decisions)),
        "message_arm_classified": int(len(decided)),
        "message_arm_failed": int(len(message_decisions) - len(decided)),
        "thought_arm_dissatisfied": n_thought,
        "message_arm_dissatisfied": n_message,
        "both": len(thought_ids & flagged),
        "thought_only": len(thought_ids - flagged),
        "message_only": len(flagged - thought_ids),
        "ratio_thought_to_message": (n_thought / n_message) if n_message else None,
    }


# --- model calls -----------------------------------------------------------------------------------------------
class Dissatisfaction(BaseModel):
    """The message-arm classifier's answer."""

    evidence: str = Field(description="One sentence naming what in the next message shows (dis)satisfaction.")
    dissatisfied: bool = Field(description="True when the next message shows the user was dissatisfied with the reply.")


REWRITE_TEMPLATE = {"thought": "rewrite_thought", "message": "rewrite_message"}


def classify_prompt(item: RewriteCandidate, max_chars_per_message: int | None = None) -> str:
    return render("classify_dissatisfaction", reply=shorten(item.reply, max_chars_per_message), next_message=item.next_message or "")


def rewrite_prompt(candidate: RewriteCandidate, max_chars_per_message: int | None = None) -> str:
    guidance = "\n\n".join(candidate.guidance)
    return render(REWRITE_TEMPLATE[candidate.arm], context=plain_transcript(candidate.context, max_chars_per_message),
                  reply=shorten(candidate.reply, max_chars_per_message), guidance=guidance)


def classify_dissatisfaction(
    model: StudyModel, items: Sequence[RewriteCandidate], max_chars_per_message: int | None = None
) -> pd.DataFrame:
    """The message arm's decision for every reply: ``dissatisfied`` True/False, or None when the call failed."""
    calls = [Call(it.candidate_id, user_turn(classify_prompt(it, max_chars_per_message))) for it in items]
    results = model.run(calls, Dissatisfaction, template_hash("classify_dissatisfaction"))
    rows = []
    for item, result in zip(items, results, strict=True):
        rows.append({"candidate_id": item.candidate_id, "conversation_id": item.conversation_id, "message_id": item.message_id,
                     "dissatisfied": result.value.dissatisfied if result.ok else None,
                     "evidence": result.value.evidence if result.ok else None, "classifier": model.name,
                     "status": "ok" if result.ok else "failed", "error": result.error,
                     "tokens_in": result.tokens_in, "tokens_out": result.tokens_out})
    return pd.DataFrame(rows, columns=["candidate_id", "conversation_id", "message_id", "dissatisfied", "evidence",
                                       "classifier", "status", "error", "tokens_in", "tokens_out"])


def rewrite_replies(
    model: StudyModel, candidates: Sequence[RewriteCandidate], max_chars_per_message: int | None = None, quote_words: int = 6
) -> list[dict[str, Any]]:
    """Rewrite every candidate (either arm); one record per candidate with the rewrite (the rewriter's
    plain-text reply) or the failure, and ``quoted`` when the rewrite repeats ``quote_words`` consecutive
    words of its guidance."""
    records: list[dict[str, Any]] = []
    for arm in ("thought", "message"):
        group = [c for c in candidates if c.arm == arm]
        if not group:
            continue
        prompt_hash = template_hash(REWRITE_TEMPLATE[arm])
        calls = [Call(c.candidate_id, user_turn(rewrite_prompt(c, max_chars_per_message))) for c in group]
        for candidate, result in zip(group, model.generate(calls, prompt_hash), strict=True):
            text = result.value.strip() if result.value is not None else None
            error = result.error if not result.ok else (None if text else "empty rewrite")
            records.append({
                "candidate_id": candidate.candidate_id, "arm": arm, "conversation_id": candidate.conversation_id,
                "message_id": candidate.message_id, "context": chat_messages(candidate.context), "reply": candidate.reply,
                "rewrite": text if error is None else None, "labels": list(candidate.labels), "guidance": list(candidate.guidance),
                "rewriter": model.name, "prompt_hash": prompt_hash, "status": "ok" if error is None else "failed", "error": error,
                "quoted": bool(text) and quotes_guidance(text, candidate.guidance, quote_words),
                "tokens_in": result.tokens_in, "tokens_out": result.tokens_out,
            })
    return records


@dataclass
class RewriteStudy:
    """Everything a rewrite run produced (see :func:`run_rewrite_study`)."""

    conversations: int
    thought_candidates: list[RewriteCandidate]
    message_items: list[RewriteCandidate]
    decisions: pd.DataFrame
    rewrites: list[dict[str, Any]]
    counts: dict[str, Any]
    pairs: dict[str, list[dict[str, Any]]]
    usage: list[Usage]
    settings: dict[str, Any]
    notes: list[str]


def run_rewrite_study(
    conversations: Iterable[Conversation],
    rewriter: str,
    classifier: str | None,
    arms: Sequence[Arm] = ("thought", "message"),
    labels: Sequence[str] = DISSATISFIED_LABELS,
    min_messages: int = 2,
    max_messages: int = 20,
    min_words: int = 6,
    limit: int | None = None,
    seed: int = 0,
    max_chars_per_message: int | None = 8000,
    keep_quoting: bool = False,
    source: str = "",
    settings: ModelSettings | None = None,
    rewrite_max_tokens: int = 4096,
) -> RewriteStudy:
    """Study 2 up to the preference pairs: candidates of both arms on the same conversations, the message
    arm's dissatisfaction decisions, rewrites, the quoting check, counts and DPO pairs per arm.

    ``limit`` draws that many eligible conversations at random (seeded) before anything else, so both arms
    always see the same conversations. Rewrites that quote their guidance are left out of the pairs unless
    ``keep_quoting``.
    """
    unknown = set(arms) - {"thought", "message"}
    if unknown or not arms:
        raise ValueError(f"arms must be 'thought' and/or 'message', not {sorted(unknown) or 'none'}")
    if "message" in arms and not classifier:
        raise ValueError("the message-guided arm needs a classifier model")
    eligible = eligible_conversations(conversations, min_messages, max_messages)
    notes = [f"{len(eligible)} conversations of {min_messages}-{max_messages} messages"]
    if limit is not None and limit < len(eligible):
        rng = np.random.default_rng(seed)
        keep = set(rng.choice(len(eligible), size=limit, replace=False).tolist())
        eligible = [c for i, c in enumerate(eligible) if i in keep]
        notes.append(f"--limit {limit}: {len(eligible)} conversations drawn at random (seed {seed})")
    thought = rewrite_candidates(eligible, labels, min_messages, max_messages, min_words) if "thought" in arms else []
    if "thought" in arms and not any(m.reactions for c in eligible for m in c.messages):
        notes.append("the corpus has no reactions: the thought-guided arm finds nothing (a plain chat corpus)")
    items = message_arm_items(eligible, min_messages, max_messages) if "message" in arms else []
    usage: list[Usage] = []
    decisions = pd.DataFrame(columns=["candidate_id", "dissatisfied"])
    if items:
        assert classifier is not None
        model = StudyModel(classifier, "classify", 300, settings)
        decisions = classify_dissatisfaction(model, items, max_chars_per_message)
        usage.append(model.usage)
    flagged_ids = set(decisions.loc[decisions["dissatisfied"].fillna(False).astype(bool), "candidate_id"]) if len(decisions) else set()
    flagged = [it for it in items if it.candidate_id in flagged_ids]
    reacted = sum(1 for c in eligible for i, m in enumerate(dialogue(c)) if i > 0 and m.type == "assistant" and m.reactions)
    counts = dissatisfaction_counts(thought, decisions, len(eligible), reacted if "thought" in arms else None)
    rewriter_model = StudyModel(rewriter, "rewrite", rewrite_max_tokens, settings)
    records = rewrite_replies(rewriter_model, [*thought, *flagged], max_chars_per_message)
    usage.append(rewriter_model.usage)
    pairs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in arms}
    dropped: Counter[str] = Counter()
    for record in records:
        if record["status"] != "ok":
            dropped[f"{record['arm']}: failed"] += 1
        elif record["quoted"] and not keep_quoting:
            dropped[f"{record['arm']}: quotes its guidance"] += 1
        else:
            pairs[record["arm"]].append(make_pair(record, source))
    for reason, n in sorted(dropped.items()):
        notes.append(f"left out of the pairs: {n} rewrite(s), {reason}")
    run_settings = {"rewriter": rewriter_model.name, "classifier": StudyModel.display(classifier) if classifier else None,
                    "arms": list(arms), "labels": list(labels), "min_messages": min_messages, "max_messages": max_messages,
                    "min_words": min_words, "limit": limit, "seed": seed, "keep_quoting": keep_quoting, "source": source,
                    "max_chars_per_message": max_chars_per_message,
                    "prompt_hashes": {"classify": template_hash("classify_dissatisfaction"),
                                      **{f"rewrite_{a}": template_hash(t) for a, t in REWRITE_TEMPLATE.items()}}}
    return RewriteStudy(len(eligible), thought, items, decisions, records, counts, pairs, usage, run_settings, notes)


def counts_table(counts: dict[str, Any]) -> pd.DataFrame:
    """The two arms side by side on the same conversations."""
    return pd.DataFrame(
        [
            {"arm": "thought-guided", "replies examined": counts.get("thought_arm_replies"), "dissatisfied replies": counts["thought_arm_dissatisfied"],
             "found by this arm only": counts["thought_only"]},
            {"arm": "message-guided", "replies examined": counts["message_arm_classified"],
             "dissatisfied replies": counts["message_arm_dissatisfied"], "found by this arm only": counts["message_only"]},
        ]
    )


def write_rewrite_study(study: RewriteStudy, out_dir: Path, validation_fraction: float = 0.1, seed: int = 0) -> dict[str, Any]:
    """Write candidates, decisions, rewrites, per-arm DPO data (``dpo_<arm>/``), counts, usage, a summary
    and ``report.html``. Returns the datasheets by arm."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl([c.as_row() for c in [*study.thought_candidates, *study.message_items]], out_dir / "candidates.jsonl")
    write_jsonl(study.decisions.to_dict(orient="records"), out_dir / "decisions.jsonl")
    write_jsonl(study.rewrites, out_dir / "rewrites.jsonl")
    sheets = {}
    for arm, pairs in study.pairs.items():
        extra = {"arm": arm, "rewriter": study.settings["rewriter"], "source": study.settings["source"],
                 "prompt_hash": study.settings["prompt_hashes"][f"rewrite_{arm}"]}
        if arm == "message":
            extra["classifier"] = study.settings["classifier"]
        sheets[arm] = write_preference_data(pairs, out_dir / f"dpo_{arm}", validation_fraction, seed, extra)
    usage = usage_table(study.usage, study.conversations or None, "conversations")
    pd.DataFrame(usage).to_csv(out_dir / "usage.csv", index=False)
    table = counts_table(study.counts)
    table.to_csv(out_dir / "counts.csv", index=False)
    pair_rows = pd.DataFrame([{"arm": arm, "pairs": s["all"]["pairs"], "train": s["splits"]["train"]["pairs"],
                               "validation": s["splits"]["validation"]["pairs"], "conversations": s["all"]["conversations"],
                               "invalid": s["invalid_pairs"]} for arm, s in sheets.items()])
    write_json({"study": "thought-guided rewrites", "settings": study.settings, "counts": study.counts,
                "datasheets": sheets, "usage": usage, "notes": study.notes}, out_dir / "summary.json")
    ratio = study.counts["ratio_thought_to_message"]
    sections = [
        Section("Dissatisfied replies found by each arm",
                [f"On the same {study.counts['conversations']} conversations. Thought-guided: replies whose private reaction "
                 f"is labelled {', '.join(study.settings['labels'])}. Message-guided: replies an LLM judged unsatisfying "
                 "from the user's next message alone."
                 + (f" Ratio thought/message: {ratio:.2f}." if ratio is not None else "")],
                {"counts": table}),
        Section("Preference pairs (DPO)", ["TRL conversational format; split by conversation."], {"pairs": pair_rows}),
        Section("Model calls and tokens", [], {"usage": pd.DataFrame(usage)}, study.notes),
    ]
    write_report(out_dir / "report.html", "Study 2: thought-guided rewrites", sections,
                 f"thoughtcode; rewriter {study.settings['rewriter']}, classifier {study.settings['classifier']}")
    return sheets
