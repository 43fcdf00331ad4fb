"""Pieces every analysis shares: the result type, JSON-safe conversion and small statistics helpers."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


def json_safe(value: Any) -> Any:
    """Turn numpy scalars, arrays, DataFrames and NaN/inf into plain JSON values (NaN -> None)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, pd.DataFrame):
        return [json_safe(r) for r in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


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
