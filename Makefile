# One command each on a fresh machine: `make demo` and `make test`.
# torch is installed first and pinned to the CPU build, so that nothing pulls a multi-GB
# CUDA build; on a machine with a GPU set TORCH="torch" (or your CUDA wheel) instead.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

# Real programs the tests start (Prometheus and promtool, Alertmanager, headless Chromium), from Debian.
DEBIAN_PACKAGES := prometheus prometheus-alertmanager chromium

.PHONY: install system-packages demo test image-check lint bench clean

$(BIN)/robotwatch: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/robotwatch

demo: install
	$(BIN)/robotwatch demo

system-packages:
	@if ! command -v promtool >/dev/null || ! command -v prometheus-alertmanager >/dev/null \
	    || ! command -v chromium >/dev/null; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null; \
	  else echo "as root: apt-get install $(DEBIAN_PACKAGES) (the deploy, alert and report tests start them)"; exit 1; fi; \
	fi

test: install system-packages
	$(BIN)/python -m pytest

# The Dockerfile's build steps in a fresh folder, then its HEALTHCHECK against what they installed.
image-check: install system-packages
	$(BIN)/python -m pytest -m image tests/deploy/test_dockerfile.py

# The rules that run beside the tests: lint, format, types (the import rule is a test).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: install
	$(BIN)/robotwatch bench

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
