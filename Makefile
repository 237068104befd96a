# Kota: two commands on a fresh machine.
#   make run   - create .venv, migrate the database, seed a demo, start the server
#   make test  - lint (ruff), types (mypy) and the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck pytest system-deps bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/kota migrate
	$(BIN)/kota demo
	exec $(BIN)/kota run

test: $(STAMP) system-deps lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Two workers, each test file whole on one of them (its session server and browser with
# it); then, alone on the machine, the tests that measure what a busy machine does.
pytest: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadfile -m "not serial"
	$(BIN)/pytest -m serial

# Debian packages the browser and TURN tests use; installed only when missing.
system-deps:
	@bash deploy/install-system-deps.sh

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis test-artifacts
