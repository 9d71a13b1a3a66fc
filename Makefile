# Thin wrappers around the venv and the `cs231n` command. `make lab` and `make test`
# set everything up on a fresh machine first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# nbgrader runs `alembic` from PATH when it makes a gradebook.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup lab test bench lint release grade screenshots clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch==2.13.0 is the CPU build; a plain `torch` would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# jsonschema's optional IRI check (rfc3987-syntax, pulled in by jupyter-events through
	# jsonschema[format-nongpl]) compiles 39 grammars whenever nbformat is imported: 1.5 s in
	# every grading process. Nothing here validates IRIs; a grading runs a third faster without.
	$(BIN)/python -m pip uninstall --yes --quiet rfc3987-syntax
	touch $@

lab: setup
	$(BIN)/cs231n lab $(if $(PORT),--port $(PORT))

test: setup
	$(BIN)/python -m pytest -n 2 --dist loadgroup --nbval-lax --nbval-cell-timeout=600 \
		--nbval-kernel-startup-timeout=300 --durations=25 $(PYTEST_ARGS)

# Every benchmark (benchmarks/run.py), or those matching ONLY, e.g. make bench ONLY='fast/*'
bench: setup
	$(BIN)/python benchmarks/run.py $(if $(ONLY),--only "$(ONLY)")

lint: setup
	$(BIN)/ruff check cs231n_lib tests benchmarks solutions
	$(BIN)/lint-imports
	$(BIN)/cs231n release --check

release: setup
	$(BIN)/cs231n release

grade: setup
	@test -n "$(ASSIGNMENT)" || (echo "usage: make grade ASSIGNMENT=01_knn" >&2; exit 2)
	$(BIN)/cs231n grade $(ASSIGNMENT)

# The README's pictures: the browser tests save them into docs/ (commit them).
screenshots: setup
	CS231N_SCREENSHOTS=$(CURDIR)/docs $(BIN)/python -m pytest -q -rs -p no:cacheprovider tests/test_browser.py

clean:
	rm -rf $(VENV) .pytest_cache
