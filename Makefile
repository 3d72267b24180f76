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

.PHONY: demo test lint format e2e-setup bench clean web screenshots

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

# Rebuild the pages' bundle (replaystore/web/static, committed) from web/'s lock file.
web:
	cd web && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

# Retake the README's screenshots (docs/images) with the browser test of the pages.
screenshots: $(STAMP) e2e-setup
	REPLAYSTORE_SCREENSHOTS=$(CURDIR)/docs/images $(BIN)/python -m pytest -q -p no:randomly \
		tests/web/test_pages.py -k "demo_replays or plays_the_real_capture"

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) $(DEMO_DATA) .pytest_cache .ruff_cache .hypothesis
