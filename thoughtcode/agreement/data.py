"""Rating data: the one vectorised representation every coefficient is computed from.

Agreement statistics differ only in how they combine a few per-unit quantities, so the input is
turned, once, into two integer matrices:

* ``codes``: units x coders, the category index each coder gave each unit (``-1`` = missing);
* ``counts``: units x categories, how many coders put each unit in each category.

Everything else (coincidences, per-unit agreement, rater marginals) is derived from these with array
operations. This module also owns the rules that make the numbers trustworthy:

* a missing rating is never a category (NaN, None, empty strings and rows whose ``status`` is
  ``failed`` are missing);
* numeric labels are numbers (``"2"`` and ``2.0`` are the same category, sorted numerically);
* an ordered level (ordinal, interval, ratio) takes its order from an explicit list (e.g. a codebook's
  category order) or from the numbers themselves, never from sorting strings;
* units with fewer than two ratings are kept (Gwet's marginals use them) but reported, because they
  cannot contribute a pair.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from thoughtcode.labels import ID_COLUMNS, read_table

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[str, ...] = ("nominal", "ordinal", "interval", "ratio")
MISSING = -1

_MISSING_STRINGS = {"", "nan", "none", "null", "na", "n/a"}


def is_missing(value: Any) -> bool:
    """True for the spellings of 'no rating' that appear in CSV, JSONL and pandas frames."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, np.floating) and np.isnan(value):
        return True
    if value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, str) and value.strip().lower() in _MISSING_STRINGS


def _as_number(value: Any) -> float | None:
    """The value as a finite float if it is a number or a numeric string, else None."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _display_number(number: float) -> int | float:
    return int(number) if float(number).is_integer() else float(number)


def category_key(value: Any) -> str:
    """The string a category is shown and matched under (``2.0`` -> ``"2"``)."""
    number = _as_number(value)
    if number is not None:
        return str(_display_number(number))
    return str(value).strip()


@dataclass(frozen=True)
class CategoryScale:
    """The ordered list of categories and, when they are numbers, their values."""

    categories: list[Any]
    values: np.ndarray | None  # numeric value of each category (None when labels are not numbers)
    numeric: bool
    ordered: bool
    warnings: tuple[str, ...] = ()

    @property
    def keys(self) -> list[str]:
        return [category_key(c) for c in self.categories]

    def positions(self) -> np.ndarray:
        """Rank positions 1..q, the spacing an ordered non-numeric scale is given."""
        return np.arange(1, len(self.categories) + 1, dtype=float)


def resolve_scale(raw_values: Sequence[Any], order: Sequence[Any] | None, level: str) -> CategoryScale:
    """Decide the categories, their order and their numeric values.

    Why this is strict: an ordinal statistic computed on alphabetically sorted labels
    ("high" < "low" < "medium") is silently wrong, and "10" < "9" as strings.
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; use one of {', '.join(LEVELS)}")
    uniques = list(dict.fromkeys(raw_values))
    numbers = [_as_number(v) for v in uniques]
    all_numeric = bool(uniques) and all(n is not None for n in numbers)
    warnings: list[str] = []
    if order is not None:
        order = list(order)
        if len(order) == 0:
            raise ValueError("order is empty: give the categories in their order")
        order_keys = [category_key(o) for o in order]
        if len(set(order_keys)) != len(order_keys):
            raise ValueError(f"order lists a category twice: {order}")
        seen_keys = {category_key(v) for v in uniques}
        unknown = sorted(seen_keys - set(order_keys))
        if unknown:
            raise ValueError(
                f"label(s) not in the given order/codebook: {', '.join(unknown)}; "
                f"known categories: {', '.join(order_keys)}"
            )
        order_numbers = [_as_number(o) for o in order]
        numeric = all(n is not None for n in order_numbers) and (all_numeric or not uniques)
        categories = [_display_number(n) for n in order_numbers] if numeric else [str(o) for o in order]
        values = np.array(order_numbers, dtype=float) if numeric else None
        ordered = True
    elif all_numeric:
        distinct = sorted({float(n) for n in numbers if n is not None})
        categories = [_display_number(n) for n in distinct]
        values = np.array(distinct, dtype=float)
        numeric = True
        ordered = True
    else:
        if level != "nominal":
            raise ValueError(
                f"level {level!r} needs the order of the categories: pass order=[...] "
                "(CLI: --order a,b,c or --codebook REF); labels are never ordered alphabetically"
            )
        # Nominal categories have no order; sort their names only so output is deterministic.
        categories = sorted({category_key(v) for v in uniques})
        values = None
        numeric = False
        ordered = False
    if level in ("interval", "ratio") and not numeric:
        warnings.append(
            f"level {level!r} with non-numeric labels: categories are spaced by their rank "
            f"1..{len(categories)} in the given order"
        )
    if level == "ratio":
        scale_values = values if values is not None else np.arange(1, len(categories) + 1, dtype=float)
        if np.any(scale_values < 0):
            raise ValueError("level 'ratio' needs non-negative values (a ratio scale has a true zero)")
    return CategoryScale(categories, values, numeric, ordered, tuple(warnings))


