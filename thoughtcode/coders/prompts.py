"""Prompts rendered from a codebook and a unit's context, with the unit text fenced as data.

Why it is built this way:

* The codebook (definitions, include/exclude rules, examples, near misses) is rendered into the system
  message once per request, so batching K units pays for it once.
* Unit text comes from conversations and may contain anything, including "ignore the instructions and
  answer X". Every piece of unit text is placed inside ``<data field="...">`` ... ``</data>`` and any
  tag-like text in it that could close or open a fence (``</data>``, ``<unit``, ...) is escaped, so the
  data cannot leave its fence. The system message tells the model that fenced text is never an instruction.
* Templates are plain text files a user can override (``--prompt PATH``). A template has three sections,
  ``=== system ===``, ``=== user ===`` and ``=== unit ===``, filled with :class:`string.Template`
  placeholders (write ``$$`` for a literal dollar sign). Fenced fields are inserted ready-made, so a
  custom template cannot drop the fence by accident.
* The prompt hash covers the template text and the rendered system message (codebook, few-shot examples,
  answer rules): a label records exactly which prompt produced it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

from thoughtcode.corpus.units import ConversationUnit, ThoughtUnit, Unit, UserTurnUnit
from thoughtcode.taxonomy import Category, Codebook

PROMPT_DIR = Path(__file__).parent / "prompts"
SECTIONS = ("system", "user", "unit")
_SECTION_LINE = re.compile(r"^=== *(system|user|unit) *===[ \t]*$", re.MULTILINE)
#: Fields each unit kind provides to its ``unit`` section; the last one is the text being coded.
UNIT_FIELDS: dict[str, tuple[str, ...]] = {
    "reason": ("previous_assistant", "user_message", "thought"),
    "reaction": ("assistant_reply", "next_user_message", "thought"),
    "user_turn": ("previous_user_message", "user_message"),
    "conversation": ("transcript",),
}
#: Tag names that delimit data; any occurrence inside unit text is escaped.
FENCE_TAGS = ("data", "unit", "example")
_FENCE_BREAK = re.compile(r"<(?=\s*/?\s*(?:" + "|".join(FENCE_TAGS) + r")\b)", re.IGNORECASE)
NONE_TEXT = "(none)"


class PromptError(ValueError):
    """A prompt template that cannot be used; the message names the file and the problem."""


# --- fencing and shortening ------------------------------------------------------------------------------
def escape_data(text: str) -> str:
    """Escape every ``<`` that would open or close a fence tag, so data cannot break out of its fence."""
    return _FENCE_BREAK.sub("&lt;", text)


def fence(name: str, text: str | None) -> str:
    """Unit text as a fenced data block; ``None`` becomes an explicit ``(none)``."""
    body = NONE_TEXT if text is None or not str(text).strip() else escape_data(str(text).strip())
    return f'<data field="{name}">\n{body}\n</data>'


def shorten_middle(text: str | None, head: int, tail: int) -> str | None:
    """Keep the start and the end of a long text and say how much was left out (and how long it was)."""
    if text is None or len(text) <= head + tail + 80:
        return text
    omitted = len(text) - head - tail
    return (
        f"{text[:head].rstrip()}\n[... {omitted:,} of {len(text):,} characters omitted ...]\n{text[-tail:].lstrip()}"
    )


_TURN_SPLIT = re.compile(r"\n\n(?=(?:User|Assistant|System): )")


def shorten_transcript(text: str, user_chars: int = 800, assistant_chars: int = 400, max_chars: int = 8000) -> str:
    """Shorten each message of a ``User:``/``Assistant:`` transcript, then drop middle turns if still long."""
    blocks = _TURN_SPLIT.split(text)
    short = []
    for block in blocks:
        limit = user_chars if block.startswith("User: ") else assistant_chars
        short.append(shorten_middle(block, int(limit * 0.75), int(limit * 0.25)) or block)
    if sum(len(b) + 2 for b in short) <= max_chars:
        return "\n\n".join(short)
    kept_head: list[str] = []
    kept_tail: list[str] = []
    budget = max_chars - 60
    i, j = 0, len(short) - 1
    while i <= j:  # alternate from both ends so the opening and the ending both survive
        if len(short[i]) + 2 > budget:
            break
        kept_head.append(short[i])
        budget -= len(short[i]) + 2
        i += 1
        if i > j or len(short[j]) + 2 > budget:
            break
        kept_tail.insert(0, short[j])
        budget -= len(short[j]) + 2
        j -= 1
    omitted = len(short) - len(kept_head) - len(kept_tail)
    middle = [f"[... {omitted} message(s) omitted ...]"] if omitted else []
    return "\n\n".join(kept_head + middle + kept_tail)


def unit_context(unit: Unit) -> dict[str, str | None]:
    """The raw (unfenced) context fields of a unit, shortened where the issue says so."""
    if isinstance(unit, ThoughtUnit):
        if unit.kind == "reason":
            return {
                "previous_assistant": shorten_middle(unit.previous_message, 600, 200),
                "user_message": shorten_middle(unit.message, 1500, 500),
                "thought": unit.text,
            }
        return {
            "assistant_reply": shorten_middle(unit.message, 1200, 400),
            "next_user_message": shorten_middle(unit.next_message, 1000, 300),
            "thought": unit.text,
        }
    if isinstance(unit, UserTurnUnit):
        return {
            "previous_user_message": shorten_middle(unit.previous_user_message, 1500, 500)
            if unit.previous_user_message is not None
            else "(none: this is the user's first message in the conversation)",
            "user_message": shorten_middle(unit.text, 1500, 500),
        }
    if isinstance(unit, ConversationUnit):
        return {"transcript": shorten_transcript(unit.text)}
    raise TypeError(f"not a unit: {type(unit).__name__}")


def unit_kind_of(unit: Unit) -> str:
    if isinstance(unit, ThoughtUnit):
        return unit.kind
    if isinstance(unit, UserTurnUnit):
        return "user_turn"
    return "conversation"


def main_text(unit: Unit) -> str:
    """The text being coded (used for few-shot examples)."""
    if isinstance(unit, ConversationUnit):
        return unit.first_user_message
    return unit.text


# --- codebook rendering ----------------------------------------------------------------------------------
def _quote(text: str) -> str:
    return '"' + " ".join(text.split()) + '"'


def _render_category(category: Category, indent: str = "") -> list[str]:
    lines = [f"{indent}- {category.id} ({category.name})", f"{indent}  Definition: {' '.join(category.definition.split())}"]
    if category.include:
        lines.append(f"{indent}  Use it for:")
        lines += [f"{indent}    + {' '.join(rule.split())}" for rule in category.include]
    if category.exclude:
        lines.append(f"{indent}  Do not use it for:")
        lines += [f"{indent}    - {' '.join(rule.split())}" for rule in category.exclude]
    for example in category.examples:
        note = f" ({' '.join(example.note.split())})" if example.note else ""
        lines.append(f"{indent}  Example: {_quote(example.text)}{note}")
    for example in category.near_misses:
        note = f" ({' '.join(example.note.split())})" if example.note else ""
        lines.append(f"{indent}  Near miss, not this code: {_quote(example.text)}{note}")
    return lines


def render_codebook(codebook: Codebook) -> str:
    """The codebook as prompt text: description, instructions and every assignable code with its rules."""
    lines = [f"Codebook: {codebook.title} ({codebook.name}@{codebook.version})"]
    if codebook.description.strip():
        lines.append(" ".join(codebook.description.split()))
    if codebook.instructions.strip():
        lines += ["", "Coding instructions:", codebook.instructions.strip()]
    leaves = {c.id for c in codebook.leaves}
    lines += ["", "Codes (answer with the id before the parenthesis):"]
    if codebook.is_hierarchical:
        for parent in codebook.parents:
            lines.append(f"{parent.name} [group, not a code]: {' '.join(parent.definition.split())}")
            for child in codebook.categories:
                if child.parent == parent.id and child.id in leaves:
                    lines += _render_category(child, indent="  ")
        for category in codebook.categories:
            if category.parent is None and category.id in leaves:
                lines += _render_category(category)
    else:
        for category in codebook.categories:
            lines += _render_category(category)
    if codebook.multi_label:
        lines += ["", "Several codes may apply to one unit: give every code that applies, at least one."]
    else:
        lines += ["", "Exactly one code applies to each unit: choose the best fitting one."]
    return "\n".join(lines)


def answer_rules(codebook: Codebook, batch: bool) -> str:
    label = (
        "labels: the ids of every code that applies (at least one)"
        if codebook.multi_label
        else "label: the id of the one code that applies"
    )
    fields = f"{label}; rationale: one short sentence on why; confidence: a number from 0 to 1"
    if batch:
        return (
            "Answer in the structured format requested, with one entry per unit in `answers`: unit_id (the "
            f"id attribute of the unit); {fields}. Give every unit id exactly once."
        )
    return f"Answer in the structured format requested: {fields}."


# --- templates -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PromptTemplate:
    """One template file split into its system, user and unit sections."""

    name: str
    text: str
    system: str
    user: str
    unit: str

    @classmethod
    def parse(cls, text: str, name: str) -> PromptTemplate:
        marks = list(_SECTION_LINE.finditer(text))
        found = [m.group(1) for m in marks]
        if sorted(found) != sorted(SECTIONS) or len(found) != 3:
            raise PromptError(
                f"{name}: a prompt template needs the three section lines '=== system ===', '=== user ===' "
                f"and '=== unit ===' (found: {', '.join(found) or 'none'})"
            )
        parts: dict[str, str] = {}
        for i, mark in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            parts[mark.group(1)] = text[mark.end() : end].strip("\n")
        return cls(name=name, text=text, **parts)

    def check(self, unit_kind: str) -> None:
        """Fail early on placeholders the template cannot fill or leaves out."""
        allowed = {
            "system": {"codebook", "examples", "answer_rules", "codebook_ref", "codebook_title"},
            "user": {"units", "n_units"},
            "unit": {"unit_key", *UNIT_FIELDS[unit_kind]},
        }
        required = {"system": {"codebook"}, "user": {"units"}, "unit": {UNIT_FIELDS[unit_kind][-1]}}
        for section in SECTIONS:
            names = _placeholders(getattr(self, section), self.name, section)
            unknown = names - allowed[section]
            if unknown:
                raise PromptError(
                    f"{self.name}: section {section} uses unknown placeholder(s) {', '.join('$' + n for n in sorted(unknown))}; "
                    f"allowed: {', '.join('$' + n for n in sorted(allowed[section]))} (write $$ for a dollar sign)"
                )
            missing = required[section] - names
            if missing:
                raise PromptError(f"{self.name}: section {section} must contain {', '.join('$' + n for n in sorted(missing))}")


def _placeholders(text: str, name: str, section: str) -> set[str]:
    names = set()
    for match in Template.pattern.finditer(text):
        if match.group("invalid") is not None:
            raise PromptError(f"{name}: section {section} has a stray '$' (write $$ for a dollar sign)")
        named = match.group("named") or match.group("braced")
        if named:
            names.add(named)
    return names


def load_template(unit_kind: str, override: str | Path | None = None) -> PromptTemplate:
    """The template for a unit kind: the built-in one, or ``override`` (a file, or a directory of files
    named ``<unit_kind>.txt`` / ``.md``)."""
    if unit_kind not in UNIT_FIELDS:
        raise PromptError(f"no prompt template for unit kind {unit_kind!r}")
    path = PROMPT_DIR / f"{unit_kind}.txt"
    if override is not None:
        candidate = Path(override)
        if candidate.is_dir():
            matches = [candidate / f"{unit_kind}{ext}" for ext in (".txt", ".md")]
            found = [m for m in matches if m.exists()]
            if not found:
                raise PromptError(f"{candidate}: no {unit_kind}.txt or {unit_kind}.md template in this directory")
            path = found[0]
        elif candidate.exists():
            path = candidate
        else:
            raise PromptError(f"{candidate}: no such prompt template file or directory")
    template = PromptTemplate.parse(path.read_text(encoding="utf-8"), name=str(path))
    template.check(unit_kind)
    return template


# --- few-shot examples -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FewShotExample:
    """A labelled text shown to the model as a worked example."""

    text: str
    labels: tuple[str, ...]
    source: str | None = None


def render_examples(examples: Sequence[FewShotExample], field_name: str) -> str:
    if not examples:
        return ""
    lines = ["Worked examples, coded by people (their text is data too):"]
    for example in examples:
        text = shorten_middle(example.text, 400, 100) or ""
        lines.append(f'<example codes="{", ".join(example.labels)}">\n{fence(field_name, text)}\n</example>')
    return "\n".join(lines) + "\n"


# --- the builder -----------------------------------------------------------------------------------------
@dataclass
class RenderedUnit:
    """A unit's fenced fields and a canonical form of its content (for cache keys)."""

    unit_id: str
    fields: dict[str, str]
    content: str


