# The two commands of the README: `make run` (the whole desk, locally) and `make test`.
# Both create .venv with $(PYTHON) (3.11 or newer) and install requirements-dev.txt into it first.

PYTHON ?= python3
VENV ?= .venv
STAGE ?= dev
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run test lint format typecheck package venv clean

help:
	@echo "make run     run the whole desk on http://127.0.0.1:$${PORT:-8000} (moto as AWS, in memory)"
	@echo "make test    lint, format check, type check and the test suite"
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

# pytest exits 5 when it collects no test: that is not a failure here.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$status

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