@dataclass(frozen=True)
class RatingData:
    """Ratings of units by coders, held as index matrices.

    ``codes`` is ``None`` when only category counts per unit are known (Fleiss-style data without
    coder identities); coefficients that need coder identities are then reported as undefined.
    """

    units: list[Any]
    coders: list[Any] | None
    scale: CategoryScale
    codes: np.ndarray | None
    counts: np.ndarray
    notes: list[str] = field(default_factory=list)
    dropped_units: list[Any] = field(default_factory=list)

    # ------------------------------------------------------------------ properties
    @property
    def categories(self) -> list[Any]:
        return self.scale.categories

    @property
    def n_units(self) -> int:
        return int(self.counts.shape[0])

    @property
    def n_categories(self) -> int:
        return int(self.counts.shape[1])

    @property
    def n_coders(self) -> int:
        if self.coders is not None:
            return len(self.coders)
        return int(self.counts.sum(axis=1).max()) if self.n_units else 0

    @property
    def n_ratings(self) -> int:
        return int(self.counts.sum())

    @cached_property
    def ratings_per_unit(self) -> np.ndarray:
        return self.counts.sum(axis=1)

    @cached_property
    def single_rated_units(self) -> list[Any]:
        """Units with exactly one rating: kept for marginals, left out of every pairable count."""
        return [self.units[i] for i in np.flatnonzero(self.ratings_per_unit < 2)]

    def values_for_distance(self) -> np.ndarray:
        """Numeric values of the categories, or rank positions for an ordered non-numeric scale."""
        return self.scale.values if self.scale.values is not None else self.scale.positions()

    def label_matrix(self) -> pd.DataFrame:
        """Units x coders frame of category labels (None = missing), for displays."""
        if self.codes is None:
            raise ValueError("these data hold only category counts, not coder identities")
        cats = np.array(list(self.categories) + [None], dtype=object)
        return pd.DataFrame(cats[self.codes], index=self.units, columns=self.coders)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_long(
        cls,
        frame: pd.DataFrame,
        unit_col: str = "unit_id",
        coder_col: str = "coder",
        label_col: str = "label",
        *,
        order: Sequence[Any] | None = None,
        level: str = "nominal",
        scheme: str | None = None,
    ) -> RatingData:
        """Build from a long table with one row per (unit, coder): the labels-table contract."""
        for col in (unit_col, coder_col, label_col):
            if col not in frame.columns:
                raise ValueError(
                    f"column {col!r} not found; columns are: {', '.join(map(str, frame.columns))}"
                )
        notes: list[str] = []
        frame = _select_scheme(frame, scheme, notes)
        if "status" in frame.columns:
            failed = frame["status"].astype(str).str.lower().eq("failed")
            if failed.any():
                notes.append(f"{int(failed.sum())} failed row(s) treated as missing ratings (not a category)")
                frame = frame.loc[~failed]
        # A row without a unit id or a coder cannot be placed in the matrix (factorize would give it -1,
        # which indexes another unit's or coder's cell from the end): leave it out, and say so.
        for col, what in ((unit_col, "unit id"), (coder_col, "coder")):
            unplaced = _missing_mask(frame[col].to_numpy(dtype=object))
            if unplaced.any():
                notes.append(f"{int(unplaced.sum())} row(s) without a {what} ({col!r}) left out")
                frame = frame.loc[~unplaced]
        if frame.empty:
            raise ValueError("no ratings: the table has no rows with a label")
        column = frame[label_col]
        numeric = pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype)
        labels = column.to_numpy(dtype=float if numeric else object)
        present = np.isfinite(labels) if numeric else ~_missing_mask(labels)
        if (~present).any():
            notes.append(f"{int((~present).sum())} row(s) without a label treated as missing ratings")
        all_units = pd.unique(frame[unit_col])
        if not present.all():
            frame = frame.loc[present]
            labels = labels[present]
        if frame.empty:
            raise ValueError("no ratings: every row lacks a label (missing or failed)")
        unit_idx, units = pd.factorize(frame[unit_col], sort=False)
        coder_idx, coders = pd.factorize(frame[coder_col], sort=False)
        if numeric:
            distinct = np.unique(labels)
            scale = resolve_scale(list(distinct), order, level)
            lookup = {key: i for i, key in enumerate(scale.keys)}
            mapped = np.array([lookup[category_key(v)] for v in distinct], dtype=np.int64)
            cat_idx = mapped[np.searchsorted(distinct, labels)]
        else:
            scale = resolve_scale(_unique_raw(labels), order, level)
            cat_idx = _category_indices(labels, scale)
        n_units, n_coders = len(units), len(coders)
        flat = unit_idx.astype(np.int64) * n_coders + coder_idx
        codes = np.full(n_units * n_coders, MISSING, dtype=np.int64)
        order_idx = np.argsort(flat, kind="stable")
        flat_sorted = flat[order_idx]
        dup = np.flatnonzero(flat_sorted[1:] == flat_sorted[:-1])
        if dup.size:
            first, second = cat_idx[order_idx[dup]], cat_idx[order_idx[dup + 1]]
            conflict = dup[first != second]
            if conflict.size:
                row = order_idx[conflict[0]]
                raise ValueError(
                    f"coder {_py(coders[coder_idx[row]])!r} gave unit {_py(units[unit_idx[row]])!r} two different "
                    f"labels ({conflict.size} such conflict(s)); keep one row per unit and coder"
                )
            notes.append(f"{dup.size} duplicate row(s) with identical labels ignored")
        codes[flat] = cat_idx
        codes = codes.reshape(n_units, n_coders)
        unit_list = list(units.tolist())
        dropped = (
            pd.Index(all_units).difference(units, sort=False).tolist() if len(all_units) > n_units else []
        )
        if dropped:
            notes.append(f"{len(dropped)} unit(s) with no valid rating left out")
        return cls._finish(unit_list, list(coders.tolist()), scale, codes, notes, dropped)

    @classmethod
    def from_wide(
        cls,
        frame: pd.DataFrame | np.ndarray | Sequence[Sequence[Any]],
        *,
        order: Sequence[Any] | None = None,
        level: str = "nominal",
        unit_col: str | None = None,
        coders: Sequence[Any] | None = None,
    ) -> RatingData:
        """Build from a wide table: one row per unit, one column per coder, blanks for missing."""
        if not isinstance(frame, pd.DataFrame):
            frame = pd.DataFrame(list(frame) if not isinstance(frame, np.ndarray) else frame)
            if coders is not None:
                frame.columns = list(coders)
            else:
                frame.columns = [f"coder_{i + 1}" for i in range(frame.shape[1])]
            frame.index = range(1, len(frame) + 1)
        if unit_col is not None and unit_col in frame.columns:
            frame = frame.set_index(unit_col)
        if frame.size == 0:
            raise ValueError("no ratings: the wide table is empty")
        numeric = all(
            pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in frame.dtypes
        )
        if numeric:
            # fast path: a numeric grid (NaN = missing), mapped through its distinct values
            raw = frame.to_numpy(dtype=float)
            present = np.isfinite(raw)
            if not present.any():
                raise ValueError("no ratings: every cell of the wide table is missing")
            distinct = np.unique(raw[present])
            scale = resolve_scale(list(distinct), order, level)
            lookup = {key: i for i, key in enumerate(scale.keys)}
            mapped = np.array([lookup[category_key(v)] for v in distinct], dtype=np.int64)
            codes = np.full(raw.shape, MISSING, dtype=np.int64)
            codes[present] = mapped[np.searchsorted(distinct, raw[present])]
        else:
            raw = frame.to_numpy(dtype=object)
            present = ~_missing_mask(raw.ravel()).reshape(raw.shape)
            if not present.any():
                raise ValueError("no ratings: every cell of the wide table is missing")
            scale = resolve_scale(_unique_raw(raw[present]), order, level)
            codes = np.full(raw.shape, MISSING, dtype=np.int64)
            codes[present] = _category_indices(raw[present], scale)
        keep_units = present.any(axis=1)
        units = np.empty(len(frame.index), dtype=object)
        units[:] = frame.index.tolist()
        dropped = units[~keep_units].tolist()
        notes: list[str] = []
        if dropped:
            notes.append(f"{len(dropped)} unit(s) with no rating left out")
        keep_coders = present.any(axis=0)
        coder_names = list(frame.columns.tolist())
        if not keep_coders.all():
            empty = [c for c, k in zip(coder_names, keep_coders, strict=True) if not k]
            notes.append(f"coder(s) with no rating left out: {', '.join(map(str, empty))}")
        codes = codes[keep_units][:, keep_coders]
        return cls._finish(
            units[keep_units].tolist(),
            [c for c, k in zip(coder_names, keep_coders, strict=True) if k],
            scale,
            codes,
            notes,
            dropped,
        )

    @classmethod
    def from_counts(
        cls,
        counts: np.ndarray | Sequence[Sequence[int]],
        categories: Sequence[Any] | None = None,
        *,
        level: str = "nominal",
        units: Sequence[Any] | None = None,
    ) -> RatingData:
        """Build from a units x categories count matrix (no coder identities, e.g. Fleiss 1971)."""
        counts = np.asarray(counts)
        if counts.ndim != 2 or counts.size == 0:
            raise ValueError("no ratings: counts must be a non-empty units x categories matrix")
        if np.any(counts < 0) or not np.all(np.equal(np.mod(counts, 1), 0)):
            raise ValueError("counts must be non-negative integers")
        counts = counts.astype(np.int64)
        if categories is None:
            categories = list(range(1, counts.shape[1] + 1))
        if len(categories) != counts.shape[1]:
            raise ValueError("categories must have one entry per column of counts")
        scale = resolve_scale(list(categories), list(categories), level)
        unit_list = list(units) if units is not None else list(range(1, counts.shape[0] + 1))
        keep = counts.sum(axis=1) > 0
        if counts.sum() == 0:
            raise ValueError("no ratings: all counts are zero")
        notes = [] if keep.all() else [f"{int((~keep).sum())} unit(s) with no rating left out"]
        dropped = [u for u, k in zip(unit_list, keep, strict=True) if not k]
        data = cls(
            units=[u for u, k in zip(unit_list, keep, strict=True) if k],
            coders=None,
            scale=scale,
            codes=None,
            counts=counts[keep],
            notes=notes + list(scale.warnings),
            dropped_units=dropped,
        )
        return data

    @classmethod
    def from_table(
        cls, table: np.ndarray | Sequence[Sequence[int]], categories: Sequence[Any] | None = None, **kw: Any
    ) -> RatingData:
        """Build two-coder data from a contingency table (rows coder A, columns coder B)."""
        table = np.asarray(table, dtype=np.int64)
        if table.ndim != 2 or table.shape[0] != table.shape[1]:
            raise ValueError("a contingency table must be square (categories x categories)")
        q = table.shape[0]
        categories = list(categories) if categories is not None else list(range(1, q + 1))
        a, b = np.nonzero(table)
        reps = table[a, b]
        codes = np.column_stack([np.repeat(a, reps), np.repeat(b, reps)])
        if codes.size == 0:
            raise ValueError("no ratings: the contingency table is all zeros")
        labels = np.array(categories, dtype=object)[codes]
        frame = pd.DataFrame(labels, columns=["A", "B"], index=range(1, len(codes) + 1))
        return cls.from_wide(frame, order=kw.pop("order", categories), **kw)

    @classmethod
    def _finish(
        cls,
        units: list[Any],
        coders: list[Any],
        scale: CategoryScale,
        codes: np.ndarray,
        notes: list[str],
        dropped: list[Any],
    ) -> RatingData:
        q = len(scale.categories)
        rated = codes >= 0
        flat = (np.arange(codes.shape[0])[:, None] * q + codes)[rated]
        counts = np.bincount(flat, minlength=codes.shape[0] * q).reshape(codes.shape[0], q).astype(np.int64)
        return cls(
            units=units,
            coders=coders,
            scale=scale,
            codes=codes,
            counts=counts,
            notes=notes + list(scale.warnings),
            dropped_units=dropped,
        )


