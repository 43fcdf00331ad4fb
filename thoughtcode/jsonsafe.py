"""Plain JSON values from results: one conversion for every room's ``results.json``, report and ``--json``.

Shared outside the rooms (like ``labels.py`` and ``textio.py``) because agreement may not import analyses,
and both write results that must never hold NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel


def json_safe(value: Any) -> Any:
    """Turn pydantic models, numpy scalars and arrays, DataFrames, Series, tuples and sets into plain JSON
    values, recursively; NaN, infinities and pandas' missing values become None."""
    if isinstance(value, BaseModel):
        return json_safe(value.to_dict() if hasattr(value, "to_dict") else value.model_dump())
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
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value
