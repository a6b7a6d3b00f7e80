"""A site gateway's edge node as a separate process, for the kill tests.

Usage: python tests/fleet_edge_proc.py GROUP NODE SPOOL LEDGER PORT
Feeds the node one changing sample every 0.1 s until it is killed; prints "ready"
once started.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from controller.fieldbus.signals import Quality
from controller.fleet.catalogue import build_catalogue
from controller.fleet.edge import CycleSample, EdgeNode
from controller.fleet.settings import FleetSettings, MqttConnection
from controller.opcua.model import Reading
from controller.opcua.points import PlantShape


def main() -> None:
    group, node, spool, ledger, port = sys.argv[1:6]
    settings = FleetSettings(
        enabled=True,
        group=group,
        mqtt=MqttConnection(port=int(port), keepalive_s=5),
        ledger_poll_s=0.2,
        ledger_resend_s=1.0,
    )
    edge = EdgeNode(
        settings,
        node,
        build_catalogue(PlantShape(), settings.deadband_pct),
        spool_path=Path(spool),
        ledger_path=Path(ledger),
    )
    edge.start()
    print("ready", flush=True)
    i = 0
    while True:
        now = time.time()
        edge.offer(
            CycleSample(now, {"HeatPump/COP": Reading(3.0 + i % 20 * 0.1, Quality.GOOD, now)})
        )
        i += 1
        time.sleep(0.1)


if __name__ == "__main__":
    main()