def load_ratings(
    data: Any,
    *,
    unit_col: str = "unit_id",
    coder_col: str = "coder",
    label_col: str = "label",
    wide: bool | None = None,
    order: Sequence[Any] | None = None,
    level: str = "nominal",
    scheme: str | None = None,
) -> RatingData:
    """Accept every supported input: RatingData, a long or wide DataFrame, an array, or a file path.

    ``wide=None`` picks long format when the frame has the unit, coder and label columns.
    """
    if isinstance(data, RatingData):
        return data
    if isinstance(data, str | Path):
        data = read_table(data, text_columns=(*ID_COLUMNS, unit_col, coder_col))
    if isinstance(data, pd.DataFrame):
        if data.empty:
            raise ValueError("no ratings: the table is empty")
        is_long = {unit_col, coder_col, label_col} <= set(data.columns)
        if wide is None:
            wide = not is_long
        if wide:
            return RatingData.from_wide(data, order=order, level=level, unit_col=unit_col)
        return RatingData.from_long(
            data, unit_col, coder_col, label_col, order=order, level=level, scheme=scheme
        )
    if isinstance(data, np.ndarray | list | tuple):
        if len(data) == 0:
            raise ValueError("no ratings: the input is empty")
        return RatingData.from_wide(data, order=order, level=level)
    raise TypeError(f"cannot read ratings from {type(data).__name__}")


