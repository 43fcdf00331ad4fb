"""Agreement coefficients as small functions of per-unit additive features.

Why this shape: every coefficient in the literature (percent agreement, the kappa family, Gwet's AC,
Krippendorff's alpha) is a smooth function of a handful of *sums over units*: per-unit agreement,
per-unit category proportions, per-coder category counts, per-unit coincidences. So each statistic is
declared as

    features: a (units x d) block of per-unit quantities, and
    finish:   a function of the column sums (B x d) -> B values.

The point estimate is ``finish(ones @ F)``; a bootstrap replicate is ``finish(w @ F)`` for multinomial
unit weights ``w`` (all replicates at once: one matrix product); the analytic standard error is the
linearisation (delta method) of ``finish`` at the sums, which is how Gwet (2014) derives his
variances. One code path for the estimate, the bootstrap and the SE keeps them consistent.

Units with identical rating rows have identical features, so features are computed once per distinct
row pattern and carried with its multiplicity.

Missing ratings follow Gwet (2014, ch. 4-6) and irrCAC: percent agreement averages over units with two
or more ratings; category prevalences average the per-unit proportions over every unit with a rating;
rater marginals use every unit the rater rated. Krippendorff's alpha uses pairable values only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from thoughtcode.agreement.data import MISSING, RatingData

Finish = Callable[[np.ndarray], np.ndarray]

_PE_TOL = 1e-12


@dataclass(frozen=True)
class Statistic:
    """A coefficient: which feature columns it reads and how it turns their sums into a value."""

    name: str
    cols: np.ndarray
    finish: Finish
    analytic: bool = True  # the literature gives an analytic (linearised) standard error


def distinct_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows (in a canonical sorted order), the index of a first occurrence, and counts.

    Rows of small non-negative-shifted integers are packed into one int64 key so that a 1-D sort
    does the work (np.unique over rows sorts a structured view and is ~50x slower on 1e6 ratings).
    """
    rows = np.asarray(rows)
    if rows.ndim == 2 and rows.shape[1] > 0 and np.issubdtype(rows.dtype, np.integer):
        low = int(rows.min())
        base = int(rows.max()) - low + 1
        if base ** rows.shape[1] < 2**62:
            key = np.zeros(rows.shape[0], dtype=np.int64)
            for col in range(rows.shape[1]):
                key = key * base + (rows[:, col].astype(np.int64) - low)
            _, first, mult = np.unique(key, return_index=True, return_counts=True)
            return rows[first], first, mult
    _, first, mult = np.unique(rows, axis=0, return_index=True, return_counts=True)
    return rows[first], first, mult


