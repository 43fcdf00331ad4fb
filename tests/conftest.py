"""Shared fixtures: paths to the real data shipped with the tests and the package."""

from __future__ import annotations

from pathlib import Path

import pytest
from standin import StandIn

from thoughtcode.corpus import load_corpus, units_for
from thoughtcode.taxonomy import load_codebook

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


@pytest.fixture(scope="module")
def server():
    """A stand-in OpenAI/Anthropic server per test module; modules with scripted answers define their own."""
    with StandIn() as standin:
        yield standin


@pytest.fixture(scope="module")
def reasons():
    """The built-in reasons codebook (modules that need another meaning of the name define their own)."""
    return load_codebook("reasons")


@pytest.fixture(scope="module")
def reason_units(sample_file):
    """The reason units of the bundled sample."""
    return list(units_for(load_corpus(sample_file), "reason"))
