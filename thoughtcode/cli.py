"""The ``thoughtcode`` command: one entry point, one subcommand per job.

Each room's commands are registered by an ``_add_<room>_commands`` function below; handlers are thin and
call the room's public API. Errors the user can fix are printed as one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from thoughtcode import __version__

SAMPLE_CORPUS = Path(__file__).parent / "data" / "thoughttrace_sample.jsonl"
# Same value as ``thoughtcode.coders.cache.DEFAULT_CACHE``; not imported, so building the parser stays light.
DEFAULT_CACHE = Path(".thoughtcode-cache") / "cache.sqlite"


class UserError(Exception):
    """A problem with the user's input: reported in one line, exit status 2."""


def _json_text(payload: Any) -> str:
    """The one JSON style of the command's output and its report files."""
    return json.dumps(payload, indent=2, ensure_ascii=False, default=str)


def _print_json(payload: Any) -> None:
    print(_json_text(payload))


def _print_result(args: argparse.Namespace, payload: Callable[[], Any], text: Callable[[], str]) -> None:
    """``--json`` prints the payload, else the text; each is built only when it is printed."""
    if args.json:
        _print_json(payload())
    else:
        print(text())


def _subcommands(parser: argparse.ArgumentParser, dest: str) -> argparse._SubParsersAction:
    """A command group: its COMMAND must be given."""
    return parser.add_subparsers(dest=dest, required=True, metavar="COMMAND")


def _check_suffix(path: Path, allowed: set[str], advice: str) -> None:
    """Refuse an output file the command cannot write before any work is done."""
    if path.suffix.lower() not in allowed:
        raise UserError(f"{path}: {advice}")


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
    _print_result(args, lambda: stats, lambda: f"{args.file} ({reader.report.format})\n{_format_stats(stats)}")
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
    sub = _subcommands(corpus, "corpus_command")

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
    from thoughtcode.coders import format_summary, make_coder, parse_spec, run_coding

    print(f"thoughtcode {__version__}: the main job on the bundled sample ({SAMPLE_CORPUS.name}, 20 ThoughtTrace conversations)")
    print(f"coder: {args.coder} (offline); reference: the release's thought labels, which the local models never saw in training\n")
    args.out.mkdir(parents=True, exist_ok=True)
    for scheme in ("reasons", "reactions"):
        out = args.out / f"{scheme}.jsonl"
        out.unlink(missing_ok=True)  # a demo is a fresh run, not a resumed one
        print(f"== thoughtcode code {SAMPLE_CORPUS.name} --scheme {scheme} --coder {args.coder} --out {out}")
        summary = run_coding(SAMPLE_CORPUS, scheme, make_coder(parse_spec(args.coder)), out, progress=False, bootstrap=args.bootstrap)
        print(format_summary(summary))
        print()
    return 0


def _add_demo_command(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="the main job on the bundled sample: code reasons and reactions offline, print agreement",
        description="Auto-code the bundled sample conversations with the offline local coder (reasons and "
        "reactions) and print each run's summary with its agreement against the release labels.",
    )
    demo.add_argument("--out", type=Path, default=Path("demo-output"), help="folder for the labels tables (default demo-output/)")
    demo.add_argument("--coder", default="local", help="coder spec (default: local, offline)")
    demo.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates for the intervals (default 1000)")
    demo.set_defaults(handler=_cmd_demo)


# --- analyses -------------------------------------------------------------------------------------------
def _add_llm_options(p: argparse.ArgumentParser) -> None:
    """Options of the models of the studies and the LLM-judged analyses (see ``studies.commands.model_settings``)."""
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight at once per model (default 8)")
    p.add_argument("--max-retries", type=int, default=2, help="re-asks of an invalid answer before it counts as failed (default 2)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds before a request times out (default 120)")
    p.add_argument("--temperature", type=float, help="sampling temperature (default: the provider's)")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="answer cache shared with the coders (default .thoughtcode-cache/cache.sqlite)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")


def _cmd_analyze(args: argparse.Namespace) -> int:
    from thoughtcode.analyses import load_inputs, run_analyses, summary_lines, write_outputs

    codebooks = {}
    for item in args.codebook or []:
        scheme, sep, ref = item.partition("=")
        if not sep or not scheme or not ref:
            raise UserError(f"--codebook {item!r}: use SCHEME=REF, e.g. topics=topics@1.0.0 or topics=my.yaml")
        codebooks[scheme.strip()] = ref.strip()
    if getattr(args, "projection", None):
        from thoughtcode.analyses.shift import check_projection

        check_projection(args.projection)  # a missing extra fails before any analysis runs
    inputs = load_inputs(
        args.file,
        labels=args.labels or [],
        baselines=getattr(args, "baseline", None) or [],
        format=args.format,
        skip_invalid=args.skip_invalid,
        release_labels=not args.no_release_labels,
        coder=args.coder,
        codebooks=codebooks,
    )
    names = None if args.analysis == "all" else [args.analysis]
    judge, predictors, settings = getattr(args, "judge", None), getattr(args, "predictor", None) or [], None
    if judge is not None:
        from thoughtcode.analyses.judged import check_roles
        from thoughtcode.analyses.studies.commands import model_settings

        check_roles(judge, predictors)  # before any model call
        settings = model_settings(args)
    options = {
        "n_boot": getattr(args, "bootstrap", None),
        "seed": args.seed,
        "embedder": getattr(args, "embedder", None),
        "n_permutations": getattr(args, "permutations", None),
        "max_pairs": getattr(args, "max_pairs", None),
        "projection": getattr(args, "projection", None),
        "judge": judge,
        "predictors": predictors,
        "limit": getattr(args, "limit", None),
        "settings": settings,
    }
    results = run_analyses(inputs, names, **options)
    written = write_outputs(results, args.out, inputs, html_report=args.analysis == "all") if args.out else None
    if args.json:
        from thoughtcode.analyses import results_payload

        payload = results_payload(results, inputs)
        if written:
            payload["written"] = written
        print(json.dumps(payload if names is None else payload["analyses"][names[0]], indent=2, ensure_ascii=False))
    else:
        for result in results:
            print(f"== {result.title}" + ("" if result.available else " (not available)"))
            for line in summary_lines(result) if result.available else []:
                print(f"  {line}")
            if names is not None:
                for name, table in result.tables.items():
                    if result.primary_tables is None or name in result.primary_tables:
                        print(f"\n  {name}\n" + table.to_string(max_rows=60, max_colwidth=36))
            for note in result.notes:
                print(f"  note: {note}")
        for note in inputs.notes:
            print(f"note: {note}")
        if written:
            print(f"wrote {len(written['tables'])} tables, {len(written['figures'])} figures"
                  + (f", {written['report']}" if "report" in written else "") + f" and {written['results']}")
    return 0