# ---------------------------------------------------------------------- helpers
def _select_scheme(frame: pd.DataFrame, scheme: str | None, notes: list[str]) -> pd.DataFrame:
    if "scheme" not in frame.columns:
        return frame
    schemes = [s for s in pd.unique(frame["scheme"]) if not is_missing(s)]
    if scheme is not None:
        if scheme not in schemes:
            raise ValueError(f"scheme {scheme!r} not in the table (schemes: {', '.join(map(str, schemes))})")
        return frame.loc[frame["scheme"] == scheme]
    if len(schemes) > 1:
        raise ValueError(
            f"the table holds several schemes ({', '.join(map(str, schemes))}); choose one with scheme=..."
        )
    return frame


def _missing_mask(values: np.ndarray) -> np.ndarray:
    """Vectorised ``is_missing`` over a 1-D object array (checks each distinct value once)."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    if len(uniques) == 0:
        return np.ones(len(codes), dtype=bool)
    missing_unique = np.array([is_missing(u) for u in uniques], dtype=bool)
    return (codes < 0) | (missing_unique[np.maximum(codes, 0)] & (codes >= 0))


def _unique_raw(values: np.ndarray) -> list[Any]:
    try:
        return list(pd.unique(pd.Series(values, dtype=object)))
    except TypeError:  # unhashable values
        return list(dict.fromkeys(map(str, values)))


def _category_indices(values: np.ndarray, scale: CategoryScale) -> np.ndarray:
    """Map raw labels to category indices, through the unique values only (fast on 1e6 rows)."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), sort=False)
    lookup = {key: i for i, key in enumerate(scale.keys)}
    mapped = np.array([lookup[category_key(u)] for u in uniques], dtype=np.int64)
    return mapped[codes]


def _py(value: Any) -> Any:
    """numpy scalars to plain Python, so ids serialise to JSON."""
    if isinstance(value, np.generic):
        return value.item()
    return value
