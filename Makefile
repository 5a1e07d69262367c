# mailcard — every target bootstraps what it needs; `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
# The interpreter the venv is made from: scripts/pick-python.sh says which and why. PYTHON=... overrides.
PYTHON ?= $(shell scripts/pick-python.sh)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell { cat pyproject.toml constraints.txt; echo '$(PYTHON)'; } | sha1sum | cut -c1-12)

.PHONY: install lock system-deps run test lint typecheck bench clean

install: $(STAMP)

# A venv made from another interpreter (an older checkout's, or PYTHON=...) is made again from this one.
$(STAMP): pyproject.toml constraints.txt
	@test "$$($(BIN)/python -c 'import os, sys; print(os.path.realpath(sys._base_executable))' 2>/dev/null)" \
		= "$$($(PYTHON) -c 'import os, sys; print(os.path.realpath(sys.executable))')" \
		|| $(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

# Re-pin constraints.txt to the newest versions pyproject.toml allows, resolved in a throwaway venv.
lock:
	@rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q --upgrade pip
	.lock-venv/bin/pip install -q -e '.[dev]'
	@{ sed -n '/^#/p' constraints.txt; .lock-venv/bin/pip freeze --exclude-editable; } > constraints.txt.new
	@mv constraints.txt.new constraints.txt && rm -rf .lock-venv
	@echo "constraints.txt re-pinned; run make test before committing it."

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
	rm -rf $(VENV) .lock-venv var .mypy_cache .ruff_cache .pytest_cache