def _add_analyses_commands(subparsers: argparse._SubParsersAction) -> None:
    class FileOrAnalysis(argparse._SubParsersAction):
        """Subcommands that also accept a corpus FILE first: ``analyze FILE ...`` means ``analyze all FILE ...``."""

        class Choices(dict):
            open = False

            def __contains__(self, key: object) -> bool:
                return True if self.open else dict.__contains__(self, key)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._name_parser_map = self.choices = self.Choices()

        def __call__(self, parser, namespace, values, option_string=None):
            name = values[0]
            if not dict.__contains__(self._name_parser_map, name):
                if not (Path(name).exists() or Path(name).suffix):
                    known = ", ".join(dict.keys(self._name_parser_map))
                    raise argparse.ArgumentError(self, f"invalid choice: {name!r} (choose {known}, or give a corpus FILE)")
                values = ["all", *values]
            super().__call__(parser, namespace, values, option_string)

    analyze = subparsers.add_parser(
        "analyze",
        help="the ThoughtTrace analyses on a corpus: lengths, demographics, topics, relations, thought categories, stages, shift, "
        "LLM-judged coverage and inference",
        description="Run the ThoughtTrace analyses. 'thoughtcode analyze FILE --out DIR' (same as 'analyze all FILE "
        "--out DIR') runs every analysis its inputs allow and writes DIR/report.html, DIR/results.json, "
        "DIR/tables/*.csv and DIR/figures/*.png; 'thoughtcode analyze NAME FILE' runs one analysis. The LLM-judged "
        "analyses (coverage, inference) run only with --judge SPEC (inference also with --predictor SPEC); their calls "
        "are cached, concurrent and counted like the coders'.",
    )
    sub = analyze.add_subparsers(dest="analysis", required=True, metavar="ANALYSIS|FILE", action=FileOrAnalysis)

    def common(p: argparse.ArgumentParser) -> None:
        _add_reader_options(p)
        p.add_argument("--labels", nargs="+", action="extend", type=Path, metavar="PATH",
                       help="labels table(s) (.jsonl/.csv/.parquet) of any scheme; given labels override the corpus's own")
        p.add_argument("--no-release-labels", action="store_true", help="ignore the thought labels stored in the corpus")
        p.add_argument("--coder", help="coder to use when a labels table holds several (default: the one with most labels)")
        p.add_argument("--codebook", action="append", metavar="SCHEME=REF",
                       help="codebook for a scheme (reference like topics@1.0.0 or a file); default: the built-in one")
        p.add_argument("--seed", type=int, default=0, help="random seed for bootstrap, permutations and folds (default 0)")
        p.add_argument("--json", action="store_true", help="print the results as JSON")

    def bootstrap(p: argparse.ArgumentParser) -> None:
        p.add_argument("--bootstrap", type=int, default=2000, metavar="N",
                       help="bootstrap resamples of conversations for the intervals (Cramér's V, median distances; default 2000)")

    def shift_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--embedder", default="static", help="embedder: static (default), minilm, or a model2vec folder")
        p.add_argument("--permutations", type=int, default=500, metavar="N", help="MMD permutations (default 500)")
        p.add_argument("--max-pairs", type=int, default=2000, metavar="N", help="pairs per type used for MMD (default 2000)")
        p.add_argument("--projection", choices=["pca", "umap"], default="pca",
                       help="2-D projection of the difference figure: pca (default) or umap (needs the topics extra)")

    def judged_options(p: argparse.ArgumentParser, required: bool = False, predictors: bool = True) -> None:
        p.add_argument("--judge", required=required, metavar="SPEC",
                       help="LLM judge of the judged analyses: openai:MODEL, anthropic:MODEL or openai-compatible:URL#MODEL"
                       + ("" if required else " (without it, coverage and inference are not run)"))
        if predictors:
            p.add_argument("--predictor", action="append", required=required, metavar="SPEC",
                           help="a model that infers thoughts for the inference analysis (repeat for several; never the judge)")
        p.add_argument("--limit", type=int, metavar="N", help="judge at most N reasons and N reactions, drawn at random (seeded)")
        _add_llm_options(p)

    everything = sub.add_parser("all", help="run every analysis the inputs allow and write the report")
    common(everything)
    everything.add_argument("--baseline", nargs="+", action="extend", type=Path, metavar="FILE",
                            help="other corpora (e.g. WildChat, LMSYS) overlaid in the length figures")
    everything.add_argument("--out", type=Path, required=True, help="output folder")
    bootstrap(everything)
    shift_options(everything)
    judged_options(everything)
    everything.set_defaults(handler=_cmd_analyze)
    helps = {
        "lengths": "messages per conversation and tokens per message by role (with --baseline corpora overlaid)",
        "demographics": "survey answers per respondent: age brackets, gender, education, occupations, AI use, purposes",
        "topics": "topic categories and subtopics from a topics labels table (multi-label)",
        "relations": "turn relations and the turn-to-turn flow from a relations labels table",
        "categories": "counts and shares of thought categories (reasons, reactions, any scheme)",
        "stages": "stage x category tests (chi-square, Cramér's V with conversation bootstrap, residuals), also vs relation, topic, length",
        "shift": "thoughts vs messages: embedding distances, centroid distance, MMD and probe AUC for three pair types",
        "coverage": "LLM-judged semantic coverage (1-5): how much a message verbalises its reason, and the next message the previous reaction",
        "inference": "LLM-judged inference difficulty (1-5): predictors infer each thought from its context, a judge scores similarity",
    }
    for name, text in helps.items():
        one = sub.add_parser(name, help=text, description=text)
        common(one)
        one.add_argument("--out", type=Path, help="also write tables/*.csv, figures/*.png and results.json here")
        if name == "lengths":
            one.add_argument("--baseline", nargs="+", action="extend", type=Path, metavar="FILE",
                             help="other corpora overlaid in the figures")
        if name in ("stages", "shift", "coverage", "inference"):
            bootstrap(one)
        if name == "shift":
            shift_options(one)
        if name in ("coverage", "inference"):
            judged_options(one, required=True, predictors=name == "inference")
        one.set_defaults(handler=_cmd_analyze)
    sub._name_parser_map.open = True


# --- taxonomy -------------------------------------------------------------------------------------------
def _cmd_taxonomy_list(args: argparse.Namespace) -> int:
    from thoughtcode.taxonomy import builtin_codebooks
    from thoughtcode.taxonomy.model import version_key

    rows = [
        {
            "name": cb.name,
            "version": cb.version,
            "unit": cb.unit,
            "multi_label": cb.multi_label,
            "categories": len(cb.categories),
            "labels": len(cb.label_ids),
            "ref": cb.ref,
            "title": cb.title,
        }
        for cb in sorted(builtin_codebooks(), key=lambda cb: (cb.name, version_key(cb.version)))
    ]
    if args.json:
        _print_json(rows)
        return 0
    print(f"{'name':<12} {'version':<9} {'unit':<13} {'labels':>6} {'categories':>10}  ref")
    for row in rows:
        kind = " (multi-label)" if row["multi_label"] else ""
        print(
            f"{row['name']:<12} {row['version']:<9} {row['unit']:<13} {row['labels']:>6} {row['categories']:>10}  "
            f"{row['ref']}{kind}"
        )
    return 0


def _cmd_taxonomy_show(args: argparse.Namespace) -> int:
    from thoughtcode.taxonomy import load_codebook
    from thoughtcode.taxonomy.export import label_json_schema, to_json, to_markdown, to_yaml

    codebook = load_codebook(args.ref)
    if args.format == "schema":
        _print_json(label_json_schema(codebook))
    else:
        sys.stdout.write({"md": to_markdown, "yaml": to_yaml, "json": to_json}[args.format](codebook))
    return 0


def _cmd_taxonomy_validate(args: argparse.Namespace) -> int:
    from thoughtcode.taxonomy import load_codebook_file

    codebook = load_codebook_file(args.file)
    print(codebook.ref)
    print(
        f"{args.file}: valid; {len(codebook.categories)} categories, {len(codebook.label_ids)} assignable, "
        f"unit {codebook.unit}, {'multi' if codebook.multi_label else 'single'}-label",
        file=sys.stderr,
    )
    return 0


def _cmd_taxonomy_diff(args: argparse.Namespace) -> int:
    from thoughtcode.taxonomy import load_codebook
    from thoughtcode.taxonomy.diff import diff_codebooks

    diff = diff_codebooks(load_codebook(args.a), load_codebook(args.b))
    _print_result(args, diff.to_dict, diff.format_text)
    return 0


def _cmd_taxonomy_migrate(args: argparse.Namespace) -> int:
    from thoughtcode.labels import read_labels, write_labels
    from thoughtcode.taxonomy import codebook_versions, load_codebook
    from thoughtcode.taxonomy.migrate import migrate_labels

    source, target = load_codebook(args.source), load_codebook(args.target)
    search_dirs = [Path(ref).parent for ref in (args.source, args.target) if Path(ref).is_file()]
    versions = codebook_versions(source.name, [*search_dirs, *args.versions_dir])
    result = migrate_labels(
        read_labels(args.labels), source, target, versions=versions, assume_unstamped=args.assume_unstamped
    )
    if args.out:
        write_labels(result.frame, args.out)
    _print_result(
        args,
        lambda: {**result.report.to_dict(), "out": str(args.out) if args.out else None},
        lambda: result.report.format_text() + "\n"
        + (f"wrote {args.out}" if args.out else "dry run: nothing written (pass --out FILE to write the table)"),
    )
    return 0


