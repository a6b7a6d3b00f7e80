"""Shared fixtures: closed-loop scenario runs, and a Modbus server on a free port.

Each shipped scenario is run once with a controller in the loop; the energy-balance,
control and KPI tests all read the same results. With two xdist workers the runs are
shared through a directory both workers see: the first worker to need a scenario
runs it under a file lock and pickles the result, the other loads it. (Test files
that read many scenarios walk them in different orders, so the workers split the
work instead of waiting on each other.)
"""

from __future__ import annotations

import fcntl
import os
import pickle
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from modbus_helpers import shipped_map
from pointstore import PointStore

from simulator.modbus_server import PlantModbusServer
from simulator.runner import RunResult, run_scenario

_RESULTS: dict[tuple[str, str], RunResult] = {}


@pytest.fixture(scope="session")
def scenario_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., RunResult]:
    """``scenario_run(name, controller="ours")``: the cached result of one run."""
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base is .../popen-gwN; their parent is shared.
    shared = (base.parent if base.name.startswith("popen-gw") else base) / "scenario-runs"
    shared.mkdir(parents=True, exist_ok=True)

    def get(name: str, controller: str = "ours") -> RunResult:
        key = (name, controller)
        if key in _RESULTS:
            return _RESULTS[key]
        path = shared / f"{name}.{controller}.pickle"
        with open(shared / f"{name}.{controller}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if path.exists():
                result = pickle.loads(path.read_bytes())
            else:
                result = run_scenario(name, controller=controller, record_every_s=10.0)
                tmp = path.with_suffix(".part")
                tmp.write_bytes(pickle.dumps(result))
                tmp.replace(path)
        _RESULTS[key] = result
        return result

    return get


@pytest.fixture
def store() -> PointStore:
    return PointStore(shipped_map())


@pytest.fixture
async def server(store: PointStore) -> AsyncIterator[PlantModbusServer]:
    """For the tests of the wire itself; tests that need a plant behind it define their own."""
    srv = PlantModbusServer(shipped_map(), store, port=0)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture(scope="session")
def fleet_services() -> None:
    """Mosquitto on 127.0.0.1:1883 and PostgreSQL on 127.0.0.1:5432 (DESIGN.md section 11).

    Skipped with the reason when they are not reachable, except under CI=true: CI
    machines start both before the run, so their absence fails it."""
    from fleet_support import services_problem

    problem = services_problem()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"fleet services missing under CI=true: {problem}", pytrace=False)
    pytest.skip(f"fleet services not reachable: {problem}")
