"""Few-shot examples taken from a labelled file (``--few-shot N --examples FILE``).

Examples are chosen deterministically and stratified by code (round-robin over the codebook's codes), so
every code is shown before any code is shown twice and the prompt hash is the same on every run. Examples
from conversations that are being coded are left out, so agreement with reference labels is not inflated
by showing the model the answer.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path

from thoughtcode.coders.prompts import FewShotExample, main_text
from thoughtcode.taxonomy import Codebook, CodebookError


def _labels_of(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, float) and value != value:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return [str(v) for v in json.loads(text)]
            except json.JSONDecodeError:
                pass
        return [text] if text else []
    if hasattr(value, "tolist"):
        value = value.tolist()
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


def _from_corpus(path: Path, codebook: Codebook) -> list[tuple[FewShotExample, str | None]]:
    from thoughtcode.corpus import read_corpus, units_for

    found = []
    for unit in units_for(read_corpus(path), codebook.unit):
        label = getattr(unit, "label", None)
        if label:
            found.append((FewShotExample(text=main_text(unit), labels=(label,), source=unit.unit_id), unit.conversation_id))
    return found


def _from_table(path: Path) -> list[tuple[FewShotExample, str | None]]:
    from thoughtcode.labels import read_table

    frame = read_table(path)
    label_column = "labels" if "labels" in frame.columns else "label"
    if "text" not in frame.columns or label_column not in frame.columns:
        raise ValueError(f"{path}: an examples table needs a 'text' column and a 'label' (or 'labels') column")
    found = []
    for row in frame.to_dict(orient="records"):
        labels = _labels_of(row.get(label_column))
        text = row.get("text")
        if labels and isinstance(text, str) and text.strip():
            source = row.get("unit_id") if isinstance(row.get("unit_id"), str) else None
            conversation = row.get("conversation_id") if isinstance(row.get("conversation_id"), str) else None
            found.append((FewShotExample(text=text, labels=tuple(labels), source=source), conversation))
    return found


def load_examples(
    path: str | Path,
    codebook: Codebook,
    n: int,
    exclude_conversations: Iterable[str] = (),
    seed: int = 0,
) -> list[FewShotExample]:
    """Up to ``n`` labelled examples from a corpus file (thought labels) or a table with text and label."""
    if n <= 0:
        return []
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such examples file")
    is_corpus = False
    if path.suffix.lower() in {".jsonl", ".json", ".gz"}:
        import gzip

        with gzip.open(path, "rt", encoding="utf-8") if path.suffix.lower() == ".gz" else path.open(encoding="utf-8") as handle:
            first = next((line for line in handle if line.strip()), "")
        try:
            is_corpus = "messages" in json.loads(first) or "conversation" in json.loads(first)
        except (json.JSONDecodeError, TypeError):
            is_corpus = False
    candidates = _from_corpus(path, codebook) if is_corpus else _from_table(path)
    excluded = set(exclude_conversations)
    by_label: dict[str, list[FewShotExample]] = {label: [] for label in codebook.label_ids}
    for example, conversation in candidates:
        if conversation is not None and conversation in excluded:
            continue
        try:
            labels = tuple(codebook.normalise_label(label) for label in example.labels)
        except CodebookError:
            continue  # a label this codebook does not know cannot teach it anything
        if any(label not in by_label for label in labels):
            continue
        by_label[labels[0]].append(FewShotExample(text=example.text, labels=labels, source=example.source))
    rng = random.Random(seed)
    for pool in by_label.values():
        rng.shuffle(pool)
    chosen: list[FewShotExample] = []
    while len(chosen) < n and any(by_label.values()):
        for label in codebook.label_ids:
            if by_label[label] and len(chosen) < n:
                chosen.append(by_label[label].pop())
    if not chosen:
        raise ValueError(f"{path}: no labelled examples for the codes of {codebook.ref}")
    return chosen
