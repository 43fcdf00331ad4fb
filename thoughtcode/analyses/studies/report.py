"""A self-contained HTML page (no scripts, no external files) with the tables and notes of a study run."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:70rem;margin:2rem auto;
padding:0 1rem;color:#1d1d1f;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0 1.2rem;font-size:.92rem}
th,td{border:1px solid #d0d0d5;padding:.3rem .55rem;text-align:right;vertical-align:top}
th{background:#f3f3f6}td.text,th.text{text-align:left}caption{caption-side:top;text-align:left;font-weight:600;
padding-bottom:.3rem}p.note{color:#555;font-size:.9rem}code{background:#f3f3f6;padding:0 .2rem}
"""


@dataclass
class Section:
    """A heading, paragraphs, tables (caption -> DataFrame) and small notes, in that order."""

    title: str
    paragraphs: Sequence[str] = ()
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: Sequence[str] = ()


def _cell(value: Any, digits: int) -> tuple[str, bool]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–", False
    if isinstance(value, bool):
        return str(value), True
    if isinstance(value, (int,)) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu"):
        return f"{int(value)}", False
    if isinstance(value, float) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f"):
        v = float(value)
        return (f"{v:.{digits}g}" if abs(v) < 1e-3 and v != 0 else f"{v:.{digits}f}"), False
    return html.escape(str(value)), True


def table_html(frame: pd.DataFrame, caption: str = "", digits: int = 2, max_rows: int = 200) -> str:
    """A DataFrame as an HTML table (index shown when it is named or not a plain range)."""
    show_index = frame.index.name is not None or not isinstance(frame.index, pd.RangeIndex)
    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    head = ([html.escape(str(frame.index.name or ""))] if show_index else []) + [html.escape(str(c)) for c in frame.columns]
    parts.append("<tr>" + "".join(f'<th class="text">{h}</th>' if i == 0 else f"<th>{h}</th>" for i, h in enumerate(head)) + "</tr>")
    for index, row in frame.head(max_rows).iterrows():
        cells = []
        if show_index:
            cells.append(f'<td class="text">{html.escape(str(index))}</td>')
        for value in row.tolist():
            text, is_text = _cell(value, digits)
            cells.append(f'<td class="text">{text}</td>' if is_text else f"<td>{text}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</table>")
    if len(frame) > max_rows:
        parts.append(f'<p class="note">{len(frame) - max_rows} more rows in the CSV file.</p>')
    return "\n".join(parts)


def report_html(title: str, sections: Sequence[Section], subtitle: str = "") -> str:
    """The whole page as a string."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    if subtitle:
        body.append(f'<p class="note">{html.escape(subtitle)}</p>')
    for section in sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        body += [f"<p>{html.escape(p)}</p>" for p in section.paragraphs]
        body += [table_html(frame, caption) for caption, frame in section.tables.items()]
        body += [f'<p class="note">{html.escape(n)}</p>' for n in section.notes]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_report(path: Path, title: str, sections: Sequence[Section], subtitle: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report_html(title, sections, subtitle), encoding="utf-8")
    return path
