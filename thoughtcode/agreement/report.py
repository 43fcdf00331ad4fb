"""Reports of agreement and validation results: terminal text, Markdown and self-contained HTML.

Figures are drawn with matplotlib's Agg backend and embedded as base64 PNG data URIs, so a report is
one file that opens offline (no scripts, stylesheets or images fetched from anywhere).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from thoughtcode.agreement.results import AgreementResult, ValidationResult, interpret

MAX_ROWS = 50


# ---------------------------------------------------------------------- text
def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _ci(ci: Any) -> str:
    return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else "-"


def format_text(result: AgreementResult | ValidationResult) -> str:
    """A plain-text summary for the terminal."""
    if isinstance(result, ValidationResult):
        return _format_validation_text(result)
    d = result.to_dict()
    lines = [
        f"units {d['n_units']} (pairable {d['n_pairable_units']}), coders {d['n_coders']}, "
        f"ratings {d['n_ratings']}, level {d['level']}",
        f"intervals: {d['interval'].get('description', '-')}",
        "",
        f"{'coefficient':<24}{'value':>8}{'se':>8}  {'95% interval':<18}{'method':<10}band (convention)",
    ]
    for name, c in d["coefficients"].items():
        band = d["interpretation"].get(name, {}).get("band", "")
        lines.append(
            f"{name:<24}{_fmt(c['value']):>8}{_fmt(c['se']):>8}  {_ci(c['ci']):<18}{c['ci_method'] or '-':<10}{band}"
        )
    if d["weighted"]:
        lines += ["", f"weighted ({d['weights']} weights)"]
        for name, c in d["weighted"].items():
            lines.append(
                f"{name:<24}{_fmt(c['value']):>8}{_fmt(c['se']):>8}  {_ci(c['ci']):<18}{c['ci_method'] or '-'}"
            )
    if "fleiss_kappa_z" in d["tests"]:
        t = d["tests"]["fleiss_kappa_z"]
        lines += ["", f"Fleiss (1971) z = {t['z']:.3f}, p = {t['p_value']:.3g} (H0: kappa = 0)"]
    if d["per_category"]:
        lines += ["", f"{'category':<28}{'n':>6}{'share':>8}{'kappa_j':>9}{'specific':>10}"]
        for cat, v in d["per_category"].items():
            kj = v.get("fleiss_kappa", {}).get("value")
            sp = v.get("specific_agreement", {}).get("value")
            lines.append(
                f"{str(cat)[:27]:<28}{v['n_ratings']:>6}{_fmt(v['share']):>8}{_fmt(kj):>9}{_fmt(sp):>10}"
            )
    if d["confused_pairs"]:
        lines += ["", "most confused category pairs:"]
        for p in d["confused_pairs"][:5]:
            lines.append(f"  {p['categories'][0]} <-> {p['categories'][1]}: {_fmt(p['coincidences'], 1)}")
    lines += ["", f"units with disagreement: {d['n_disagreements']}"]
    conventions = {v["convention"] for v in d["interpretation"].values()}
    for c in sorted(conventions):
        lines.append(f"note: {c}")
    for w in d["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def _format_validation_text(result: ValidationResult) -> str:
    d = result.to_dict()
    lines = [f"reference units {d['n_reference_units']}; intervals: {d['interval'].get('description')}"]
    for name, c in d["coders"].items():
        lines += ["", f"coder {name}: {c['n_units']} units (coverage {c['coverage']:.1%})"]
        for metric, e in c["metrics"].items():
            lines.append(f"  {metric:<22}{_fmt(e['value']):>8}  {_ci(e['ci'])}")
        lines.append(f"  {'class':<28}{'support':>8}{'prec':>8}{'recall':>8}{'f1':>8}")
        for cls, v in c["per_class"].items():
            lines.append(
                f"  {str(cls)[:27]:<28}{v['support']:>8}{_fmt(v['precision']['value']):>8}"
                f"{_fmt(v['recall']['value']):>8}{_fmt(v['f1']['value']):>8}"
            )
    if d["comparison"]:
        comp = d["comparison"]
        lines += ["", f"closest to the reference ({comp['rank_by']}): {comp['closest']}"]
        for diff in comp["differences"]:
            e = diff[comp["rank_by"]] if comp["rank_by"] in diff else diff["cohen_kappa"]
            lines.append(f"  {diff['coder']} - {diff['versus']}: {_fmt(e['value'])} {_ci(e['ci'])}")
    lines += ["", f"units with an error: {d['n_disagreements']}"]
    for w in d["warnings"]:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


# ---------------------------------------------------------------------- figures
def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def heatmap_png(matrix: list[list[float]], labels: list[str], xlabel: str, ylabel: str, title: str) -> str:
    """A labelled heatmap of a square matrix as base64 PNG."""
    plt = _pyplot()
    m = np.asarray(matrix, dtype=float)
    size = max(3.5, 0.55 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    im = ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(labels)), [str(x)[:24] for x in labels], rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), [str(x)[:24] for x in labels])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    top = m.max() if m.size else 0
    if len(labels) <= 15:
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                text = f"{m[i, j]:.0f}" if float(m[i, j]).is_integer() else f"{m[i, j]:.1f}"
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    color="white" if m[i, j] > top / 2 else "black",
                    fontsize=8,
                )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return _png(fig)


def bars_png(names: list[str], values: list[float | None], cis: list[Any], title: str, xlabel: str) -> str:
    """Horizontal bars with interval whiskers where available, as base64 PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, max(2.0, 0.35 * len(names) + 1)))
    y = np.arange(len(names))
    vals = np.array([v if v is not None else np.nan for v in values], dtype=float)
    ax.barh(y, np.nan_to_num(vals), color="#4c78a8")
    for i, ci in enumerate(cis):
        if ci and vals[i] == vals[i]:
            ax.plot([ci[0], ci[1]], [i, i], color="black", lw=1.2)
    ax.set_yticks(y, [str(n)[:30] for n in names])
    ax.invert_yaxis()
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return _png(fig)


