"""Figures of the analyses (matplotlib, Agg backend): labelled, named from the codebook, one colour per category.

A category keeps its colour in every figure: colours follow the scheme's codebook order, so Task Motivation
is the same blue in the bar chart, the flow figure and the residual map. Special levels (``(ended)``,
``(unlabelled)``, ``other``) are grey.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.ticker import MaxNLocator

from thoughtcode.analyses.inputs import Scheme

PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5",
]
GREY = "#9a9a9a"
_MPL_VERSION = tuple(int(p) for p in matplotlib.__version__.split(".")[:2] if p.isdigit())
SPECIAL = {"(ended)", "(unlabelled)", "other", "(missing)", "(other)"}
DPI = 130

STYLE = {"axes.spines.top": False, "axes.spines.right": False, "font.size": 9, "axes.titlesize": 10}


def _styled(function: Callable[..., Figure]) -> Callable[..., Figure]:
    """Draw with this module's style without touching the caller's matplotlib settings or backend."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with matplotlib.rc_context(STYLE):
            return function(*args, **kwargs)

    return wrapper


def _subplots(*args: Any, figsize: tuple[float, float], **kwargs: Any):
    """A figure with an Agg canvas (no pyplot, so nothing global is created or left open)."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots(*args, **kwargs)


def wrap(text: str, width: int = 18) -> str:
    return "\n".join(textwrap.wrap(str(text), width=width)) or str(text)


def colour_map(order: Sequence[str]) -> dict[str, str]:
    """Colour per id by its position in ``order`` (special levels grey)."""
    colours: dict[str, str] = {}
    i = 0
    for item in order:
        if item in SPECIAL:
            colours[item] = GREY
            continue
        colours[item] = PALETTE[i % len(PALETTE)]
        i += 1
    return colours


def category_colours(scheme: Scheme) -> dict[str, str]:
    """The scheme's colours: by codebook order (topic subtopics take their parent's colour family)."""
    return colour_map(scheme.order)


def _colour(colours: dict[str, str], key: str) -> str:
    return colours.get(key, GREY)


def _legend_right(ax, handles, title: str | None = None) -> None:
    ax.legend(handles=handles, title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)


@_styled
def stacked_share_bars(shares: pd.DataFrame, counts: pd.DataFrame, scheme: Scheme, xlabel: str, title: str):
    """Vertical 100% stacked bars: one bar per factor level, segments by category (codebook order)."""
    colours = category_colours(scheme)
    levels = [str(x) for x in shares.index]
    fig, ax = _subplots(figsize=(max(5.5, 1.1 * len(levels) + 4.0), 4.2))
    x = np.arange(len(levels))
    bottom = np.zeros(len(levels))
    handles = []
    for category in shares.columns:
        values = shares[category].fillna(0).to_numpy() * 100
        ax.bar(x, values, bottom=bottom, color=_colour(colours, category), width=0.7, edgecolor="white", linewidth=0.5)
        for xi, b, v in zip(x, bottom, values, strict=False):
            if v >= 6:
                ax.text(xi, b + v / 2, f"{v:.0f}%", ha="center", va="center", fontsize=7, color="white")
        bottom += values
        handles.append(Patch(color=_colour(colours, category), label=wrap(scheme.name_of(category), 30)))
    totals = counts.sum(axis=1).to_numpy()
    for xi, n in zip(x, totals, strict=False):
        ax.text(xi, 101, f"n={n}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [wrap(level, 12) for level in levels])
    ax.set_ylim(0, 108)
    ax.set_ylabel("Share of thoughts (%)")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    _legend_right(ax, handles[::-1], title="Category")
    fig.tight_layout()
    return fig


@_styled
def residual_heatmap(residuals: pd.DataFrame, scheme: Scheme, ylabel: str, title: str):
    """Heat map of adjusted residuals (blue below, red above expectation), values written in the cells."""
    data = residuals.to_numpy(dtype=float)
    finite = np.abs(data[np.isfinite(data)])
    limit = max(3.0, float(finite.max()) if finite.size else 3.0)
    fig, ax = _subplots(figsize=(max(5.0, 0.95 * data.shape[1] + 2.5), max(2.6, 0.5 * data.shape[0] + 1.8)))
    image = ax.imshow(np.ma.masked_invalid(data), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            value = data[i, j]
            if np.isfinite(value):
                ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(value) > 0.6 * limit else "black", fontweight="bold" if abs(value) > 2 else None)
    ax.set_xticks(range(data.shape[1]), [wrap(scheme.name_of(c), 14) for c in residuals.columns], fontsize=7)
    ax.set_yticks(range(data.shape[0]), [str(r) for r in residuals.index])
    ax.set_ylabel(ylabel)
    ax.set_xlabel("Category")
    ax.set_title(title)
    ax.spines[:].set_visible(False)
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("adjusted residual")
    fig.tight_layout()
    return fig


def _ribbon(ax, x0: float, x1: float, y0: tuple[float, float], y1: tuple[float, float], colour: str, alpha: float = 0.35):
    """A smooth band from [y0] at x0 to [y1] at x1 (cubic Bézier edges)."""
    mid = (x0 + x1) / 2
    verts = [
        (x0, y0[0]), (mid, y0[0]), (mid, y1[0]), (x1, y1[0]),
        (x1, y1[1]), (mid, y1[1]), (mid, y0[1]), (x0, y0[1]), (x0, y0[0]),
    ]
    codes = [MplPath.MOVETO, MplPath.CURVE4, MplPath.CURVE4, MplPath.CURVE4,
             MplPath.LINETO, MplPath.CURVE4, MplPath.CURVE4, MplPath.CURVE4, MplPath.CLOSEPOLY]
    ax.add_patch(PathPatch(MplPath(verts, codes), facecolor=colour, edgecolor="none", alpha=alpha))


@_styled
def share_flow(shares: pd.DataFrame, scheme: Scheme, xlabel: str, title: str):
    """Stacked share columns per level joined by a ribbon per category: how shares move between stages."""
    colours = category_colours(scheme)
    levels = [str(x) for x in shares.index]
    data = shares.fillna(0).to_numpy() * 100
    fig, ax = _subplots(figsize=(max(6.5, 1.6 * len(levels) + 4.0), 4.4))
    width = 0.28
    spans = []
    for i in range(len(levels)):
        bottom = 0.0
        column = []
        for j, category in enumerate(shares.columns):
            value = data[i, j]
            ax.bar(i, value, bottom=bottom, width=width, color=_colour(colours, category), edgecolor="white", linewidth=0.5)
            if value >= 6:
                ax.text(i, bottom + value / 2, f"{value:.0f}%", ha="center", va="center", fontsize=7, color="white")
            column.append((bottom, bottom + value))
            bottom += value
        spans.append(column)
    for i in range(len(levels) - 1):
        for j, category in enumerate(shares.columns):
            a, b = spans[i][j], spans[i + 1][j]
            if a[1] - a[0] <= 0 and b[1] - b[0] <= 0:
                continue
            _ribbon(ax, i + width / 2, i + 1 - width / 2, a, b, _colour(colours, category))
    ax.set_xticks(range(len(levels)), levels)
    ax.set_xlim(-0.5, len(levels) - 0.5)
    ax.set_ylim(0, 100)
    ax.set_ylabel("Share of thoughts (%)")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    handles = [Patch(color=_colour(colours, c), label=wrap(scheme.name_of(c), 30)) for c in shares.columns][::-1]
    _legend_right(ax, handles, title="Category")
    fig.tight_layout()
    return fig


@_styled
def category_bars(counts: pd.Series, scheme: Scheme, title: str, xlabel: str = "Share of labelled units (%)"):
    """Horizontal bars of a category distribution (codebook order top to bottom), count and share written."""
    colours = category_colours(scheme)
    total = counts.sum() or 1
    fig, ax = _subplots(figsize=(7.0, 0.42 * len(counts) + 1.4))
    y = np.arange(len(counts))
    values = counts.to_numpy() / total * 100
    ax.barh(y, values, color=[_colour(colours, c) for c in counts.index])
    for yi, v, n in zip(y, values, counts.to_numpy(), strict=False):
        ax.text(v + 0.5, yi, f"{v:.1f}% ({n})", va="center", fontsize=8)
    ax.set_yticks(y, [wrap(scheme.name_of(c), 34) for c in counts.index])
    ax.invert_yaxis()
    ax.set_xlim(0, max(values.max() if len(values) else 0, 1) * 1.25)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


@_styled
def length_histogram(histograms: pd.DataFrame, max_buckets: int = 16):
    """Share of conversations per 2-message bucket, one bar group per corpus (longest tail pooled)."""
    corpora = list(dict.fromkeys(histograms["corpus"]))
    buckets = list(dict.fromkeys(histograms["bucket"]))
    shown = buckets[: max_buckets - 1] if len(buckets) > max_buckets else buckets
    tail = buckets[len(shown):]
    labels = shown + ([f"{tail[0].split('-')[0]}+"] if tail else [])
    fig, ax = _subplots(figsize=(max(7.0, 0.5 * len(labels) * max(1, len(corpora)) ** 0.5 + 3), 4.0))
    width = 0.8 / max(len(corpora), 1)
    colours = colour_map(corpora)
    for k, corpus in enumerate(corpora):
        part = histograms[histograms["corpus"] == corpus].set_index("bucket")["share"]
        values = [part.get(b, 0.0) for b in shown] + ([sum(part.get(b, 0.0) for b in tail)] if tail else [])
        x = np.arange(len(labels)) + (k - (len(corpora) - 1) / 2) * width
        ax.bar(x, np.asarray(values) * 100, width=width, color=colours[corpus], label=corpus)
    ax.set_xticks(np.arange(len(labels)), labels, rotation=45 if len(labels) > 10 else 0, ha="right" if len(labels) > 10 else "center")
    ax.set_xlabel("Messages per conversation (2-message buckets)")
    ax.set_ylabel("Share of conversations (%)")
    ax.set_title("Conversation length")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


@_styled
def token_boxplots(tokens: pd.DataFrame):
    """Tokens per message by role (log scale), one box per corpus and role."""
    corpora = list(dict.fromkeys(tokens["corpus"]))
    roles = ["user", "assistant"]
    colours = colour_map(corpora)
    fig, ax = _subplots(figsize=(max(6.0, 1.6 * len(corpora) + 3.5), 4.0))
    positions, data, facecolours = [], [], []
    for r, role in enumerate(roles):
        for k, corpus in enumerate(corpora):
            values = tokens[(tokens["corpus"] == corpus) & (tokens["role"] == role)]["tokens"].to_numpy()
            values = np.maximum(values, 1)
            if values.size == 0:
                continue
            positions.append(r * (len(corpora) + 1) + k)
            data.append(values)
            facecolours.append(colours[corpus])
    boxes = ax.boxplot(data, positions=positions, widths=0.7, patch_artist=True, showfliers=False)
    for patch, colour in zip(boxes["boxes"], facecolours, strict=False):
        patch.set_facecolor(colour)
        patch.set_alpha(0.75)
    for median in boxes["medians"]:
        median.set_color("black")
    ax.set_yscale("log")
    centres = [r * (len(corpora) + 1) + (len(corpora) - 1) / 2 for r in range(len(roles))]
    ax.set_xticks(centres, ["User messages", "Assistant messages"])
    ax.set_ylabel("Tokens per message (log scale)")
    ax.set_title("Tokens per message by role (boxes: quartiles; whiskers: 1.5 IQR)")
    ax.legend(handles=[Patch(color=colours[c], label=c) for c in corpora], frameon=False, loc="upper left")
    fig.tight_layout()
    return fig


@_styled
def demographics_grid(panels: list[tuple[str, pd.Series, int]]):
    """Small horizontal bar charts, one per survey question: (title, counts, denominator of the shares)."""
    n = len(panels)
    cols = 2
    rows = (n + cols - 1) // cols
    heights = [max(len(p[1]) for p in panels[i * cols : (i + 1) * cols]) for i in range(rows)]
    fig, axes = _subplots(rows, cols, figsize=(11, sum(0.28 * h + 1.0 for h in heights)),
                             gridspec_kw={"height_ratios": heights})
    axes = np.atleast_2d(axes)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, (title, series, total) in zip(axes.ravel(), panels, strict=False):
        total = total or 1
        values = series.to_numpy() / total * 100
        y = np.arange(len(series))
        ax.barh(y, values, color=PALETTE[0])
        for yi, v, c in zip(y, values, series.to_numpy(), strict=False):
            ax.text(v + 0.5, yi, f"{v:.0f}% ({c})", va="center", fontsize=7)
        ax.set_yticks(y, [wrap(str(i), 26) for i in series.index], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, max(values.max() if len(values) else 1, 1) * 1.35)
        ax.set_title(title)
        ax.set_xlabel("Share of respondents (%)", fontsize=7)
    fig.tight_layout()
    return fig


@_styled
def topic_bars(categories: pd.DataFrame, subtopics: pd.DataFrame, colours: dict[str, str]):
    """Topic categories (left) and subtopics coloured by their category (right), share of conversations."""
    fig, (left, right) = _subplots(
        1, 2, figsize=(12, max(4.0, 0.22 * len(subtopics) + 1.5)), gridspec_kw={"width_ratios": [1, 1.4]}
    )
    y = np.arange(len(categories))
    left.barh(y, categories["share_of_conversations"] * 100, color=[colours.get(c, GREY) for c in categories["category"]])
    for yi, v, n in zip(y, categories["share_of_conversations"] * 100, categories["conversations"], strict=False):
        left.text(v + 0.5, yi, f"{v:.1f}% ({n})", va="center", fontsize=7)
    left.set_yticks(y, [wrap(n, 24) for n in categories["name"]])
    left.invert_yaxis()
    left.set_xlim(0, max(float(categories["share_of_conversations"].max() * 100) if len(categories) else 1, 1) * 1.3)
    left.set_xlabel("Conversations with the category (%)")
    left.set_title("Topic categories")
    y = np.arange(len(subtopics))
    right.barh(y, subtopics["share_of_conversations"] * 100, color=[colours.get(c, GREY) for c in subtopics["category"]])
    for yi, v, n in zip(y, subtopics["share_of_conversations"] * 100, subtopics["conversations"], strict=False):
        right.text(v + 0.3, yi, f"{v:.1f}% ({n})", va="center", fontsize=6.5)
    right.set_yticks(y, [textwrap.shorten(n, 42) for n in subtopics["name"]], fontsize=6.5)
    right.invert_yaxis()
    right.set_xlim(0, max(float(subtopics["share_of_conversations"].max() * 100) if len(subtopics) else 1, 1) * 1.3)
    right.set_xlabel("Conversations with the subtopic (%)")
    right.set_title("Subtopics (colour = category)")
    fig.tight_layout()
    return fig


@_styled
def relation_flow_bars(flow: pd.DataFrame, colours: dict[str, str], names: dict[str, str]):
    """Horizontal 100% bars: what happens at turn 2, turn 3 and later (relation of the turn, or the end)."""
    steps = list(dict.fromkeys(flow["step"]))
    outcomes = list(dict.fromkeys(flow["outcome"]))
    fig, ax = _subplots(figsize=(9.0, 0.7 * len(steps) + 1.8))
    y = np.arange(len(steps))
    left = np.zeros(len(steps))
    for outcome in outcomes:
        values = np.array([
            float(flow[(flow["step"] == s) & (flow["outcome"] == outcome)]["share"].sum()) * 100 for s in steps
        ])
        ax.barh(y, values, left=left, color=colours.get(outcome, GREY), label=names.get(outcome, outcome), edgecolor="white")
        for yi, lft, v in zip(y, left, values, strict=False):
            if v >= 5:
                ax.text(lft + v / 2, yi, f"{v:.0f}%", ha="center", va="center", fontsize=7, color="white")
        left += values
    totals = flow.groupby("step", sort=False)["count"].sum()
    ax.set_yticks(y, [f"{s}\n(n={totals.get(s, 0)})" for s in steps])
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("Share of conversations reaching the step (%)")
    ax.set_title("Turn-to-turn flow: relation of the next user turn, or the conversation ends")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(steps) < 4 else -0.2), ncol=min(6, len(outcomes)), frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


@_styled
def sankey(columns: list[str], nodes: list[list[tuple[str, int]]], links: list[dict[tuple[str, str], int]],
           colours: dict[str, str], names: dict[str, str], title: str, ylabel: str = "Conversations"):
    """A left-to-right flow diagram: ``nodes[i]`` are (key, count) at column i, ``links[i]`` the counts
    from a node of column i to a node of column i+1."""
    total = max(sum(c for _, c in col) for col in nodes) or 1
    gap = 0.02 * total
    width = 0.16
    fig, ax = _subplots(figsize=(2.3 * len(columns) + 2.5, 5.0))
    positions: list[dict[str, list[float]]] = []
    for i, column in enumerate(nodes):
        y = total + gap * (len(nodes[0]) - 1)
        spans = {}
        for key, count in column:
            if count <= 0:
                continue
            spans[key] = [y - count, y]
            ax.add_patch(Rectangle((i - width / 2, y - count), width, count, color=colours.get(key, GREY)))
            if count / total >= 0.04:
                ax.text(i + width / 2 + 0.04, y - count / 2, f"{names.get(key, key)} {count}", va="center", fontsize=7)
            y -= count + gap
        positions.append(spans)
    for i, link in enumerate(links):
        out_cursor = {k: v[1] for k, v in positions[i].items()}
        in_cursor = {k: v[1] for k, v in positions[i + 1].items()}
        for (a, b), count in sorted(link.items(), key=lambda kv: (list(positions[i]).index(kv[0][0]) if kv[0][0] in positions[i] else 99,
                                                                   list(positions[i + 1]).index(kv[0][1]) if kv[0][1] in positions[i + 1] else 99)):
            if count <= 0 or a not in out_cursor or b not in in_cursor:
                continue
            y0 = (out_cursor[a] - count, out_cursor[a])
            y1 = (in_cursor[b] - count, in_cursor[b])
            out_cursor[a] -= count
            in_cursor[b] -= count
            _ribbon(ax, i + width / 2, i + 1 - width / 2, (y0[1], y0[0]), (y1[1], y1[0]), colours.get(b, GREY), alpha=0.3)
    ax.set_xlim(-0.4, len(columns) - 0.3)
    ax.set_ylim(-gap, total + gap * len(nodes[0]) + gap)
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks([])
    ax.set_ylabel(ylabel)
    ax.spines[["left"]].set_visible(False)
    ax.set_title(title)
    keys = list(dict.fromkeys(k for column in nodes for k, c in column if c > 0))
    ax.legend(handles=[Patch(color=colours.get(k, GREY), label=names.get(k, k)) for k in keys],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


@_styled
def shift_rings(points: dict[str, np.ndarray], rings: dict[str, Sequence[float]], method: str, titles: dict[str, str]):
    """One panel per pair type: 2-D projections (``method``: PCA, UMAP) of centred differences with
    25/50/75th-percentile rings."""
    keys = list(points)
    fig, axes = _subplots(1, len(keys), figsize=(4.2 * len(keys), 4.4), squeeze=False)
    limit = max((float(np.abs(p).max()) for p in points.values() if len(p)), default=1.0) * 1.08
    colours = colour_map(keys)
    for ax, key in zip(axes[0], keys, strict=False):
        data = points[key]
        if len(data):
            ax.scatter(data[:, 0], data[:, 1], s=6, alpha=0.35, color=colours[key], linewidths=0)
        styles = {25: ":", 50: "-", 75: "--"}
        for q, radius in zip((25, 50, 75), rings[key], strict=False):
            ax.add_patch(Circle((0, 0), radius, fill=False, linestyle=styles[q], color="black", linewidth=1.0))
        ax.legend(
            handles=[Line2D([], [], color="black", linestyle=styles[q], label=f"p{q} = {r:.2f}") for q, r in zip((25, 50, 75), rings[key], strict=False)],
            loc="upper left", fontsize=7, frameon=True, framealpha=0.85, title="rings", title_fontsize=7,
        )
        ax.axhline(0, color="#cccccc", linewidth=0.5)
        ax.axvline(0, color="#cccccc", linewidth=0.5)
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.xaxis.set_major_locator(MaxNLocator(5, prune="both", symmetric=True))
        ax.yaxis.set_major_locator(MaxNLocator(5, prune="both", symmetric=True))
        ax.set_title(wrap(titles.get(key, key), 48))
        ax.set_xlabel(f"{method} 1")
        ax.set_ylabel(f"{method} 2")
    fig.suptitle(f"Paired differences (second minus first), each pair moved to the origin, {method} projection; "
                 "rings: 25/50/75th percentile of the projected distance", fontsize=9)
    fig.tight_layout()
    return fig


@_styled
def distance_boxes(distances: dict[str, np.ndarray]):
    """Box plot of difference-vector lengths per pair type (quartiles marked)."""
    keys = list(distances)
    colours = colour_map(keys)
    fig, ax = _subplots(figsize=(7.5, 0.8 * len(keys) + 1.6))
    horizontal = {"orientation": "horizontal"} if _MPL_VERSION >= (3, 10) else {"vert": False}
    boxes = ax.boxplot([distances[k] for k in keys], widths=0.6, patch_artist=True, showfliers=False, **horizontal)
    for patch, key in zip(boxes["boxes"], keys, strict=False):
        patch.set_facecolor(colours[key])
        patch.set_alpha(0.75)
    for median in boxes["medians"]:
        median.set_color("black")
    labels = [f"{wrap(k, 26)}\n(median {np.median(distances[k]):.3f})" for k in keys]
    ax.set_yticks(range(1, len(keys) + 1), labels)
    ax.invert_yaxis()
    ax.set_xlabel("Length of the difference vector (unit-length embeddings)")
    ax.set_title("How far the second side moves from the first")
    fig.tight_layout()
    return fig


@_styled
def score_panels(distribution: pd.DataFrame, summary: pd.DataFrame, title: str, scale: str):
    """1-5 scores of an LLM-judged analysis. Left: share of scored items at each score, one bar per group;
    right: each group's mean with its interval (``ci_low``/``ci_high``) and the paper's value (``paper``)
    as a grey mark. Both frames have a ``group`` column; ``distribution`` also ``score`` and ``share``."""
    groups = list(dict.fromkeys(summary["group"]))
    colours = colour_map(groups)
    labels = {g: wrap(g, 28) for g in groups}
    lines = max(label.count("\n") + 1 for label in labels.values())
    height = max(3.6, len(groups) * (0.2 * lines + 0.3) + 1.6)  # room for long model names on the right
    fig, (left, right) = _subplots(1, 2, figsize=(11.0, height), width_ratios=[3, 2])
    shown = [g for g in groups if g in set(distribution["group"])]
    width = 0.8 / max(1, len(shown))
    for i, group in enumerate(shown):
        shares = distribution[distribution["group"] == group].set_index("score")["share"].reindex(range(1, 6), fill_value=0)
        left.bar(np.arange(1, 6) + (i - (len(shown) - 1) / 2) * width, 100 * shares.to_numpy(dtype=float), width,
                 color=colours[group], label=labels[group])
    left.set_xticks(range(1, 6))
    left.set_xlabel(f"Score ({scale})")
    left.set_ylabel("Share of scored thoughts (%)")
    if shown:
        left.legend(frameon=False, fontsize=8, loc="best")
    y = np.arange(len(groups))[::-1]
    rows = summary.set_index("group")
    for yi, group in zip(y, groups, strict=True):
        row = rows.loc[group]
        if pd.notna(row.get("paper")):
            right.plot(row["paper"], yi, marker="|", markersize=14, color=GREY)
        if pd.isna(row["mean"]):
            continue
        low, high = row.get("ci_low"), row.get("ci_high")
        xerr = [[row["mean"] - low], [high - row["mean"]]] if pd.notna(low) and pd.notna(high) else None
        right.errorbar(row["mean"], yi, xerr=xerr, fmt="o", color=colours[group], capsize=3)
        right.text(row["mean"], yi + 0.18, f"{row['mean']:.2f}", ha="center", va="bottom", fontsize=7)
    right.set_yticks(y, [labels[g] for g in groups])
    right.set_ylim(-0.7, len(groups) - 0.3)
    right.set_xlim(0.8, 5.2)
    right.set_xticks(range(1, 6))
    right.set_xlabel("Mean score (95% CI); grey: paper")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def save(fig, path) -> None:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
