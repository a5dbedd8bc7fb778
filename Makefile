# The README's two commands: `make demo` and `make test`. Both create the environment first.
PYTHON ?= python3
UV := $(PYTHON) -m uv
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export GX_ANALYTICS_ENABLED ?= false
export UV_LINK_MODE ?= copy

.PHONY: setup demo test lint typecheck unit bench clean-store

# The Prefect database migrated once per Prefect version (flows/prefect_template.py): a warm server
# starting on a new Prefect home copies it instead of running every migration (about 8 s of CPU).
# A no-op when it exists, so it runs on every setup (a template deleted by hand comes back).
setup: .venv/.synced
	@$(UV) run --frozen python -m flows.prefect_template

# uv installs the locked dependencies (uv.lock); it is bootstrapped from PyPI when missing.
# --compile-bytecode: the .pyc files are written at install time, so no command compiles the
# dependencies' sources when it starts (with PYTHONDONTWRITEBYTECODE set, every process did: about
# 24 of a cold command's 62 s went to `compile`, found with cProfile; see bench/cli_bench.py).
.venv/.synced: pyproject.toml uv.lock Makefile
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen --quiet --compile-bytecode
	@touch $@

demo: setup
	$(UV) run --frozen idres demo

# lint-imports: the layer contract (pyproject's [tool.importlinter], the table in docs/architecture.md)
lint: setup
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen lint-imports --no-logo

typecheck: setup
	$(UV) run --frozen mypy

unit: setup
	$(UV) run --frozen pytest -m "not slow"

# Both passes run on TEST_WORKERS processes (pytest-xdist). The slow pass (a Prefect test server per
# worker, subprocess CLIs, the chaos suite) runs after the fast one; on a quiet 2-core machine two
# workers take it from 11.7 to 5.3 minutes. Set TEST_WORKERS=1 on a loaded machine. Tests of one
# xdist_group run in one worker (loadgroup): the launcher's runner tests, as one touches the code files.
TEST_WORKERS ?= 2
test: lint typecheck
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)  # the web e2e browser
	IDRES_E2E_REQUIRED=1 $(UV) run --frozen pytest -m "not slow" -n $(TEST_WORKERS)
	IDRES_E2E_REQUIRED=1 $(UV) run --frozen pytest -m slow -n $(TEST_WORKERS) --dist loadgroup

bench: setup
	$(UV) run --frozen python bench/ingest_bench.py --identities 1000000

clean-store:
	rm -rf data/store data/gx_docs data/exports data/landing
