"""Demographics from survey answers, counted once per respondent.

A respondent is a user id (``user918`` of ``user918_task2_conversation1``); conversations without a user
id count as their own respondent. When a user answered several times the first answer is used. Ages
outside 18-100 (or not numbers) are reported and excluded from the brackets. Free-text purposes are grouped
into themes by keyword rules (listed in :data:`PURPOSE_THEMES`); one answer may name several themes, so theme
shares are shares of respondents who answered and may sum to more than 100%.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pandas as pd

from thoughtcode.analyses.common import AnalysisResult, rounded, unavailable
from thoughtcode.analyses.inputs import AnalysisInputs
from thoughtcode.corpus import SurveyAnswer

AGE_BRACKETS: tuple[tuple[int, int | None], ...] = ((18, 24), (25, 34), (35, 44), (45, 54), (55, 64), (65, None))
MIN_AGE, MAX_AGE = 18, 100
EDUCATION_ORDER = ["High school", "Undergraduate", "Graduate", "Other"]
MISSING = "(missing)"
PURPOSE_THEMES: dict[str, str] = {
    "learning": r"\blearn|\bstud(y|ies|ying)|\bschool|\bcourse|homework|\beducat|\bexam|\btutor|\bclass(room)?\b|understand|explain",
    "work": r"\bwork(ing|s)?\b|\bjob\b|\bprofessional|\bbusiness|\bcareer|\boffice|\breports?\b|\bmarketing|\bconsult",
    "brainstorming": r"brainstorm|\bideas?\b|\binspiration|\bcreativ",
    "research": r"research|\binformation|\binfo\b|fact.?check|\bsources?\b|looking up|\bsearch|\banaly",
    "coding": r"\bcod(e|ing)\b|program|\bdebug|\bsoftware|\bpython|\bscript|\bapps?\b|automat",
    "planning": r"\bplan(s|ning|ing)?\b|\bschedul|\borgani[sz]|time management|\btravel|decision",
    "writing": r"\bwrit(e|ing|ting)|\bessays?\b|\bletters?\b|\bproofread|\bedit(ing)?\b|\bdraft|\bcontent creation|\bcaptions?\b",
    "translation": r"translat|\blanguages?\b",
}
THEME_ORDER = [*PURPOSE_THEMES, "other"]


def age_bracket(age: int) -> str:
    for low, high in AGE_BRACKETS:
        if age >= low and (high is None or age <= high):
            return f"{low}+" if high is None else f"{low}-{high}"
    return "under 18"


def bracket_names() -> list[str]:
    return [f"{low}+" if high is None else f"{low}-{high}" for low, high in AGE_BRACKETS]


def purpose_themes(text: str | list[str] | None) -> list[str]:
    """Themes named in a purposes answer (``other`` when it names none); empty for no answer."""
    if text is None:
        return []
    if isinstance(text, list):
        text = ", ".join(str(t) for t in text)
    text = text.strip().lower()
    if not text:
        return []
    themes = [theme for theme, pattern in PURPOSE_THEMES.items() if re.search(pattern, text)]
    return themes or ["other"]


def normalise_occupation(text: str | None) -> str:
    """Case, whitespace and trailing punctuation folded: ``'Student '`` and ``'student.'`` are one."""
    if text is None:
        return MISSING
    cleaned = re.sub(r"\s+", " ", str(text)).strip().strip(".,;:!").strip()
    return cleaned.casefold().capitalize() if cleaned else MISSING


def respondents(inputs: AnalysisInputs) -> tuple[dict[str, SurveyAnswer], int]:
    """One survey answer per respondent, and the number of conversations without any answer."""
    answers: dict[str, SurveyAnswer] = {}
    without = 0
    for conversation in inputs.conversations:
        answer = conversation.survey
        if answer is None:
            without += 1
            continue
        key = conversation.user_id or conversation.id
        answers.setdefault(key, answer)
    return answers, without


def _count_frame(counter: Counter, order: list[str] | None = None, top: int | None = None) -> pd.DataFrame:
    items = counter.most_common()
    if order is not None:
        items = [(k, counter.get(k, 0)) for k in order] + [(k, v) for k, v in items if k not in order]
    if top is not None:
        items = items[:top]
    total = sum(counter.values())
    return pd.DataFrame(
        [{"value": str(k), "count": int(v), "share": round(v / total, 4) if total else 0.0} for k, v in items],
        columns=["value", "count", "share"],
    )


def demographics_analysis(inputs: AnalysisInputs, top_occupations: int = 10) -> AnalysisResult:
    title = "Demographics (survey answers)"
    answers, without = respondents(inputs)
    if not answers:
        return unavailable("demographics", title, "no survey answers in the corpus")
    result = AnalysisResult("demographics", title)
    ages: Counter[str] = Counter()
    excluded: list[Any] = []
    unparsed = 0
    valid_ages = []
    gender: Counter[str] = Counter()
    education: Counter[str] = Counter()
    occupation: Counter[str] = Counter()
    frequency: Counter[str] = Counter()
    themes: Counter[str] = Counter()
    answered_purpose = 0
    for answer in answers.values():
        age = answer.age_years
        if age is None:
            if answer.age is not None and str(answer.age).strip():
                unparsed += 1
                excluded.append(str(answer.age))
            else:
                ages[MISSING] += 1
        elif MIN_AGE <= age <= MAX_AGE:
            ages[age_bracket(age)] += 1
            valid_ages.append(age)
        else:
            excluded.append(age)
        gender[(answer.gender or "").strip().capitalize() or MISSING] += 1
        education[(answer.education or "").strip() or MISSING] += 1
        occupation[normalise_occupation(answer.occupation)] += 1
        level = answer.frequency_level
        frequency[str(level) if level is not None else MISSING] += 1
        found = purpose_themes(answer.purposes)
        if found:
            answered_purpose += 1
            themes.update(found)
    tables = {
        "age": _count_frame(ages, bracket_names() + [MISSING]),
        "gender": _count_frame(gender),
        "education": _count_frame(education, EDUCATION_ORDER + [MISSING]),
        "occupation_top": _count_frame(Counter({k: v for k, v in occupation.items() if k != MISSING}), top=top_occupations),
        "ai_use_frequency": _count_frame(frequency, ["1", "2", "3", "4", "5", MISSING]),
    }
    theme_rows = [
        {"value": t, "count": themes.get(t, 0), "share": round(themes.get(t, 0) / answered_purpose, 4) if answered_purpose else 0.0}
        for t in THEME_ORDER
    ]
    tables["purpose_themes"] = pd.DataFrame(theme_rows, columns=["value", "count", "share"])
    for name, table in tables.items():
        result.tables[f"demographics_{name}"] = table
    n_valid = len(valid_ages)
    answered_frequency = {k: v for k, v in frequency.items() if k != MISSING}
    result.data = {
        "respondents": len(answers),
        "respondent_key": "user id (conversation id when the record has none)",
        "conversations_without_survey": without,
        "age": {
            "valid": n_valid,
            "median": float(pd.Series(valid_ages).median()) if valid_ages else None,
            "excluded_impossible_or_out_of_range": excluded,
            "valid_range": [MIN_AGE, MAX_AGE],
            "brackets": tables["age"].to_dict(orient="records"),
        },
        "gender": tables["gender"].to_dict(orient="records"),
        "education": tables["education"].to_dict(orient="records"),
        "occupation_top": tables["occupation_top"].to_dict(orient="records"),
        "occupation_missing": occupation.get(MISSING, 0),
        "occupation_distinct": len([k for k in occupation if k != MISSING]),
        "ai_use_frequency": tables["ai_use_frequency"].to_dict(orient="records"),
        "ai_use_frequency_mean": (  # None when nobody answered (the scale runs from 1 to 5: 0 is no mean)
            rounded(sum(int(k) * v for k, v in answered_frequency.items()) / sum(answered_frequency.values()), 3)
            if answered_frequency else None
        ),
        "purposes": {
            "answered": answered_purpose,
            "counting": "a respondent counts once in every theme their answer names; shares are of respondents who answered",
            "themes": theme_rows,
            "rules": PURPOSE_THEMES,
        },
    }
    if excluded:
        result.notes.append(f"{len(excluded)} age(s) outside {MIN_AGE}-{MAX_AGE} or not numbers excluded: {excluded[:20]}")
    if without:
        result.notes.append(f"{without} conversation(s) have no survey answers")
    result.notes.append(
        f"{len(answers)} respondents (deduplicated by user id); occupations are free text, folded by case and punctuation"
    )

    from thoughtcode.analyses import figures

    def panel(table: pd.DataFrame, drop_missing: bool = False) -> pd.Series:
        series = table.set_index("value")["count"]
        return series.drop(MISSING, errors="ignore") if drop_missing else series

    n = len(answers)
    panels = [
        ("Age (years)", panel(tables["age"]), n),
        ("Gender", panel(tables["gender"]), n),
        ("Education", panel(tables["education"]), n),
        ("AI-use frequency (self-rated, 1-5)", panel(tables["ai_use_frequency"]), n),
        (f"Top {top_occupations} occupations", panel(tables["occupation_top"]), n),
        (f"Purposes by theme (of {answered_purpose} who answered)", panel(tables["purpose_themes"]), answered_purpose),
    ]
    result.figures["demographics"] = lambda: figures.demographics_grid(panels)
    result.captions["demographics"] = (
        f"Survey answers of {n} respondents; shares are of respondents. An answer on purposes may name several "
        "themes, so those shares can sum to more than 100%."
    )
    return result
