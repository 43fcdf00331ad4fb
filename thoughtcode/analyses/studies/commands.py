"""Handlers of ``thoughtcode study ...`` (the argument parsers live in ``thoughtcode.cli._add_study_commands``).

Each handler takes the parsed arguments, runs a study through the public API, writes its outputs and prints
the result tables. Problems the user can fix raise ``ValueError`` (printed in one line, exit status 2).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from thoughtcode.analyses.studies.llm import ModelSettings


def model_settings(args: argparse.Namespace) -> ModelSettings:
    """The models' options from the command line (``--concurrency``, ``--max-retries``, ``--timeout``,
    ``--temperature``, ``--cache``/``--no-cache``)."""
    return ModelSettings(
        concurrency=args.concurrency,
        max_retries=args.max_retries,
        timeout=args.timeout,
        temperature=args.temperature,
        cache=None if args.no_cache else args.cache,
    )


def _read(args: argparse.Namespace):
    from thoughtcode.corpus import read_corpus

    reader = read_corpus(args.file, format=args.format, skip_invalid=args.skip_invalid)
    conversations = list(reader)
    if reader.report.skipped:
        print(f"skipped {len(reader.report.skipped)} invalid record(s) of {args.file}", file=sys.stderr)
    return conversations


def _show(title: str, frame: pd.DataFrame, digits: int = 2) -> None:
    print(f"\n{title}")
    with pd.option_context("display.width", 160, "display.max_columns", 30):
        print(frame.round(digits).to_string())


def _usage_lines(rows: list[dict[str, Any]]) -> None:
    print("\nmodel calls")
    for row in rows:
        per = next((k for k in row if k.startswith("tokens_in_per_1000_")), None)
        unit = per.removeprefix("tokens_in_per_1000_") if per else ""
        extra = f", per 1,000 {unit}: {row[per]:,} in / {row['tokens_out_per_1000_' + unit]:,} out" if per else ""
        print(f"  {row['step']:<15} {row['model']:<30} calls {row['calls']:>5} (failed {row['failed']}, cached {row['cached']}), "
              f"tokens {row['tokens_in']:,} in / {row['tokens_out']:,} out{extra}")


def predict(args: argparse.Namespace) -> int:
    from thoughtcode.analyses.studies.llm import usage_table
    from thoughtcode.analyses.studies.prediction import run_prediction_study, write_prediction_study

    judges = args.judge or []
    study = run_prediction_study(
        _read(args), args.predictor, judges, filter_judge=args.filter_judge, threshold=args.threshold, limit=args.limit,
        seed=args.seed, thought_scope=args.thought_scope, max_chars_per_message=args.max_chars or None,
        embedder=None if args.embedder == "none" else args.embedder, settings=model_settings(args), n_boot=args.bootstrap,
    )
    paths = write_prediction_study(study, args.out)
    for note in study.notes:
        print(note)
    _show("Table 1: LLM-judge similarity to the real next user message (0-100)", study.tables["table1_judge"])
    cols = ["predictor", "n", "diff", "diff_ci_low", "diff_ci_high", "relative_gain", "wilcoxon_p", "t_p"]
    _show("thought-augmented minus history-only (paired bootstrap 95% CI, Wilcoxon and paired t p-values)",
          study.tables["tests_judge"][cols], 4)
    if "table1_cosine" in study.tables:
        _show("offline embedding cosine similarity", study.tables["table1_cosine"], 4)
        _show("cosine: paired comparison", study.tables["tests_cosine"][cols], 4)
    _usage_lines(usage_table(study.usage, study.settings["n_candidates"]))
    print(f"\nwrote {args.out} (results.jsonl, table1_*.csv, tests_*.csv, usage.csv, summary.json, {paths['report'].name})")
    return 0


def rewrite(args: argparse.Namespace) -> int:
    from thoughtcode.analyses.studies.llm import usage_table
    from thoughtcode.analyses.studies.rewrites import counts_table, run_rewrite_study, write_rewrite_study

    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    labels = [a.strip() for a in args.labels.split(",") if a.strip()]
    study = run_rewrite_study(
        _read(args), args.rewriter, args.classifier, arms=arms, labels=labels, min_messages=args.min_messages,
        max_messages=args.max_messages, min_words=args.min_words, limit=args.limit, seed=args.seed,
        max_chars_per_message=args.max_chars or None, keep_quoting=args.keep_quoting, source=args.source or args.file.name,
        settings=model_settings(args), rewrite_max_tokens=args.max_tokens,
    )
    sheets = write_rewrite_study(study, args.out, args.validation_fraction, args.seed)
    for note in study.notes:
        print(note)
    _show(f"dissatisfied replies found on the same {study.counts['conversations']} conversations", counts_table(study.counts))
    ratio = study.counts["ratio_thought_to_message"]
    if ratio is not None:
        print(f"thought-guided / message-guided: {ratio:.2f}x")
    pairs = pd.DataFrame([{"arm": arm, "pairs": s["all"]["pairs"], "train": s["splits"]["train"]["pairs"],
                           "validation": s["splits"]["validation"]["pairs"], "dir": f"dpo_{arm}/"} for arm, s in sheets.items()])
    _show("DPO pairs (TRL conversational format, split by conversation)", pairs)
    _usage_lines(usage_table(study.usage, study.conversations or None, "conversations"))
    print(f"\nwrote {args.out} (candidates, decisions, rewrites, dpo_<arm>/, counts.csv, usage.csv, summary.json, report.html)")
    return 0


def judge(args: argparse.Namespace) -> int:
    from thoughtcode.analyses.studies.judging import run_pairwise_judging, write_judging
    from thoughtcode.analyses.studies.llm import usage_table

    study = run_pairwise_judging(
        args.answers_a, args.answers_b, args.judge, prompts_file=args.prompts, limit=args.limit, n_boot=args.bootstrap,
        seed=args.seed, settings=model_settings(args), model_name=args.model_name, baseline_name=args.baseline_name,
    )
    write_judging(study, args.out)
    for note in study.notes:
        print(note)
    _show("win rate against the baseline (%), both orders, 95% bootstrap CI", study.table)
    _usage_lines(usage_table(study.usage, len(study.games) // 2 or None, "prompts"))
    print(f"\nwrote {args.out} (games.csv, results.csv, summary.json, report.html)")
    return 0


def train_dpo(args: argparse.Namespace) -> int:
    from thoughtcode.analyses.studies.training import DPOSettings, MissingExtraError
    from thoughtcode.analyses.studies.training import train_dpo as run

    settings = DPOSettings(
        batch_size=args.batch_size, per_device_batch_size=args.per_device_batch_size, learning_rate=args.lr,
        epochs=args.epochs, max_steps=args.max_steps, beta=args.beta, early_stopping_patience=args.patience,
        validation_fraction=args.validation_fraction, seed=args.seed, max_length=args.max_length, lora=args.lora,
        lora_r=args.lora_r, bf16=args.bf16,
    )
    try:
        summary = run(args.train, args.model, args.out, validation_file=args.validation, settings=settings)
    except MissingExtraError as exc:
        raise ValueError(str(exc)) from None
    print(f"trained {summary['global_steps']} steps on {summary['train_pairs']} pairs "
          f"(validation {summary['validation_pairs']}); train loss {summary['train_loss']:.4f}")
    if summary["eval_losses"]:
        print("validation losses: " + ", ".join(f"{v:.4f}" for v in summary["eval_losses"]))
    print(f"model saved to {summary['final_dir']}; summary in {Path(args.out) / 'training_summary.json'}")
    return 0