def _estimate_bars(entries: dict[str, Any], key: str, title: str, xlabel: str, alt: str) -> tuple[str, Any]:
    """An image block: one bar per entry of its estimate ``key`` (value and interval)."""
    names = list(entries)
    values = [entries[k][key]["value"] for k in names]
    cis = [entries[k][key]["ci"] for k in names]
    return ("img", (bars_png(names, values, cis, title, xlabel), alt))


# ---------------------------------------------------------------------- report sections
def _sections(result: AgreementResult | ValidationResult) -> list[tuple[str, Any]]:
    """The report as a list of (kind, payload) blocks rendered to Markdown or HTML."""
    blocks: list[tuple[str, Any]] = []
    if isinstance(result, ValidationResult):
        d = result.to_dict()
        blocks.append(("h1", "Coder validation against reference labels"))
        blocks.append(
            (
                "p",
                f"Reference units: {d['n_reference_units']}. Intervals: {d['interval'].get('description')}.",
            )
        )
        for name, c in d["coders"].items():
            blocks.append(("h2", f"Coder {name}"))
            blocks.append(("p", f"{c['n_units']} units labelled (coverage {c['coverage']:.1%})."))
            blocks.append(
                (
                    "table",
                    (
                        ["metric", "value", "95% interval", "method"],
                        [
                            [k, _fmt(e["value"]), _ci(e["ci"]), e["ci_method"] or "-"]
                            for k, e in c["metrics"].items()
                        ],
                    ),
                )
            )
            cm = c["confusion_matrix"]
            blocks.append(
                (
                    "img",
                    (
                        heatmap_png(
                            cm["matrix"], cm["labels"], f"coder {name}", "reference", "Confusion matrix"
                        ),
                        "confusion matrix",
                    ),
                )
            )
            blocks.append(
                (
                    "table",
                    (
                        ["class", "support", "precision", "recall", "F1", "F1 interval"],
                        [
                            [
                                k,
                                v["support"],
                                _fmt(v["precision"]["value"]),
                                _fmt(v["recall"]["value"]),
                                _fmt(v["f1"]["value"]),
                                _ci(v["f1"]["ci"]),
                            ]
                            for k, v in c["per_class"].items()
                        ],
                    ),
                )
            )
            if c["per_class"]:
                blocks.append(_estimate_bars(c["per_class"], "f1", "F1 per class", "F1", "F1 per class"))
            if c["confused_pairs"]:
                blocks.append(("h3", "Most frequent errors"))
                blocks.append(
                    (
                        "table",
                        (
                            ["reference", "coded as", "count", "share of errors"],
                            [
                                [p["reference"], p["coded"], p["count"], _fmt(p["share_of_errors"])]
                                for p in c["confused_pairs"]
                            ],
                        ),
                    )
                )
        if d["comparison"]:
            comp = d["comparison"]
            blocks.append(("h2", "Which coder is closest to the reference"))
            blocks.append(
                (
                    "p",
                    f"Ranked by {comp['rank_by']} on the {comp['n_common_units']} units every coder labelled; closest: {comp['closest']}.",
                )
            )
            rows = []
            for diff in comp["differences"]:
                for metric in ("accuracy", "f1_macro", "cohen_kappa"):
                    e = diff[metric]
                    rows.append(
                        [f"{diff['coder']} - {diff['versus']}", metric, _fmt(e["value"]), _ci(e["ci"])]
                    )
            blocks.append(("table", (["difference", "metric", "value", "95% interval"], rows)))
        blocks.append(("h2", f"Units with errors ({d['n_disagreements']})"))
        blocks.append(("table", _disagreement_table(d["disagreements"], validation=True)))
        blocks.append(("warnings", d["warnings"]))
        return blocks

    d = result.to_dict()
    blocks.append(("h1", "Inter-rater agreement"))
    blocks.append(
        (
            "p",
            f"{d['n_units']} units ({d['n_pairable_units']} with two or more ratings), {d['n_coders']} coders, "
            f"{d['n_ratings']} ratings, level {d['level']}. Intervals: {d['interval'].get('description')}.",
        )
    )
    rows = []
    for name, c in d["coefficients"].items():
        band = interpret(name, c["value"])
        rows.append(
            [
                name,
                _fmt(c["value"]),
                _fmt(c["se"]),
                _ci(c["ci"]),
                c["ci_method"] or "-",
                band["band"] if band else "",
            ]
        )
    blocks.append(("table", (["coefficient", "value", "SE", "95% interval", "interval", "band"], rows)))
    conventions = sorted({v["convention"] for v in d["interpretation"].values()})
    if conventions:
        blocks.append(("p", "Bands are conventions, not tests: " + "; ".join(conventions) + "."))
    if d["weighted"]:
        blocks.append(("h2", f"Weighted coefficients ({d['weights']} weights)"))
        blocks.append(
            (
                "table",
                (
                    ["coefficient", "value", "SE", "95% interval", "interval"],
                    [
                        [k, _fmt(c["value"]), _fmt(c["se"]), _ci(c["ci"]), c["ci_method"] or "-"]
                        for k, c in d["weighted"].items()
                    ],
                ),
            )
        )
    if "fleiss_kappa_z" in d["tests"]:
        t = d["tests"]["fleiss_kappa_z"]
        blocks.append(("p", f"Fleiss (1971) test of kappa = 0: z = {t['z']:.3f}, p = {t['p_value']:.3g}."))
    if d["pairwise"]:
        blocks.append(("h2", "Pairwise Cohen's kappa"))
        blocks.append(
            (
                "table",
                (
                    ["coders", "shared units", "kappa", "95% interval"],
                    [
                        [
                            " / ".join(map(str, p["coders"])),
                            p["n_units"],
                            _fmt(p["cohen_kappa"]["value"]),
                            _ci(p["cohen_kappa"]["ci"]),
                        ]
                        for p in d["pairwise"]
                    ],
                ),
            )
        )
    if d["per_category"]:
        blocks.append(("h2", "Per category"))
        first = next(iter(d["per_category"].values()))
        kappa_key = "fleiss_kappa" if "fleiss_kappa" in first else None
        blocks.append(
            (
                "table",
                (
                    ["category", "ratings", "share", "kappa_j", "kappa_j interval", "specific agreement"],
                    [
                        [
                            k,
                            v["n_ratings"],
                            _fmt(v["share"]),
                            _fmt(v[kappa_key]["value"]) if kappa_key else "-",
                            _ci(v[kappa_key]["ci"]) if kappa_key else "-",
                            _fmt(v.get("specific_agreement", {}).get("value")),
                        ]
                        for k, v in d["per_category"].items()
                    ],
                ),
            )
        )
        if kappa_key:
            blocks.append(
                _estimate_bars(
                    d["per_category"], kappa_key, "Per-category kappa (category vs all others)", "kappa_j",
                    "per-category kappa",
                )
            )
    if result.matrix is not None:
        m = result.matrix
        title = "Coder A x coder B" if m["kind"] == "crosstab" else "Coincidence matrix (pairable values)"
        blocks.append(("h2", "Where coders meet and split"))
        blocks.append(("img", (heatmap_png(m["values"], m["labels"], m["columns"], m["rows"], title), title)))
    if d["confused_pairs"]:
        blocks.append(("h3", "Most confused category pairs"))
        blocks.append(
            (
                "table",
                (
                    ["categories", "coincidences", "share of disagreement"],
                    [
                        [
                            " / ".join(map(str, p["categories"])),
                            _fmt(p["coincidences"], 1),
                            _fmt(p["share_of_disagreement"]),
                        ]
                        for p in d["confused_pairs"]
                    ],
                ),
            )
        )
    blocks.append(("h2", f"Units with disagreement ({d['n_disagreements']})"))
    blocks.append(("table", _disagreement_table(d["disagreements"], validation=False)))
    blocks.append(("warnings", d["warnings"] + [f"note: {n}" for n in d["notes"]]))
    return blocks


