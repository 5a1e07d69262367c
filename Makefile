# mailcard — every target bootstraps what it needs; `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: install system-deps run test lint typecheck bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

system-deps:
	@bash scripts/install-system-deps.sh

# Demo users, customers and templates go into an empty database (MAILCARD_DEMO_DATA=false make run: none).
run: install
	$(BIN)/mailcard db upgrade
	MAILCARD_DEMO_DATA=$${MAILCARD_DEMO_DATA:-true} $(BIN)/mailcard run

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

test: install system-deps lint typecheck
	$(BIN)/pytest

bench: install system-deps
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