def _add_taxonomy_commands(subparsers: argparse._SubParsersAction) -> None:
    taxonomy = subparsers.add_parser(
        "taxonomy",
        help="list, show, validate, diff codebooks and migrate labels between versions",
        description="Codebooks are referred to as NAME, NAME@VERSION or NAME@VERSION#HASH (built-in) or by the "
        "path of a YAML/JSON file.",
    )
    sub = _subcommands(taxonomy, "taxonomy_command")

    listing = sub.add_parser("list", help="the built-in codebooks with their references")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    listing.set_defaults(handler=_cmd_taxonomy_list)

    show = sub.add_parser("show", help="print a codebook as Markdown, YAML, JSON, or its label JSON Schema")
    show.add_argument("ref", help="codebook reference (e.g. topics@1.0.0) or file")
    show.add_argument(
        "--format",
        choices=["md", "yaml", "json", "schema"],
        default="md",
        help="md: printable codebook for human coders (default); yaml/json: the codebook file; schema: JSON "
        "Schema of one unit's label",
    )
    show.set_defaults(handler=_cmd_taxonomy_show)

    validate = sub.add_parser(
        "validate",
        help="check a codebook file strictly; prints its reference, or every problem (exit 2)",
    )
    validate.add_argument("file", type=Path, help="codebook file (.yaml, .yml or .json)")
    validate.set_defaults(handler=_cmd_taxonomy_validate)

    diff = sub.add_parser(
        "diff", help="categories added, removed, renamed, merged, split, redefined and moved from A to B"
    )
    diff.add_argument("a", help="old codebook (reference or file)")
    diff.add_argument("b", help="new codebook (reference or file)")
    diff.add_argument("--json", action="store_true", help="print one JSON object")
    diff.set_defaults(handler=_cmd_taxonomy_diff)

    migrate = sub.add_parser(
        "migrate",
        help="rewrite a labels table from codebook A to a later version B; marks split/retired labels for re-coding",
        description="Rows must carry the codebook reference of A (name@version#hash); rows of another version or "
        "hash of the same codebook are refused, rows of other codebooks pass through untouched. Versions in "
        "between are chained through their 'migration' sections.",
    )
    migrate.add_argument("labels", type=Path, help="labels table (.jsonl, .csv or .parquet)")
    migrate.add_argument("--from", dest="source", required=True, help="codebook the labels were made with")
    migrate.add_argument("--to", dest="target", required=True, help="codebook to migrate to")
    migrate.add_argument("--out", type=Path, help="write the migrated table here (without it: report only)")
    migrate.add_argument(
        "--versions-dir",
        type=Path,
        action="append",
        default=[],
        help="folder with intermediate codebook versions (repeatable; the folders of --from/--to files are searched)",
    )
    migrate.add_argument(
        "--assume-unstamped", action="store_true", help="treat rows without a codebook reference as made with --from"
    )
    migrate.add_argument("--json", action="store_true", help="print the report as JSON")
    migrate.set_defaults(handler=_cmd_taxonomy_migrate)
    _add_drafting_commands(sub)


# --- taxonomy: drafting and revising codebooks from data ------------------------------------------------
def _read_label_files(paths: Sequence[Path]) -> Any:
    """One labels table from one or more files (rows of every file, in order)."""
    import pandas as pd

    from thoughtcode.labels import read_labels

    frames = [read_labels(path) for path in paths]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _cmd_taxonomy_induce(args: argparse.Namespace) -> int:
    from thoughtcode.corpus import units_for
    from thoughtcode.drafting import InduceConfig, induce, resolve_unit_kind
    from thoughtcode.drafting.namers import make_namer

    _check_suffix(args.out, {".yaml", ".yml"}, "write the draft as .yaml or .yml")
    kind = resolve_unit_kind(args.unit)
    config = InduceConfig(
        n_categories=args.n_categories,
        seed=args.seed,
        reducer=args.reducer,
        n_components=args.n_components,
        clusterer=args.clusterer,
        min_cluster_size=args.min_cluster_size,
        min_samples=args.min_samples,
        n_keywords=args.keywords,
        n_examples=args.examples,
        ngram_max=args.ngram_max,
        stability_runs=args.runs,
        subsample=args.subsample,
        engine=args.engine,
        hierarchical=args.hierarchical or args.parents is not None,
        n_parents=args.parents,
    )
    namer = make_namer(args.namer) if args.namer else None
    reader = _open_corpus(args)
    units = list(units_for(reader, kind))
    _report_skipped(reader)
    result = induce(
        [u.text for u in units],
        [u.unit_id for u in units],
        kind,
        config,
        embedder=args.embedder,
        namer=namer,
        name=args.name,
        title=args.title,
        source=str(args.file),
    )
    result.write(args.out)
    report_path = args.report or args.out.with_suffix(".report.json")
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(_json_text(result.report(members=True)) + "\n", encoding="utf-8")
    if args.assignments:
        args.assignments.parent.mkdir(parents=True, exist_ok=True)
        frame = result.assignments()
        if args.assignments.suffix.lower() == ".parquet":
            frame.to_parquet(args.assignments, index=False)
        else:
            frame.to_csv(args.assignments, index=False)
    written = {"draft": str(args.out), "report": str(report_path), "assignments": str(args.assignments) if args.assignments else None}
    if args.json:
        _print_json({**result.report(members=False), "written": written})
        return 0
    print(result.summary(examples=args.show_examples))
    print(f"wrote draft {args.out}: {result.codebook.ref} ({len(result.categories)} categories); "
          f"review names and definitions, then: thoughtcode taxonomy validate {args.out}")
    print(f"wrote report {report_path} (sizes, keywords, examples, members, outliers, stability)")
    if args.assignments:
        print(f"wrote assignments {args.assignments} (one row per unit: cluster, draft category, outlier)")
    return 0


def _cmd_taxonomy_suggest(args: argparse.Namespace) -> int:
    from thoughtcode.drafting import SuggestConfig, suggest_revisions, unit_texts
    from thoughtcode.taxonomy import load_codebook

    _check_suffix(args.out, {".md", ".markdown", ".json"}, "write suggestions as .md (with the .json beside it) or .json")
    codebook = load_codebook(args.codebook)
    labels = _read_label_files(args.labels)
    reference = _read_label_files(args.reference) if args.reference else None
    texts = unit_texts(args.corpus, codebook.unit) if args.corpus else None
    config = SuggestConfig(
        low_kappa=args.low_kappa,
        merge_rate=args.merge_rate,
        sharpen_rate=args.sharpen_rate,
        near_empty_units=args.near_empty,
        low_confidence=args.low_confidence,
        other_ids=tuple(args.other),
        examples=args.examples,
        bootstrap=args.bootstrap,
        seed=args.seed,
    )
    report = suggest_revisions(codebook, labels, reference, texts=texts, embedder=args.embedder, config=config)
    source = Path(args.codebook)
    if source.is_file():  # lets `taxonomy apply` find a codebook that is not built in
        report.settings["codebook_file"] = str(source.resolve())
    written = report.write(args.out)
    if args.json:
        _print_json(report.to_dict())
        print(f"wrote {', '.join(map(str, written))}", file=sys.stderr)
        return 0
    print(f"suggestions for {report.codebook}: {report.n_units} units, coder(s) {', '.join(report.coders)}")
    overall = report.agreement.get("overall", {})
    if overall:
        print("agreement: " + ", ".join(f"{k} {'n/a' if v is None else f'{v:.3f}'}" for k, v in overall.items()))
    for note in report.notes:
        print(f"note: {note}")
    if report.proposals:
        print(f"{len(report.proposals)} proposal(s):")
    else:
        print("no proposal: every rule passed")
    for p in report.proposals:
        conflicts = f"  (conflicts with {', '.join(p.conflicts)})" if p.conflicts else ""
        print(f"  {p.id:<4} {p.kind:<8} {p.summary}{conflicts}")
    print(f"wrote {', '.join(map(str, written))}")
    if report.proposals:
        print(f"accept some with: thoughtcode taxonomy apply {written[-1]} --accept P1,P2 --out NEXT.yaml")
    return 0


def _suggestions_codebook(report: Any, args: argparse.Namespace) -> Any:
    """The codebook the suggestions were made for: --codebook (checked), the file suggest read, or a search."""
    from thoughtcode.taxonomy import codebook_versions, load_codebook

    if args.codebook:
        codebook = load_codebook(args.codebook)
        if codebook.ref != report.codebook:
            raise UserError(
                f"the suggestions were made for {report.codebook}, not {codebook.ref}; run taxonomy suggest for this codebook"
            )
        return codebook
    recorded = report.settings.get("codebook_file")
    if recorded and Path(recorded).is_file():
        codebook = load_codebook(recorded)
        if codebook.ref == report.codebook:
            return codebook
    dirs = list(dict.fromkeys([args.suggestions.parent, *args.versions_dir]))
    for codebook in codebook_versions(report.codebook.split("@")[0], dirs):
        if codebook.ref == report.codebook:
            return codebook
    raise UserError(f"cannot find {report.codebook}, the codebook the suggestions were made for; pass --codebook FILE")


