# The two commands of the README: `make run` (the whole desk, locally) and `make test`.
# Both create .venv with $(PYTHON) (3.11 or newer) and install requirements-dev.txt into it first;
# `make test` also makes sure Debian's Chromium is installed for the browser tests (`make browser`).

PYTHON ?= python3
VENV ?= .venv
STAGE ?= dev
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHROMIUM := /usr/bin/chromium
# pytest-xdist workers for `make test`: 2 is what the 2-core CI machine runs fastest; e.g. TEST_WORKERS=auto or 0.
# loadfile keeps each test file on one worker, so module-scoped fixtures (one local desk, one package) run once.
TEST_WORKERS ?= 2
PYTEST_XDIST := -n $(TEST_WORKERS) --dist loadfile

.DEFAULT_GOAL := help
.PHONY: help run test fuzz lint format typecheck package venv browser clean

help:
	@echo "make run     run the whole desk on http://127.0.0.1:$${PORT:-8000} (moto as AWS, in memory)"
	@echo "make test    lint, format check, type check and the test suite ($(TEST_WORKERS) workers; browser tests too)"
	@echo "make fuzz    schemathesis against a local desk with a bigger budget than make test's (FUZZ_EXAMPLES, FUZZ_STEPS)"
	@echo "make browser install Debian's chromium and chromium-driver for the browser tests, if missing (root)"
	@echo "make lint    ruff check and ruff format --check"
	@echo "make format  ruff format and ruff check --fix"
	@echo "make package STAGE=prod   the deployable template and bundle in dist/STAGE (README: Deploying to AWS)"
	@echo "make clean   remove .venv and caches"

venv: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "error: '$(PYTHON)' must be Python 3.11 or newer (it is: $$($(PYTHON) --version 2>&1))." >&2; \
		echo "       Run with another interpreter, e.g. make PYTHON=python3.12 ..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Reinstalls whenever a requirements file changes; the stamp is written only after a successful install.
$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	@$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "error: $(VENV) was made with Python < 3.11: run 'make clean' and try again." >&2; exit 1; }
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	@touch $@

# exec: Ctrl-C reaches the desk itself, which stops moto and the server and exits 0.
run: $(STAMP)
	exec $(BIN)/python -m localdesk

# The browser tests drive Debian's Chromium through Playwright (never `playwright install`: nothing is downloaded).
browser:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ "$$(id -u)" -ne 0 ]; then \
		echo "error: the browser tests need Chromium at $(CHROMIUM), and installing it needs root. Run:" >&2; \
		echo "       sudo apt-get update && sudo apt-get install -y chromium chromium-driver" >&2; \
		exit 1; fi; \
	echo "Installing Chromium for the browser tests: apt-get install chromium chromium-driver"; \
	apt-get update || { echo "error: apt-get update failed" >&2; exit 1; }; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver </dev/null || { \
		echo "error: apt-get could not install chromium and chromium-driver" >&2; exit 1; }; \
	test -x $(CHROMIUM) || { echo "error: chromium is installed but $(CHROMIUM) is missing" >&2; exit 1; }

# pytest exits 5 when it collects no test: that is not a failure here.
test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_XDIST); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$status

# The fuzz test of `make test` (tests/api/test_fuzz.py) with a longer budget: examples per operation and stateful steps.
FUZZ_EXAMPLES ?= 100
FUZZ_STEPS ?= 50
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_STEPS=$(FUZZ_STEPS) $(BIN)/pytest -p no:xdist -s -q tests/api/test_fuzz.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# dist/$(STAGE)/sam.json + deployment.zip, for `aws cloudformation package` and `deploy`; linted before use.
package: $(STAMP)
	$(BIN)/python -m infra.package --stage $(STAGE) --out dist/$(STAGE)
	$(BIN)/cfn-lint dist/$(STAGE)/sam.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
