"""Reports: Markdown and one self-contained HTML file (figures embedded, nothing fetched)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from thoughtcode.agreement import RatingData, agree, format_text, write_report

UNITS_BY_RATERS = [
    [4, 4, 4, 4, 4, 4],
    [2, 2, 2, 5, 5, 5],
    [2, 3, 3, 3, 3, 5],
    [5, 5, 5, 5, 5, 5],
    [2, 2, 2, 4, 4, 4],
    [1, 1, 3, 3, 3, 3],
    [3, 3, 3, 3, 5, 5],
    [1, 1, 3, 3, 3, 4],
    [1, 1, 4, 4, 4, 4],
    [5, 5, 5, 5, 5, 5],
]


@pytest.fixture(scope="module")
def result():
    text = {i: f"unit <{i}> & its text" for i in range(1, 11)}
    return agree(RatingData.from_wide(UNITS_BY_RATERS), bootstrap=200, seed=1, unit_text=text)


def test_html_is_self_contained(result, tmp_path: Path) -> None:
    html = write_report(result, tmp_path / "agreement.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("data:image/png;base64,") >= 2  # per-category bars and the coincidence heatmap
    srcs = re.findall(r'src="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "http" not in "".join(srcs)
    assert not re.search(r"<(script|link)\b", html)
    assert "&lt;3&gt; &amp; its text" in html  # unit text is escaped
    assert "bootstrap" in html and "convention" in html
    for name in ("fleiss_kappa", "krippendorff_alpha", "gwet_ac1"):
        assert name in html


def test_markdown_report(result, tmp_path: Path) -> None:
    md = write_report(result, tmp_path / "agreement.md").read_text()
    assert md.startswith("# Inter-rater agreement")
    assert "| coefficient | value | SE | 95% interval | interval | band |" in md
    assert "](data:image/png;base64," in md
    assert "Units with disagreement" in md


def test_two_coder_report_has_crosstab_and_text_summary(tmp_path: Path) -> None:
    res = agree(
        RatingData.from_table([[13, 0, 0], [0, 20, 7], [0, 4, 56]], ["Ectopic", "AIU", "NIU"]),
        level="ordinal",
    )
    assert res.matrix["kind"] == "crosstab"
    assert np.array(res.matrix["values"]).sum() == 100
    html = write_report(res, tmp_path / "two.html").read_text()
    assert "Weighted coefficients (linear weights)" in html
    text = format_text(res)
    assert "cohen_kappa" in text and "Landis & Koch" in text and "analytic" in text


def test_unknown_report_extension(result, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.html or \.md"):
        write_report(result, tmp_path / "report.pdf")
