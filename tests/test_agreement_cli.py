"""``thoughtcode agree --json`` reproduces every reference case; ``thoughtcode validate`` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from test_agreement_reference import CASES, case_order, check_expected, write_long_csv

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "thoughtcode"
DEV = ROOT / "tests" / "data" / "thoughttrace_dev.jsonl"

pytestmark = pytest.mark.slow  # one subprocess per call: still run by `make test`


def thoughtcode(*args: str) -> subprocess.CompletedProcess:
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "thoughtcode.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_agree_json_reproduces_reference_case(case: dict[str, Any], tmp_path: Path) -> None:
    path = write_long_csv(case, tmp_path / f"{case['id']}.csv")
    cache: dict[tuple[str, str | None], dict[str, Any]] = {}

    def run(level: str, weights: str | None = None) -> dict[str, Any]:
        if weights is not None:  # the CLI reaches weighted kappas through --level
            level = {"linear": "ordinal", "quadratic": "interval"}[weights]
        key = (level, weights)
        if key not in cache:
            args = ["agree", str(path), "--json", "--level", level]
            order = case_order(case)
            if order is not None and level != "nominal":
                args += ["--order", ",".join(order)]
            proc = thoughtcode(*args)
            assert proc.returncode == 0, proc.stderr
            cache[key] = json.loads(proc.stdout)
        return cache[key]

    check_expected(case, run)


def test_agree_cli_errors_and_report(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"unit_id": [1, 1, 2, 2], "coder": ["a", "b"] * 2, "label": ["low", "high", "low", "low"]}
    )
    path = tmp_path / "ordinal.csv"
    frame.to_csv(path, index=False)
    proc = thoughtcode("agree", str(path), "--level", "ordinal")
    assert proc.returncode == 2 and "never ordered alphabetically" in proc.stderr
    report = tmp_path / "agreement.html"
    proc = thoughtcode(
        "agree",
        str(path),
        "--level",
        "ordinal",
        "--order",
        "low,high",
        "--bootstrap",
        "100",
        "--report",
        str(report),
    )
    assert proc.returncode == 0, proc.stderr
    assert "krippendorff_alpha" in proc.stdout and "bootstrap" in proc.stdout
    assert "data:image/png;base64," in report.read_text()


def test_validate_against_corpus_labels(tmp_path: Path) -> None:
    from thoughtcode.corpus import load_corpus, thought_units

    units = [u for u in thought_units(load_corpus(DEV)) if u.label is not None]
    rng = np.random.default_rng(0)
    labels = np.array([u.label for u in units], dtype=object)
    cats = sorted(set(labels))
    changed = rng.random(len(units)) < 0.1
    for i in np.flatnonzero(changed):
        labels[i] = next(c for c in cats if c != labels[i])
    coded = pd.DataFrame({"unit_id": [u.unit_id for u in units], "coder": "local", "label": labels})
    path = tmp_path / "coded.csv"
    coded.to_csv(path, index=False)
    proc = thoughtcode(
        "validate", str(path), "--reference-from-corpus", str(DEV), "--json", "--bootstrap", "200"
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    metrics = out["coders"]["local"]["metrics"]
    assert metrics["accuracy"]["value"] == pytest.approx(1 - changed.mean())
    assert metrics["accuracy"]["ci_method"] == "bootstrap"
    assert out["n_disagreements"] == changed.sum()
    assert all(d.get("text") for d in out["disagreements"])


def test_validate_against_corpus_uses_only_the_coded_thought_kind(tmp_path: Path) -> None:
    from thoughtcode.corpus import load_corpus, thought_units

    reasons = [u for u in thought_units(load_corpus(DEV), kinds=("reason",)) if u.label is not None]
    coded = pd.DataFrame({"unit_id": [u.unit_id for u in reasons], "coder": "local", "label": [u.label for u in reasons]})
    path = tmp_path / "reasons.csv"
    coded.to_csv(path, index=False)
    proc = thoughtcode("validate", str(path), "--reference-from-corpus", str(DEV), "--json", "--bootstrap", "0")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n_reference_units"] == len(reasons)
    assert out["coders"]["local"]["coverage"] == pytest.approx(1.0)


def test_validate_orders_categories_by_the_codebook_the_labels_carry(tmp_path: Path, capsys) -> None:
    """Labels stamped with a codebook reference are reported in the codebook's order, not alphabetically."""
    from thoughtcode.cli import main
    from thoughtcode.corpus import load_corpus, thought_units
    from thoughtcode.taxonomy import load_codebook

    codebook = load_codebook("reasons@1.0.0")
    units = list(thought_units(load_corpus(DEV), kinds=("reason",)))
    coded = pd.DataFrame(
        {"unit_id": [u.unit_id for u in units], "coder": "human", "label": [u.label for u in units], "codebook": codebook.ref}
    )
    path = tmp_path / "coded.csv"
    coded.to_csv(path, index=False)
    assert main(["validate", str(path), "--reference-from-corpus", str(DEV), "--json", "--bootstrap", "50"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["categories"] == codebook.label_ids
    assert out["categories"] != sorted(codebook.label_ids)
