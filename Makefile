# Developer entry points for deployd: the venv, lint, tests, a local daemon and
# the test sandbox. `make test` is what CI runs (through .ci/run).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Lint only the trees that hold Python files: mypy refuses an empty directory.
LINT_PATHS := $(foreach dir,deployd cli tests bench,$(if $(shell find $(dir) -name '*.py' 2>/dev/null),$(dir)))
PYTEST_ARGS ?=
TEST_SANDBOX := .sandbox/test
DEV_SANDBOX := .sandbox/dev

.PHONY: venv lint test test-image bench run sandbox-start sandbox-stop clean

venv: $(VENV)/.installed

# Reinstall only when the package metadata changed since the last install.
# --use-pep517: an older pip (Debian's venv) would fall back to `setup.py
# develop`, which cannot map cli/ to deployd.cli.
$(VENV)/.installed: setup.cfg setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --use-pep517 -e '.[test]'
	touch $@

lint: venv
	$(BIN)/ruff format --check $(LINT_PATHS)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/mypy $(LINT_PATHS)

# A fresh sandbox for this run, always stopped; the status is pytest's own.
test: lint
	PYTHON=$(BIN)/python scripts/with-sandbox $(TEST_SANDBOX) $(BIN)/pytest $(PYTEST_ARGS)

# Only the container image tests, on a sandbox of their own; `make test` runs
# them too. The first run on a machine makes the Debian base (2-3 minutes,
# cached in .sandbox/cache).
test-image: venv
	PYTHON=$(BIN)/python scripts/with-sandbox .sandbox/test-image \
		$(BIN)/pytest -m image tests/test_image.py $(PYTEST_ARGS)

# Measure deployd against a private sandbox and print a table (about 2 minutes).
bench: venv
	$(BIN)/python -m bench.run

# DATA_DIR defaults to ./data; DOCKER_HOST to the system engine or a sandbox.
run: venv
	PYTHON=$(BIN)/python scripts/run-daemon $(ARGS)

sandbox-start:
	$(PYTHON) -m tests.sandbox start $(DEV_SANDBOX)
	@echo "export DEPLOYD_SANDBOX=$(CURDIR)/$(DEV_SANDBOX)  # pytest then reuses it"

sandbox-stop:
	$(PYTHON) -m tests.sandbox stop $(DEV_SANDBOX)

clean:
	for dir in .sandbox/*/; do [[ -d $$dir ]] && $(PYTHON) -m tests.sandbox stop "$$dir"; done; true
	rm -rf $(VENV) .sandbox build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