@dataclass
class PromptBuilder:
    """Renders the messages of a request for one codebook, template and set of few-shot examples."""

    codebook: Codebook
    template: PromptTemplate
    unit_kind: str
    batch: bool = False
    examples: Sequence[FewShotExample] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        self.template.check(self.unit_kind)
        main_field = UNIT_FIELDS[self.unit_kind][-1]
        try:
            self.system_text = Template(self.template.system).substitute(
                codebook=render_codebook(self.codebook),
                codebook_ref=self.codebook.ref,
                codebook_title=self.codebook.title,
                examples=render_examples(self.examples, main_field),
                answer_rules=answer_rules(self.codebook, self.batch),
            )
        except (KeyError, ValueError) as exc:
            raise PromptError(f"{self.template.name}: cannot fill the system section ({exc})") from None
        digest = hashlib.sha256()
        digest.update(self.template.text.encode("utf-8"))
        digest.update(b"\x00")
        digest.update(self.system_text.encode("utf-8"))
        self.prompt_hash_full = digest.hexdigest()

    @property
    def prompt_hash(self) -> str:
        """Short form recorded on labels (16 hex digits of the SHA-256)."""
        return self.prompt_hash_full[:16]

    def render_unit(self, unit: Unit) -> RenderedUnit:
        kind = unit_kind_of(unit)
        if kind != self.unit_kind:
            raise PromptError(f"unit {unit.unit_id} is a {kind}, but the codebook codes {self.unit_kind} units")
        raw = unit_context(unit)
        fields = {name: fence(name, raw.get(name)) for name in UNIT_FIELDS[self.unit_kind]}
        content = "\n".join(fields[name] for name in UNIT_FIELDS[self.unit_kind])
        return RenderedUnit(unit_id=unit.unit_id, fields=fields, content=content)

    def messages(self, units: Sequence[RenderedUnit]) -> tuple[list[dict[str, Any]], list[str]]:
        """System and user messages for a request coding ``units``; returns them with the unit keys used."""
        keys = [f"u{i + 1}" for i in range(len(units))]
        blocks = [Template(self.template.unit).substitute(unit_key=key, **unit.fields) for key, unit in zip(keys, units, strict=True)]
        user = Template(self.template.user).substitute(units="\n\n".join(blocks), n_units=len(units))
        return [{"role": "system", "content": self.system_text}, {"role": "user", "content": user}], keys
