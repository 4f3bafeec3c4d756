# Two commands on a fresh machine; each sets up what it needs (a venv in .venv).
#   make check      runs the main job: `mqspec check` on the embedded SQLite default
#   make test       the tests: ruff, mypy, then every test but the `soak` runs (the
#                   `slow` ones too: the fault machine and the concurrency profile on each
#                   server, the mutation and suite-power runs); about 6 minutes on two cores
#   make test-soak  the long end-to-end runs (`pytest -m soak`): the thorough and realtime
#                   profiles on each server, the faults profile on PostgreSQL and MariaDB,
#                   the matrix's server and SQLite rows, whole checks of the example drivers
#                   and the Go kit on the real clock; CI runs `make test` and then this
# pytest -n auto starts one worker more than there are cores (tests/conftest.py says why).
#   make test-fast  the inner loop: ruff, mypy, then the tests not marked `slow`
#                   (`pytest -m "not slow"`); about 2 minutes on two cores
# Tests marked `server` skip with the reason when their server is down, and fail instead when
# CI is set. `make lint` is ruff alone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: check test test-soak test-fast lint clean

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
	$(BIN)/pytest -n auto --dist worksteal -q -m "not soak"

test-soak: $(STAMP)
	$(BIN)/pytest -n auto --dist worksteal -q -m soak

test-fast: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy -p mqspec
	$(BIN)/pytest -n auto --dist worksteal -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
