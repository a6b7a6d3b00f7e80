# Two commands do all set-up on a fresh machine with Python 3.11+ and make:
#   make demo   runs the plant (controller against the built-in simulator)
#   make test   runs lint, format check and the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/heatrecovery simulator --config config/plant.toml --show

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/heatrecovery scenario winter-steady --bench

docs: $(STAMP)
	$(BIN)/heatrecovery registermap --markdown -o docs/register-map.md

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
