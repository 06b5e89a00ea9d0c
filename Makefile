# One command each on a fresh machine: `make demo` and `make test`.
# torch is installed first and pinned to the CPU build, so that nothing pulls a multi-GB
# CUDA build; on a machine with a GPU set TORCH="torch" (or your CUDA wheel) instead.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: install demo test lint bench clean

$(BIN)/robotwatch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/robotwatch

demo: install
	$(BIN)/robotwatch demo

test: install
	$(BIN)/python -m pytest

# The rules that run beside the tests: lint, format, types (the import rule is a test).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/robotwatch bench

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
