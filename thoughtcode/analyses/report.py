"""Writing results: ``results.json``, ``tables/*.csv``, ``figures/*.png`` and one self-contained
``report.html`` (figures embedded as base64 PNG, no external files or scripts, readable offline)."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from thoughtcode import __version__
from thoughtcode.analyses.common import AnalysisResult
from thoughtcode.analyses.inputs import AnalysisInputs
from thoughtcode.jsonsafe import json_safe

CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
h3 { font-size: 1.05em; margin-bottom: .3em; }
table.data { border-collapse: collapse; font-size: .82em; margin: .4em 0 1em; }
table.data th, table.data td { border: 1px solid #ddd; padding: 2px 6px; text-align: right; }
table.data th { background: #f4f4f4; } table.data td:first-child, table.data th:first-child { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; }
.notes { font-size: .88em; color: #444; background: #fafafa; border-left: 3px solid #ccc; padding: .3em 1em; }
.unavailable { color: #8a6d3b; } details summary { cursor: pointer; color: #245; margin: .3em 0; }
.meta { font-size: .85em; color: #555; } code { background: #f3f3f3; padding: 0 3px; }
"""


def results_payload(results: Sequence[AnalysisResult], inputs: AnalysisInputs | None = None) -> dict[str, Any]:
    """The content of ``results.json``."""
    return json_safe({
        "thoughtcode_version": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": inputs.to_dict() if inputs is not None else None,
        "analyses": {r.name: r.to_dict() for r in results},
    })


def _png(fig) -> bytes:
    from thoughtcode.analyses import figures

    buffer = io.BytesIO()
    figures.save(fig, buffer)
    return buffer.getvalue()


def _table_html(frame: pd.DataFrame) -> str:
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
    return shown.to_html(classes="data", border=0, na_rep="", index=not isinstance(frame.index, pd.RangeIndex))


def summary_lines(result: AnalysisResult) -> list[str]:
    """A few headline lines per analysis (the full numbers are in the tables and results.json)."""
    data = result.data
    lines: list[str] = []
    if result.name == "stages":
        for scheme, entry in data.get("schemes", {}).items():
            ci = entry.get("cramers_v_ci")
            p = entry.get("chi2_p_value")
            ci_text = f" (95% CI {ci[0]:.3f}-{ci[1]:.3f}, conversations resampled)" if ci and None not in ci else ""
            p_text = f"{p:.3g}" if isinstance(p, float) else "n/a"
            if entry.get("cramers_v") is not None:
                lines.append(f"{scheme}: stage x category chi-square p = {p_text}, Cramér's V = {entry['cramers_v']:.3f}{ci_text}")
        lines += data.get("reading", [])
        for check in data.get("paper_directions", []):
            verdict = {True: "holds", False: "does not hold", None: "cannot be checked"}[check["holds"]]
            lines.append(f"paper: {check['claim']}: {verdict}")
    elif result.name == "shift":
        ordering = data.get("paper_ordering", {})
        if ordering.get("holds") is not None:
            lines.append(f"{ordering['claim']}: {'holds' if ordering['holds'] else 'does not hold'}")
        for metric, entry in data.get("orderings_by_metric", {}).items():
            values = ", ".join(f"{k} {v:.4g}" for k, v in entry["values"].items() if v is not None)
            verdict = next(iter(v for k, v in entry.items() if k != "values"))
            status = {True: "holds", False: "does not hold", None: "cannot be checked"}[verdict]
            lines.append(f"{metric}: {values} (ordering {status})")
        lines.append(f"embedder: {data.get('embedder')}")
    elif result.name == "lengths":
        for corpus, entry in data.get("corpora", {}).items():
            m = entry["messages_per_conversation"]
            t = entry["tokens_per_message"]
            if m["n"]:
                lines.append(
                    f"{corpus}: {entry['conversations']} conversations, median {m['median']:g} messages "
                    f"(quartiles {m['q1']:g}-{m['q3']:g}); median tokens user {t['user']['median']}, "
                    f"assistant {t['assistant']['median']}"
                )
    elif result.name in ("coverage", "inference"):
        for row in data.get("summary", []):
            who = f"{row['predictor']}, " if "predictor" in row else ""
            mean = "no score" if row["mean"] is None else f"mean {row['mean']:.2f}"
            ci = f" (95% CI {row['ci_low']:.2f}-{row['ci_high']:.2f})" if row.get("ci_low") is not None else ""
            lines.append(f"{who}{row['kind']}s: {mean}{ci} of {row['scored']} scored, {row['failed']} failed "
                         f"(paper {row['paper']:.2f})")
        lines.append(f"judge: {data.get('judge')}; tokens {data['tokens']['in']:,} in / {data['tokens']['out']:,} out")
    elif result.name == "demographics":
        age = data.get("age", {})
        lines.append(f"{data.get('respondents')} respondents; median age {age.get('median')}; "
                     f"{len(age.get('excluded_impossible_or_out_of_range', []))} impossible age(s) excluded")
    elif result.name in ("topics", "relations", "categories"):
        for key in ("source", "codebook", "coder"):
            if data.get(key):
                lines.append(f"{key}: {data[key]}")
        if result.name == "topics":
            lines.append(f"{data['labelled_conversations']} labelled conversations; "
                         f"{data['conversations_with_several_categories']} with several categories")
            lines.append("categories (share of conversations): " + ", ".join(
                f"{r['name']} {100 * (r['share_of_conversations'] or 0):.1f}%" for r in data["categories"]))
        if result.name == "relations":
            lines.append("overall: " + ", ".join(f"{r['name']} {100 * (r['share'] or 0):.1f}%" for r in data["overall"]))
            lines.append("turn 2: " + ", ".join(
                f"{r['outcome']} {100 * (r['share'] or 0):.0f}%" for r in data["flow"] if r["step"] == "turn 2"))
        for scheme, entry in data.get("schemes", {}).items():
            lines.append(f"{scheme}: {entry['labelled']} labelled of {entry['units']} units ({entry['source']}; {entry['codebook']})")
    return lines


