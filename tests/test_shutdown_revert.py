"""A clean stop leaves every output at its revert value, and says so truthfully.

Before: the stop reverted within one scan cycle's write budget and skipped a link
whose last-cycle writes were still running (a loaded box), so soak logs showed
"revert values written: written 0" while the outputs stayed where they were.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from e2e import write_site
from modbus_helpers import shipped_map
from pointstore import PointStore
from structlog.testing import capture_logs

from controller.config.settings import load_site
from controller.daemon import Daemon
from simulator.modbus_server import PlantModbusServer


@pytest.fixture
async def plant() -> Any:
    store = PointStore(shipped_map())
    srv = PlantModbusServer(shipped_map(), store, port=0)
    await srv.start()
    yield srv, store
    await srv.stop()


async def test_a_stop_writes_every_revert_value_even_when_the_cycle_writes_ran_late(
    plant: Any, tmp_path: Path
) -> None:
    server, store = plant
    daemon = Daemon(load_site(write_site(tmp_path, server.endpoints["cdu01"][1], period_s=0.05)))
    # Every cycle's writes outlive the cycle's write budget, as on a loaded box.
    daemon.writer.budget_s = 0.0
    with capture_logs() as logs:
        running = asyncio.create_task(daemon.run())
        await asyncio.sleep(0.5)
        for dev, points in store.values.items():  # outputs away from their revert values
            for p in shipped_map().points_of(dev):
                if p.writable and p.revert is not None and p.range is not None:
                    points[p.name] = p.range[1] if p.revert != p.range[1] else p.range[0]
        daemon.request_stop()
        await asyncio.wait_for(running, 15.0)
    reverts = daemon.reverts
    wrong = {k: store.values[k.split(".")[0]][k.split(".")[1]] for k in reverts}
    wrong = {k: v for k, v in wrong.items() if v != reverts[k]}
    assert not wrong, f"left away from their revert values after a clean stop: {wrong}"
    line = next(e for e in logs if e["event"].startswith("revert values"))
    assert line["event"] == "revert values written" and line["log_level"] == "info", line
    assert line["written"] == len(reverts) and line["unreverted"] == []
    assert 0 <= line["already_at_revert"] <= len(reverts)
