# Every target installs what it needs into .venv first, so `make test` works on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install test test-fast lint demo bench record clean

# The emulator (./emulator, its own distribution) comes with the dev extra; it is installed
# again, editable, so that edits to it take effect without a reinstall.
$(STAMP): pyproject.toml setup.py emulator/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e ./emulator
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(PY) -m ruff check billing_sync emulator tests benchmarks setup.py
	$(PY) -m mypy
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -n 2

test-fast: $(STAMP)
	$(PY) -m pytest -q -n 2 -m "not e2e"

lint: $(STAMP)
	$(PY) -m ruff check billing_sync emulator tests benchmarks setup.py
	$(PY) -m ruff format --check billing_sync emulator tests benchmarks setup.py
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

demo: $(STAMP)
	$(PY) -m billing_sync.demo

# The figures of issue 14 (about 10 minutes; JSON under benchmarks/results/).
# BENCH_ARGS, e.g. --sizes 1000,10000 --only noop,scheduler (see python -m benchmarks.run -h).
# billing_sync's bytecode is compiled first, as `pip install` compiles it: with
# PYTHONDONTWRITEBYTECODE set (as in some CI images) every run would compile it again.
bench: $(STAMP)
	$(PY) -m compileall -q billing_sync
	$(PY) -m benchmarks.run $(BENCH_ARGS)

record: $(STAMP)
	BILLING_SYNC_RECORD=1 $(PY) -m pytest -q -p no:xdist tests/integration/test_cassettes.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