def _cmd_taxonomy_apply(args: argparse.Namespace) -> int:
    from thoughtcode.drafting import (
        DraftingError,
        RevisionResult,
        accepted,
        apply_proposals,
        measure_revision,
        read_suggestions,
        recode_revision,
    )
    from thoughtcode.labels import write_labels
    from thoughtcode.taxonomy.export import to_yaml

    _check_suffix(args.out, {".yaml", ".yml"}, "write the new version as .yaml or .yml")
    report = read_suggestions(args.suggestions)
    codebook = _suggestions_codebook(report, args)
    proposals = accepted(report, args.accept)
    labels = _read_label_files(args.labels) if args.labels else None
    compare = [c.strip() for c in args.compare.split(",") if c.strip()] if args.compare else None
    if compare is not None and len(compare) != 2:
        raise UserError("--compare takes two coders: CODER_A,CODER_B")
    if labels is None and (args.coder or compare or args.recode_out):
        raise UserError("--coder, --compare and --recode-out work on labels: pass --labels LABELS")
    coders: dict[str, Any] = {}
    units: list[Any] = []
    if args.coder:
        from thoughtcode.coders import make_coder
        from thoughtcode.corpus import load_corpus, units_for

        if not args.corpus:
            raise UserError("--coder re-codes units: pass --corpus FILE with their texts")
        known = set(labels["coder"].astype(str))
        for spec in args.coder:
            coder = make_coder(spec, **({"cache": None} if args.no_cache else {}))
            if coder.name not in known:
                raise UserError(f"coder {coder.name!r} has no labels in --labels; coders there: {', '.join(sorted(known))}")
            coders[coder.name] = coder
        units = list(units_for(load_corpus(args.corpus), codebook.unit))

    new = apply_proposals(codebook, proposals, version=args.new_version)
    result = RevisionResult(codebook=new)
    measure_note = None
    if labels is not None:
        result.recode = recode_revision(labels, codebook, new, units, coders, assume_unstamped=args.assume_unstamped)
        names = list(dict.fromkeys(labels["coder"].astype(str)))
        if compare is not None or len(names) == 2:
            before = labels
            if "codebook" in before.columns:
                before = before.loc[before["codebook"].isna() | (before["codebook"].astype(str) == codebook.ref)]
            try:
                result.measure = measure_revision(
                    before, result.recode.frame, compare or names, old_ref=codebook.ref, new_ref=new.ref,
                    bootstrap=args.bootstrap, seed=args.seed,
                    pending_hint="pass --coder SPEC (and --corpus FILE) to re-code them" if not coders
                    else "their coder was not re-run or their text is not in --corpus (re-code them by hand)",
                )  # fmt: skip
            except DraftingError as exc:
                if compare is not None:
                    raise
                measure_note = f"no agreement before/after: {exc}"
        else:
            measure_note = f"agreement before/after compares two coders; the labels hold {len(names)}: pass --compare A,B"

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(to_yaml(new), encoding="utf-8")
    recode_out = None
    if result.recode is not None:
        recode_out = args.recode_out or args.out.with_name(f"{args.out.stem}.labels.jsonl")
        write_labels(result.recode.frame, recode_out)
    if args.json:
        _print_json({**result.to_dict(), "out": str(args.out), "labels_out": str(recode_out) if recode_out else None})
        return 0
    mapped = len(new.migration.map) if new.migration else 0
    print(f"wrote {args.out}: {new.ref} (accepted {', '.join(p.id for p in proposals)}; migration from "
          f"{codebook.version}: {mapped} mapped id(s))")  # fmt: skip
    latest = next((c for c in reversed(new.changelog) if c.version == new.version), None)
    for change in latest.changes if latest else []:
        print(f"  - {change}")
    if result.recode is not None:
        print(result.recode.format_text())
        print(f"wrote {recode_out}: {len(result.recode.frame)} label rows")
        if not coders and any(result.recode.marked.values()):
            print("marked labels stay to re-code: pass --coder SPEC (and --corpus FILE) to re-code them")
    if result.measure is not None:
        for metric in ("cohen_kappa", "percent_agreement", "krippendorff_alpha"):
            print(result.measure.headline(metric))
        print(f"agreement {result.measure.coverage}")
    if measure_note:
        print(measure_note)
    print(f"check it with: thoughtcode taxonomy validate {args.out}")
    return 0


def _cmd_taxonomy_history(args: argparse.Namespace) -> int:
    from thoughtcode.drafting import codebook_history

    labels = [_read_label_files([path]) for path in args.labels]
    history = codebook_history(args.codebook, args.dir, labels)
    _print_result(args, history.to_dict, history.format_text)
    return 0


