"""Time thoughtcode.agreement against peer implementations; print a table of times and ratios.

Run on demand (not collected by pytest):

    .venv/bin/python benchmarks/agreement_bench.py [--sizes 1e3,1e4,1e5,1e6] [--repeat 3]

Peers (each optional, skipped with a note when not installed): the ``krippendorff`` package
(alpha), statsmodels (Fleiss' kappa, including ``aggregate_raters``), irrCAC (``pip install --no-deps
irrCAC``; alpha and Fleiss' kappa) and NLTK's ``AnnotationTask`` (alpha). Data: 3 coders, 5 nominal
categories, complete ratings, N ratings = 3 x units. Our time includes building the rating matrices
from the units x coders array; peers' input preparation (NLTK triples, irrCAC DataFrame) is not timed.
Slow peers are skipped above a size (said in the table). "ratio" = peer time / our time.

The bootstrap row times 1,000 replicates of alpha on 10,000 units x 3 coders: ours resamples unit
weights over rating patterns in one matrix product; the peer re-runs ``krippendorff.alpha`` on
resampled units (timed on 50 replicates and scaled to 1,000, said in the table).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import warnings
from collections.abc import Callable

import numpy as np

from thoughtcode.agreement import fleiss_kappa, krippendorff_alpha

NLTK_MAX = 10_000  # ratings; AnnotationTask is pure Python and grows quickly
IRRCAC_MAX = 100_000


def best_time(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def make_data(n_ratings: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    units = n_ratings // 3
    truth = rng.integers(1, 6, units)
    noise = rng.integers(1, 6, (units, 3))
    return np.where(rng.random((units, 3)) < 0.6, truth[:, None], noise).astype(float)


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def bench_size(n: int, repeat: int) -> list[tuple[str, str, float | None, float | None, str]]:
    x = make_data(n)
    rows = []
    reps = repeat if n <= 100_000 else 1
    t_alpha, ours_alpha = best_time(lambda: krippendorff_alpha(x).value, reps)
    t_fleiss, ours_fleiss = best_time(lambda: fleiss_kappa(x).value, reps)

    if have("krippendorff"):
        import krippendorff

        t, v = best_time(
            lambda: krippendorff.alpha(reliability_data=x.T, level_of_measurement="nominal"), reps
        )
        rows.append(("alpha", "krippendorff pkg", t_alpha, t, f"|diff| {abs(v - ours_alpha):.1e}"))
    if have("nltk"):
        if n <= NLTK_MAX:
            from nltk.metrics.agreement import AnnotationTask

            triples = [(str(c), str(u), str(int(x[u, c]))) for u in range(x.shape[0]) for c in range(3)]
            t, v = best_time(lambda: AnnotationTask(data=triples).alpha(), 1)
            rows.append(("alpha", "nltk AnnotationTask", t_alpha, t, f"|diff| {abs(v - ours_alpha):.1e}"))
        else:
            rows.append(
                ("alpha", "nltk AnnotationTask", t_alpha, None, f"skipped above {NLTK_MAX:.0e} ratings")
            )
    if have("irrCAC"):
        if n <= IRRCAC_MAX:
            import pandas as pd
            from irrCAC.raw import CAC

            frame = pd.DataFrame(x)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t, v = best_time(lambda: CAC(frame).krippendorff()["est"]["coefficient_value"], 1)
                rows.append(
                    (
                        "alpha",
                        "irrCAC",
                        t_alpha,
                        t,
                        f"|diff| {abs(v - ours_alpha):.1e} (irrCAC rounds to 5 d.p.)",
                    )
                )
                t, v = best_time(lambda: CAC(frame).fleiss()["est"]["coefficient_value"], 1)
                rows.append(
                    (
                        "fleiss",
                        "irrCAC",
                        t_fleiss,
                        t,
                        f"|diff| {abs(v - ours_fleiss):.1e} (irrCAC rounds to 5 d.p.)",
                    )
                )
        else:
            rows.append(("alpha", "irrCAC", t_alpha, None, f"skipped above {IRRCAC_MAX:.0e} ratings"))
            rows.append(("fleiss", "irrCAC", t_fleiss, None, f"skipped above {IRRCAC_MAX:.0e} ratings"))
    if have("statsmodels"):
        from statsmodels.stats.inter_rater import aggregate_raters
        from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

        t, v = best_time(lambda: sm_fleiss(aggregate_raters(x.astype(int))[0]), reps)
        rows.append(("fleiss", "statsmodels", t_fleiss, t, f"|diff| {abs(v - ours_fleiss):.1e}"))
    return rows


def bench_bootstrap(replicates: int = 1000, units: int = 10_000, peer_replicates: int = 50):
    x = make_data(units * 3, seed=1)
    t_ours, coef = best_time(lambda: krippendorff_alpha(x, bootstrap=replicates, seed=0), 3)
    note = f"ours CI {coef.ci[0]:.4f}..{coef.ci[1]:.4f}"
    if not have("krippendorff"):
        return t_ours, None, note + "; krippendorff pkg not installed"
    import krippendorff

    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    values = []
    for _ in range(peer_replicates):
        idx = rng.integers(0, units, units)
        values.append(krippendorff.alpha(reliability_data=x[idx].T, level_of_measurement="nominal"))
    t_peer = (time.perf_counter() - t0) * replicates / peer_replicates
    lo, hi = np.quantile(values, [0.025, 0.975])
    return (
        t_ours,
        t_peer,
        note + f"; peer timed on {peer_replicates} replicates x {replicates // peer_replicates}",
    )


def fmt(t: float | None) -> str:
    if t is None:
        return "-"
    return f"{t * 1000:9.1f} ms" if t < 10 else f"{t:9.1f} s "


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e3,1e4,1e5,1e6", help="numbers of ratings, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="best of R runs (sizes <= 1e5)")
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    print(f"{'ratings':>9}  {'statistic':<9} {'peer':<20} {'ours':>12} {'peer time':>12} {'ratio':>8}  note")
    for n in sizes:
        for stat, peer, ours, theirs, note in bench_size(n, args.repeat):
            ratio = f"{theirs / ours:7.1f}x" if theirs is not None else "-"
            print(f"{n:>9}  {stat:<9} {peer:<20} {fmt(ours):>12} {fmt(theirs):>12} {ratio:>8}  {note}")
    t_ours, t_peer, note = bench_bootstrap()
    ratio = f"{t_peer / t_ours:7.1f}x" if t_peer else "-"
    print(
        f"{'30000':>9}  {'boot1000':<9} {'krippendorff loop':<20} {fmt(t_ours):>12} {fmt(t_peer):>12} {ratio:>8}  "
        f"alpha, 1,000 replicates, 10,000 units x 3 coders; {note}"
    )


if __name__ == "__main__":
    main()