class FeatureEngine:
    """Distinct rating patterns, their multiplicities, and the feature blocks built on them."""

    def __init__(self, data: RatingData):
        self.data = data
        rows = data.codes if data.codes is not None else data.counts
        if rows.shape[0] == 0:
            raise ValueError("no ratings: no unit has a rating")
        uniq, first, mult = distinct_rows(rows)
        self.codes = uniq if data.codes is not None else None
        self.counts = data.counts[first].astype(float)
        self.mult = mult.astype(float)
        self.n_units = int(mult.sum())
        self.q = data.n_categories
        self._blocks: list[np.ndarray] = []
        self._index: dict[Any, np.ndarray] = {}
        self._width = 0

    # ------------------------------------------------------------------ blocks
    def block(self, key: Any, build: Callable[[], np.ndarray]) -> np.ndarray:
        """Column indices of a feature block, building it on first use."""
        if key not in self._index:
            values = np.asarray(build(), dtype=float)
            if values.ndim == 1:
                values = values[:, None]
            cols = np.arange(self._width, self._width + values.shape[1])
            self._blocks.append(values)
            self._index[key] = cols
            self._width += values.shape[1]
        return self._index[key]

    def matrix(self) -> np.ndarray:
        if not self._blocks:
            return np.zeros((len(self.mult), 0))
        return np.hstack(self._blocks)

    @property
    def r(self) -> np.ndarray:
        return self.counts.sum(axis=1)

    def pa(self, w: np.ndarray, wkey: str) -> np.ndarray:
        """Per-unit (weighted) agreement among pairs of ratings, and the pairable indicator."""

        def build() -> np.ndarray:
            r = self.r
            pair = r >= 2
            nstar = self.counts @ w.T
            num = (self.counts * (nstar - 1.0)).sum(axis=1)
            den = np.where(pair, r * (r - 1.0), 1.0)
            return np.column_stack([np.where(pair, num / den, 0.0), pair])

        return self.block(("pa", wkey), build)

    def pi(self) -> np.ndarray:
        """Per-unit category proportions r_ik / r_i, and a 1 per unit (the denominator)."""

        def build() -> np.ndarray:
            r = self.r
            return np.column_stack([self.counts / r[:, None], np.ones_like(r)])

        return self.block("pi", build)

    def rater(self, g: int) -> np.ndarray:
        """Coder g's category indicator and whether g rated the unit."""

        def build() -> np.ndarray:
            c = self.codes[:, g]
            onehot = np.zeros((len(c), self.q))
            rated = c != MISSING
            onehot[np.flatnonzero(rated), c[rated]] = 1.0
            return np.column_stack([onehot, rated])

        return self.block(("rater", g), build)

    def pair(self, a: int, b: int, w: np.ndarray, wkey: str) -> np.ndarray:
        """Whether coders a and b both rated the unit, and their (weighted) agreement there."""

        def build() -> np.ndarray:
            ca, cb = self.codes[:, a], self.codes[:, b]
            both = (ca != MISSING) & (cb != MISSING)
            agree = np.where(both, w[np.where(both, ca, 0), np.where(both, cb, 0)], 0.0)
            return np.column_stack([both, agree])

        return self.block(("pair", a, b, wkey), build)

    def alpha_fixed(self, delta: np.ndarray, dkey: str) -> np.ndarray:
        """Pairable values per category and the unit's observed disagreement sum (fixed metric)."""

        def build() -> np.ndarray:
            r = self.r
            pair = r >= 2
            nk = self.counts * pair[:, None]
            quad = np.einsum("ik,kl,il->i", nk, delta, nk)
            do = np.where(pair, quad / np.where(pair, r - 1.0, 1.0), 0.0)
            return np.column_stack([nk, do])

        return self.block(("alpha", dkey), build)

    def coincidences(self) -> np.ndarray:
        """Per-unit coincidence matrices, flattened (needed when the metric depends on marginals)."""

        def build() -> np.ndarray:
            r = self.r
            pair = r >= 2
            nk = self.counts * pair[:, None]
            outer = nk[:, :, None] * nk[:, None, :]
            idx = np.arange(self.q)
            outer[:, idx, idx] -= nk
            scale = np.where(pair, 1.0 / np.where(pair, r - 1.0, 1.0), 0.0)
            return (outer * scale[:, None, None]).reshape(len(r), -1)

        return self.block("coincidences", build)

    def category_pa(self) -> np.ndarray:
        """Per-unit agreement when category j is collapsed against all others (Fleiss' kappa_j)."""

        def build() -> np.ndarray:
            r = self.r[:, None]
            pair = r >= 2
            n = self.counts
            num = n * (n - 1) + (r - n) * (r - n - 1)
            return np.where(pair, num / np.where(pair, r * (r - 1), 1.0), 0.0)

        return self.block("category_pa", build)

    def specific(self) -> np.ndarray:
        """Numerator and denominator of the proportion of specific agreement per category."""

        def build() -> np.ndarray:
            r = self.r[:, None]
            pair = r >= 2
            n = self.counts * pair
            num = np.where(pair, n * (n - 1) / np.where(pair, r - 1, 1.0), 0.0)
            return np.hstack([num, n])

        return self.block("specific", build)


# ---------------------------------------------------------------------- weights and metrics
WEIGHT_SCHEMES = ("identity", "linear", "quadratic", "ratio")


