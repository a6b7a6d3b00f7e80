"""What survives a restart of the daemon: the server certificate the utility trusts,
and the history on disk."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opcua_support import connect, plant_node, settings

from controller.fieldbus.signals import Quality
from controller.opcua import PlantShape, Reading, ScadaServer


async def test_certificate_and_history_are_kept_across_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shape = PlantShape(cdus=1, pumps=("P1A", "P1B"), tank_layers=4)
    start = datetime.now(UTC) - timedelta(seconds=1)

    first = ScadaServer(settings(data), shape)
    first.start()
    try:
        cert = first.certificate
        assert cert is not None and cert.created
        der = cert.cert_path.read_bytes()
        key = cert.key_path.read_bytes()
        assert cert.key_path.stat().st_mode & 0o077 == 0  # the key is private
        for v in (61.0, 62.0):
            first.publish({"DistrictHeating/SupplyTemp": Reading(v, Quality.GOOD, time.time())})
            await asyncio.sleep(0.1)
    finally:
        first.stop()

    second = ScadaServer(settings(data), shape)
    second.start()
    try:
        again = second.certificate
        assert again is not None and not again.created
        assert again.cert_path.read_bytes() == der
        assert again.key_path.read_bytes() == key
        assert again.thumbprint == cert.thumbprint
        async with connect(second.endpoint_url, "operator") as c:
            node = await plant_node(c, "DistrictHeating/SupplyTemp")
            history = await node.read_raw_history(start, None)
        good = [dv.Value.Value for dv in history if dv.StatusCode.is_good()]
        assert good == [61.0, 62.0]
        # While no controller ran, the record says so (no value), not a held number.
        assert history[-1].StatusCode.is_bad() and history[-1].Value.Value is None
    finally:
        second.stop()