def _add_drafting_commands(sub: argparse._SubParsersAction) -> None:
    induce = sub.add_parser(
        "induce",
        help="draft a codebook (version 0.1.0) from a corpus's unit texts by clustering their embeddings",
        description="Embed the units' texts, reduce (PCA by default), cluster (k-means with --n-categories K, "
        "else HDBSCAN, whose noise points are reported as outliers), name each cluster from its class-based "
        "TF-IDF keywords (or with an LLM, --namer) and write a draft codebook that 'taxonomy validate' accepts. "
        "Prints sizes, keywords, examples, outliers and the stability of the clustering (mean ARI between runs "
        "with other seeds on subsamples); writes the full report as DRAFT.report.json beside the draft.",
    )
    _add_reader_options(induce)
    induce.add_argument("--unit", required=True, metavar="UNIT", help="what to cluster: reasons, reactions, turns (user turns) or conversations")
    induce.add_argument("--out", type=Path, required=True, metavar="DRAFT.yaml", help="write the draft codebook here")
    induce.add_argument("--n-categories", type=int, metavar="K", help="number of categories (k-means); without it HDBSCAN finds them")
    induce.add_argument("--seed", type=int, default=0, help="random seed of reducer and clusterer (default 0)")
    induce.add_argument("--namer", metavar="SPEC", help="name clusters with an LLM: openai:MODEL, anthropic:MODEL or "
                        "openai-compatible:URL#MODEL (default: from keywords)")  # fmt: skip
    induce.add_argument("--embedder", default="static", help="static (default, offline), minilm, or a model2vec model folder")
    induce.add_argument("--reducer", choices=["pca", "umap", "none"], default="pca",
                        help="dimension reduction before clustering (default pca; umap needs the topics extra)")  # fmt: skip
    induce.add_argument("--n-components", type=int, default=5, metavar="N", help="dimensions kept by the reducer (default 5)")
    induce.add_argument("--clusterer", choices=["auto", "kmeans", "hdbscan"], default="auto",
                        help="auto (default): k-means with --n-categories, else HDBSCAN")  # fmt: skip
    induce.add_argument("--engine", choices=["native", "bertopic"], default="native",
                        help="native (default) or BERTopic itself (needs the topics extra)")  # fmt: skip
    induce.add_argument("--min-cluster-size", type=int, metavar="N", help="HDBSCAN's smallest cluster (default: units/40, 3 to 50)")
    induce.add_argument("--min-samples", type=int, metavar="N", help="HDBSCAN's min_samples (default: min cluster size / 3)")
    induce.add_argument("--runs", type=int, default=5, metavar="N", help="clusterings compared for stability (default 5; 0: off)")
    induce.add_argument("--subsample", type=float, default=0.9, help="share of units in each stability run (default 0.9)")
    induce.add_argument("--hierarchical", action="store_true", help="group related categories under parent categories")
    induce.add_argument("--parents", type=int, metavar="N", help="number of parent groups (implies --hierarchical; default sqrt(K))")
    induce.add_argument("--keywords", type=int, default=8, metavar="N", help="keywords per category (default 8)")
    induce.add_argument("--examples", type=int, default=3, metavar="N", help="representative units per category in the draft (default 3)")
    induce.add_argument("--ngram-max", type=int, default=1, metavar="N", help="longest keyword phrase in words (default 1)")
    induce.add_argument("--name", help="codebook name (default: reasons_draft, reactions_draft, turns_draft, conversations_draft)")
    induce.add_argument("--title", help="codebook title")
    induce.add_argument("--report", type=Path, metavar="PATH", help="write the report (JSON) here (default: DRAFT.report.json)")
    induce.add_argument("--assignments", type=Path, metavar="PATH", help="write each unit's cluster and draft category (.csv or .parquet)")
    induce.add_argument("--show-examples", type=int, default=1, metavar="N", help="examples per category in the printed summary (default 1)")
    induce.add_argument("--json", action="store_true", help="print the report as JSON instead of the summary")
    induce.set_defaults(handler=_cmd_taxonomy_induce)

    suggest = sub.add_parser(
        "suggest",
        help="propose revisions of a codebook (sharpen, merge, split, add, retire) from how it was used",
        description="Reads the labels coders made with the codebook (and optional reference labels): per-category "
        "agreement and confusions give merge and sharpen proposals, category sizes give retirements; with "
        "--corpus, the unit texts give split proposals and new categories for units coded 'other' or with low "
        "confidence. Each proposal carries its evidence and an id (P1, P2, ...) to accept with 'taxonomy apply'. "
        "--out X.md writes Markdown and X.json beside it; --out X.json writes JSON only.",
    )
    suggest.add_argument("--codebook", required=True, metavar="REF", help="codebook reference or file the labels were made with")
    suggest.add_argument("--labels", type=Path, action="append", required=True, metavar="LABELS",
                         help="labels table (.jsonl, .csv, .parquet); repeatable, rows are combined")  # fmt: skip
    suggest.add_argument("--reference", type=Path, action="append", default=[], metavar="LABELS",
                         help="reference labels (e.g. human) counted as one more coder; repeatable")  # fmt: skip
    suggest.add_argument("--corpus", type=Path, metavar="FILE", help="corpus with the unit texts (enables split and add proposals, example texts)")
    suggest.add_argument("--out", type=Path, required=True, metavar="SUGGESTIONS", help="SUGGESTIONS.md (plus .json) or SUGGESTIONS.json")
    suggest.add_argument("--low-kappa", type=float, default=0.4, help="per-category kappa below which a category is sharpened (default 0.4)")
    suggest.add_argument("--merge-rate", type=float, default=0.5, help="confusion rate from which a pair is a merge candidate (default 0.5)")
    suggest.add_argument("--sharpen-rate", type=float, default=0.15, help="confusion rate from which a pair's boundary is sharpened (default 0.15)")
    suggest.add_argument("--near-empty", type=int, default=3, metavar="N", help="categories used on fewer units are retired (default 3, or 1%% of units)")
    suggest.add_argument("--low-confidence", type=float, default=0.5, help="confidence below which a unit counts as unsure (default 0.5)")
    suggest.add_argument("--other", action="append", default=[], metavar="ID", help="a catch-all category id besides those named other/misc (repeatable)")
    suggest.add_argument("--examples", type=int, default=3, metavar="N", help="example units per proposal (default 3)")
    suggest.add_argument("--embedder", default="static", help="embedder for split and add (default static)")
    suggest.add_argument("--bootstrap", type=int, default=200, metavar="N", help="bootstrap replicates of the kappa intervals (default 200)")
    suggest.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    suggest.add_argument("--json", action="store_true", help="print the suggestions as JSON")
    suggest.set_defaults(handler=_cmd_taxonomy_suggest)

    apply = sub.add_parser(
        "apply",
        help="accepted proposals -> the next codebook version with its migration; re-code marked units, compare agreement",
        description="Writes the next version of the codebook (0.x: next minor; from 1.0.0: major when ids go away) "
        "with a 'migration' section from the old one. With --labels, migrates the labels to it (merges are "
        "rewritten, splits, additions, sharpened boundaries and retirements are marked for re-coding) and writes "
        "them beside the new version; with --coder and --corpus, only the marked units are re-coded by their own "
        "coder. With two coders, prints agreement before and after on the same units with a paired bootstrap "
        "interval of the difference.",
    )
    apply.add_argument("suggestions", type=Path, help="the .json written by taxonomy suggest")
    apply.add_argument("--accept", required=True, metavar="P1,P3|all", help="proposal ids to apply, comma-separated, or all")
    apply.add_argument("--out", type=Path, required=True, metavar="NEW.yaml", help="write the new codebook version here")
    apply.add_argument("--codebook", metavar="REF", help="the codebook the suggestions were made for (default: found from the suggestions)")
    apply.add_argument("--versions-dir", type=Path, action="append", default=[],
                       help="folder to look for the codebook in (repeatable; the suggestions' folder is searched)")  # fmt: skip
    apply.add_argument("--labels", type=Path, action="append", default=[], metavar="LABELS",
                       help="labels made with the old version, to migrate and re-code (repeatable)")  # fmt: skip
    apply.add_argument("--corpus", type=Path, metavar="FILE", help="corpus with the units to re-code (needed with --coder)")
    apply.add_argument("--coder", action="append", default=[], metavar="SPEC",
                       help="re-code the marked units of the labels' coder with this spec (repeatable; the spec must "
                       "be the coder's name in the labels, e.g. openai:gpt-4o-mini or local)")  # fmt: skip
    apply.add_argument("--no-cache", action="store_true", help="LLM coders neither read nor write the answer cache")
    apply.add_argument("--recode-out", type=Path, metavar="PATH", help="write the migrated/re-coded labels here (default: NEW.labels.jsonl)")
    apply.add_argument("--compare", metavar="CODER_A,CODER_B", help="the two coders whose agreement is compared (default: the two in the labels)")
    apply.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="paired bootstrap replicates (default 1000)")
    apply.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    apply.add_argument("--new-version", metavar="X.Y.Z", help="version of the new codebook (default: the next one)")
    apply.add_argument("--assume-unstamped", action="store_true", help="treat label rows without a codebook reference as made with the old version")
    apply.add_argument("--json", action="store_true", help="print the result as JSON")
    apply.set_defaults(handler=_cmd_taxonomy_apply)

    history = sub.add_parser(
        "history",
        help="the versions of a codebook: changelogs, migrations and agreement of the labels made with each",
        description="Lists every known version of a codebook (built-in and files in the given folders) with its "
        "changelog and migration. Labels count for a version only when they carry its exact reference "
        "(name@version#hash); labels of other texts are reported apart.",
    )
    history.add_argument("codebook", metavar="NAME|FILE", help="codebook name, or a codebook file (its folder is searched)")
    history.add_argument("--dir", type=Path, action="append", default=[], help="folder with codebook versions (repeatable)")
    history.add_argument("--labels", type=Path, action="append", default=[], metavar="LABELS", help="labels table (repeatable)")
    history.add_argument("--json", action="store_true", help="print one JSON object")
    history.set_defaults(handler=_cmd_taxonomy_history)


# --- coders ---------------------------------------------------------------------------------------------
def _cmd_code(args: argparse.Namespace) -> int:
    from thoughtcode.coders import CoderSpecError, format_summary, make_coder, parse_spec, run_coding

    try:
        spec = parse_spec(args.coder)
        if args.few_shot and not args.examples:
            raise UserError("--few-shot N needs --examples FILE (a labelled corpus, or a table with text and label)")
        if args.batch and spec.provider not in ("openai", "anthropic"):
            raise UserError(f"--batch uses a provider batch API: it needs an openai: or anthropic: coder, not {spec.text!r}")
        if args.samples > 1 and args.temperature is not None and args.temperature == 0:
            print("thoughtcode: warning: --samples > 1 with --temperature 0 repeats the same answer", file=sys.stderr)
        options: dict[str, Any] = {}
        if spec.is_llm:
            options = {
                "concurrency": args.concurrency,
                "max_retries": args.max_retries,
                "http_retries": args.http_retries,
                "timeout": args.timeout,
                "backoff": args.backoff,
                "units_per_request": args.units_per_request,
                "samples": args.samples,
                "temperature": args.temperature,
                "max_tokens": args.max_tokens,
                "mode": args.mode,
                "few_shot": args.few_shot,
                "examples": args.examples,
                "prompt": args.prompt,
                "cache": None if args.no_cache else args.cache,
            }
            if args.batch:
                options |= {"batch": True, "poll_interval": args.poll_interval}
        coder = make_coder(spec, **options)
    except CoderSpecError as exc:  # a bad spec or a coder option its kind does not take
        raise UserError(str(exc)) from None
    summary = run_coding(
        args.file,
        args.scheme,
        coder,
        args.out,
        codebook=args.codebook,
        format=args.format,
        skip_invalid=args.skip_invalid,
        limit=args.limit,
        retry_failed=args.retry_failed,
        progress=not args.no_progress,
        price_in=args.price_in,
        price_out=args.price_out,
        bootstrap=args.bootstrap,
    )
    _print_result(args, lambda: summary, lambda: format_summary(summary))
    return 0


