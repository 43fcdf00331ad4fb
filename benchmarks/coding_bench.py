"""Benchmark of the LLM coding path against a stand-in server with fixed latency.

Three timings on the same thought units and the same prompts:

1. a plain sequential instructor loop, one blocking request per unit (the way peers such as scikit-llm
   call models),
2. ``thoughtcode code --concurrency 32`` (the real command, in a subprocess, cache on),
3. the same command re-run on a fresh output file: every answer comes from the cache.

And the input tokens per label for ``--units-per-request`` K = 1 and K = 10, as counted by the stand-in
server on the actual request text (and as the coder reports them).

The units are the reasons of the development file; to reach 1,000 the conversations are repeated with new
ids and a ``[copy k]`` suffix on each thought, so that every unit has its own cache key.

Usage::

    .venv/bin/python benchmarks/coding_bench.py                        # 1,000 units, 200 ms latency
    .venv/bin/python benchmarks/coding_bench.py --units 200 --sequential-units 100 --json result.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from standin import Environment, StandIn  # noqa: E402

from thoughtcode.corpus import load_corpus, units_for  # noqa: E402
from thoughtcode.taxonomy import load_codebook  # noqa: E402

DEV_FILE = REPO / "tests" / "data" / "thoughttrace_dev.jsonl"


def build_corpus(path: Path, n_units: int) -> int:
    """Write a ThoughtTrace file with at least ``n_units`` reasons; returns how many it holds."""
    records = [json.loads(line) for line in DEV_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    total = 0
    with path.open("w", encoding="utf-8") as handle:
        copy = 0
        while total < n_units:
            for record in records:
                clone = json.loads(json.dumps(record))
                if copy:
                    clone["id"] = f"{record['id']}-copy{copy}"
                    for message in clone["messages"]:
                        for thought in message.get("reasons") or []:
                            thought["content"] = f"{thought['content']} [copy {copy}]"
                total += sum(len(m.get("reasons") or []) for m in clone["messages"])
                handle.write(json.dumps(clone, ensure_ascii=False) + "\n")
                if total >= n_units:
                    break
            copy += 1
    return total


def sequential_instructor_loop(server: StandIn, corpus: Path, n_units: int) -> dict[str, float]:
    """One blocking instructor call per unit, no concurrency, no cache."""
    import instructor
    import openai

    from thoughtcode.coders import PromptBuilder, load_template, response_model

    codebook = load_codebook("reasons")
    builder = PromptBuilder(codebook, load_template("reason"), "reason")
    model = response_model(codebook)
    units = list(units_for(load_corpus(corpus), "reason"))[:n_units]
    client = instructor.from_openai(openai.OpenAI(api_key="sk-bench", base_url=server.openai_base_url))
    started = time.perf_counter()
    for unit in units:
        messages, _ = builder.messages([builder.render_unit(unit)])
        client.chat.completions.create(model="standin", response_model=model, messages=messages, max_retries=2)
    elapsed = time.perf_counter() - started
    return {"units": len(units), "seconds": round(elapsed, 2), "seconds_per_unit": round(elapsed / len(units), 4)}


def run_cli(corpus: Path, out: Path, env: dict[str, str], extra: list[str], limit: int) -> tuple[float, dict]:
    command = [
        sys.executable, "-m", "thoughtcode.cli", "code", str(corpus), "--scheme", "reasons",
        "--coder", "openai:standin", "--out", str(out), "--limit", str(limit), "--no-progress", "--json",
        "--bootstrap", "0", *extra,
    ]
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=out.parent)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"thoughtcode code failed:\n{result.stderr}")
    return elapsed, json.loads(result.stdout)


def tokens_per_label(server: StandIn, corpus: Path, workdir: Path, env: dict[str, str], n_units: int, k: int) -> dict:
    server.reset()
    latency, server.latency = server.latency, 0.0
    out = workdir / f"k{k}.jsonl"
    _, summary = run_cli(corpus, out, env, ["--no-cache", "--concurrency", "8", "--units-per-request", str(k)], n_units)
    server.latency = latency
    labels = summary["coded"]
    return {
        "k": k,
        "labels": labels,
        "failed": summary["failed"],
        "requests": server.requests,
        "server_tokens_in": server.tokens_in,
        "coder_tokens_in": summary["tokens_in"],
        "input_tokens_per_label": round(server.tokens_in / labels, 1),
        "output_tokens_per_label": round(server.tokens_out / labels, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=1000, help="units coded by thoughtcode code (default 1000)")
    parser.add_argument("--sequential-units", type=int, help="units of the sequential loop (default: --units)")
    parser.add_argument("--latency", type=float, default=0.2, help="stand-in latency per request in seconds (default 0.2)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--token-units", type=int, default=200, help="units for the tokens-per-label runs (default 200)")
    parser.add_argument("--skip-sequential", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    sequential_units = args.sequential_units or args.units

    with tempfile.TemporaryDirectory() as tmp, StandIn(latency=args.latency) as server:
        workdir = Path(tmp)
        corpus = workdir / "bench.jsonl"
        build_corpus(corpus, max(args.units, sequential_units, args.token_units))
        env = {**os.environ, **Environment(server).variables()}
        results: dict = {"latency_s": args.latency, "cpu_count": os.cpu_count(), "load_average_at_start": os.getloadavg()}

        elapsed, summary = run_cli(
            corpus, workdir / "concurrent.jsonl", env,
            ["--concurrency", str(args.concurrency), "--cache", str(workdir / "cache.sqlite")], args.units,
        )
        results["thoughtcode_concurrent"] = {
            "units": summary["coded"], "failed": summary["failed"], "seconds": round(elapsed, 2),
            "seconds_inside_run": summary["time_s"], "requests": server.requests, "concurrency": args.concurrency,
        }
        print(f"thoughtcode code --concurrency {args.concurrency}: {summary['coded']} units in {elapsed:.1f} s "
              f"(run {summary['time_s']:.1f} s, the rest is start-up)", flush=True)

        requests_before = server.requests
        elapsed, summary = run_cli(corpus, workdir / "cached.jsonl", env, ["--concurrency", str(args.concurrency), "--cache", str(workdir / "cache.sqlite")], args.units)
        results["thoughtcode_cached_rerun"] = {
            "units": summary["coded"], "cached": summary["cached"], "seconds": round(elapsed, 2),
            "seconds_inside_run": summary["time_s"], "requests": server.requests - requests_before,
        }
        print(f"cached re-run: {summary['cached']} cached units in {elapsed:.1f} s, {server.requests - requests_before} requests", flush=True)

        if not args.skip_sequential:
            sequential = sequential_instructor_loop(server, corpus, sequential_units)
            results["sequential_instructor_loop"] = sequential
            per_unit = sequential["seconds_per_unit"]
            projected = per_unit * args.units
            results["sequential_projected_seconds_for_units"] = round(projected, 1)
            concurrent = results["thoughtcode_concurrent"]["seconds"]
            results["speedup_concurrent_vs_sequential"] = round(projected / concurrent, 1)
            results["speedup_cached_vs_sequential"] = round(projected / results["thoughtcode_cached_rerun"]["seconds"], 1)
            scaled = "" if sequential_units == args.units else f" (measured on {sequential_units}, scaled to {args.units})"
            print(f"sequential instructor loop: {per_unit * 1000:.0f} ms/unit, {projected:.1f} s for {args.units} units{scaled}")
            print(f"speed-up: concurrent {results['speedup_concurrent_vs_sequential']}x, cached {results['speedup_cached_vs_sequential']}x")

        for k in (1, 10):
            entry = tokens_per_label(server, corpus, workdir, env, args.token_units, k)
            results[f"tokens_k{k}"] = entry
            print(f"K={k}: {entry['input_tokens_per_label']} input tokens per label ({entry['requests']} requests, "
                  f"server {entry['server_tokens_in']:,} = coder {entry['coder_tokens_in']:,})")
        ratio = results["tokens_k1"]["input_tokens_per_label"] / results["tokens_k10"]["input_tokens_per_label"]
        results["input_tokens_ratio_k1_over_k10"] = round(ratio, 2)
        print(f"K=1 / K=10 input tokens per label: {ratio:.2f}x")
        results["load_average_at_end"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
