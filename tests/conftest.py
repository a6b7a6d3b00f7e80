"""Shared fixtures: closed-loop scenario runs, computed once per session.

Each shipped scenario is run once with the project's controller in the loop; the
energy-balance, control and KPI tests all read the same results, which keeps the
suite inside its time budget without weakening any check.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from simulator.runner import RunResult, run_scenario

_RESULTS: dict[tuple[str, str], RunResult] = {}


@pytest.fixture(scope="session")
def scenario_run() -> Callable[..., RunResult]:
    """``scenario_run(name, controller="ours")``: the cached result of one run."""

    def get(name: str, controller: str = "ours") -> RunResult:
        key = (name, controller)
        if key not in _RESULTS:
            _RESULTS[key] = run_scenario(name, controller=controller, record_every_s=10.0)
        return _RESULTS[key]

    return get