def _add_coders_commands(subparsers: argparse._SubParsersAction) -> None:
    code = subparsers.add_parser(
        "code",
        help="label the units of a corpus with a codebook (LLM or local coder) into a labels table",
        description="Code every unit of a corpus (thoughts for reasons/reactions, user turns for relations, "
        "conversations for topics) and append one JSON line per unit to OUT. Re-running the same command "
        "resumes; --retry-failed re-codes only the failures. Keys come from OPENAI_API_KEY, ANTHROPIC_API_KEY "
        "or OPENAI_COMPATIBLE_API_KEY and never appear in output, cache or messages.",
    )
    _add_reader_options(code)
    code.add_argument("--scheme", required=True, choices=["reasons", "reactions", "relations", "topics"], help="what to code")
    code.add_argument("--codebook", help="codebook reference (reasons@1.0.0) or YAML/JSON file (default: the scheme's built-in)")
    code.add_argument(
        "--coder",
        default="local",
        help="local (default, offline), local:PATH, openai:MODEL, anthropic:MODEL or openai-compatible:BASE_URL#MODEL",
    )
    code.add_argument("--out", type=Path, required=True, help="labels table to append to (.jsonl)")
    code.add_argument("--limit", type=int, help="code only the first N units")
    code.add_argument("--concurrency", type=int, default=8, help="requests in flight at once (default 8)")
    code.add_argument("--max-retries", type=int, default=2, help="re-asks of an answer that fails validation before the unit is recorded as failed (default 2)")
    code.add_argument("--http-retries", type=int, default=6, help="retries of 429, 5xx, timeouts and connection errors per request (default 6)")
    code.add_argument("--backoff", type=float, default=1.0, help="base seconds of the exponential backoff between HTTP retries (default 1)")
    code.add_argument("--timeout", type=float, default=60.0, help="seconds before a request times out (default 60)")
    code.add_argument("--units-per-request", type=int, default=1, metavar="K", help="code K units per request; the codebook text is paid once (default 1)")
    code.add_argument("--few-shot", type=int, default=0, metavar="N", help="show N labelled examples from --examples in the prompt")
    code.add_argument("--examples", type=Path, help="labelled file for --few-shot: a corpus with thought labels, or a table with text and label")
    code.add_argument("--samples", type=int, default=1, metavar="K", help="code each unit K times and keep the majority; confidence = share agreeing (default 1)")
    code.add_argument("--temperature", type=float, help="sampling temperature (default: the provider's)")
    code.add_argument("--max-tokens", type=int, help="output token limit per request (default 300 + 150 per unit)")
    code.add_argument("--mode", choices=["tools", "json"], default="tools", help="structured output through tool calls (default) or JSON mode")
    code.add_argument("--prompt", type=Path, help="prompt template file (or directory of <unit>.txt files) replacing the built-in one")
    code.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="answer cache (default .thoughtcode-cache/cache.sqlite)")
    code.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    code.add_argument("--retry-failed", action="store_true", help="re-code only the units recorded as failed in OUT, keeping one row per unit")
    code.add_argument(
        "--batch",
        action="store_true",
        help="send the requests through the provider's batch API (openai:, anthropic:; half price, no rate limits, answers "
        "within 24 h); the batch id is kept in OUT.batch.json, so re-running the command resumes waiting for it",
    )
    code.add_argument("--poll-interval", type=float, default=30.0, metavar="S", help="seconds between polls of a --batch job (default 30)")
    code.add_argument("--price-in", type=float, help="price per million input tokens, for the cost estimate")
    code.add_argument("--price-out", type=float, help="price per million output tokens, for the cost estimate")
    code.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates of the agreement intervals (default 1000)")
    code.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    code.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    code.set_defaults(handler=_cmd_code)


