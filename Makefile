# hourglass: two commands do all set-up on a fresh machine.
#   make demo   creates .venv, installs, runs the demo end to end (DuckDB), prints the report's path
#   make test   lint, types, layer contracts, the whole test suite (DuckDB, Spark local, Chromium)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(PYTHON) -m uv

.PHONY: env demo test lint check-browser clean

$(BIN)/hourglass: pyproject.toml uv.lock
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --all-extras
	@touch $@

env: $(BIN)/hourglass

demo: env
	$(BIN)/hourglass demo --out-dir demo-out

lint: env
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache .hypothesis
