"""The process-isolated variant behaves like the thread one, across the boundary."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from asyncua import ua
from opcua_support import connect, plant_node, settings

from controller.core.alarms import AlarmDef, AlarmEngine
from controller.fieldbus.signals import Quality
from controller.opcua import PlantShape, Reading, ScadaProcess, create_scada_server


async def _until(fetch: Callable[[], Any]) -> Any:
    """Poll a take_* method: what the child sends arrives asynchronously."""
    for _ in range(250):
        if got := fetch():
            return got
        await asyncio.sleep(0.02)
    raise AssertionError("nothing arrived from the server process")


async def _reads(read: Callable[[], Awaitable[Any]], expected: Any) -> None:
    for _ in range(250):
        if await read() == expected:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never read {expected!r}")


async def test_process_server_round_trip(tmp_path: Path) -> None:
    shape = PlantShape(cdus=1, pumps=("P1A", "P1B"), tank_layers=4)
    server = create_scada_server(settings(tmp_path / "data", isolation="process"), shape)
    assert isinstance(server, ScadaProcess)
    server.start()
    try:
        assert server.running and server.certificate is not None
        server.publish({"HeatPump/COP": Reading(4.2, Quality.GOOD, time.time())})
        async with connect(server.endpoint_url, "utility") as c:
            await _reads((await plant_node(c, "HeatPump/COP")).read_value, 4.2)

            sp = await plant_node(c, "DistrictHeating/Setpoints/HeatDemand")
            await sp.write_value(ua.Variant(1200.0, ua.VariantType.Double))
            taken = await _until(server.take_setpoints)
            assert (taken["HeatDemand"].value, taken["HeatDemand"].user) == (1200.0, "utility")

            trip = AlarmDef(id="HP_TRIP", kind="flag", source="heatpump.tripped",
                            priority="critical", message="Heat pump tripped", action="Reset",
                            category="equipment")  # type: ignore[arg-type]  # fmt: skip
            engine = AlarmEngine([trip])
            now = time.time()
            events = engine.update({"heatpump.tripped": True}, now)
            server.alarm_update(events, engine.active(), now)
            await _reads((await plant_node(c, "Alarms/ActiveAlarmIds")).read_value, ["HP_TRIP"])
            alarms = await plant_node(c, "Alarms")
            await alarms.call_method(await plant_node(c, "Alarms/Acknowledge"), "HP_TRIP", "")
            assert await _until(server.take_acknowledgements) == [("HP_TRIP", "utility")]
    finally:
        server.stop()
    assert not server.running