# --- studies (thoughtcode.analyses.studies; handlers in studies/commands.py) ------------------------------
def _add_study_commands(subparsers: argparse._SubParsersAction) -> None:
    def handler(name: str) -> Callable[[argparse.Namespace], int]:
        def run(args: argparse.Namespace) -> int:
            from thoughtcode.analyses.studies import commands

            return getattr(commands, name)(args)

        return run

    def model_options(p: argparse.ArgumentParser) -> None:
        _add_llm_options(p)
        p.add_argument("--seed", type=int, default=0, help="seed of sampling, splits and bootstrap (default 0)")
        p.add_argument("--out", type=Path, required=True, help="output directory")

    specs = "openai:MODEL, anthropic:MODEL or openai-compatible:BASE_URL#MODEL (keys from OPENAI_API_KEY, ANTHROPIC_API_KEY, OPENAI_COMPATIBLE_API_KEY)"
    study = subparsers.add_parser("study", help="the ThoughtTrace downstream studies: next-message prediction, thought-guided rewrites, pairwise judging, DPO")
    sub = _subcommands(study, "study_command")

    predict = sub.add_parser(
        "predict",
        help="Study 1: do thoughts help predict what the user says next?",
        description="Every assistant reply followed by a user message is an item. Each predictor writes the next user "
        "message from the history alone and from the history with the user's reasons and reactions interleaved (marked "
        "as private thoughts). An LLM judge (never the predictor itself) scores similarity to the real message 0-100; an "
        "offline embedding cosine needs no calls. Prints Table 1, the relative gain, paired bootstrap intervals, "
        "Wilcoxon and paired t-tests; writes per-item results and report.html. Models: " + specs,
    )
    _add_reader_options(predict)
    predict.add_argument("--predictor", action="append", required=True, metavar="SPEC", help="a predictor model (repeat for several)")
    predict.add_argument("--judge", action="append", required=True, metavar="SPEC", help="similarity judge(s); a predictor is judged by the first judge that is not itself, else by another predictor")
    predict.add_argument("--filter-judge", metavar="SPEC", help="rate thought informativeness 1-5 first and keep items >= --threshold (decisions saved)")
    predict.add_argument("--threshold", type=int, default=4, help="informativeness threshold of the filter (default 4, as in the paper)")
    predict.add_argument("--limit", type=int, help="draw N items at random (seeded) before filtering")
    predict.add_argument("--thought-scope", choices=["all", "last"], default="all", help="thoughts shown: all in the history (default) or only the last exchange's")
    predict.add_argument("--max-chars", type=int, default=4000, help="shorten each message in prompts to N characters (0: no limit; default 4000)")
    predict.add_argument("--embedder", default="static", help="embedder for the cosine score: static (default), minilm, a model2vec folder, or none")
    predict.add_argument("--bootstrap", type=int, default=2000, help="paired bootstrap replicates (default 2000)")
    model_options(predict)
    predict.set_defaults(handler=handler("predict"))

    rewrite = sub.add_parser(
        "rewrite",
        help="Study 2: rewrite unsatisfying replies guided by thoughts or by messages; DPO pairs",
        description="Thought-guided arm: replies whose reaction is labelled content_relevance, presentation_style or "
        "scope_fit (reactions of >= --min-words words with letters) are rewritten from the context, guided by the private "
        "reaction. Message-guided arm: a classifier decides from the user's next message alone whether they were "
        "dissatisfied; flagged replies are rewritten guided by that message (works on plain chat corpora too). Reports "
        "how many dissatisfied replies each arm finds on the same conversations and writes DPO pairs per arm "
        "(TRL conversational JSONL, train/validation split by conversation, datasheet). Models: " + specs,
    )
    _add_reader_options(rewrite)
    rewrite.add_argument("--rewriter", required=True, metavar="SPEC", help="the model that rewrites replies")
    rewrite.add_argument("--classifier", metavar="SPEC", help="the model that judges dissatisfaction from the next message (needed by the message arm)")
    rewrite.add_argument("--arms", default="thought,message", help="thought, message or both (default thought,message)")
    rewrite.add_argument("--labels", default="content_relevance,presentation_style,scope_fit", help="reaction labels that mark a dissatisfying reply")
    rewrite.add_argument("--min-messages", type=int, default=2, help="shortest conversation kept (default 2)")
    rewrite.add_argument("--max-messages", type=int, default=20, help="longest conversation kept (default 20)")
    rewrite.add_argument("--min-words", type=int, default=6, help="shortest reaction that can guide a rewrite, in words (default 6)")
    rewrite.add_argument("--limit", type=int, help="draw N eligible conversations at random (seeded); both arms use the same ones")
    rewrite.add_argument("--validation-fraction", type=float, default=0.1, help="share of conversations in the validation split (default 0.1)")
    rewrite.add_argument("--keep-quoting", action="store_true", help="keep rewrites that quote their guidance verbatim (default: leave them out)")
    rewrite.add_argument("--max-chars", type=int, default=8000, help="shorten each message in prompts to N characters (0: no limit; default 8000)")
    rewrite.add_argument("--max-tokens", type=int, default=4096, help="output token limit of a rewrite (default 4096)")
    rewrite.add_argument("--source", help="source name recorded in the pairs (default: the file name)")
    model_options(rewrite)
    rewrite.set_defaults(handler=handler("rewrite"))

    judge = sub.add_parser(
        "judge",
        help="pairwise LLM judging of a model's answers against a baseline's (win rate, style-controlled win rate)",
        description="ANSWERS_A (the model) and ANSWERS_B (the baseline) are JSONL files with one answer per prompt id "
        "({id, prompt, answer}, Arena-Hard's {question_id, choices}, or chat records). Each prompt is judged in both orders "
        "to cancel position bias. Reports the win rate (ties count half) and a style-controlled win rate from a logistic "
        "model with length, header, list and bold differences as covariates, with bootstrap intervals. No prompt set ships "
        "with thoughtcode. Judge: " + specs,
    )
    judge.add_argument("answers_a", type=Path, metavar="ANSWERS_A", help="answers of the model being evaluated")
    judge.add_argument("answers_b", type=Path, metavar="ANSWERS_B", help="answers of the baseline")
    judge.add_argument("--judge", required=True, metavar="SPEC", help="the judge model")
    judge.add_argument("--prompts", type=Path, help="prompt set (JSONL with id and prompt) when the answer files lack the prompts")
    judge.add_argument("--limit", type=int, help="judge only the first N shared prompts")
    judge.add_argument("--model-name", help="name of model A (default: from the file)")
    judge.add_argument("--baseline-name", help="name of model B (default: from the file)")
    judge.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates over prompts (default 1000)")
    model_options(judge)
    judge.set_defaults(handler=handler("judge"))

    train = sub.add_parser(
        "train-dpo",
        help="DPO training with TRL on the pairs (needs pip install 'thoughtcode[train]'; meant for a GPU)",
        description="Wraps TRL's DPOTrainer with the paper's defaults: effective batch 64, learning rate 1e-6, up to 20 "
        "epochs, early stopping on the validation loss (a 10%% split by conversation when --validation is not given). "
        "LoRA optional.",
    )
    train.add_argument("train", type=Path, metavar="TRAIN", help="train.jsonl written by 'study rewrite'")
    train.add_argument("--validation", type=Path, help="validation.jsonl (default: split TRAIN by conversation)")
    train.add_argument("--model", required=True, help="local model folder or model name for transformers")
    train.add_argument("--out", type=Path, required=True, help="output directory (checkpoints, final model, summary)")
    train.add_argument("--batch-size", type=int, default=64, help="effective batch size (default 64)")
    train.add_argument("--per-device-batch-size", type=int, default=8, help="per-device batch; the rest is gradient accumulation (default 8)")
    train.add_argument("--lr", type=float, default=1e-6, help="learning rate (default 1e-6)")
    train.add_argument("--epochs", type=float, default=20, help="maximum epochs (default 20)")
    train.add_argument("--max-steps", type=int, default=-1, help="stop after N optimiser steps (default: by epochs)")
    train.add_argument("--patience", type=int, default=2, help="early-stopping patience in evaluations (default 2)")
    train.add_argument("--beta", type=float, default=0.1, help="DPO beta (default 0.1)")
    train.add_argument("--max-length", type=int, default=2048, help="maximum tokens of prompt plus reply (default 2048)")
    train.add_argument("--validation-fraction", type=float, default=0.1, help="validation share when splitting TRAIN (default 0.1)")
    train.add_argument("--lora", action="store_true", help="train a LoRA adapter instead of the full model")
    train.add_argument("--lora-r", type=int, default=16, help="LoRA rank (default 16)")
    train.add_argument("--bf16", action="store_true", help="train in bfloat16")
    train.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    train.set_defaults(handler=handler("train_dpo"))


# --- agreement ------------------------------------------------------------------------------------------
def _agreement_order(args: argparse.Namespace, frame: Any = None) -> list[str] | None:
    """Category order from --order a,b,c, from --codebook, or from the one codebook a labels ``frame`` was
    made with (its ``codebook`` column); never from sorting."""
    from thoughtcode.taxonomy import CodebookError, load_codebook

    if args.order and args.codebook:
        raise UserError("use --order or --codebook, not both")
    if args.order:
        return [part.strip() for part in args.order.split(",") if part.strip()]
    if args.codebook:
        return load_codebook(args.codebook).label_ids
    refs = frame["codebook"].dropna().unique() if frame is not None and "codebook" in frame.columns else []
    if len(refs) == 1:
        try:
            return load_codebook(str(refs[0])).label_ids
        except CodebookError:  # a user's codebook file that is not at hand: no order rather than a guess
            return None
    return None


def _agreement_output(result: Any, args: argparse.Namespace) -> None:
    from thoughtcode.agreement import format_text, write_report

    if args.report:
        path = write_report(result, args.report)
        print(f"report written to {path}", file=sys.stderr)
    _print_result(args, result.to_dict, lambda: format_text(result))


def _cmd_agree(args: argparse.Namespace) -> int:
    from thoughtcode.agreement import agree

    result = agree(
        str(args.file),
        unit_col=args.unit,
        coder_col=args.coder,
        label_col=args.label,
        wide=args.wide,
        level=args.level,
        order=_agreement_order(args),
        bootstrap=args.bootstrap,
        seed=args.seed,
        scheme=args.scheme,
    )
    _agreement_output(result, args)
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from thoughtcode.agreement import validate
    from thoughtcode.labels import read_table

    def of_scheme(frame: Any) -> Any:
        """The rows of --scheme, when given and the table has a scheme column."""
        return frame.loc[frame["scheme"] == args.scheme] if args.scheme and "scheme" in frame.columns else frame

    coded = of_scheme(read_table(args.coded))
    unit_text = None
    if args.reference is not None:
        reference = of_scheme(read_table(args.reference))
    else:
        from thoughtcode.corpus import load_corpus, reference_labels, thought_units

        units = list(thought_units(load_corpus(args.reference_from_corpus)))
        # Reasons and reactions are different codebooks: the reference holds the kinds that were coded,
        # so coverage is not diluted by the other kind's units.
        coded_ids = {str(u) for u in coded["unit_id"]} if "unit_id" in coded.columns else set()
        kinds = {u.kind for u in units if u.unit_id in coded_ids}
        units = [u for u in units if u.kind in kinds] if kinds else units
        reference = reference_labels(units, scheme=args.scheme or "release")
        unit_text = {u.unit_id: u.text for u in units}
    result = validate(
        coded, reference, bootstrap=args.bootstrap, seed=args.seed, unit_text=unit_text, order=_agreement_order(args, coded)
    )
    _agreement_output(result, args)
    return 0


