"""Helpers the two studies share: their prompt templates (``prompts/*.txt``), statistics on paired scores,
JSONL files, chat turns."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from thoughtcode.analyses.common import PromptFiles
from thoughtcode.corpus import Message, shorten
from thoughtcode.jsonsafe import json_safe

PROMPTS = PromptFiles(Path(__file__).parent / "prompts")
render = PROMPTS.render
template_hash = PROMPTS.hash
_LETTER = re.compile(r"[^\W\d_]")


# --- text -------------------------------------------------------------------------------------------------
def word_count(text: str) -> int:
    """Whitespace-separated words."""
    return len(text.split())


def has_letters(text: str) -> bool:
    """True when the text contains at least one letter (of any script)."""
    return bool(_LETTER.search(text))


def chat_messages(messages: Sequence[Message]) -> list[dict[str, str]]:
    """Messages as OpenAI-style chat turns (``role``/``content``)."""
    return [{"role": m.type, "content": m.content} for m in messages]


def message_block(message: Message, max_chars: int | None = None) -> str:
    """One message of a study prompt: a ``[User]`` / ``[Assistant]`` line, then its (shortened) text."""
    return f"[{message.type.capitalize()}]\n{shorten(message.content, max_chars)}"


def plain_transcript(messages: Sequence[Message], max_chars: int | None = None) -> str:
    """``[User]`` / ``[Assistant]`` blocks, one per message."""
    return "\n\n".join(message_block(m, max_chars) for m in messages)


# --- paired statistics ------------------------------------------------------------------------------------
def paired_summary(
    a: Sequence[float], b: Sequence[float], n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> dict[str, Any]:
    """Compare paired scores ``b`` against ``a`` (same items, same order).

    Returns the means, the mean difference ``b - a`` with a paired (item-resampling) percentile bootstrap
    interval, the relative gain ``mean(b) / mean(a) - 1`` with its bootstrap interval, the Wilcoxon
    signed-rank test and the paired t-test (two-sided). Needs at least two pairs for the tests.
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError("paired scores must have the same length")
    n = len(x)
    out: dict[str, Any] = {"n": n, "mean_a": _mean(x), "mean_b": _mean(y)}
    out["mean_diff"] = _mean(y - x)
    out["relative_gain"] = _gain(x.mean(), y.mean()) if n else None
    out["diff_ci"] = [None, None]
    out["gain_ci"] = [None, None]
    out["wilcoxon_stat"] = out["wilcoxon_p"] = out["t_stat"] = out["t_p"] = None
    if n == 0:
        return out
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    boot_a = x[idx].mean(axis=1)
    boot_b = y[idx].mean(axis=1)
    alpha = (1 - level) / 2
    out["diff_ci"] = [float(v) for v in np.quantile(boot_b - boot_a, [alpha, 1 - alpha])]
    with np.errstate(divide="ignore", invalid="ignore"):
        gains = np.where(boot_a != 0, boot_b / boot_a - 1, np.nan)
    out["gain_ci"] = percentile_interval(gains, level)
    diff = y - x
    if n >= 2 and np.any(diff != 0):
        w = stats.wilcoxon(y, x, zero_method="wilcox", alternative="two-sided")
        out["wilcoxon_stat"], out["wilcoxon_p"] = float(w.statistic), float(w.pvalue)
        if np.std(diff, ddof=1) > 0:
            t = stats.ttest_rel(y, x)
            out["t_stat"], out["t_p"] = float(t.statistic), float(t.pvalue)
        else:  # a constant non-zero difference: the t statistic is infinite
            out["t_stat"], out["t_p"] = math.copysign(math.inf, float(diff.mean())), 0.0
    return out


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None


def _gain(a: float, b: float) -> float | None:
    return float(b / a - 1) if a else None


def percentile_interval(values: Iterable[float], level: float = 0.95) -> list[float | None]:
    """The central ``level`` percentile interval of bootstrap replicates (NaNs dropped)."""
    arr = np.asarray(list(values), dtype=float)
    arr = arr[np.isfinite(arr)]
    if not len(arr):
        return [None, None]
    alpha = (1 - level) / 2
    return [float(v) for v in np.quantile(arr, [alpha, 1 - alpha])]


# --- files ------------------------------------------------------------------------------------------------
def write_jsonl(rows: Iterable[dict[str, Any]], path: Path) -> int:
    """Write dicts as JSON lines (UTF-8, NaN as null); returns the number of rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(json_safe(row), ensure_ascii=False) + "\n")
            count += 1
    return count


def write_json(payload: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(json_safe(payload), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
