"""The UMAP projection of the shift figure (``--projection umap``; ``pip install 'thoughtcode[topics]'``).

Not part of ``make test``: run with ``python -m pytest tests_extra/test_analyses_umap.py`` in an environment
with the topics extra. UMAP compiles with numba on first use (about 15 s per process).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("umap", reason="needs the topics extra: pip install 'thoughtcode[topics]'")

from thoughtcode.analyses import load_inputs, shift_analysis
from thoughtcode.analyses.shift import umap_2d
from thoughtcode.cli import main

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "thoughtcode" / "data" / "thoughttrace_sample.jsonl"


def test_umap_2d_is_seeded_and_puts_no_change_at_the_origin():
    rng = np.random.default_rng(0)
    near = rng.normal(scale=0.05, size=(40, 8))  # small changes
    far = rng.normal(loc=3.0, scale=0.05, size=(40, 8))  # large changes, all in one direction
    diffs = np.vstack([near, far])
    flat = umap_2d(diffs, seed=1)
    assert flat.shape == (80, 2) and np.isfinite(flat).all()
    assert np.allclose(flat, umap_2d(diffs, seed=1))  # seeded: reproducible
    radius = np.linalg.norm(flat, axis=1)
    assert np.median(radius[:40]) < np.median(radius[40:])  # the zero difference lands among the small changes


def test_shift_analysis_draws_the_umap_figure(tmp_path):
    result = shift_analysis(load_inputs(SAMPLE), n_permutations=20, n_boot=20, projection="umap")
    assert result.data["settings"]["projection"] == "umap"
    assert "UMAP" in result.captions["shift_differences"] and "PCA" not in result.captions["shift_differences"]
    fig = result.figures["shift_differences"]()
    axes = [ax for ax in fig.axes if ax.get_xlabel()]
    assert [ax.get_xlabel() for ax in axes] == ["UMAP 1"] * len(axes) and len(axes) == 3
    for ax in axes:
        radii = sorted(p.get_radius() for p in ax.patches)
        assert len(radii) == 3 and radii[0] <= radii[1] <= radii[2]
    fig.savefig(tmp_path / "umap.png")
    assert (tmp_path / "umap.png").stat().st_size > 10_000


def test_analyze_shift_with_projection_umap_through_the_cli(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["analyze", "shift", str(SAMPLE), "--projection", "umap", "--permutations", "20", "--bootstrap", "20",
                 "--out", str(out), "--json"]) == 0  # fmt: skip
    payload = json.loads(capsys.readouterr().out)
    assert payload["settings"]["projection"] == "umap"
    assert (out / "figures" / "shift_differences.png").exists()
