"""Sparkplug B 3.0 on the wire, read by a raw subscriber on the real broker.

The edge node runs in-process (its own threads, as in the daemon); every assertion
is on the bytes the broker delivered, decoded with the specification's protobuf.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fleet_support import RawSubscriber, unique, wait_until

from controller.fieldbus.signals import Quality
from controller.fleet import sparkplug as sp
from controller.fleet.catalogue import build_catalogue
from controller.fleet.edge import CycleSample, EdgeNode
from controller.fleet.settings import FleetSettings
from controller.opcua.model import Reading
from controller.opcua.points import PlantShape

pytestmark = pytest.mark.usefixtures("fleet_services")
NODE = "site-a"


@pytest.fixture
def group() -> str:
    return unique("hrtest")


@pytest.fixture
def sub(group: str) -> Iterator[RawSubscriber]:
    s = RawSubscriber(f"spBv1.0/{group}/#")
    yield s
    s.close()


def make_edge(group: str, tmp: Path, **kw: object) -> EdgeNode:
    settings = FleetSettings(enabled=True, group=group, **kw)  # type: ignore[arg-type]
    cat = build_catalogue(PlantShape(), settings.deadband_pct)
    return EdgeNode(settings, NODE, cat, spool_path=tmp / "spool.sqlite")


def sample(i: int, t: float | None = None) -> CycleSample:
    now = time.time() if t is None else t
    return CycleSample(
        now,
        {
            "HeatPump/COP": Reading(3.0 + (i % 50) * 0.1, Quality.GOOD, now),
            "DistrictHeating/SupplyTemp": Reading(70.0 + (i % 7), Quality.GOOD, now),
            "Status/Mode": Reading("RECOVERY", Quality.GOOD, now),
            "Status/Heartbeat": Reading(i, Quality.GOOD, now),
            "BufferTank/LayerTemps": Reading([60.0, 55.0, 50.0], Quality.GOOD, now),
            "CDUs/CDU01/FwsFlow": Reading(None, Quality.BAD, now),
            "DryCoolers/FanSpeed": Reading(40.0, Quality.UNCERTAIN, now),
        },
    )


def birth_aliases(msgs: list) -> dict[int, tuple[str, int]]:
    out: dict[int, tuple[str, int]] = {}
    for m in msgs:
        if "BIRTH" in m.topic:
            for met in m.payload.metrics:
                assert met.alias not in out, f"alias {met.alias} used twice"
                out[met.alias] = (met.name, met.datatype)
    return out


def test_births_before_data_and_aliases_consistent(group: str, sub: RawSubscriber, tmp_path: Path):
    edge = make_edge(group, tmp_path)
    edge.start()
    try:
        wait_until(lambda: sub.of("NBIRTH"), 5, "birth")
        for i in range(20):
            edge.offer(sample(i))
            time.sleep(0.01)
        wait_until(lambda: len(sub.of("DDATA")) >= 5, 10, "data")
    finally:
        edge.stop()
    msgs = sub.snapshot()
    kinds = [m.topic.split("/")[2] for m in msgs]
    assert kinds[0] == "NBIRTH"
    first_data = min(i for i, k in enumerate(kinds) if k in ("NDATA", "DDATA"))
    births = [m for m in msgs if "BIRTH" in m.topic]
    devices_born = {m.topic.split("/")[4] for m in births if "/DBIRTH/" in m.topic}
    assert max(i for i, k in enumerate(kinds) if k == "DBIRTH") < first_data
    nbirth = msgs[0].payload
    assert nbirth.seq == 0
    bd = [x for x in nbirth.metrics if x.name == "bdSeq"]
    assert len(bd) == 1 and bd[0].datatype == sp.DataType.INT64
    assert any(x.name == "Node Control/Rebirth" for x in nbirth.metrics)
    aliases = birth_aliases(msgs)
    # Births carry names, types and units; data carries aliases only, of the right type.
    cop = next(met for m in births for met in m.payload.metrics if met.name == "HeatPump/COP")
    assert sp.get_properties(cop)["engUnit"] == "C62"
    for m in msgs:
        if m.topic.split("/")[2] in ("NDATA", "DDATA"):
            device = m.topic.split("/")[4] if "/DDATA/" in m.topic else None
            assert device is None or device in devices_born
            for met in m.payload.metrics:
                assert not met.name, "data messages use aliases only"
                name, dt = aliases[met.alias]
                assert met.datatype == dt, name
    # Bad quality travels as null, uncertain as the Quality property, arrays packed.
    by_name: dict[str, list] = {}
    for m in sub.of("DDATA"):
        for met in m.payload.metrics:
            by_name.setdefault(aliases[met.alias][0], []).append(met)
    flow = by_name.get("CDUs/CDU01/FwsFlow", []) + [
        met for m in births for met in m.payload.metrics if met.name == "CDUs/CDU01/FwsFlow"
    ]
    assert flow and all(m.is_null for m in flow)  # never a number while BAD
    assert sp.get_properties(by_name["DryCoolers/FanSpeed"][0])["Quality"] == 64
    layers = by_name["BufferTank/LayerTemps"][0]
    assert sp.get_value(layers, sp.DataType.DOUBLE_ARRAY) == [60.0, 55.0, 50.0]
    # NDEATH on a clean stop, with the birth's bdSeq.
    wait_until(lambda: sub.of("NDEATH"), 5, "NDEATH")
    death = sub.of("NDEATH")[0].payload
    assert death.metrics[0].long_value == bd[0].long_value


def test_report_by_exception_with_deadband(group: str, sub: RawSubscriber, tmp_path: Path):
    edge = make_edge(group, tmp_path, deadband_pct=1.0)  # COP range 0..10: 0.1 deadband
    edge.start()
    try:
        wait_until(lambda: sub.of("NBIRTH"), 5, "birth")
        now = time.time()
        for i, cop in enumerate([3.0, 3.05, 3.09, 3.2, 3.2, 3.25]):
            edge.offer(CycleSample(now + i, {"HeatPump/COP": Reading(cop, Quality.GOOD, now + i)}))
        time.sleep(0.5)
        edge.offer(CycleSample(now + 9, {"HeatPump/COP": Reading(3.2, Quality.BAD, now + 9)}))
        wait_until(lambda: len(sub.of("DDATA")) >= 2, 5, "data")
        time.sleep(0.3)
    finally:
        edge.stop()
    values = [
        None if met.is_null else round(met.double_value, 3)
        for m in sub.of("DDATA")
        for met in m.payload.metrics
    ]
    # 3.0 (first value) sent; 3.05, 3.09 within the deadband of it; 3.2 sent; 3.25
    # within the deadband of 3.2; the quality change is sent although the number did not move.
    assert values == [3.0, 3.2, None]


def test_sequence_wraps_at_255(group: str, sub: RawSubscriber, tmp_path: Path):
    edge = make_edge(group, tmp_path, max_queue=1000)
    edge.start()
    try:
        wait_until(lambda: sub.of("NBIRTH"), 5, "birth")
        for i in range(300):
            edge.offer(sample(i))
        wait_until(lambda: len(sub.of("DDATA")) + len(sub.of("NDATA")) >= 300, 10, "300 data")
    finally:
        edge.stop()
    seqs = [m.payload.seq for m in sub.snapshot() if "DEATH" not in m.topic]
    assert seqs[0] == 0
    assert all(b == (a + 1) % 256 for a, b in itertools.pairwise(seqs)), seqs
    assert 255 in seqs and seqs.count(0) >= 2  # wrapped at least once, 255 -> 0


def test_rebirth_on_command(group: str, sub: RawSubscriber, tmp_path: Path):
    edge = make_edge(group, tmp_path)
    edge.start()
    try:
        wait_until(lambda: sub.of("NBIRTH"), 5, "birth")
        for i in range(5):
            edge.offer(sample(i))
        wait_until(lambda: sub.of("DDATA"), 5, "data")
        first_bd = sub.of("NBIRTH")[0].payload.metrics[0].long_value
        cmd = sp.Payload()
        cmd.timestamp = int(time.time() * 1000)
        m = cmd.metrics.add()
        m.name, m.datatype, m.boolean_value = sp.REBIRTH, sp.DataType.BOOLEAN, True
        sub.publish(f"spBv1.0/{group}/NCMD/{NODE}", cmd.SerializeToString())
        wait_until(lambda: len(sub.of("NBIRTH")) >= 2, 5, "rebirth")
        n_dev = len({m.topic for m in sub.of("DBIRTH")})
        wait_until(lambda: len(sub.of("DBIRTH")) >= 2 * n_dev, 5, "device rebirths")
        edge.offer(sample(99))
        wait_until(lambda: "DATA" in sub.snapshot()[-1].topic, 5, "data after the births")
    finally:
        edge.stop()
    msgs = sub.snapshot()
    second = [i for i, m in enumerate(msgs) if "/NBIRTH/" in m.topic][1]
    reborn = msgs[second].payload
    assert reborn.seq == 0
    assert next(x for x in reborn.metrics if x.name == "bdSeq").long_value == first_bd
    # After the new NBIRTH: every DBIRTH again before any data, then seq continues.
    after = msgs[second:]
    kinds = [m.topic.split("/")[2] for m in after if "DEATH" not in m.topic]
    assert kinds[: 1 + n_dev] == ["NBIRTH"] + ["DBIRTH"] * n_dev
    seqs = [m.payload.seq for m in after if "DEATH" not in m.topic]
    assert seqs == [i % 256 for i in range(len(seqs))]


def test_bad_commands_are_refused_and_counted(group: str, sub: RawSubscriber, tmp_path: Path):
    edge = make_edge(group, tmp_path)
    edge.start()
    try:
        wait_until(lambda: sub.of("NBIRTH"), 5, "birth")
        sub.publish(f"spBv1.0/{group}/NCMD/{NODE}", b"\xff\xfe not protobuf")
        cmd = sp.Payload()
        for name, dt, value in (
            ("DistrictHeating/Setpoints/HeatDemand", sp.DataType.DOUBLE, 1e9),  # out of range
            ("DistrictHeating/Setpoints/HeatDemand", sp.DataType.STRING, "x"),  # wrong type
            ("HeatPump/COP", sp.DataType.DOUBLE, 4.0),  # not writable
            ("DistrictHeating/Setpoints/SupplyTempSetpoint", sp.DataType.DOUBLE, 75.0),
        ):
            m = cmd.metrics.add()
            m.name, m.datatype = name, dt
            sp.set_value(m, dt, value)
        sub.publish(f"spBv1.0/{group}/DCMD/{NODE}/DistrictHeating", cmd.SerializeToString())
        wait_until(lambda: edge.stats.bad_commands >= 4, 5, "refusals counted")
        time.sleep(0.2)
        taken = edge.take_setpoints()
    finally:
        edge.stop()
    assert set(taken) == {"SupplyTempSetpoint"}
    assert taken["SupplyTempSetpoint"].value == 75.0