def _disagreement_table(items: list[dict[str, Any]], validation: bool) -> tuple[list[str], list[list[Any]]]:
    has_text = any("text" in e for e in items)
    head = ["unit", "reference", "labels"] if validation else ["unit", "ratings"]
    if has_text:
        head.append("text")
    rows = []
    for e in items[:MAX_ROWS]:
        labels = e["labels"] if validation else e["ratings"]
        row = [e["unit_id"]]
        if validation:
            row.append(e["reference"])
        row.append("; ".join(f"{k}: {v}" for k, v in labels.items()))
        if has_text:
            text = e.get("text") or ""
            row.append(text[:300] + ("..." if len(text) > 300 else ""))
        rows.append(row)
    if len(items) > MAX_ROWS:
        rows.append([f"... {len(items) - MAX_ROWS} more"] + [""] * (len(head) - 1))
    return head, rows


# ---------------------------------------------------------------------- renderers
def to_markdown(result: AgreementResult | ValidationResult) -> str:
    out = []
    for kind, payload in _sections(result):
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + payload + "\n")
        elif kind == "p":
            out.append(payload + "\n")
        elif kind == "table":
            head, rows = payload
            if not rows:
                out.append("_none_\n")
                continue
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "---|" * len(head))
            for row in rows:
                out.append(
                    "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |"
                )
            out.append("")
        elif kind == "img":
            data, alt = payload
            out.append(f"![{alt}](data:image/png;base64,{data})\n")
        elif kind == "warnings" and payload:
            out.append("## Warnings and notes\n")
            out += [f"- {w}" for w in payload]
            out.append("")
    return "\n".join(out)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.92em}
