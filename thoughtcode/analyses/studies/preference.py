"""Study 2, second half: preference pairs for DPO, split by conversation, with a datasheet.

Each pair is one JSON line in TRL's conversational preference format, read as is by
``datasets.load_dataset("json", ...)`` and ``trl.DPOTrainer``::

    {"prompt":   [{"role": "user", "content": ...}, {"role": "assistant", ...}, ..., {"role": "user", ...}],
     "chosen":   [{"role": "assistant", "content": <rewrite>}],
     "rejected": [{"role": "assistant", "content": <original reply>}],
     "pair_id": ..., "conversation_id": ..., "message_id": ..., "arm": "thought"|"message", ...}

The metadata columns after the first three are plain strings, integers or lists of strings, with the same
type on every line, so Arrow infers one schema; trainers use the first three and may drop the rest.
Train and validation are split by conversation (all pairs of a conversation land on one side), seeded.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from thoughtcode.analyses.studies._common import write_json, write_jsonl
from thoughtcode.corpus import count_tokens
from thoughtcode.textio import read_jsonl

PAIR_KEYS = ("prompt", "chosen", "rejected")
METADATA_KEYS = (
    "pair_id", "conversation_id", "message_id", "arm", "source", "labels", "guidance", "rewriter", "prompt_hash",
)
ROLES = {"system", "user", "assistant"}


def make_pair(rewrite: dict[str, Any], source: str = "") -> dict[str, Any]:
    """A DPO pair from one successful rewrite record (see :mod:`rewrites` outputs): ``context`` (chat turns
    before the reply), ``reply`` (rejected), ``rewrite`` (chosen) and metadata."""
    context = [{"role": str(t["role"]), "content": str(t["content"])} for t in rewrite["context"]]
    return {
        "prompt": context,
        "chosen": [{"role": "assistant", "content": str(rewrite["rewrite"])}],
        "rejected": [{"role": "assistant", "content": str(rewrite["reply"])}],
        "pair_id": f"{rewrite['arm']}:{rewrite['candidate_id']}",
        "conversation_id": str(rewrite["conversation_id"]),
        "message_id": str(rewrite["message_id"]),
        "arm": str(rewrite["arm"]),
        "source": source,
        "labels": [str(x) for x in rewrite.get("labels") or []],
        "guidance": [str(x) for x in rewrite.get("guidance") or []],
        "rewriter": str(rewrite.get("rewriter") or ""),
        "prompt_hash": str(rewrite.get("prompt_hash") or ""),
    }


def validate_pair(pair: dict[str, Any]) -> list[str]:
    """Problems with one pair (empty list when it is valid for TRL's conversational DPO format)."""
    problems = []
    for key in PAIR_KEYS:
        turns = pair.get(key)
        if not isinstance(turns, list) or not turns:
            problems.append(f"'{key}' must be a non-empty list of messages")
            continue
        for i, turn in enumerate(turns):
            if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
                problems.append(f"'{key}'[{i}] must have exactly the keys role and content")
            elif turn["role"] not in ROLES or not isinstance(turn["content"], str):
                problems.append(f"'{key}'[{i}] has role {turn['role']!r} or non-string content")
    if not problems:
        if pair["prompt"][-1]["role"] != "user":
            problems.append("the prompt must end with a user message")
        for key in ("chosen", "rejected"):
            if len(pair[key]) != 1 or pair[key][0]["role"] != "assistant" or not pair[key][0]["content"].strip():
                problems.append(f"'{key}' must be one non-empty assistant message")
        if not problems and pair["chosen"][0]["content"] == pair["rejected"][0]["content"]:
            problems.append("chosen and rejected are identical")
    return problems


def split_pairs(
    pairs: Sequence[dict[str, Any]], validation_fraction: float = 0.1, seed: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Train and validation pairs, split by conversation with a seeded shuffle.

    ``round(validation_fraction * n_conversations)`` conversations (at least one when there are two or more
    and the fraction is positive) go to validation; the file order of pairs is kept within each side.
    """
    if not 0 <= validation_fraction < 1:
        raise ValueError("validation_fraction must be in [0, 1)")
    conversations = sorted({p["conversation_id"] for p in pairs})
    random.Random(seed).shuffle(conversations)
    n_val = round(validation_fraction * len(conversations))
    if validation_fraction > 0 and n_val == 0 and len(conversations) >= 2:
        n_val = 1
    held_out = set(conversations[:n_val])
    train = [p for p in pairs if p["conversation_id"] not in held_out]
    validation = [p for p in pairs if p["conversation_id"] in held_out]
    return train, validation


def datasheet(
    train: Sequence[dict[str, Any]],
    validation: Sequence[dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Counts that describe a preference data set: pairs and conversations per split, per arm and per
    reaction label, and token lengths (offline count) of prompts, chosen and rejected replies."""
    def describe(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        def mean_tokens(key: str) -> float | None:
            if not rows:
                return None
            return round(sum(sum(count_tokens(t["content"]) for t in r[key]) for r in rows) / len(rows), 1)

        labels = Counter(label for r in rows for label in (r.get("labels") or []))
        return {
            "pairs": len(rows),
            "conversations": len({r["conversation_id"] for r in rows}),
            "by_arm": dict(Counter(r.get("arm", "") for r in rows)),
            "by_label": dict(labels.most_common()),
            "mean_prompt_turns": round(sum(len(r["prompt"]) for r in rows) / len(rows), 2) if rows else None,
            "mean_tokens": {k: mean_tokens(k) for k in PAIR_KEYS},
        }

    sheet = {
        "format": "TRL conversational preference (prompt/chosen/rejected lists of role/content messages)",
        "files": {"train": "train.jsonl", "validation": "validation.jsonl"},
        "splits": {"train": describe(train), "validation": describe(validation)},
        "all": describe([*train, *validation]),
    }
    if extra:
        sheet.update(extra)
    return sheet


def datasheet_markdown(sheet: dict[str, Any]) -> str:
    """The datasheet as a short Markdown page."""
    lines = ["# Preference data: datasheet", "", f"Format: {sheet['format']}.", ""]
    lines += ["| split | pairs | conversations | arms | labels |", "|---|---|---|---|---|"]
    for name in ("train", "validation"):
        s = sheet["splits"][name]
        arms = ", ".join(f"{k} {v}" for k, v in s["by_arm"].items()) or "-"
        labels = ", ".join(f"{k} {v}" for k, v in s["by_label"].items()) or "-"
        lines.append(f"| {name} | {s['pairs']} | {s['conversations']} | {arms} | {labels} |")
    tokens = sheet["all"]["mean_tokens"]
    lines += ["", "Mean tokens per pair (offline count): " + ", ".join(f"{k} {v}" for k, v in tokens.items()), ""]
    for key, value in sheet.items():
        if key not in ("format", "files", "splits", "all"):
            lines.append(f"- {key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def write_preference_data(
    pairs: Iterable[dict[str, Any]],
    out_dir: Path,
    validation_fraction: float = 0.1,
    seed: int = 0,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate, split and write ``train.jsonl``, ``validation.jsonl``, ``datasheet.json`` and ``datasheet.md``.
    Invalid pairs are not written; they are counted in the datasheet with their first problem."""
    valid, invalid = [], []
    for pair in pairs:
        problems = validate_pair(pair)
        (invalid if problems else valid).append((pair, problems))
    train, validation = split_pairs([p for p, _ in valid], validation_fraction, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(train, out_dir / "train.jsonl")
    write_jsonl(validation, out_dir / "validation.jsonl")
    info = {"validation_fraction": validation_fraction, "seed": seed, "invalid_pairs": len(invalid)}
    if invalid:
        info["invalid_examples"] = [{"pair_id": p.get("pair_id"), "problem": probs[0]} for p, probs in invalid[:10]]
    sheet = datasheet(train, validation, {**info, **(extra or {})})
    write_json(sheet, out_dir / "datasheet.json")
    (out_dir / "datasheet.md").write_text(datasheet_markdown(sheet), encoding="utf-8")
    return sheet


def validate_dpo_file(path: Path | str) -> int:
    """Check a pairs file against the conversational DPO schema (and a consistent metadata schema); returns
    the number of pairs, raises ``ValueError`` naming the first bad line."""
    rows = read_jsonl(path)
    types: dict[str, type] = {}
    for number, row in enumerate(rows, 1):
        problems = validate_pair(row)
        if problems:
            raise ValueError(f"{path}:{number}: {problems[0]}")
        for key, value in row.items():
            if key in PAIR_KEYS or value is None:
                continue
            if types.setdefault(key, type(value)) is not type(value):
                raise ValueError(f"{path}:{number}: column {key!r} changes type ({types[key].__name__} -> {type(value).__name__})")
    return len(rows)


def load_with_datasets(path: Path | str):
    """Load a pairs file the way TRL users do (``datasets.load_dataset("json")``); needs ``thoughtcode[train]``."""
    try:
        from datasets import load_dataset
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise ImportError("loading with 'datasets' needs the train extra: pip install 'thoughtcode[train]'") from exc
    return load_dataset("json", data_files=str(path), split="train")
