"""The edge node in the daemon: what the scan cycle hands over and what comes back.

Per cycle, after the control core, the daemon builds the section 5 values with the
same code the site's OPC UA server uses (``ScadaFeed.snapshot``: values, quality
and poll time), adds the alarm list and the scan counters, and drops them into the
edge node's queue. Setpoints the utility wrote through the fleet come back as the
same ``scada.*`` image values a local OPC UA write produces, with the same
freshness rule (``setpoints.scada_timeout_s``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from controller.core.setpointsource import SCADA_DEMAND, SCADA_INJECTION, SCADA_SETPOINT
from controller.daemon import Extension
from controller.fieldbus.signals import Quality
from controller.fleet.catalogue import SCAN_CYCLES, SCAN_OVERRUNS, build_catalogue
from controller.fleet.edge import CycleSample, EdgeNode
from controller.opcua.alarms import _UNACKED, _line
from controller.opcua.feed import ScadaFeed
from controller.opcua.model import Reading, SetpointWrite
from controller.opcua.points import PlantShape

if TYPE_CHECKING:
    from controller.core.core import CoreOutput
    from controller.core.image import ProcessImage
    from controller.daemon import Daemon

_SCADA_KEYS = {
    "SupplyTempSetpoint": SCADA_SETPOINT,
    "HeatDemand": SCADA_DEMAND,
    "InjectionEnabled": SCADA_INJECTION,
}
GOOD = Quality.GOOD


class FleetFeed:
    def __init__(self, daemon: Daemon, edge: EdgeNode) -> None:
        self.edge = edge
        self.feed = ScadaFeed(daemon.settings, None)  # readings only
        self.setpoints: dict[str, SetpointWrite] = {}
        self.timeout_s = daemon.settings.setpoints.scada_timeout_s

    def cycle(self, daemon: Daemon, image: ProcessImage, out: CoreOutput) -> None:
        now = time.time()
        acc = getattr(daemon, "accounting", None)
        extra = {
            "cycle": daemon.cycle.number,
            "cycle_ms": daemon.cycle.duration_s * 1000.0,
            "energy": acc.totals if acc is not None else None,
        }
        readings = self.feed.snapshot(image, out, now, extra)
        active = out.alarms.active
        clock = daemon.clock
        for path, value in (
            ("Alarms/ActiveAlarms", [_line(s) for s in active]),
            ("Alarms/ActiveAlarmIds", [s.id for s in active]),
            ("Alarms/UnacknowledgedCount", sum(1 for s in active if s.status in _UNACKED)),
            ("Status/ActiveAlarmCount", len(active)),
            (SCAN_CYCLES, clock.k - clock.skipped),
            (SCAN_OVERRUNS, clock.overruns),
        ):
            readings[path] = Reading(value, GOOD, now)
        self.edge.offer(CycleSample(now, readings))

    def image_extra(self, now: float) -> dict[str, float | None]:
        self.setpoints.update(self.edge.take_setpoints())
        out: dict[str, float | None] = {}
        for name, key in _SCADA_KEYS.items():
            w = self.setpoints.get(name)
            if w is not None and now - w.time <= self.timeout_s:
                out[key] = float(w.value)
        return out


def attach_fleet(daemon: Daemon) -> EdgeNode | None:
    """Start the edge node when ``[fleet]`` is enabled and hook it into every cycle."""
    s = daemon.settings
    fs = s.fleet
    if not fs.enabled:
        return None
    site = daemon.site
    catalogue = build_catalogue(PlantShape.from_site(s, site.regmap), fs.deadband_pct)
    ledger = site.resolve(s.accounting.ledger_path) if s.accounting.enabled else None
    edge = EdgeNode(
        fs,
        fs.node_id(s.site.name),
        catalogue,
        spool_path=site.resolve(fs.spool_path),
        ledger_path=ledger,
        resolve=site.resolve,
    )
    edge.start()
    feed = FleetFeed(daemon, edge)
    daemon.extensions.append(
        Extension(
            "fleet",
            on_cycle=feed.cycle,
            on_stop=lambda d: edge.stop(),
            image_extra=lambda d: feed.image_extra(time.time()),
        )
    )
    return edge
