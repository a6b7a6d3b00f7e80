"""Start-up's objects are kept out of the scan cycle's garbage collections.

Before: a full collection walked the ~80,000 objects start-up leaves (100 ms on
the loaded 2-core box, a whole 100 ms scan period), and start-up's allocations
set off several in the first seconds: the soak's overruns in its first cycles.
"""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

import pytest
from e2e import write_site
from modbus_helpers import shipped_map
from pointstore import PointStore

from controller.config.settings import load_site
from controller.daemon import Daemon
from simulator.modbus_server import PlantModbusServer


@pytest.fixture
async def plant() -> Any:
    srv = PlantModbusServer(shipped_map(), PointStore(shipped_map()), port=0)
    await srv.start()
    yield srv
    await srv.stop()


async def test_the_scan_starts_with_the_start_up_heap_frozen(plant: Any, tmp_path: Path) -> None:
    gc.unfreeze()
    site = load_site(write_site(tmp_path, plant.endpoints["cdu01"][1], period_s=0.05))
    alive = len(gc.get_objects())
    try:
        daemon = Daemon(site, duration_s=0.2)
        await asyncio.wait_for(daemon.run(), 10.0)
        assert daemon.stopped_cleanly
        frozen = gc.get_freeze_count()
        # What was alive when the scan started (less start-up's garbage, collected).
        assert frozen >= 0.9 * alive, f"{frozen} objects frozen of {alive} alive before the start"
        assert len(gc.get_objects()) < frozen, "full collections still walk start-up's objects"
    finally:
        gc.unfreeze()
