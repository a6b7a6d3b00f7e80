"""The edge node inside the real daemon, against the simulator, killed with SIGKILL.

The controller process publishes the section 5 tree it runs from (births, then
data); when it is killed, the broker delivers the NDEATH registered as its will,
with the bdSeq of the birth it ends. The raw subscriber reads the wire.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from e2e import Proc, free_port, start_controller, start_simulator, write_site
from fleet_support import RawSubscriber, unique, wait_until

from controller.fleet import sparkplug as sp

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("fleet_services")]


def test_daemon_publishes_and_its_death_is_delivered_when_killed(tmp_path: Path):
    group = unique("hrtest")
    port = free_port()
    site = write_site(tmp_path, port)
    with site.open("a") as f:
        f.write(
            f'[fleet]\nenabled = true\ngroup = "{group}"\nedge_node = "gw-e2e"\n'
            f'spool_path = "{tmp_path / "spool.sqlite"}"\n'
        )
    sub = RawSubscriber(f"spBv1.0/{group}/#")
    sim = start_simulator(port)
    ctl: Proc | None = None
    try:
        ctl = start_controller(site)
        wait_until(lambda: len(sub.of("DDATA")) >= 20, 30, "data from the daemon")
        births = [m for m in sub.snapshot() if "BIRTH" in m.topic]
        assert births[0].topic == f"spBv1.0/{group}/NBIRTH/gw-e2e"
        names = {met.name for m in births for met in m.payload.metrics}
        assert {"HeatPump/COP", "DistrictHeating/Setpoints/HeatDemand", "Status/Mode"} <= names
        # Real plant values with good quality arrive as data.
        aliases = {met.alias: met.name for m in births for met in m.payload.metrics}
        supply = [
            met.double_value
            for m in sub.of("DDATA")
            for met in m.payload.metrics
            if aliases[met.alias] == "FacilityWater/SupplyTemp" and not met.is_null
        ]
        assert supply and all(20.0 < v < 45.0 for v in supply)
        bdseq = next(x for x in births[0].payload.metrics if x.name == sp.BDSEQ).long_value
        ctl.p.send_signal(signal.SIGKILL)
        ctl.p.wait(5)
        wait_until(lambda: sub.of("NDEATH"), 10, "NDEATH after SIGKILL")
        death = sub.of("NDEATH")[0]
        assert death.topic == f"spBv1.0/{group}/NDEATH/gw-e2e"
        assert death.payload.metrics[0].name == sp.BDSEQ
        assert death.payload.metrics[0].long_value == bdseq
        assert not death.payload.HasField("seq")
    finally:
        if ctl is not None:
            ctl.kill()
        sim.kill()
        sub.close()
