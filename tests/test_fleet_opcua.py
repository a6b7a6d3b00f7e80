"""The fleet's OPC UA endpoint browsed and written by a real client.

Two sites publish through the real broker into a fleet host that serves
Sites/<site>/; the client must find every section 5 variable of each site, and a
utility write to one site must reach that site's edge node and no other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua
from fleet_support import DSN, unique
from opcua_support import browse_variables, connect, settings

from controller.fieldbus.signals import Quality
from controller.fleet.catalogue import build_catalogue
from controller.fleet.edge import CycleSample, EdgeNode
from controller.fleet.settings import FleetSettings
from controller.opcua.addressspace import NAMESPACE_URI
from controller.opcua.model import Reading
from controller.opcua.points import PlantShape, plant_points
from fleet.host import FleetHost
from fleet.settings import DatabaseSettings, FleetHostSettings

pytestmark = pytest.mark.usefixtures("fleet_services")
SHAPES = {"hall-a": PlantShape(), "hall-b": PlantShape(cdus=3, pumps=("P1A", "P1B"))}


async def until(pred: Callable[[], Any], within_s: float, what: str) -> Any:
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {within_s} s: {what}")


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[FleetHost, dict[str, EdgeNode]]]:
    import psycopg

    group, schema = unique("hrtest"), unique("fleet_o")
    host = FleetHost(
        FleetHostSettings(
            host_id=unique("hrhost"),
            group=group,
            database=DatabaseSettings(dsn=DSN, schema_name=schema, flush_interval_s=0.1),
            opcua=settings(tmp_path / "opcua", allow_anonymous=False),
        )
    )
    host.start()
    edges = {}
    for site, shape in SHAPES.items():
        s = FleetSettings(enabled=True, group=group)
        e = EdgeNode(
            s, site, build_catalogue(shape, 0.2), spool_path=tmp_path / site / "spool.sqlite"
        )
        e.start()
        now = time.time()
        e.offer(
            CycleSample(
                now,
                {
                    "HeatPump/COP": Reading(4.0 if site == "hall-a" else 5.0, Quality.GOOD, now),
                    "Status/Mode": Reading("RECOVERY", Quality.GOOD, now),
                },
            )
        )
        edges[site] = e
    try:
        yield host, edges
    finally:
        for e in edges.values():
            e.stop()
        host.stop()
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def site_node(client: Any, site: str) -> Any:
    ns = await client.get_namespace_index(NAMESPACE_URI)
    return await client.nodes.objects.get_child([f"{ns}:Sites", f"{ns}:{site}"])


async def test_every_site_tree_and_writes_routed_to_one_site(fleet):
    host, edges = fleet
    assert host.opc is not None
    await until(lambda: set(host.opc.sites()) == set(SHAPES), 15, "both sites built")
    await asyncio.sleep(0.5)
    url = host.opc.endpoint_url
    async with connect(url, "utility") as client:
        for site, shape in SHAPES.items():
            found = await browse_variables(await site_node(client, site))
            expected = {p.path for p in plant_points(shape)}
            assert expected <= set(found), sorted(expected - set(found))[:5]
        a, b = await site_node(client, "hall-a"), await site_node(client, "hall-b")
        ns = await client.get_namespace_index(NAMESPACE_URI)
        cop_a = await a.get_child([f"{ns}:HeatPump", f"{ns}:COP"])
        cop_b = await b.get_child([f"{ns}:HeatPump", f"{ns}:COP"])
        assert await cop_a.read_value() == 4.0
        assert await cop_b.read_value() == 5.0
        unit = await (await cop_a.get_child("0:EngineeringUnits")).read_value()
        assert unit.DisplayName.Text == "C62" or unit.UnitId > 0
        demand_a = await a.get_child(
            [f"{ns}:DistrictHeating", f"{ns}:Setpoints", f"{ns}:HeatDemand"]
        )
        await demand_a.write_value(ua.DataValue(ua.Variant(800.0, ua.VariantType.Double)))
        taken = await until(edges["hall-a"].take_setpoints, 5, "write at hall-a")
        assert taken["HeatDemand"].value == 800.0 and taken["HeatDemand"].user == "utility"
        await asyncio.sleep(0.3)
        assert edges["hall-b"].take_setpoints() == {}
        # Same checks as a site server: range and type.
        with pytest.raises(ua.UaStatusCodeError) as err:
            await demand_a.write_value(ua.DataValue(ua.Variant(1e9, ua.VariantType.Double)))
        assert err.value.code == ua.StatusCodes.BadOutOfRange
        with pytest.raises(ua.UaStatusCodeError) as err:
            await demand_a.write_value(ua.DataValue(ua.Variant(800, ua.VariantType.Int32)))
        assert err.value.code == ua.StatusCodes.BadTypeMismatch
    async with connect(url, "operator") as client:
        a = await site_node(client, "hall-a")
        demand = await a.get_child([f"{ns}:DistrictHeating", f"{ns}:Setpoints", f"{ns}:HeatDemand"])
        with pytest.raises(ua.UaStatusCodeError) as err:
            await demand.write_value(ua.DataValue(ua.Variant(700.0, ua.VariantType.Double)))
        assert err.value.code == ua.StatusCodes.BadUserAccessDenied
    # hall-b goes offline: its values turn Bad, writes to it are refused.
    edges["hall-b"].stop()
    await until(lambda: not host.opc.sites()["hall-b"], 10, "hall-b offline")
    async with connect(url, "utility") as client:
        b = await site_node(client, "hall-b")
        cop_b = await b.get_child([f"{ns}:HeatPump", f"{ns}:COP"])
        dv = await cop_b.read_data_value(raise_on_bad_status=False)
        assert dv.StatusCode.value == ua.StatusCodes.BadNoCommunication
        demand_b = await b.get_child(
            [f"{ns}:DistrictHeating", f"{ns}:Setpoints", f"{ns}:HeatDemand"]
        )
        with pytest.raises(ua.UaStatusCodeError) as err:
            await demand_b.write_value(ua.DataValue(ua.Variant(700.0, ua.VariantType.Double)))
        assert err.value.code == ua.StatusCodes.BadNoCommunication
        a = await site_node(client, "hall-a")
        cop_a = await a.get_child([f"{ns}:HeatPump", f"{ns}:COP"])
        assert (await cop_a.read_data_value()).StatusCode.is_good()
