"""The ``thoughtcode`` command: one entry point, one subcommand per job.

Each room's commands are registered by an ``_add_<room>_commands`` function below; handlers are thin and
call the room's public API. Errors the user can fix are printed as one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from thoughtcode import __version__

SAMPLE_CORPUS = Path(__file__).parent / "data" / "thoughttrace_sample.jsonl"


class UserError(Exception):
    """A problem with the user's input: reported in one line, exit status 2."""


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False, default=str))


def _add_reader_options(parser: argparse.ArgumentParser) -> None:
    from thoughtcode.corpus import FORMATS

    parser.add_argument("file", type=Path, help="corpus file (.jsonl, .jsonl.gz, .csv, .tsv, .parquet)")
    parser.add_argument("--format", choices=FORMATS, help="force the input format (default: detect from the first record)")
    parser.add_argument("--skip-invalid", action="store_true", help="skip malformed records, count and report them")


def _open_corpus(args: argparse.Namespace):
    from thoughtcode.corpus import read_corpus

    return read_corpus(args.file, format=args.format, skip_invalid=args.skip_invalid)


def _report_skipped(reader) -> None:
    skipped = reader.report.skipped
    if skipped:
        print(f"skipped {len(skipped)} invalid record(s) of {reader.path}:", file=sys.stderr)
        for item in skipped[:20]:
            field = f" field '{item.field}'" if item.field else ""
            print(f"  line {item.line}:{field} {item.message}", file=sys.stderr)


# --- corpus ---------------------------------------------------------------------------------------------
def _format_stats(stats: dict[str, Any]) -> str:
    lines = [
        f"conversations        {stats['conversations']}",
        f"users                {stats['users'] if stats['users'] is not None else 'n/a (no user ids)'}",
        "messages             " + ", ".join(f"{k} {v}" for k, v in stats["messages"].items()),
    ]
    thoughts = stats["thoughts"]
    lines.append(f"thoughts             {thoughts['total']} (reasons {thoughts['by_kind']['reason']}, reactions {thoughts['by_kind']['reaction']})")
    for kind, counts in thoughts["by_label"].items():
        total = sum(counts.values()) or 1
        for label, count in counts.items():
            lines.append(f"  {kind:<9} {label:<34} {count:>6}  {100 * count / total:5.1f}%")
    mpc = stats["messages_per_conversation"]
    if mpc["n"]:
        lines.append(f"messages/conversation median {mpc['median']:g}, quartiles {mpc['q1']:g}-{mpc['q3']:g}, range {mpc['min']:g}-{mpc['max']:g}")
        peak = max(mpc["histogram"].values())
        for bucket, count in mpc["histogram"].items():
            lines.append(f"  {bucket:>7} {'#' * max(1, round(30 * count / peak)) if count else '':<30} {count}")
    tokens = stats["tokens_per_message"]
    for role in ("user", "assistant"):
        summary = tokens[role]
        if summary["n"]:
            lines.append(f"tokens/{role:<9} median {summary['median']:g}, mean {summary['mean']:g} ({tokens['tokenizer']})")
    survey = stats["survey"]
    lines.append(f"survey answers       {survey['conversations_with_survey']} conversations")
    if survey["age"]["n"]:
        lines.append(f"  age median {survey['age']['median']:g} (range {survey['age']['min']:g}-{survey['age']['max']:g})")
    for key in ("gender", "education", "frequency"):
        if survey[key]:
            lines.append(f"  {key:<10} " + ", ".join(f"{k} {v}" for k, v in survey[key].items()))
    return "\n".join(lines)


def _cmd_corpus_stats(args: argparse.Namespace) -> int:
    from thoughtcode.corpus import corpus_stats

    reader = _open_corpus(args)
    stats = corpus_stats(reader)
    stats["skipped"] = len(reader.report.skipped)
    stats["format"] = reader.report.format
    if args.json:
        _print_json(stats)
    else:
        print(f"{args.file} ({reader.report.format})")
        print(_format_stats(stats))
    _report_skipped(reader)
    return 0


def _cmd_corpus_check(args: argparse.Namespace) -> int:
    from thoughtcode.corpus import check_corpus

    reader = _open_corpus(args)
    result = check_corpus(reader)
    result["skipped"] = reader.report.to_dict()["skipped"]
    if args.json:
        _print_json(result)
    else:
        print(f"{args.file}: {result['conversations']} conversations, {sum(result['counts'].values())} findings")
        for kind, count in result["counts"].items():
            print(f"  {kind:<26} {count}")
        for finding in result["findings"][: args.limit]:
            where = finding["conversation_id"] + (f" message {finding['message_id']}" if finding["message_id"] else "")
            print(f"  - {finding['kind']}: {where}: {finding['detail']}")
        hidden = len(result["findings"]) - args.limit
        if hidden > 0:
            print(f"  ... {hidden} more (use --json or --limit)")
    _report_skipped(reader)
    return 0


