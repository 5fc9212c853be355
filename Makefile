# The two commands of the README: `make demo` (main job) and `make test` (everything CI runs).
# Both do their own set-up: system packages if missing, a virtualenv, the package with test extras.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup demo test lint typecheck unit conformance clean

$(STAMP): pyproject.toml scripts/ensure-system-deps.sh
	./scripts/ensure-system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# Main job: the corridor demo on a local Kafka it starts (or reuses) itself.
demo: setup
	$(BIN)/customs-broker demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

# Lint, types, then every test; the tests start (and stop) their own Kafka.
test: lint typecheck
	$(BIN)/python -m pytest

unit: setup
	$(BIN)/python -m pytest -m "not kafka and not slow and not interop"

# The conformance kit: committed vectors are current, and the Java and Go verifiers pass them
# (both also run in `make test`).
conformance: setup
	$(BIN)/python conformance/generate.py --check
	$(BIN)/python -m pytest tests/integration/test_conformance_verifiers.py tests/unit/signing/test_conformance_kit.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
