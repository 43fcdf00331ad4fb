"""Standard errors and intervals: linearised (analytic) and bootstrap over units.

Analytic: each statistic is a smooth function g of sums over units, so its linearised influence of
unit i is ``n * grad g(S) . (F_i - S/n)`` and ``Var = sum_i IF_i^2 / n^2``. This is the variance of
Fleiss, Cohen & Everitt (1969) for Cohen's kappa and Gwet's (2014) linearised variance for the kappa
family, AC1/AC2 and alpha, with the divisor n of his contingency-table formulas (his raw-data formulas
divide by n - 1 instead, a factor sqrt(n / (n - 1)) on the SE); the gradient is taken by central differences on the vectorised ``finish``, all
directions in one call. Intervals are ``value +/- t(n-1) * se`` as in Gwet (2014) and irrCAC.

Bootstrap: units are resampled with replacement. A replicate is a vector of multinomial counts over
the distinct rating patterns (equivalent in distribution to resampling units, and invariant to the
order of units), so B replicates of every statistic cost one ``(B x G) @ (G x d)`` product instead of
B re-computations. Intervals are percentile intervals; replicates where a statistic is undefined
(e.g. every resampled rating in one category) are dropped and counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.special import stdtrit

from thoughtcode.agreement.coefficients import FeatureEngine, Statistic

_BLOCK = 250  # replicates per matrix product: bounds memory at B x G floats


@dataclass
class Estimate:
    """A value with its uncertainty; NaN-free: undefined things are None."""

    value: float | None
    se: float | None = None
    ci: tuple[float, float] | None = None
    method: str | None = None  # "analytic" | "bootstrap" | None
    dropped_replicates: int = 0
    replicates: np.ndarray | None = None


def _clean(x: float) -> float | None:
    return float(x) if x is not None and np.isfinite(x) else None


def linearised_se(stat: Statistic, features: np.ndarray, mult: np.ndarray, sums: np.ndarray) -> float | None:
    """Delta-method standard error of ``stat`` over units (None when undefined or n < 2)."""
    n = mult.sum()
    if n < 2:
        return None
    s0 = sums[stat.cols]
    d = len(s0)
    h = 1e-6 * np.maximum(np.abs(s0), 1.0)
    probe = np.vstack([s0 + np.diag(h), s0 - np.diag(h)])
    vals = stat.finish(probe)
    grad = (vals[:d] - vals[d:]) / (2 * h)
    if not np.all(np.isfinite(grad)):
        return None
    infl = n * ((features[:, stat.cols] - s0 / n) @ grad)
    var = float((mult * infl**2).sum() / n**2)
    return float(np.sqrt(var)) if np.isfinite(var) else None


def t_interval(value: float, se: float, n: int, confidence: float) -> tuple[float, float]:
    """value +/- t quantile (n-1 df) * se, clipped above at 1 (Gwet 2014; irrCAC)."""
    half = float(stdtrit(max(n - 1, 1), 0.5 + confidence / 2)) * se
    return (value - half, min(value + half, 1.0))


def bootstrap_weights(mult: np.ndarray, replicates: int, seed: int | None) -> Iterable[np.ndarray]:
    """Blocks of multinomial resampling counts over the distinct patterns (reproducible by seed)."""
    rng = np.random.default_rng(seed)
    n = int(mult.sum())
    p = mult / mult.sum()
    done = 0
    while done < replicates:
        size = min(_BLOCK, replicates - done)
        yield rng.multinomial(n, p, size=size).astype(float)
        done += size


def evaluate(
    engine: FeatureEngine,
    stats: list[Statistic],
    *,
    bootstrap: int = 0,
    seed: int | None = 0,
    confidence: float = 0.95,
    keep_replicates: bool = False,
) -> dict[str, Estimate]:
    """Point estimates of all statistics, with analytic or bootstrap intervals."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    features = engine.matrix()
    mult = engine.mult
    sums = mult @ features
    n = engine.n_units
    out: dict[str, Estimate] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for stat in stats:
            value = _clean(stat.finish(sums[stat.cols][None, :])[0])
            out[stat.name] = Estimate(value)
        if bootstrap and bootstrap > 0:
            reps = {s.name: [] for s in stats}
            for weights in bootstrap_weights(mult, bootstrap, seed):
                block = weights @ features
                for stat in stats:
                    reps[stat.name].append(stat.finish(block[:, stat.cols]))
            for stat in stats:
                est = out[stat.name]
                if est.value is None:
                    continue
                values = np.concatenate(reps[stat.name])
                ok = np.isfinite(values)
                est.method = "bootstrap"
                est.dropped_replicates = int((~ok).sum())
                if keep_replicates:
                    est.replicates = values
                ci = percentile_interval(values, confidence)
                if ci is not None:
                    est.se = float(values[ok].std(ddof=1))
                    est.ci = ci
        else:
            for stat in stats:
                est = out[stat.name]
                if est.value is None or not stat.analytic:
                    continue
                se = linearised_se(stat, features, mult, sums)
                if se is None:
                    continue
                est.se = se
                est.ci = t_interval(est.value, se, n, confidence)
                est.method = "analytic"
    return out


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float] | None:
    """Percentile interval of finite replicate values (None if fewer than two are defined)."""
    good = values[np.isfinite(values)]
    if len(good) < 2:
        return None
    lo, hi = np.quantile(good, [(1 - confidence) / 2, (1 + confidence) / 2])
    return (float(lo), float(hi))
