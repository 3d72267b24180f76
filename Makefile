# Two commands do all the set-up on a fresh machine (see README.md):
#   make demo   builds the demo store from data/fixtures and serves it on 127.0.0.1
#   make test   installs everything the tests need and runs every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DATA ?= demo-data
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test lint format e2e-setup bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/replaystore demo --data $(DEMO_DATA) --host $(HOST) --port $(PORT)

e2e-setup:
	bash tests/e2e/setup.sh

test: $(STAMP) e2e-setup
	$(BIN)/ruff check replaystore tests benchmarks
	$(BIN)/ruff format --check replaystore tests benchmarks
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check replaystore tests benchmarks
	$(BIN)/ruff format --check replaystore tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format replaystore tests benchmarks
	$(BIN)/ruff check --fix replaystore tests benchmarks

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) $(DEMO_DATA) .pytest_cache .ruff_cache .hypothesis
