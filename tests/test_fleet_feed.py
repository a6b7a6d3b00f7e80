"""What a fleet write becomes in the daemon: the same scada.* image values as a local
OPC UA write, with the same freshness rule."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from controller.config.settings import load_site
from controller.core.setpointsource import SCADA_DEMAND, SCADA_INJECTION, SCADA_SETPOINT
from controller.fleet.attach import FleetFeed
from controller.fleet.catalogue import build_catalogue
from controller.fleet.edge import EdgeNode
from controller.fleet.settings import FleetSettings
from controller.opcua.model import SetpointWrite
from controller.opcua.points import PlantShape

ROOT = Path(__file__).resolve().parent.parent


def test_fleet_setpoints_become_scada_image_values_while_fresh(tmp_path: Path):
    site = load_site(ROOT / "config" / "site.toml")
    settings = site.settings
    edge = EdgeNode(
        FleetSettings(enabled=True),
        "site",
        build_catalogue(PlantShape.from_site(settings, site.regmap), 0.2),
        spool_path=tmp_path / "spool.sqlite",
    )
    feed = FleetFeed(SimpleNamespace(settings=settings), edge)  # type: ignore[arg-type]
    assert feed.image_extra(1000.0) == {}
    edge._setpoints = {
        "HeatDemand": SetpointWrite("HeatDemand", 750.0, "utility", 1000.0),
        "SupplyTempSetpoint": SetpointWrite("SupplyTempSetpoint", 72.5, "utility", 1000.0),
        "InjectionEnabled": SetpointWrite("InjectionEnabled", False, "utility", 1000.0),
    }
    extra = feed.image_extra(1001.0)
    assert extra == {SCADA_DEMAND: 750.0, SCADA_SETPOINT: 72.5, SCADA_INJECTION: 0.0}
    assert edge.take_setpoints() == {}  # taken once
    timeout = settings.setpoints.scada_timeout_s
    assert feed.image_extra(1000.0 + timeout) == extra  # still fresh, kept by the feed
    assert feed.image_extra(1000.0 + timeout + 1.0) == {}  # stale: the site falls back
