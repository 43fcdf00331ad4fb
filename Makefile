PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_CORE := $(VENV)/.installed-core
STAMP_TEST := $(VENV)/.installed-test

.PHONY: demo test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP_CORE): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP_CORE) $@

demo: $(STAMP_CORE)
	$(BIN)/thoughtcode demo

test: $(STAMP_TEST)
	$(BIN)/ruff check thoughtcode tests benchmarks scripts
	$(BIN)/python -m pytest

lint: $(STAMP_TEST)
	$(BIN)/ruff check thoughtcode tests benchmarks scripts

clean:
	rm -rf $(VENV) build *.egg-info
