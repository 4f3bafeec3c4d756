# Two commands on a fresh machine; each sets up what it needs (a venv in .venv).
#   make check   runs the main job: `mqspec check` on the embedded SQLite default
#   make test    runs the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: check test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

check: $(STAMP)
	$(BIN)/mqspec check $(URL)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -n auto -q

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
