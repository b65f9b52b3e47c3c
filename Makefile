# Two commands matter: `make run` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
RUNTIME := $(VENV)/.installed-runtime

.PHONY: help install run demo test check test-browser test-nats test-clients fuzz lint format openapi bench bench-webhook bench-metrics bench-dashboard bench-events bench-bad-keys clean

# `run` and `demo` need the service alone; the tests and tools need the dev extras too (several
# hundred MB more). A venv with the dev extras serves both.
$(RUNTIME): pyproject.toml
	@if [ -f $(STAMP) ] && [ $(STAMP) -nt pyproject.toml ]; then touch $@; else \
	  $(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "leadstatus needs Python 3.11 or newer; set PYTHON=python3.11 (or newer)")' && \
	  echo "Building $(VENV) with the service's dependencies (first run only) ..." && \
	  { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); } && \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip && \
	  $(BIN)/python -m pip install --quiet --disable-pip-version-check -e . && \
	  touch $@; fi

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "leadstatus needs Python 3.11 or newer; set PYTHON=python3.11 (or newer)")'
	@echo "Building $(VENV) with the service's dependencies and the dev tools (first run only) ..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

install: $(STAMP) ## build .venv with the dev tools (the other targets do it on first use)

run: $(RUNTIME) ## serve on http://127.0.0.1:8000 (embedded PostgreSQL unless DATABASE_URL is set)
	$(BIN)/leadstatus serve --migrate --dev-key

demo: $(RUNTIME) ## like `run`, with two years of demo history (50,000 leads, seeded only once)
	$(BIN)/leadstatus seed --migrate --leads 50000 --if-fewer
	$(BIN)/leadstatus serve --migrate --dev-key

test: $(STAMP) ## the whole suite on a real PostgreSQL (embedded unless TEST_DATABASE_URL is set)
	$(BIN)/pytest

test-browser: $(STAMP) ## /docs in headless Chromium (needs Debian's chromium)
	@$(BIN)/python -c 'import playwright' 2>/dev/null || $(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[browser]'
	$(BIN)/pytest -m browser tests/browser -p no:cacheprovider

test-nats: $(STAMP) ## publishing to a real nats-server with JetStream (needs Debian's nats-server)
	@$(BIN)/python -c 'import nats' 2>/dev/null || $(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[nats]'
	$(BIN)/pytest -m nats tests/nats -p no:cacheprovider

test-clients: $(STAMP) ## generate a Python client from openapi/openapi.json and run a sales flow through it
	@$(BIN)/python -c 'import openapi_python_client' 2>/dev/null || $(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[clients]'
	$(BIN)/pytest -m clients tests/clients -p no:cacheprovider

fuzz: $(STAMP) ## Schemathesis against a served process: every operation, fixed seed (a few minutes)
	$(BIN)/pytest -m fuzz tests/fuzz -p no:cacheprovider

check: lint test ## lint, then the suite: what CI runs first

lint: $(STAMP) ## ruff, ruff format, mypy, and the layer contracts (import-linter)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/mypy app tests
	$(BIN)/lint-imports

format: $(STAMP) ## ruff fix and format
	$(BIN)/ruff check --fix app tests bench
	$(BIN)/ruff format app tests bench

openapi: $(STAMP) ## regenerate the committed openapi/openapi.json
	$(BIN)/leadstatus openapi

bench: $(STAMP) ## create and transition under load: requests/s, p50, p99 (needs wrk)
	$(BIN)/python bench/load.py

bench-webhook: $(STAMP) ## `bench` with one webhook subscription (every event type) to a local receiver
	$(BIN)/python bench/load.py --webhook

bench-metrics: $(STAMP) ## p50/p95 of every metrics endpoint on 1,000,000 seeded leads (seeded once)
	$(BIN)/python bench/metrics.py

bench-dashboard: $(STAMP) ## how soon /dashboard is usable on bench-metrics' 1,000,000 leads (needs chromium)
	@$(BIN)/python -c 'import playwright' 2>/dev/null || $(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[browser]'
	$(BIN)/python bench/metrics.py --dashboard 20

bench-bad-keys: $(STAMP) ## real reads beside a flood of made-up API keys, with and without the failure budget
	$(BIN)/python bench/bad_keys.py

bench-events: $(STAMP) ## webhook delivery at 500 status changes/s for 30 s: rate, lag p50/p99, missing
	$(BIN)/python bench/events.py

clean: ## remove .venv, the embedded database and caches
	rm -rf $(VENV) .leadstatus .pytest_cache .mypy_cache .ruff_cache