def render_html(results: Sequence[AnalysisResult], inputs: AnalysisInputs | None, images: dict[str, dict[str, bytes]]) -> str:
    """The report page; ``images[analysis][figure]`` holds PNG bytes."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>thoughtcode analyses</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>thoughtcode analyses</h1>",
    ]
    if inputs is not None:
        meta = inputs.to_dict()
        parts.append(
            f"<p class='meta'>Corpus <code>{html.escape(meta['corpus'])}</code>: {meta['conversations']} conversations, "
            f"{meta['thoughts']} thoughts, {meta['user_turns']} user turns. thoughtcode {__version__}, "
            f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC.</p>"
        )
        if meta["baselines"]:
            parts.append("<p class='meta'>Baselines: " + ", ".join(
                f"<code>{html.escape(b['name'])}</code> ({b['conversations']} conversations)" for b in meta["baselines"]) + "</p>")
        if meta["labels"]:
            rows = pd.DataFrame([{k: v for k, v in s.items() if k != "notes"} for s in meta["labels"]])
            parts.append("<h3>Labels used</h3>" + _table_html(rows))
        notes = meta["notes"] + [f"{s['scheme']}: {n}" for s in meta["labels"] for n in s["notes"]]
        if notes:
            parts.append("<div class='notes'><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul></div>")
    parts.append("<h3>Contents</h3><ul>" + "".join(
        f"<li><a href='#{r.name}'>{html.escape(r.title)}</a>{'' if r.available else ' (not available)'}</li>" for r in results
    ) + "</ul>")
    for result in results:
        parts.append(f"<h2 id='{result.name}'>{html.escape(result.title)}</h2>")
        if not result.available:
            parts.append("<p class='unavailable'>" + html.escape("; ".join(result.notes)) + "</p>")
            continue
        key = summary_lines(result)
        if key:
            parts.append("<ul>" + "".join(f"<li>{html.escape(str(line))}</li>" for line in key) + "</ul>")
        for name, png in images.get(result.name, {}).items():
            caption = result.captions.get(name, "")
            encoded = base64.b64encode(png).decode("ascii")
            parts.append(
                f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{encoded}'>"
                f"<figcaption><b>{html.escape(name)}</b>. {html.escape(caption)}</figcaption></figure>"
            )
        primary = result.primary_tables if result.primary_tables is not None else list(result.tables)
        for name, table in result.tables.items():
            block = f"<h3>{html.escape(name)}</h3>{_table_html(table)}"
            if name in primary:
                parts.append(block)
            else:
                parts.append(f"<details><summary>table {html.escape(name)}</summary>{block}</details>")
        if result.notes:
            parts.append("<div class='notes'><b>Notes</b><ul>" + "".join(
                f"<li>{html.escape(n)}</li>" for n in result.notes) + "</ul></div>")
    parts.append("<p class='meta'>Thought texts and release labels: ThoughtTrace (Jin et al. 2026, arXiv:2605.20087), "
                 "CC-BY-4.0, when the corpus is ThoughtTrace data.</p></body></html>")
    return "\n".join(parts)


def write_outputs(results: Sequence[AnalysisResult], out_dir: str | Path, inputs: AnalysisInputs | None = None,
                  html_report: bool = True) -> dict[str, Any]:
    """Write ``results.json``, ``tables/*.csv``, ``figures/*.png`` and (by default) ``report.html``."""
    out = Path(out_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    written: dict[str, Any] = {"tables": [], "figures": []}
    images: dict[str, dict[str, bytes]] = {}
    for result in results:
        for name, table in result.tables.items():
            path = out / "tables" / f"{name}.csv"
            table.to_csv(path, index=not isinstance(table.index, pd.RangeIndex))
            written["tables"].append(str(path))
        for name, make in result.figures.items():
            png = _png(make())
            path = out / "figures" / f"{name}.png"
            path.write_bytes(png)
            images.setdefault(result.name, {})[name] = png
            written["figures"].append(str(path))
    payload = results_payload(results, inputs)
    payload["outputs"] = {"tables": [Path(p).name for p in written["tables"]], "figures": [Path(p).name for p in written["figures"]]}
    (out / "results.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False), encoding="utf-8")
    written["results"] = str(out / "results.json")
    if html_report:
        (out / "report.html").write_text(render_html(results, inputs, images), encoding="utf-8")
        written["report"] = str(out / "report.html")
    return written
