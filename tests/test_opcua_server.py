"""The OPC UA server as the utility's SCADA sees it: asyncua clients on loopback.

One server (its own thread, as in the daemon) serves every test of this module;
each test leaves it as it found it.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua
from asyncua.ua.uaerrors import BadUserAccessDenied, UaError, UaStatusCodeError
from opcua_support import browse_variables, client_certificate, connect, plant_node, settings
from structlog.testing import capture_logs

from controller.core.alarms import AlarmDef, AlarmEngine
from controller.fieldbus.signals import Quality
from controller.opcua import PlantShape, Reading, ScadaServer, snapshot_keys
from controller.opcua.addressspace import plant_points
from controller.opcua.settings import OpcUaSettings
from controller.opcua.units import unit_id

# DESIGN.md section 5, written out: the contract SCADA configurations are built on.
DESIGN: dict[str, list[str]] = {
    "Status": ["Mode", "ModeCode", "Healthy", "CycleTime", "Heartbeat", "ActiveAlarmCount"],
    "HeatPump": [
        "EvapInletTemp",
        "EvapOutletTemp",
        "CondInletTemp",
        "CondOutletTemp",
        "SupplySetpoint",
        "Load",
        "HeatOutput",
        "ElectricPower",
        "COP",
        "Running",
        "Tripped",
        "StartsToday",
    ],
    "BufferTank": ["StateOfCharge", "StoredEnergy", "TopTemp", "BottomTemp", "LayerTemps"],
    "DistrictHeating": ["SupplyTemp", "ReturnTemp", "Flow", "HeatPower", "NetworkAvailable"],
    "DistrictHeating/Setpoints": ["SupplyTempSetpoint", "HeatDemand", "InjectionEnabled"],
    "DryCoolers": ["BypassValvePosition", "FanSpeed", "HeatRejected", "AmbientTemp"],
    "Energy": [
        "DeliveredTotal",
        "DeliveredToday",
        "LastIntervalEnergy",
        "ElectricityTotal",
        "SeasonalCOP",
        "ThermalAvailability",
    ],
    **{
        f"CDUs/CDU{i:02d}": ["FwsSupplyTemp", "FwsReturnTemp", "FwsFlow", "ItLoad", "Status"]
        for i in (1, 2)
    },
    **{f"Pumps/{p}": ["Running", "Fault", "Speed"] for p in ("P1A", "P1B", "P2A", "P2B")},
}
SP = "DistrictHeating/Setpoints/"

# One server per module: keep the module on one xdist worker.
pytestmark = pytest.mark.xdist_group("opcua-server")


@dataclass
class Plant:
    server: ScadaServer
    settings: OpcUaSettings
    trusted: tuple[Path, Path, str]
    rogue: tuple[Path, Path, str]

    @property
    def url(self) -> str:
        return self.server.endpoint_url

    def publish(
        self, values: dict[str, Any], quality: Quality = Quality.GOOD, stamp: float | None = None
    ) -> None:
        t = time.time() if stamp is None else stamp
        self.server.publish({k: Reading(v, quality, t) for k, v in values.items()})


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    root = tmp_path_factory.mktemp("opcua")
    trusted_cert = client_certificate(root / "clients", "scada", "urn:test:scada")
    rogue_cert = client_certificate(root / "clients", "rogue", "urn:test:rogue")
    trusted_dir = root / "trusted"
    trusted_dir.mkdir()
    shutil.copy(trusted_cert[0], trusted_dir)
    cfg = settings(root / "data", trusted_clients_dir=trusted_dir)
    server = ScadaServer(cfg, PlantShape())
    server.start()
    yield Plant(server, cfg, (*trusted_cert, "urn:test:scada"), (*rogue_cert, "urn:test:rogue"))
    server.stop()


async def read_dv(node: Any) -> ua.DataValue:
    """Read after the server thread applied what was published before this call."""
    await asyncio.sleep(0.05)
    return await node.read_data_value(raise_on_bad_status=False)


# -- address space ---------------------------------------------------------------------


async def test_browse_finds_every_design_name(plant: Plant) -> None:
    async with connect(plant.url, "operator") as c:
        found = await browse_variables(await plant_node(c, ""))
    for obj, names in DESIGN.items():
        for name in names:
            assert f"{obj}/{name}" in found, f"{obj}/{name} missing from the address space"
    assert set(found) == {p.path for p in plant_points(PlantShape())}
    assert "Alarms/ActiveAlarms" in found


async def test_values_carry_units_ranges_and_types(plant: Plant) -> None:
    async with connect(plant.url, "operator") as c:
        supply = await plant_node(c, "DistrictHeating/SupplyTemp")
        assert (await supply.read_type_definition()) == ua.NodeId(ua.ObjectIds.AnalogItemType)
        assert (await supply.read_data_type()) == ua.NodeId(ua.ObjectIds.Double)
        eu = await (await supply.get_child("0:EngineeringUnits")).read_value()
        assert eu.UnitId == unit_id("CEL") == 4408652
        assert eu.DisplayName.Text == "°C"
        assert eu.NamespaceUri == "http://www.opcfoundation.org/UA/units/un/cefact"
        rng = await (await supply.get_child("0:EURange")).read_value()
        assert (rng.Low, rng.High) == (0.0, 150.0)  # the heat meter's range in the register map

        units = {
            "HeatPump/HeatOutput": "KWT",
            "DistrictHeating/Flow": "MQH",
            "Energy/DeliveredTotal": "MWH",
            "BufferTank/StateOfCharge": "P1",
            "Status/CycleTime": "C26",
        }
        for path, code in units.items():
            node = await plant_node(c, path)
            eu = await (await node.get_child("0:EngineeringUnits")).read_value()
            assert eu.UnitId == unit_id(code), path

        setpoint = await plant_node(c, SP + "SupplyTempSetpoint")
        rng = await (await setpoint.get_child("0:EURange")).read_value()
        assert (rng.Low, rng.High) == (50.0, 90.0)  # the site's limits
        demand = await plant_node(c, SP + "HeatDemand")
        high = (await (await demand.get_child("0:EURange")).read_value()).High
        assert high == 4800.0  # limits.dh_demand_max_pct 400 % of the 1200 kW heat pump

        running = await plant_node(c, "HeatPump/Running")
        assert (await running.read_data_type()) == ua.NodeId(ua.ObjectIds.Boolean)
        assert (await running.read_type_definition()) == ua.NodeId(
            ua.ObjectIds.TwoStateDiscreteType
        )
        assert (await (await running.get_child("0:TrueState")).read_value()).Text == "Running"
        mode = await plant_node(c, "Status/Mode")
        assert (await mode.read_data_type()) == ua.NodeId(ua.ObjectIds.String)
        code = await plant_node(c, "Status/ModeCode")
        assert (await code.read_data_type()) == ua.NodeId(ua.ObjectIds.Int32)
        layers = await plant_node(c, "BufferTank/LayerTemps")
        assert await layers.read_value_rank() == 1
        assert await layers.read_array_dimensions() == [10]


async def test_published_values_read_back_with_poll_time(plant: Plant) -> None:
    poll = time.time() - 0.4
    plant.publish(
        {
            "HeatPump/COP": 3.7,
            "Status/Mode": "RECOVERY",
            "Status/ModeCode": 2,
            "Status/Healthy": True,
            "BufferTank/LayerTemps": [70.0 - i for i in range(10)],
            "CDUs/CDU02/Status": 1,
            "Status/Heartbeat": 2**32 + 5,
        },
        stamp=poll,
    )
    async with connect(plant.url, "operator") as c:
        cop = await read_dv(await plant_node(c, "HeatPump/COP"))
        assert cop.Value.Value == 3.7 and cop.StatusCode.is_good()
        assert abs(cop.SourceTimestamp.timestamp() - poll) < 1e-3
        assert (await (await plant_node(c, "Status/Mode")).read_value()) == "RECOVERY"
        assert (await (await plant_node(c, "Status/ModeCode")).read_value()) == 2
        layers = await (await plant_node(c, "BufferTank/LayerTemps")).read_value()
        assert layers == [70.0 - i for i in range(10)]
        assert (await (await plant_node(c, "CDUs/CDU02/Status")).read_value()) == 1
        assert (await (await plant_node(c, "Status/Heartbeat")).read_value()) == 5
        never = await read_dv(await plant_node(c, "Energy/SeasonalCOP"))
        assert never.StatusCode.value == ua.StatusCodes.BadWaitingForInitialData


async def test_subscription_gets_a_change_for_every_publish(plant: Plant) -> None:
    queue: asyncio.Queue[tuple[Any, ua.StatusCode]] = asyncio.Queue()

    class Handler:
        def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
            queue.put_nowait((val, data.monitored_item.Value.StatusCode))

    plant.publish({"HeatPump/HeatOutput": 500.0})
    async with connect(plant.url, "operator") as c:
        node = await plant_node(c, "HeatPump/HeatOutput")
        sub = await c.create_subscription(20, Handler())
        await sub.subscribe_data_change(node)
        first, _ = await asyncio.wait_for(queue.get(), 3)
        assert first == 500.0
        for i in range(1, 6):
            plant.publish({"HeatPump/HeatOutput": 500.0 + i})
            val, status = await asyncio.wait_for(queue.get(), 3)
            assert (val, status.is_good()) == (500.0 + i, True)
        plant.publish({"HeatPump/HeatOutput": None}, Quality.BAD)
        val, status = await asyncio.wait_for(queue.get(), 3)
        assert val is None and status.value == ua.StatusCodes.BadNoCommunication
        await sub.delete()


# -- quality ---------------------------------------------------------------------------


async def test_failed_device_shows_bad_never_the_old_value(plant: Plant) -> None:
    async with connect(plant.url, "operator") as c:
        node = await plant_node(c, "CDUs/CDU01/FwsSupplyTemp")
        plant.publish({"CDUs/CDU01/FwsSupplyTemp": 36.5})
        assert (await read_dv(node)).Value.Value == 36.5
        stale_poll = time.time() - 2.0
        plant.publish({"CDUs/CDU01/FwsSupplyTemp": 36.5}, Quality.UNCERTAIN, stale_poll)
        dv = await read_dv(node)
        assert dv.StatusCode.value == ua.StatusCodes.UncertainLastUsableValue
        assert dv.Value.Value == 36.5
        assert abs(dv.SourceTimestamp.timestamp() - stale_poll) < 1e-3
        # The field bus still hands over its last number with BAD quality: not shown.
        plant.publish({"CDUs/CDU01/FwsSupplyTemp": 36.5}, Quality.BAD)
        dv = await read_dv(node)
        assert dv.StatusCode.is_bad()
        assert dv.StatusCode.value == ua.StatusCodes.BadNoCommunication
        assert dv.Value.Value is None
        plant.publish({"CDUs/CDU01/FwsSupplyTemp": math.nan})  # "good" NaN is no value either
        assert (await read_dv(node)).StatusCode.is_bad()
        plant.publish({"CDUs/CDU01/FwsSupplyTemp": 36.0})
        assert (await read_dv(node)).StatusCode.is_good()


# -- writes ----------------------------------------------------------------------------


async def _setpoint_nodes(c: Any) -> list[Any]:
    return [
        await plant_node(c, SP + n)
        for n in ("SupplyTempSetpoint", "HeatDemand", "InjectionEnabled")
    ]


async def test_utility_write_is_accepted_and_reaches_the_daemon(plant: Plant) -> None:
    plant.server.take_setpoints()
    async with connect(plant.url, "utility") as c:
        nodes = await _setpoint_nodes(c)
        with capture_logs() as logs:
            results = await c.write_values(
                nodes,
                [
                    ua.Variant(72.5, ua.VariantType.Double),
                    ua.Variant(850.0, ua.VariantType.Double),
                    ua.Variant(True, ua.VariantType.Boolean),
                ],
                raise_on_partial_error=False,
            )
        assert [r.is_good() for r in results] == [True, True, True]
        taken = plant.server.take_setpoints()
        assert {k: (w.value, w.user) for k, w in taken.items()} == {
            "SupplyTempSetpoint": (72.5, "utility"),
            "HeatDemand": (850.0, "utility"),
            "InjectionEnabled": (True, "utility"),
        }
        assert plant.server.take_setpoints() == {}
        audit = [e for e in logs if e["event"] == "opcua.write"]
        assert {(e["node"], e["result"], e["user"]) for e in audit} == {
            (SP + "SupplyTempSetpoint", "accepted", "utility"),
            (SP + "HeatDemand", "accepted", "utility"),
            (SP + "InjectionEnabled", "accepted", "utility"),
        }
        assert all(e["audit"] is True for e in audit)
        assert await nodes[0].read_value() == 72.5


async def test_untaken_write_is_not_overwritten_by_the_previous_cycle(plant: Plant) -> None:
    plant.server.take_setpoints()
    async with connect(plant.url, "admin") as c:
        node = (await _setpoint_nodes(c))[0]
        await node.write_value(ua.Variant(66.0, ua.VariantType.Double))
        plant.publish({SP + "SupplyTempSetpoint": 70.0})  # computed before the write
        assert (await read_dv(node)).Value.Value == 66.0
        assert plant.server.take_setpoints()["SupplyTempSetpoint"].user == "admin"
        plant.publish({SP + "SupplyTempSetpoint": 66.0})  # the daemon now uses it
        plant.publish({SP + "SupplyTempSetpoint": 68.0})  # and later changes it (fallback)
        assert (await read_dv(node)).Value.Value == 68.0


async def test_out_of_range_and_wrong_type_are_refused_per_item(plant: Plant) -> None:
    plant.server.take_setpoints()
    async with connect(plant.url, "utility") as c:
        supply, demand, inject = await _setpoint_nodes(c)
        with capture_logs() as logs:
            results = await c.write_values(
                [supply, demand],
                [
                    ua.Variant(95.0, ua.VariantType.Double),  # limit 90
                    ua.Variant(400.0, ua.VariantType.Double),
                ],
                raise_on_partial_error=False,
            )
            assert [r.name for r in results] == ["BadOutOfRange", "Good"]
            bad = [
                (supply, ua.Variant(49.9, ua.VariantType.Double), "BadOutOfRange"),
                (supply, ua.Variant(math.nan, ua.VariantType.Double), "BadOutOfRange"),
                (demand, ua.Variant(-1.0, ua.VariantType.Double), "BadOutOfRange"),
                (supply, ua.Variant(70, ua.VariantType.Int64), "BadTypeMismatch"),
                (supply, ua.Variant(70.0, ua.VariantType.Float), "BadTypeMismatch"),
                (supply, ua.Variant("70", ua.VariantType.String), "BadTypeMismatch"),
                (inject, ua.Variant(1, ua.VariantType.Int32), "BadTypeMismatch"),
            ]
            for node, value, expected in bad:
                [status] = await c.write_values([node], [value], raise_on_partial_error=False)
                assert status.name == expected, (value, status)
        assert set(plant.server.take_setpoints()) == {"HeatDemand"}
        refused = [e for e in logs if e["event"] == "opcua.write" and e["result"] != "accepted"]
        assert len(refused) == 1 + len(bad)
        assert refused[0]["user"] == "utility" and refused[0]["value"] == 95.0
        # Anything else in the tree is read-only, whatever the role.
        cop = await plant_node(c, "HeatPump/COP")
        [status] = await c.write_values(
            [cop], [ua.Variant(9.0, ua.VariantType.Double)], raise_on_partial_error=False
        )
        assert status.name == "BadNotWritable"


@pytest.mark.parametrize("user", ["operator", None])
async def test_operator_and_anonymous_cannot_write(plant: Plant, user: str | None) -> None:
    plant.server.take_setpoints()
    async with connect(plant.url, user) as c:
        supply = (await _setpoint_nodes(c))[0]
        assert (await read_dv(supply)) is not None  # reading is fine
        with capture_logs() as logs, pytest.raises(BadUserAccessDenied):
            await supply.write_value(ua.Variant(70.0, ua.VariantType.Double))
        assert plant.server.take_setpoints() == {}
        [entry] = [e for e in logs if e["event"] == "opcua.write"]
        assert entry["result"] == "BadUserAccessDenied"
        assert entry["user"] == (user or "anonymous")


async def test_wrong_password_is_refused(plant: Plant) -> None:
    with pytest.raises(UaStatusCodeError):
        async with connect(plant.url, "utility", password="guess"):
            pass


# -- security --------------------------------------------------------------------------


async def test_sign_and_encrypt_with_a_trusted_client_certificate(plant: Plant) -> None:
    cert = plant.server.certificate
    assert cert is not None
    async with connect(plant.url, "utility", cert=plant.trusted, server_cert=cert.cert_path) as c:
        policy = c.security_policy
        assert policy.Mode == ua.MessageSecurityMode.SignAndEncrypt
        assert policy.URI.endswith("#Basic256Sha256")
        plant.publish({"DistrictHeating/HeatPower": 1010.0})
        assert (await read_dv(await plant_node(c, "DistrictHeating/HeatPower"))).Value.Value == (
            1010.0
        )
    async with connect(
        plant.url,
        "operator",
        cert=plant.trusted,
        server_cert=cert.cert_path,
        mode=ua.MessageSecurityMode.Sign,
    ) as c:
        assert c.security_policy.Mode == ua.MessageSecurityMode.Sign


async def test_untrusted_client_certificate_is_refused(plant: Plant) -> None:
    cert = plant.server.certificate
    assert cert is not None
    with pytest.raises((UaError, UaStatusCodeError)) as err:
        async with connect(plant.url, "utility", cert=plant.rogue, server_cert=cert.cert_path):
            pass
    assert "BadCertificateUntrusted" in repr(err.value) or "Untrusted" in str(err.value)
    rejected = list((plant.settings.data_dir / "pki" / "rejected").glob("*.der"))
    assert len(rejected) == 1


async def test_endpoints_offer_exactly_the_configured_policies(plant: Plant) -> None:
    async with connect(plant.url, "operator") as c:
        endpoints = await c.get_endpoints()
    modes = sorted((e.SecurityPolicyUri.rsplit("#", 1)[-1], e.SecurityMode.name) for e in endpoints)
    assert modes == [
        ("Basic256Sha256", "Sign"),
        ("Basic256Sha256", "SignAndEncrypt"),
        ("None", "None_"),
    ]


# -- alarms ----------------------------------------------------------------------------


def _engine() -> AlarmEngine:
    d = AlarmDef(
        id="FWS_SUPPLY_HIGH",
        kind="high",
        source="plc.fws_supply_temp",
        limit=38.0,
        deadband=0.5,
        priority="high",
        message="Facility water supply above 38 °C",
        action="Check the dry coolers",
        category="process",
    )  # type: ignore[arg-type]
    return AlarmEngine([d])


async def test_alarm_arrives_as_event_and_can_be_acknowledged(plant: Plant) -> None:
    events: asyncio.Queue[Any] = asyncio.Queue()

    class Handler:
        def event_notification(self, event: Any) -> None:
            events.put_nowait(event)

    engine = _engine()
    async with connect(plant.url, "utility") as c, connect(plant.url, "operator") as viewer:
        sub = await c.create_subscription(20, Handler())
        await sub.subscribe_events(c.nodes.server, ua.ObjectIds.AlarmConditionType)
        now = time.time()
        raised = engine.update({"plc.fws_supply_temp": 39.2}, now)
        plant.server.alarm_update(raised, engine.active(), now)
        ev = await asyncio.wait_for(events.get(), 3)
        assert ev.SourceName == "FWS_SUPPLY_HIGH"
        assert ev.Severity == 750  # priority high
        assert "above 38" in ev.Message.Text
        assert ev.Retain is True
        assert getattr(ev, "ActiveState/Id") is True
        assert getattr(ev, "AckedState/Id") is False
        assert abs(ev.Time.timestamp() - now) < 1e-3

        ids = await (await plant_node(c, "Alarms/ActiveAlarmIds")).read_value()
        assert ids == ["FWS_SUPPLY_HIGH"]
        lines = await (await plant_node(c, "Alarms/ActiveAlarms")).read_value()
        assert lines[0].startswith("FWS_SUPPLY_HIGH | high | active_unacked")
        assert await (await plant_node(c, "Status/ActiveAlarmCount")).read_value() == 1

        # The operator may see, not acknowledge.
        ack = await plant_node(viewer, "Alarms/Acknowledge")
        alarms_obj = await plant_node(viewer, "Alarms")
        with pytest.raises(BadUserAccessDenied):
            await alarms_obj.call_method(ack, "FWS_SUPPLY_HIGH", "")
        assert plant.server.take_acknowledgements() == []

        alarms_obj = await plant_node(c, "Alarms")
        await alarms_obj.call_method(
            await plant_node(c, "Alarms/Acknowledge"),
            "FWS_SUPPLY_HIGH",
            "seen, dry coolers checked",
        )
        acks = plant.server.take_acknowledgements()
        assert acks == [("FWS_SUPPLY_HIGH", "utility")]
        with pytest.raises(UaStatusCodeError):  # not on the list
            await alarms_obj.call_method(await plant_node(c, "Alarms/Acknowledge"), "NO_SUCH", "")

        # The daemon acknowledges in the engine; the event shows it.
        acked = [engine.acknowledge(a, u, now + 1) for a, u in acks]
        plant.server.alarm_update([e for e in acked if e], engine.active(), now + 1)
        ev = await asyncio.wait_for(events.get(), 3)
        assert getattr(ev, "AckedState/Id") is True and getattr(ev, "ActiveState/Id") is True
        assert ev.Retain is True

        # Clearing: the condition goes, the list empties, Retain drops.
        cleared = engine.update({"plc.fws_supply_temp": 30.0}, now + 2)
        plant.server.alarm_update(cleared, engine.active(), now + 2)
        ev = await asyncio.wait_for(events.get(), 3)
        assert getattr(ev, "ActiveState/Id") is False and ev.Retain is False
        # The list is written in the same pass as the event, before it is sent.
        assert await (await plant_node(c, "Alarms/ActiveAlarmIds")).read_value() == []
        await sub.delete()


async def test_standard_acknowledge_and_condition_refresh(plant: Plant) -> None:
    events: asyncio.Queue[Any] = asyncio.Queue()

    class Handler:
        def event_notification(self, event: Any) -> None:
            events.put_nowait(event)

    engine = _engine()
    async with connect(plant.url, "utility") as c:
        sub = await c.create_subscription(20, Handler())
        await sub.subscribe_events(c.nodes.server, ua.ObjectIds.AlarmConditionType)
        now = time.time()
        plant.server.alarm_update(
            engine.update({"plc.fws_supply_temp": 40.0}, now), engine.active(), now
        )
        ev = await asyncio.wait_for(events.get(), 3)
        condition = c.get_node(ev.NodeId)
        method = ua.NodeId(ua.ObjectIds.AcknowledgeableConditionType_Acknowledge)
        comment = ua.Variant(ua.LocalizedText("ok"), ua.VariantType.LocalizedText)
        with pytest.raises(UaStatusCodeError):
            await condition.call_method(
                method, ua.Variant(b"stale", ua.VariantType.ByteString), comment
            )
        await condition.call_method(
            method, ua.Variant(ev.EventId, ua.VariantType.ByteString), comment
        )
        assert plant.server.take_acknowledgements() == [("FWS_SUPPLY_HIGH", "utility")]

        # A client that connects later gets the retained condition with ConditionRefresh.
        late: asyncio.Queue[Any] = asyncio.Queue()

        class LateHandler:
            def event_notification(self, event: Any) -> None:
                late.put_nowait(event)

        sub2 = await c.create_subscription(20, LateHandler())
        await sub2.subscribe_events(c.nodes.server, ua.ObjectIds.AlarmConditionType)
        await c.get_node(ua.ObjectIds.ConditionType).call_method(
            ua.NodeId(ua.ObjectIds.ConditionType_ConditionRefresh),
            ua.Variant(sub2.subscription_id, ua.VariantType.UInt32),
        )
        replayed = await asyncio.wait_for(late.get(), 3)
        assert (replayed.SourceName, replayed.Retain) == ("FWS_SUPPLY_HIGH", True)

        engine.acknowledge("FWS_SUPPLY_HIGH", "utility", now)
        plant.server.alarm_update(
            engine.update({"plc.fws_supply_temp": 30.0}, now + 1), engine.active(), now + 1
        )
        await sub2.delete()
        await sub.delete()


# -- history ---------------------------------------------------------------------------


async def test_history_read_of_the_key_values(plant: Plant) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    keys = [
        "DistrictHeating/SupplyTemp",
        "DistrictHeating/ReturnTemp",
        "DistrictHeating/HeatPower",
        "BufferTank/StateOfCharge",
        "CDUs/CDU01/FwsSupplyTemp",
        "FacilityWater/SupplyTemp",
    ]
    for i in range(4):
        plant.publish({k: 60.0 + i for k in keys}, stamp=time.time())
        await asyncio.sleep(0.06)  # history subscription samples at 10 ms
    async with connect(plant.url, "operator") as c:
        for key in keys:
            node = await plant_node(c, key)
            assert await node.read_attribute(ua.AttributeIds.Historizing)
            values = [dv.Value.Value for dv in await node.read_raw_history(start, None)]
            assert values[-4:] == [60.0, 61.0, 62.0, 63.0], key
        unsupported = await plant_node(c, "HeatPump/COP")
        assert await unsupported.read_raw_history(start, None) == []


def test_snapshot_keys_cover_the_published_tree() -> None:
    keys = snapshot_keys(PlantShape())
    assert "Status/ActiveAlarmCount" in keys and "Alarms/ActiveAlarms" not in keys
    assert "Pumps/P2B/Speed" in keys and "CDUs/CDU02/ItLoad" in keys