def _add_agreement_commands(subparsers: argparse._SubParsersAction) -> None:
    agree = subparsers.add_parser(
        "agree",
        help="inter-rater agreement: all coefficients with intervals, per category, disagreements",
        description="Agreement among coders of a labels table (unit, coder, label) or a wide table (rows units, "
        "columns coders): percent agreement, Cohen, Scott, Fleiss (with z test), Conger, Light, Brennan-Prediger, "
        "Gwet AC1/AC2, Krippendorff's alpha.",
    )
    agree.add_argument("file", type=Path, help="labels table (.csv, .tsv, .jsonl, .parquet)")
    agree.add_argument("--unit", default="unit_id", help="unit column (default unit_id; with --wide: optional id column)")
    agree.add_argument("--coder", default="coder", help="coder column (default coder)")
    agree.add_argument("--label", default="label", help="label column (default label; 'labels' for multi-label sets)")
    agree.add_argument("--wide", action="store_true", help="the file is wide: one row per unit, one column per coder")
    agree.add_argument("--scheme", help="scheme to use when the table holds several")
    agree.add_argument("--level", choices=["nominal", "ordinal", "interval", "ratio"], default="nominal",
                       help="measurement level for alpha and the weighted kappas (default nominal)")
    agree.add_argument("--order", help="category order, comma-separated (ordinal levels; never alphabetical)")
    agree.add_argument("--codebook", metavar="REF", help="take the category order from a codebook (ref or file)")
    agree.add_argument("--bootstrap", type=int, default=0, metavar="N",
                       help="percentile bootstrap over units with N replicates (default 0: analytic intervals)")
    agree.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    agree.add_argument("--json", action="store_true", help="print one JSON object")
    agree.add_argument("--report", type=Path, metavar="PATH", help="write a report: PATH.html (self-contained) or PATH.md")
    agree.set_defaults(handler=_cmd_agree)

    validate = subparsers.add_parser(
        "validate",
        help="a coder's labels against reference labels: accuracy, P/R/F1, kappa, alpha, confusion matrix",
    )
    validate.add_argument("coded", type=Path, help="labels table of one or more coders")
    source = validate.add_mutually_exclusive_group(required=True)
    source.add_argument("--reference", type=Path, metavar="FILE", help="reference labels table (unit_id, label)")
    source.add_argument("--reference-from-corpus", type=Path, metavar="CORPUS",
                        help="take the thought labels stored in a ThoughtTrace corpus file as the reference")
    validate.add_argument("--scheme", help="scheme to use when the tables hold several")
    validate.add_argument("--order", help="category order for the report, comma-separated")
    validate.add_argument("--codebook", metavar="REF", help="take the category order from a codebook")
    validate.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="bootstrap replicates (default 1000)")
    validate.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    validate.add_argument("--json", action="store_true", help="print one JSON object")
    validate.add_argument("--report", type=Path, metavar="PATH", help="write a report: PATH.html or PATH.md")
    validate.set_defaults(handler=_cmd_validate)


# --- train (the local coder) ------------------------------------------------------------------------------
def _cmd_train(args: argparse.Namespace) -> int:
    from thoughtcode.coders.local import LocalModelError, save_model, train_local_model
    from thoughtcode.corpus import thought_units
    from thoughtcode.labels import read_labels
    from thoughtcode.taxonomy import load_codebook

    kind = {"reasons": "reason", "reactions": "reaction"}[args.scheme]
    codebook = load_codebook(args.codebook or args.scheme)
    if codebook.unit != kind:
        raise UserError(f"codebook {codebook.ref} codes {codebook.unit} units, but --scheme {args.scheme} trains on {kind}s")
    reader = _open_corpus(args)
    units = list(thought_units(reader, kinds=(kind,)))
    _report_skipped(reader)
    if args.labels:
        table = read_labels(args.labels)
        if "scheme" in table.columns:
            table = table[table["scheme"].isna() | (table["scheme"] == args.scheme)]
        if "status" in table.columns:
            table = table[table["status"].isna() | (table["status"] == "ok")]
        coders = sorted(str(c) for c in table["coder"].dropna().unique())
        if args.labels_coder:
            table = table[table["coder"] == args.labels_coder]
            if table.empty:
                raise UserError(f"{args.labels}: no ok {args.scheme} labels from coder {args.labels_coder!r}; "
                                f"coders: {', '.join(coders) or '(none)'}")
        elif len(coders) > 1:
            raise UserError(f"{args.labels} holds labels of several coders ({', '.join(coders)}); pick one with --labels-coder")
        column = "label" if "label" in table.columns else None
        if column is None or table[column].isna().all():
            raise UserError(f"{args.labels}: no single 'label' column to train on ({args.scheme} is single-label)")
        by_id = {str(row.unit_id): str(row.label) for row in table.itertuples() if isinstance(row.label, str)}
        source = {"file": Path(args.file).name, "labels": Path(args.labels).name}
        matched = [u for u in units if u.unit_id in by_id]
        unknown_ids = len(set(by_id) - {u.unit_id for u in units})
        if unknown_ids:
            print(f"thoughtcode: warning: {unknown_ids} labelled unit id(s) are not {kind}s of {args.file}", file=sys.stderr)
        units, labels = matched, [by_id[u.unit_id] for u in matched]
    else:
        source = {"file": Path(args.file).name, "labels": "labels stored in the corpus"}
        units = [u for u in units if u.label]
        labels = [u.label for u in units]
    if len(units) < 2:
        raise UserError(f"no labelled {kind}s to train on in {args.file}" + (f" joined with {args.labels}" if args.labels else ""))
    try:
        model, metrics = train_local_model(
            units, labels, codebook, args.scheme, cv=args.cv, cv_seed=args.cv_seed, source=source
        )
    except LocalModelError as exc:
        raise UserError(str(exc)) from None
    path = save_model(model, args.out)
    result = {
        "out": str(path),
        "bytes": path.stat().st_size,
        "sha256": model.sha256,
        "scheme": args.scheme,
        "codebook": codebook.ref,
        "units": len(units),
        "conversations": model.metadata["n_conversations"],
        "class_counts": model.metadata["class_counts"],
        "temperature": model.metadata["temperature"],
        "cv": metrics,
        "use_with": f"thoughtcode code FILE --scheme {args.scheme} --coder local:{path}",
    }
    if args.json:
        _print_json(result)
        return 0
    print(f"trained the local coder on {len(units)} {kind}s from {result['conversations']} conversations "
          f"({source['labels']}), codebook {codebook.ref}")
    print("  " + ", ".join(f"{k} {v}" for k, v in result["class_counts"].items()))
    if metrics:
        print(f"grouped {metrics['folds']}-fold cross-validation (no conversation in both train and test):")
        print(f"  kappa {metrics['kappa']:.3f}   macro-F1 {metrics['macro_f1']:.3f}   accuracy {metrics['accuracy']:.3f} "
              f"(majority class {metrics['majority_baseline']:.3f})")
        print("  F1 per category: " + ", ".join(f"{k} {v:.2f}" for k, v in metrics["per_class_f1"].items()))
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB, sha256 {model.sha256[:8]}); use it with --coder local:{path}")
    return 0


def _add_train_command(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train",
        help="train the local coder on a labelled corpus (for --coder local:MODEL)",
        description="Train the offline local coder (embeddings + position + lexical cues, calibrated linear "
        "models) on labelled thoughts: the labels stored in a ThoughtTrace-format corpus, or a labels table "
        "joined by unit id (--labels). --cv K reports grouped K-fold cross-validation by conversation first.",
    )
    _add_reader_options(train)
    train.add_argument("--scheme", required=True, choices=["reasons", "reactions"], help="what the model codes")
    train.add_argument("--codebook", help="codebook reference or YAML/JSON file (default: the scheme's latest built-in)")
    train.add_argument("--out", type=Path, required=True, help="model file to write (e.g. my-reasons.joblib)")
    train.add_argument("--labels", type=Path, help="labels table (.jsonl/.csv/.parquet) with unit_id and label, instead of the corpus's labels")
    train.add_argument("--labels-coder", help="use only the rows of this coder of --labels")
    train.add_argument("--cv", type=int, metavar="K", help="grouped K-fold cross-validation by conversation before training")
    train.add_argument("--cv-seed", type=int, default=0, help="seed of the cross-validation folds (default 0)")
    train.add_argument("--json", action="store_true", help="print one JSON object")
    train.set_defaults(handler=_cmd_train)


# --- entry point ----------------------------------------------------------------------------------------
REGISTRARS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_corpus_commands,
    _add_demo_command,
    _add_analyses_commands,
    _add_taxonomy_commands,
    _add_coders_commands,
    _add_study_commands,
    _add_agreement_commands,
    _add_train_command,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thoughtcode",
        description="Qualitative coding of human-AI conversations: codebooks, coders, agreement, analyses.",
    )
    parser.add_argument("--version", action="version", version=f"thoughtcode {__version__}")
    subparsers = _subcommands(parser, "command")
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
    except BrokenPipeError:  # the output went into a command that stopped reading (``| head``): not an error
        try:  # keep Python from failing again when it flushes stdout at exit
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 141


if __name__ == "__main__":
    sys.exit(main())
