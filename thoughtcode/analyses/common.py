"""Pieces every analysis shares: the result type, small statistics helpers, sampling and prompt templates
kept as text files."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from thoughtcode.jsonsafe import json_safe

T = TypeVar("T")


def rounded(value: float | None, digits: int = 4) -> float | None:
    """A float rounded for reports; None stays None and NaN becomes None."""
    if value is None:
        return None
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


FigureMaker = Callable[[], Any]


@dataclass
class AnalysisResult:
    """What every analysis returns.

    ``data`` is the JSON part (``results.json``), ``tables`` the DataFrames written as ``tables/*.csv``,
    ``figures`` named callables that draw a matplotlib figure on demand (so a ``--json`` run draws nothing),
    ``notes`` human-readable caveats: what was used, what was missing, what was excluded.
    """

    name: str
    title: str
    data: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, FigureMaker] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    available: bool = True
    captions: dict[str, str] = field(default_factory=dict)
    primary_tables: list[str] | None = None  # tables shown open in the report (None: all)

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "analysis": self.name,
                "title": self.title,
                "available": self.available,
                **self.data,
                "notes": list(self.notes),
            }
        )


def unavailable(name: str, title: str, reason: str) -> AnalysisResult:
    """The result of an analysis whose inputs are missing (e.g. no labels given)."""
    return AnalysisResult(name=name, title=title, available=False, notes=[reason])


def shares(counts: pd.Series) -> pd.Series:
    """Counts divided by their total (all zeros when the total is zero)."""
    total = counts.sum()
    return counts / total if total else counts.astype(float)


def group_bootstrap_interval(
    values: Sequence[float] | np.ndarray,
    groups: Sequence[Any] | np.ndarray,
    statistic: Callable[[np.ndarray], float] = np.median,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> list[float] | None:
    """Percentile interval of ``statistic(values)`` resampling whole groups (conversations) with replacement,
    since observations of one conversation are not independent. None with fewer than two groups."""
    values = np.asarray(values, dtype=float)
    codes, inverse = np.unique(np.asarray(groups), return_inverse=True)
    if len(codes) < 2 or n_boot <= 0:
        return None
    members = [np.flatnonzero(inverse == k) for k in range(len(codes))]
    rng = np.random.default_rng(seed)
    replicates = np.empty(n_boot)
    for b in range(n_boot):
        chosen = rng.integers(0, len(codes), size=len(codes))
        replicates[b] = statistic(values[np.concatenate([members[k] for k in chosen])])
    alpha = (1 - level) / 2
    low, high = np.quantile(replicates, [alpha, 1 - alpha])
    return [float(low), float(high)]


def sample_items(items: Sequence[T], limit: int | None, seed: int = 0) -> list[T]:
    """At most ``limit`` items drawn at random (seeded), kept in corpus order."""
    if limit is None or limit >= len(items):
        return list(items)
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(items), size=limit, replace=False).tolist())
    return [items[i] for i in chosen]


class PromptFiles:
    """Prompt templates kept as text files (``<folder>/<name>.txt``), so they can be read, reviewed and changed
    without touching code; placeholders are ``{field}`` and each output records the templates' hash."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.template = cache(self._read)

    def _read(self, name: str) -> str:
        path = self.folder / f"{name}.txt"
        if not path.exists():
            raise FileNotFoundError(f"no prompt template {name!r} in {self.folder}")
        return path.read_text(encoding="utf-8")

    def render(self, name: str, **fields: Any) -> str:
        """Fill a template; only the named ``{field}`` placeholders are replaced, other braces stay as they are."""
        text = self.template(name)
        for key, value in fields.items():
            text = text.replace("{" + key + "}", str(value))
        leftover = re.findall(r"\{([a-z_]+)\}", text)
        if leftover:
            raise ValueError(f"prompt {name!r}: unfilled placeholder(s) {', '.join(sorted(set(leftover)))}")
        return text.strip() + "\n"

    def hash(self, *names: str) -> str:
        """A short content hash of the templates a step used (recorded with every output)."""
        digest = hashlib.sha256()
        for name in names:
            digest.update(name.encode())
            digest.update(self.template(name).encode())
        return digest.hexdigest()[:12]
