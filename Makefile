# Every target works from a clean checkout; CI (.ci/run) calls the same ones.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install dev demo test lint bench check clean compat floors

# A regular (non-editable) install: what users get, rules/schemas/templates inside the wheel.
install:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet '.[dev]'

# An editable install for working on the engine.
dev:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'

demo: install
	$(BIN)/tpsqbo-engine validate
	$(BIN)/tpsqbo-engine demo --workdir demo-run

# The suite in parallel (pytest-xdist), three workers a core: many tests mostly wait (on real
# workers and servers, on runs a second apart) and the others fill those waits; work stealing
# evens out tests that take from milliseconds to twenty seconds. TEST_WORKERS=0 runs it in
# one process.
TEST_WORKERS ?= $(shell $(PYTHON) .ci/workers.py)
PARALLEL = $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist worksteal)

test: install
	$(BIN)/python -m pytest $(PARALLEL)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/tpsqbo-engine validate rules examples/*/rules

bench: install
	$(BIN)/python bench/validate.py
	$(BIN)/python bench/qbo_client.py
	$(BIN)/python bench/sync.py

check: test lint

# The dependency floors of pyproject.toml, installed exactly, in .venv-floors, then the suite.
floors:
	TEST_WORKERS=$(TEST_WORKERS) bash .ci/floors

# Third-party QBO clients, unchanged but for their URLs, against the emulator. Not part of
# `make test`: it installs them from PyPI into a scratch virtualenv.
COMPAT_VENV ?= $(or $(TMPDIR),/tmp)/tpsqbo-compat-venv
compat:
	@test -x $(BIN)/tpsqbo-engine || $(MAKE) dev
	@test -x $(COMPAT_VENV)/bin/python || $(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/python -m pip install --quiet python-quickbooks==0.9.12 qbosdk==1.6.1
	$(COMPAT_VENV)/bin/python examples/compat/run.py $(abspath $(BIN))/tpsqbo-engine

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
