# hourglass: two commands do all set-up on a fresh machine.
#   make demo   creates .venv, installs, runs the demo end to end (DuckDB), prints the report's path
#   make test   lint, types, layer contracts, the whole test suite (DuckDB, Spark local, Chromium)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV     := $(PYTHON) -m uv

.PHONY: env bytecode demo test lint check-browser clean fuzz sdk

# Bytecode is compiled at install, even where Python is told not to write it (PYTHONDONTWRITEBYTECODE):
# without it every command compiles its imports again, ~1-3 s more for a small one (issue 11).
# uv compiles the installed packages; `bytecode` the project's own sources (fast when they are current).
$(BIN)/hourglass: pyproject.toml uv.lock
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	env -u PYTHONDONTWRITEBYTECODE $(UV) sync --frozen --all-extras --compile-bytecode
	@touch $@

bytecode: $(BIN)/hourglass
	@env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m compileall -q src >/dev/null

env: $(BIN)/hourglass bytecode

demo: env
	$(BIN)/hourglass demo --out-dir demo-out

lint: env
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	$(BIN)/mypy
	$(BIN)/lint-imports

# the suite on every core, at most 4 (each worker starts its own Spark session when it meets a Spark
# test); a file's tests stay on one worker (their module fixtures are built once)
WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)

# the real browser SDKs (analytics.js, posthog-js) that tests/test_collector_sdk.py loads (issue 13);
# npm ci runs only when the lock changed
tests/sdk/node_modules/.package-lock.json: tests/sdk/package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/sdk --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: the collector's browser-SDK test will be skipped (apt-get install nodejs npm)"; fi

sdk: tests/sdk/node_modules/.package-lock.json

test: lint sdk
	$(BIN)/pytest -q -n $(WORKERS) --dist loadfile --durations=25

# the fuzz suite, 25 times longer than in `make test` and with fresh random seeds (issue 19), and the
# funnel's property tests 25 times deeper
fuzz: env
	HOURGLASS_FUZZ=long $(BIN)/pytest -q -p no:cacheprovider tests/test_fuzz_files.py tests/test_fuzz_settings.py tests/test_fuzz_bounds.py tests/test_fuzz_findings.py
	HOURGLASS_PROPERTY_EXAMPLES=600 $(BIN)/pytest -q -p no:cacheprovider tests/test_funnel_properties.py tests/test_fastpath.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache .mypy_cache .ruff_cache .hypothesis