th,td{border:1px solid #ccc;padding:0.3em 0.6em;text-align:left;vertical-align:top}
th{background:#f2f4f7} img{max-width:100%} .warn{color:#8a4b00}
"""


def to_html(result: AgreementResult | ValidationResult) -> str:
    esc = html.escape
    body = []
    title = "Agreement report"
    for kind, payload in _sections(result):
        if kind in ("h1", "h2", "h3"):
            if kind == "h1":
                title = payload
            body.append(f"<{kind}>{esc(payload)}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{esc(payload)}</p>")
        elif kind == "table":
            head, rows = payload
            if not rows:
                body.append("<p><em>none</em></p>")
                continue
            body.append(
                "<table><thead><tr>"
                + "".join(f"<th>{esc(str(h))}</th>" for h in head)
                + "</tr></thead><tbody>"
            )
            for row in rows:
                body.append("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>")
            body.append("</tbody></table>")
        elif kind == "img":
            data, alt = payload
            body.append(f'<p><img alt="{esc(alt)}" src="data:image/png;base64,{data}"></p>')
        elif kind == "warnings" and payload:
            body.append("<h2>Warnings and notes</h2><ul>")
            body += [f'<li class="warn">{esc(w)}</li>' for w in payload]
            body.append("</ul>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def write_report(result: AgreementResult | ValidationResult, path: str | Path) -> Path:
    """Write a Markdown (.md) or self-contained HTML (.html/.htm) report, chosen by extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        text = to_html(result)
    elif suffix in (".md", ".markdown"):
        text = to_markdown(result)
    else:
        raise ValueError(f"{path}: report must end in .html or .md")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
