"""Shared fixtures: paths to the real data shipped with the tests and the package."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
DEV_FILE = DATA / "thoughttrace_dev.jsonl"
FORMATS = DATA / "formats"
SAMPLE_FILE = Path(__file__).parent.parent / "thoughtcode" / "data" / "thoughttrace_sample.jsonl"


@pytest.fixture(scope="session")
def dev_file() -> Path:
    return DEV_FILE


@pytest.fixture(scope="session")
def sample_file() -> Path:
    return SAMPLE_FILE