def _cmd_corpus_convert(args: argparse.Namespace) -> int:
    from thoughtcode.corpus import write_jsonl, write_table

    reader = _open_corpus(args)
    suffix = args.out.suffix.lower()
    writer = write_table if suffix in {".csv", ".tsv", ".parquet"} else write_jsonl
    count = writer(reader, args.out)
    print(f"wrote {count} conversations to {args.out}")
    _report_skipped(reader)
    return 0


def _cmd_corpus_units(args: argparse.Namespace) -> int:
    from thoughtcode.corpus import units_for, units_frame

    reader = _open_corpus(args)
    frame = units_frame(units_for(reader, args.unit))
    if args.out:
        if args.out.suffix.lower() == ".parquet":
            frame.to_parquet(args.out, index=False)
        elif args.out.suffix.lower() == ".csv":
            frame.to_csv(args.out, index=False)
        else:
            frame.to_json(args.out, orient="records", lines=True, force_ascii=False)
        print(f"wrote {len(frame)} {args.unit} units to {args.out}")
    else:
        print(frame.to_string(max_rows=20, max_colwidth=40))
    return 0


def _add_corpus_commands(subparsers: argparse._SubParsersAction) -> None:
    corpus = subparsers.add_parser("corpus", help="read, check, convert and summarise conversation files")
    sub = corpus.add_subparsers(dest="corpus_command", required=True, metavar="COMMAND")

    stats = sub.add_parser(
        "stats",
        help="counts, lengths, tokens and survey summaries of a corpus",
        description="Counts, lengths, tokens and survey summaries, streamed in one pass. Tokens are counted "
        "offline with a GPT-style BPE pre-tokeniser (words, numbers in runs of up to 3 digits, punctuation "
        "runs): close to, slightly below, BPE token counts of English text.",
    )
    _add_reader_options(stats)
    stats.add_argument("--json", action="store_true", help="print one JSON object")
    stats.set_defaults(handler=_cmd_corpus_stats)

    check = sub.add_parser("check", help="list data gaps: missing surveys, empty thoughts, time order, ages")
    _add_reader_options(check)
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.add_argument("--limit", type=int, default=30, help="findings to list in text mode (default 30)")
    check.set_defaults(handler=_cmd_corpus_check)

    convert = sub.add_parser("convert", help="convert to the release JSONL (.jsonl/.jsonl.gz) or a turn table (.csv/.parquet)")
    _add_reader_options(convert)
    convert.add_argument("--out", type=Path, required=True, help="output file; its extension picks the format")
    convert.set_defaults(handler=_cmd_corpus_convert)

    units = sub.add_parser("units", help="list or export the units of a corpus with their stable ids")
    _add_reader_options(units)
    units.add_argument("--unit", choices=["reason", "reaction", "user_turn", "conversation"], default="reason")
    units.add_argument("--out", type=Path, help="write .jsonl, .csv or .parquet instead of printing")
    units.set_defaults(handler=_cmd_corpus_units)


# --- demo ---------------------------------------------------------------------------------------------
def _cmd_demo(args: argparse.Namespace) -> int:
    from thoughtcode.corpus import corpus_stats, read_corpus

    print(f"thoughtcode {__version__}: bundled sample {SAMPLE_CORPUS.name}")
    print(_format_stats(corpus_stats(read_corpus(SAMPLE_CORPUS))))
    return 0


def _add_demo_command(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="run the main job on the bundled sample conversations")
    demo.set_defaults(handler=_cmd_demo)


# --- entry point ----------------------------------------------------------------------------------------
REGISTRARS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_corpus_commands,
    _add_demo_command,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thoughtcode",
        description="Qualitative coding of human-AI conversations: codebooks, coders, agreement, analyses.",
    )
    parser.add_argument("--version", action="version", version=f"thoughtcode {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in REGISTRARS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from thoughtcode.corpus import CorpusError
    from thoughtcode.taxonomy import CodebookError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (UserError, CorpusError, CodebookError, FileNotFoundError, ValueError) as exc:
        print(f"thoughtcode: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("thoughtcode: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
