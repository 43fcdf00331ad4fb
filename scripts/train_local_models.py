"""Build the local coder's shipped models (``thoughtcode/coders/models/{reasons,reactions}.joblib``).

What it does, per scheme (reasons, reactions):

1. ``--search`` (optional): LocalCoder settings scored by grouped 5-fold cross-validation (folds by
   conversation, no conversation on both sides) on the whole dev file, fold seed 0, in two stages: feature
   blocks x C x TF-IDF weight, then class weights x TF-IDF settings at the best blocks. Settings taken from it
   belong in ``DEFAULT_PARAMS`` of ``thoughtcode/coders/local.py``. Temperature scaling does not change
   predicted labels, so the search runs uncalibrated.
2. Grouped 5-fold cross-validation of the ``DEFAULT_PARAMS`` settings on the whole dev file with fold seeds
   1, 2, 3 (not the seed the search used, which would flatter the chosen settings): κ, macro-F1, accuracy,
   per-category F1, the confusion matrix, and calibration (ECE, Brier) with and without temperature scaling.
   ``--learning-curve`` adds κ when each fold trains on 25/50/75/100% of its training conversations.
3. The shipped model: trained on the dev file minus the conversations of the bundled sample
   (``thoughtcode/data/thoughttrace_sample.jsonl``), so that the demo's agreement on the sample is
   out-of-sample; its scores on the sample are recorded too.
4. Throughput of ``predict`` on all dev thoughts once the model and embedder are loaded.

Everything goes into ``thoughtcode/coders/models/metrics.json`` and each model's metadata.
Run from the repository root (about two minutes on two cores; ``--search`` adds about ten)::

    python scripts/train_local_models.py [--search] [--learning-curve] [--schemes reasons reactions] [--out-dir DIR]

Training data: ThoughtTrace (Jin et al. 2026, arXiv:2605.20087), CC-BY-4.0; its labels were assigned by an LLM.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from thoughtcode.coders.local import (  # noqa: E402
    DEFAULT_PARAMS,
    LocalCoder,
    calibration_metrics,
    file_hash,
    grouped_cross_validate,
    save_model,
    train_local_model,
)
from thoughtcode.corpus import read_corpus, thought_units  # noqa: E402
from thoughtcode.taxonomy import load_codebook  # noqa: E402

DEV = REPO / "tests" / "data" / "thoughttrace_dev.jsonl"
SAMPLE = REPO / "thoughtcode" / "data" / "thoughttrace_sample.jsonl"
OUT_DIR = REPO / "thoughtcode" / "coders" / "models"
KINDS = {"reasons": "reason", "reactions": "reaction"}
GRID = {
    "message": [True, False],
    "context": ["none", "auto"],
    "C": [0.01, 0.03, 0.1],
    "ngram_weight": [0.0, 0.3, 0.5],
}
GRID2 = {
    "class_weight": ["balanced", "sqrt", None],
    "ngram_weight": [0.3, 0.5, 0.7],
    "ngram_C": [3.0, 10.0, 30.0],
}


def labelled_units(path: Path, kind: str, exclude: set[str] = frozenset()) -> tuple[list[Any], list[str]]:
    units = [u for u in thought_units(read_corpus(path), kinds=(kind,)) if u.label and u.conversation_id not in exclude]
    return units, [u.label for u in units]


def brief(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("oof_pred", "oof_proba")}


def search(units: list[Any], y: list[str], folds: int) -> list[dict[str, Any]]:
    rows = []

    def score(params: dict[str, Any]) -> None:
        start = time.perf_counter()
        result = grouped_cross_validate(LocalCoder(calibration="none", **params), units, y, n_splits=folds, random_state=0)
        rows.append({**params, "kappa": result["kappa"], "macro_f1": result["macro_f1"], "accuracy": result["accuracy"]})
        print(f"    {params}  kappa {result['kappa']:.3f}  macro-F1 {result['macro_f1']:.3f}  "
              f"({time.perf_counter() - start:.1f}s)", flush=True)

    for values in itertools.product(*GRID.values()):
        score(dict(zip(GRID, values, strict=True)))
    best = max(rows, key=lambda r: (r["kappa"], r["macro_f1"]))
    for values in itertools.product(*GRID2.values()):
        params = {**{k: best[k] for k in ("message", "context", "C")}, **dict(zip(GRID2, values, strict=True))}
        if params["class_weight"] == "balanced" and params["ngram_C"] == 10.0 and params["ngram_weight"] in GRID["ngram_weight"]:
            continue  # already scored in stage 1
        score(params)
    rows.sort(key=lambda r: (-r["kappa"], -r["macro_f1"]))
    return rows


def learning_curve(estimator: LocalCoder, units: list[Any], y: list[str], folds: int, seed: int) -> list[dict[str, Any]]:
    """κ / macro-F1 of out-of-fold predictions when each fold trains on a share of its training conversations."""
    from sklearn.metrics import cohen_kappa_score, f1_score

    from thoughtcode.coders.local import grouped_folds, unit_groups

    y_arr = np.asarray(y, dtype=object)
    groups = unit_groups(units)
    rng = np.random.default_rng(seed)
    out = []
    for share in (0.25, 0.5, 0.75, 1.0):
        pred = np.empty(len(y), dtype=object)
        for train, test in grouped_folds(y_arr, groups, folds, seed):
            convs = sorted(set(groups[train].tolist()))
            keep = set(rng.permutation(convs)[: max(2, round(share * len(convs)))].tolist())
            part = np.array([i for i in train if groups[i] in keep])
            model = estimator.__class__(**{**estimator.get_params(), "calibration": "none"})
            model.fit([units[i] for i in part], y_arr[part])
            pred[test] = model.predict([units[i] for i in test])
        row = {"share": share, "kappa": round(float(cohen_kappa_score(y_arr, pred)), 4),
               "macro_f1": round(float(f1_score(y_arr, pred, average="macro", zero_division=0)), 4)}
        print(f"    train share {share:.2f}: kappa {row['kappa']:.3f}  macro-F1 {row['macro_f1']:.3f}", flush=True)
        out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEV)
    parser.add_argument("--sample", type=Path, default=SAMPLE, help="conversations left out of the shipped models")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--schemes", nargs="+", default=list(KINDS), choices=list(KINDS))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="fold seeds of the reported CV")
    parser.add_argument("--search", action="store_true", help="also run the settings search (slow)")
    parser.add_argument("--learning-curve", action="store_true", help="also measure kappa against training size")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)

    sample_ids = {c.id for c in read_corpus(args.sample)}
    report: dict[str, Any] = {
        "data": {"file": args.data.name, "sha256": file_hash(args.data)},
        "sample": {"file": args.sample.name, "sha256": file_hash(args.sample), "conversations": len(sample_ids)},
        "folds": args.folds,
        "schemes": {},
    }
    all_units: list[Any] = []
    models = {}
    for scheme in args.schemes:
        kind = KINDS[scheme]
        codebook = load_codebook(f"{scheme}@1.0.0")
        units, y = labelled_units(args.data, kind)
        print(f"{scheme}: {len(units)} labelled {kind}s in {len({u.conversation_id for u in units})} conversations")
        entry: dict[str, Any] = {"codebook": codebook.ref, "params": DEFAULT_PARAMS[scheme]}
        if args.search:
            print("  settings grid (grouped CV, fold seed 0, uncalibrated):")
            rows = search(units, y, args.folds)
            entry["search"] = rows
            best = {k: v for k, v in rows[0].items() if k not in ("kappa", "macro_f1", "accuracy")}
            print(f"  best on fold seed 0: {best} kappa {rows[0]['kappa']:.3f}")
            print(f"  DEFAULT_PARAMS[{scheme!r}] = {DEFAULT_PARAMS[scheme]}")

        estimator = LocalCoder(**DEFAULT_PARAMS[scheme])
        cv_runs = []
        for seed in args.seeds:
            start = time.perf_counter()
            result = grouped_cross_validate(estimator, units, y, n_splits=args.folds, random_state=seed)
            if seed == args.seeds[0]:
                uncalibrated = grouped_cross_validate(
                    estimator.set_params(calibration="none"), units, y, n_splits=args.folds, random_state=seed
                )
                estimator.set_params(calibration="temperature")
                entry["calibration"] = {
                    "temperature": result["calibration"],
                    "none": uncalibrated["calibration"],
                }
                entry["cv"] = brief(result)
            cv_runs.append({"seed": seed, "kappa": result["kappa"], "macro_f1": result["macro_f1"], "accuracy": result["accuracy"]})
            print(f"  grouped {args.folds}-fold CV, seed {seed}: kappa {result['kappa']:.3f}  macro-F1 "
                  f"{result['macro_f1']:.3f}  accuracy {result['accuracy']:.3f}  ({time.perf_counter() - start:.1f}s)", flush=True)
        kappas = [r["kappa"] for r in cv_runs]
        f1s = [r["macro_f1"] for r in cv_runs]
        entry["cv_seeds"] = cv_runs
        entry["cv_summary"] = {
            "kappa_mean": round(float(np.mean(kappas)), 4), "kappa_sd": round(float(np.std(kappas)), 4),
            "macro_f1_mean": round(float(np.mean(f1s)), 4), "macro_f1_sd": round(float(np.std(f1s)), 4),
        }
        if args.learning_curve:
            print(f"  learning curve (fold seed {args.seeds[0]}, uncalibrated):")
            entry["learning_curve"] = learning_curve(estimator, units, y, args.folds, args.seeds[0])
        cal = entry["calibration"]
        print(f"  calibration (seed {args.seeds[0]}): ECE {cal['none']['ece']:.3f} -> {cal['temperature']['ece']:.3f}, "
              f"Brier {cal['none']['brier']:.3f} -> {cal['temperature']['brier']:.3f} with temperature scaling")

        # the shipped model: everything but the sample's conversations
        train_units, train_y = labelled_units(args.data, kind, exclude=sample_ids)
        model, _ = train_local_model(
            train_units, train_y, codebook, scheme,
            source={"file": args.data.name, "sha256": report["data"]["sha256"],
                    "excluded": f"the {len(sample_ids)} conversations of {args.sample.name}"},
        )
        model.metadata["cv"] = entry["cv"]
        model.metadata["cv_summary"] = entry["cv_summary"]
        sample_units, sample_y = labelled_units(args.sample, kind)
        proba = model.estimator.predict_proba(sample_units)
        pred = model.estimator.classes_[proba.argmax(axis=1)]
        from sklearn.metrics import cohen_kappa_score, f1_score

        sample_eval = {
            "n_units": len(sample_y),
            "kappa": round(float(cohen_kappa_score(sample_y, pred)), 4),
            "macro_f1": round(float(f1_score(sample_y, pred, average="macro", zero_division=0)), 4),
            "accuracy": round(float(np.mean(pred == np.asarray(sample_y, dtype=object))), 4),
            "majority_baseline": round(max(sample_y.count(c) for c in set(sample_y)) / len(sample_y), 4),
            "calibration": calibration_metrics(sample_y, proba, model.estimator.classes_) if set(sample_y) <= set(model.estimator.classes_) else None,
            "note": "out-of-sample: the sample's conversations are not in the training data",
        }
        model.metadata["sample_eval"] = sample_eval
        path = save_model(model, args.out_dir / f"{scheme}.joblib")
        entry["model"] = {"file": path.name, "bytes": path.stat().st_size, "sha256": model.sha256,
                          "train_units": len(train_y), "temperature": model.metadata["temperature"]}
        entry["sample_eval"] = sample_eval
        print(f"  shipped model {path.name}: {len(train_y)} training {kind}s, {path.stat().st_size / 1024:.0f} KiB, "
              f"on the sample ({len(sample_y)}): kappa {sample_eval['kappa']:.3f}, accuracy {sample_eval['accuracy']:.3f} "
              f"(majority {sample_eval['majority_baseline']:.3f})")
        report["schemes"][scheme] = entry
        all_units.append(units)
        models[scheme] = model

    # throughput once loaded (model in memory, embedder warm)
    total, elapsed = 0, 0.0
    for scheme, units in zip(args.schemes, all_units, strict=True):
        estimator = models[scheme].estimator
        estimator.predict(units[:2])
        start = time.perf_counter()
        estimator.predict(units)
        elapsed += time.perf_counter() - start
        total += len(units)
    report["throughput"] = {"thoughts": total, "seconds": round(elapsed, 3), "thoughts_per_second": round(total / elapsed)}
    print(f"predict throughput: {total} thoughts in {elapsed:.2f}s = {total / elapsed:.0f} thoughts/s")
    out = args.out_dir / "metrics.json"
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
