# Two commands do all the set-up on a fresh machine (see README.md):
#   make demo   installs the runtime only, builds the demo store and serves it on 127.0.0.1
#   make test   installs everything the tests need and runs every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two installs into one venv: `make demo` needs only the runtime (pip install -e .); `make test`
# (and the helpers' set-up, `make .venv/.installed`) the test extra, which includes it.
SERVE_STAMP := $(VENV)/.installed-serve
STAMP := $(VENV)/.installed
DEMO_DATA ?= demo-data
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: demo test lint format e2e-setup bench clean web screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(SERVE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(SERVE_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP) $(SERVE_STAMP)

demo: $(SERVE_STAMP)
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
