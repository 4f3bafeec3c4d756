# Two commands on a fresh machine; each sets up what it needs (a venv in .venv).
#   make check      runs the main job: `mqspec check` on the embedded SQLite default
#   make test       the whole suite: ruff, mypy, then every test, the ones marked `slow` too
#                   (the full profiles on each server, the mutation and suite-power runs, the
#                   whole checks on the real clock); the thorough profile on PostgreSQL and
#                   MariaDB takes most of its time
#   make test-fast  the inner loop: ruff, mypy, then the tests not marked `slow`
#                   (`pytest -m "not slow"`); about 1.5 minutes on two cores
# Tests marked `server` skip with the reason when their server is down, and fail instead when
# CI is set. `make lint` is ruff alone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: check test test-fast lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

check: $(STAMP)
	$(BIN)/mqspec check $(URL)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy -p mqspec
	$(BIN)/pytest -n auto -q

test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy -p mqspec
	$(BIN)/pytest -n auto -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