def weight_matrix(scheme: str | np.ndarray, values: np.ndarray) -> np.ndarray:
    """Agreement weights w_kl in [0, 1] with w_kk = 1 (Gwet 2014, ch. 3; irrCAC's definitions)."""
    q = len(values)
    if not isinstance(scheme, str):
        w = np.asarray(scheme, dtype=float)
        if w.shape != (q, q):
            raise ValueError(f"custom weights must be a {q}x{q} matrix (one row/column per category)")
        if not np.allclose(np.diag(w), 1.0) or np.any(w < 0) or np.any(w > 1):
            raise ValueError("custom weights need 1 on the diagonal and values in [0, 1]")
        return w
    x = np.asarray(values, dtype=float)
    if scheme == "identity" or q < 2:
        return np.eye(q)
    span = x.max() - x.min()
    diff = x[:, None] - x[None, :]
    if scheme == "linear":
        return 1.0 - np.abs(diff) / span
    if scheme == "quadratic":
        return 1.0 - diff**2 / span**2
    if scheme == "ratio":
        total = x[:, None] + x[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(total == 0, 0.0, diff / total)
        top = (x.max() - x.min()) / (x.max() + x.min())
        return 1.0 - rel**2 / top**2
    raise ValueError(f"unknown weights {scheme!r}; use one of {', '.join(WEIGHT_SCHEMES)} or a matrix")


def alpha_delta(level: str, values: np.ndarray) -> np.ndarray:
    """Krippendorff's squared difference function for the fixed-metric levels."""
    x = np.asarray(values, dtype=float)
    diff = x[:, None] - x[None, :]
    if level == "nominal":
        return 1.0 - np.eye(len(x))
    if level == "interval":
        return diff**2
    if level == "ratio":
        total = x[:, None] + x[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total == 0, 0.0, (diff / total) ** 2)
    raise ValueError(f"no fixed metric for level {level!r}")


# ---------------------------------------------------------------------- finishing functions
def _kappa(pa: np.ndarray, pe: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(1.0 - pe > _PE_TOL, (pa - pe) / (1.0 - pe), np.nan)


def ratio(num: np.ndarray, den: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """``num / den`` where ``den > 0``, else ``fill``: an empty denominator is undefined, not an error."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), fill)


def percent_agreement(eng: FeatureEngine, w: np.ndarray | None = None, wkey: str = "identity") -> Statistic:
    w = np.eye(eng.q) if w is None else w
    cols = eng.pa(w, wkey)
    return Statistic("percent_agreement", cols, lambda s: ratio(s[:, 0], s[:, 1]))


def _multi_rater(eng: FeatureEngine, name: str, w: np.ndarray, wkey: str, chance: str) -> Statistic:
    """Fleiss' kappa, Gwet's AC1/AC2 and Brennan-Prediger share agreement and prevalence features."""
    q = eng.q
    cols = np.concatenate([eng.pa(w, wkey), eng.pi()])
    total_w = float(w.sum())

    def finish(s: np.ndarray) -> np.ndarray:
        pa = ratio(s[:, 0], s[:, 1])
        pi = s[:, 2 : 2 + q] / s[:, 2 + q : 3 + q]
        if chance == "fleiss":
            pe = np.einsum("bk,kl,bl->b", pi, w, pi)
        elif chance == "gwet":
            pe = total_w / (q * (q - 1)) * (pi * (1 - pi)).sum(axis=1) if q > 1 else np.zeros(len(s))
        else:  # Brennan-Prediger: uniform chance over the q categories of the scale
            pe = np.full(len(s), total_w / q**2)
        return _kappa(pa, pe)

    return Statistic(name, cols, finish)


def fleiss_kappa(eng: FeatureEngine, w: np.ndarray | None = None, wkey: str = "identity") -> Statistic:
    return _multi_rater(eng, "fleiss_kappa", np.eye(eng.q) if w is None else w, wkey, "fleiss")


def gwet_ac(eng: FeatureEngine, w: np.ndarray | None = None, wkey: str = "identity") -> Statistic:
    name = "gwet_ac1" if w is None or wkey == "identity" else "gwet_ac2"
    return _multi_rater(eng, name, np.eye(eng.q) if w is None else w, wkey, "gwet")


def brennan_prediger(eng: FeatureEngine, w: np.ndarray | None = None, wkey: str = "identity") -> Statistic:
    return _multi_rater(eng, "brennan_prediger", np.eye(eng.q) if w is None else w, wkey, "bp")


def _rater_props(s: np.ndarray, q: int, offset: int) -> np.ndarray:
    """Category proportions of one coder from its [onehot..., rated] sums."""
    return s[:, offset : offset + q] / s[:, offset + q : offset + q + 1]


def _two_coders(eng: FeatureEngine, a: int, b: int, w: np.ndarray | None, wkey: str, name: str, pooled: bool) -> Statistic:
    """Cohen's kappa and Scott's pi share agreement and per-coder features; they differ only in chance,
    from each coder's own marginals (Cohen) or from the mean of the two (Scott, ``pooled``)."""
    q = eng.q
    w = np.eye(q) if w is None else w
    cols = np.concatenate([eng.pair(a, b, w, wkey), eng.rater(a), eng.rater(b)])

    def finish(s: np.ndarray) -> np.ndarray:
        pa = ratio(s[:, 1], s[:, 0])
        with np.errstate(divide="ignore", invalid="ignore"):
            p1, p2 = _rater_props(s, q, 2), _rater_props(s, q, 3 + q)
            if pooled:
                p1 = p2 = (p1 + p2) / 2
        pe = np.einsum("bk,kl,bl->b", p1, w, p2)
        return _kappa(pa, pe)

    return Statistic(name, cols, finish)


def cohen_kappa(
    eng: FeatureEngine, a: int, b: int, w: np.ndarray | None = None, wkey: str = "identity", name: str = ""
) -> Statistic:
    """Cohen's kappa of coders a and b; marginals use every unit each coder rated (Gwet 2014)."""
    return _two_coders(eng, a, b, w, wkey, name or "cohen_kappa", pooled=False)


def scott_pi(
    eng: FeatureEngine, a: int, b: int, w: np.ndarray | None = None, wkey: str = "identity"
) -> Statistic:
    """Scott's pi of two coders: chance from the mean of the two coders' marginals."""
    return _two_coders(eng, a, b, w, wkey, "scott_pi", pooled=True)


def conger_kappa(eng: FeatureEngine, w: np.ndarray | None = None, wkey: str = "identity") -> Statistic:
    """Conger (1980): chance agreement averaged over ordered pairs of distinct coders."""
    q = eng.q
    w = np.eye(q) if w is None else w
    n_coders = eng.codes.shape[1]
    rater_cols = [eng.rater(g) for g in range(n_coders)]
    cols = np.concatenate([eng.pa(w, wkey), *rater_cols])

    def finish(s: np.ndarray) -> np.ndarray:
        pa = ratio(s[:, 0], s[:, 1])
        blocks = s[:, 2:].reshape(len(s), n_coders, q + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = blocks[:, :, :q] / blocks[:, :, q:]
        total = p.sum(axis=1)
        pe = (np.einsum("bk,kl,bl->b", total, w, total) - np.einsum("bgk,kl,bgl->b", p, w, p)) / (
            n_coders * (n_coders - 1)
        )
        return _kappa(pa, pe)

    return Statistic("conger_kappa", cols, finish)


def light_kappa(eng: FeatureEngine, pairs: list[tuple[int, int]]) -> Statistic:
    """Light (1971): the mean of Cohen's kappa over pairs of coders. No analytic SE in the literature."""
    parts = [cohen_kappa(eng, a, b) for a, b in pairs]
    widths = np.cumsum([0] + [len(p.cols) for p in parts])
    cols = np.concatenate([p.cols for p in parts])

    def finish(s: np.ndarray) -> np.ndarray:
        values = np.column_stack([p.finish(s[:, widths[i] : widths[i + 1]]) for i, p in enumerate(parts)])
        return values.mean(axis=1)

    return Statistic("light_kappa", cols, finish, analytic=False)


def krippendorff_alpha(eng: FeatureEngine, level: str, values: np.ndarray) -> Statistic:
    """Krippendorff (2011): alpha = 1 - D_o / D_e from the coincidence matrix of pairable values."""
    q = eng.q
    if level == "ordinal":
        cols = eng.coincidences()

        def finish(s: np.ndarray) -> np.ndarray:
            o = s.reshape(len(s), q, q)
            nk = o.sum(axis=2)
            n = nk.sum(axis=1)
            cum = np.cumsum(nk, axis=1)
            # delta_kl = (sum_{g=k..l} n_g - (n_k + n_l)/2)^2 = (c_l - c_k + (n_k - n_l)/2)^2
            delta = (cum[:, None, :] - cum[:, :, None] + (nk[:, :, None] - nk[:, None, :]) / 2) ** 2
            do = (o * delta).sum(axis=(1, 2))
            de = np.einsum("bk,bkl,bl->b", nk, delta, nk)
            return _alpha(n, do, de)

        return Statistic("krippendorff_alpha", cols, finish)

    delta = alpha_delta(level, values)
    cols = eng.alpha_fixed(delta, level)

    def finish_fixed(s: np.ndarray) -> np.ndarray:
        nk = s[:, :q]
        n = nk.sum(axis=1)
        de = np.einsum("bk,kl,bl->b", nk, delta, nk)
        return _alpha(n, s[:, q], de)

    return Statistic("krippendorff_alpha", cols, finish_fixed)


def _alpha(n: np.ndarray, do: np.ndarray, de: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (de > 1e-12 * np.maximum(n, 1) ** 2) & (n > 1)
        return np.where(ok, 1.0 - (n - 1) * do / np.where(ok, de, 1.0), np.nan)


def category_kappa(eng: FeatureEngine, j: int) -> Statistic:
    """Fleiss' kappa_j: agreement on category j against all others (Fleiss 1971, eq. 17)."""
    q = eng.q
    cat = eng.category_pa()
    cols = np.concatenate([cat[[j]], eng.pa(np.eye(q), "identity")[[1]], eng.pi()[[j, q]]])

    def finish(s: np.ndarray) -> np.ndarray:
        pa = ratio(s[:, 0], s[:, 1])
        p = s[:, 2] / s[:, 3]
        pe = p**2 + (1 - p) ** 2
        return _kappa(pa, pe)

    return Statistic(f"kappa_{j}", cols, finish, analytic=False)


def specific_agreement(eng: FeatureEngine, j: int) -> Statistic:
    """Proportion of specific agreement for category j: of the pairs involving j, the share that agree."""
    spec = eng.specific()
    cols = spec[[j, eng.q + j]]
    return Statistic(f"specific_{j}", cols, lambda s: ratio(s[:, 0], s[:, 1]), analytic=False)


def coder_pairs(n_coders: int) -> list[tuple[int, int]]:
    return list(combinations(range(n_coders), 2))


# ---------------------------------------------------------------------- Fleiss (1971) z test
def fleiss_z_test(data: RatingData, kappa: float | None) -> dict[str, Any] | None:
    """Fleiss' (1971) test of kappa = 0: SE under the null for n ratings on every unit.

    Returns None when units carry different numbers of ratings (the formula assumes a constant n).
    """
    r = data.ratings_per_unit
    pairable = r >= 2
    if kappa is None or not pairable.any():
        return None
    n_per = np.unique(r[pairable])
    if len(n_per) != 1:
        return None
    n = float(n_per[0])
    counts = data.counts[pairable].astype(float)
    big_n = counts.shape[0]
    p = counts.sum(axis=0) / (big_n * n)
    pq = p * (1 - p)
    s = pq.sum()
    if s <= 0:
        return None
    var0 = 2.0 / (big_n * n * (n - 1)) * (s**2 - (pq * (1 - 2 * p)).sum()) / s**2
    se0 = float(np.sqrt(var0))
    z = kappa / se0
    se_j = float(np.sqrt(2.0 / (big_n * n * (n - 1))))
    return {
        "z": float(z),
        "p_value": float(math.erfc(abs(z) / math.sqrt(2))),
        "se_null": se0,
        "se_null_per_category": se_j,
        "ratings_per_unit": int(n),
        "n_units": int(big_n),
    }
