"""Block planning, link settings, and the FieldBus and CommandWriter against the real server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from modbus_helpers import shipped_map
from pointstore import PointStore
from pydantic import ValidationError

from controller.config.registermap import Point, PollClass, Table
from controller.config.tomlfile import ConfigError, load_model
from controller.fieldbus.blocks import plan_reads
from controller.fieldbus.bus import FieldBus
from controller.fieldbus.linkconfig import FieldBusConfig, LinkConfig
from controller.fieldbus.signals import Quality
from controller.fieldbus.writer import CommandError, CommandWriter
from controller.incidents import INCIDENTS
from simulator.modbus_server import PlantModbusServer
from simulator.pointio import CommsFault

# ================================================================ block planning


def _blocks(device: str, **kw: Any) -> list[tuple[Table, PollClass, int, int]]:
    plan = plan_reads(shipped_map().points_of(device), **kw)
    return [(b.table, b.poll, b.start, b.count) for b in plan]


def test_contiguous_points_make_one_block() -> None:
    assert _blocks("cdu01") == [(Table.INPUT, PollClass.FAST, 0, 15)]
    assert (Table.DISCRETE, PollClass.FAST, 0, 9) in _blocks("plc")
    assert (Table.COIL, PollClass.FAST, 0, 4) in _blocks("plc")


def test_gap_of_other_mapped_points_is_bridged_only_up_to_max_gap() -> None:
    # Heat pump inputs: fast 0..23 and 28..31, slow counters at 24..27.
    bridged = _blocks("heatpump", max_gap=4)
    assert (Table.INPUT, PollClass.FAST, 0, 32) in bridged
    assert (Table.INPUT, PollClass.SLOW, 24, 4) in bridged
    split = _blocks("heatpump", max_gap=3)
    assert (Table.INPUT, PollClass.FAST, 0, 24) in split
    assert (Table.INPUT, PollClass.FAST, 28, 4) in split


def test_unmapped_addresses_are_never_bridged() -> None:
    pts = [
        Point(name="a", table="input", address=0, type="uint16"),
        Point(name="b", table="input", address=5, type="float32"),
    ]
    plan = plan_reads(pts, max_gap=100)
    assert [(b.start, b.count) for b in plan] == [(0, 1), (5, 2)]


def test_block_size_limit_never_splits_a_32_bit_value() -> None:
    assert _blocks("cdu01", max_registers=10) == [
        (Table.INPUT, PollClass.FAST, 0, 10),
        (Table.INPUT, PollClass.FAST, 10, 5),
    ]
    assert _blocks("cdu01", max_registers=3) == [
        (Table.INPUT, PollClass.FAST, a, 2) for a in (0, 2, 4, 6, 8, 10)
    ] + [(Table.INPUT, PollClass.FAST, 12, 3)]
    discrete = [b for b in _blocks("plc", max_bits=4) if b[0] is Table.DISCRETE]
    assert [(b[2], b[3]) for b in discrete] == [(0, 4), (4, 4), (8, 1)]
    with pytest.raises(ValueError, match="at least 2"):
        plan_reads(shipped_map().points_of("cdu01"), max_registers=1)


@pytest.mark.parametrize("settings", [{}, {"max_registers": 4, "max_gap": 0}, {"max_gap": 50}])
def test_every_plan_reads_only_mapped_addresses_and_every_point_once(settings: Any) -> None:
    regmap = shipped_map()
    for model in regmap.models.values():
        mapped = {(p.table, a) for p in model.points for a in range(p.address, p.address + p.words)}
        plan = plan_reads(model.points, **settings)
        seen: list[str] = []
        for b in plan:
            assert all((b.table, a) in mapped for a in range(b.start, b.end)), str(b)
            for p in b.points:
                assert b.start <= p.address and p.address + p.words <= b.end
                assert p.poll is b.poll and p.table is b.table
                seen.append(p.name)
        assert sorted(seen) == sorted(p.name for p in model.points)


# ================================================================ link settings


def _link(name: str, port: int, devices: list[str], **kw: Any) -> dict[str, Any]:
    return {"name": name, "host": "127.0.0.1", "port": port, "devices": devices, **kw}


@pytest.mark.parametrize(
    ("links", "message"),
    [
        ([_link("a", 502, ["cdu01"]), _link("b", 502, ["cdu02"])], "both use 127.0.0.1:502"),
        (
            [_link("a", 502, ["cdu01"]), {**_link("b", 502, ["cdu02"]), "host": "127.0.0.1 "}],
            "both use",
        ),
        ([_link("a", 502, ["cdu01"]), _link("b", 503, ["cdu01"])], "is on links 'a' and 'b'"),
        ([_link("a", 502, ["cdu01", "cdu01"])], "listed twice"),
        ([_link("a", 502, ["cdu01"]), _link("a", 503, ["cdu02"])], "used twice"),
        ([_link("a", 502, ["cdu01"], timeout_s=0.5)], "must be below poll_budget_s"),
        ([_link("a", 502, ["cdu01"], backoff_initial_s=5, backoff_max_s=1)], "backoff_max_s"),
        ([_link("a", 502, ["hp9"])], "unknown device"),
        ([_link("a", 502, [])], "at least 1"),
    ],
)
def test_conflicting_link_definitions_are_refused(links: list[Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FieldBusConfig.model_validate({"links": links}, context={"regmap": shipped_map()})


def test_unknown_device_is_refused_by_the_fieldbus_without_context() -> None:
    cfg = FieldBusConfig(links=[LinkConfig(name="a", devices=["cdu01", "ghost"])])
    with pytest.raises(ValueError, match="ghost"):
        FieldBus(shipped_map(), cfg)


def test_link_errors_name_the_line_in_the_site_file(tmp_path: Path) -> None:
    path = tmp_path / "fieldbus.toml"
    path.write_text(
        "poll_budget_s = 0.5\n\n"
        "[[links]]\nname = 'main'\nport = 5020\ndevices = ['cdu01', 'plc']\n\n"
        "[[links]]\nname = 'meter'\nport = 5021\ndevices = ['heatmeter']\ntimeout_s = -1\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_model(FieldBusConfig, path, regmap=shipped_map())
    assert "line 12" in str(err.value) and "links[1].timeout_s" in str(err.value)


# ================================================================ FieldBus on the wire


BusFactory = Callable[..., Awaitable[FieldBus]]


@pytest.fixture
async def make_bus(server: PlantModbusServer) -> AsyncIterator[BusFactory]:
    made: list[FieldBus] = []

    async def make(poll_budget_s: float = 0.5, **link: Any) -> FieldBus:
        host, port = server.endpoints["cdu01"]
        link = {"timeout_s": 0.15, **link}
        cfg = FieldBusConfig.single_link(
            shipped_map(), host, port, poll_budget_s=poll_budget_s, **link
        )
        bus = FieldBus(shipped_map(), cfg)
        await bus.start()
        made.append(bus)
        return bus

    yield make
    for bus in made:
        await bus.stop()


def _expected(store: PointStore, dev: str, name: str) -> Any:
    p = shipped_map().point(dev, name)
    return pytest.approx(store.values[dev][name], rel=1e-6, abs=p.scale / 2)


async def test_poll_reads_every_point_good_with_poll_timestamp(
    store: PointStore, make_bus: BusFactory
) -> None:
    bus = await make_bus()
    t0 = time.time()
    report = await bus.poll_cycle(0)
    t1 = time.time()
    assert report.polled == ["plant"] and not report.late and not report.skipped
    snap = bus.snapshot()
    regmap = shipped_map()
    assert set(snap) == set(regmap.devices)
    for dev, samples in snap.items():
        assert set(samples) == {p.name for p in regmap.points_of(dev)}
        for name, s in samples.items():
            assert s.quality is Quality.GOOD, (dev, name, s.reason)
            assert s.value == _expected(store, dev, name), (dev, name)
            assert t0 <= s.timestamp <= t1
            assert s.age_cycles == 0
    stats = bus.device_stats()
    assert stats["cdu01"].requests == 1  # one block for the whole CDU
    assert all(st.errors == 0 for st in stats.values())


async def test_never_polled_points_are_bad(make_bus: BusFactory) -> None:
    bus = await make_bus()
    s = bus.sample("cdu01", "fws_supply_temp")
    assert s.quality is Quality.BAD and s.value is None and "never read" in s.reason


async def test_sentinel_and_implausible_values_are_bad_with_a_reason(
    store: PointStore, server: PlantModbusServer, make_bus: BusFactory
) -> None:
    bus = await make_bus()
    store.set("plc", "fws_supply_temp", 850.0)  # failed sensor
    store.set("cdu01", "fws_flow", None)  # float32 NaN
    store.set("plc", "dh_flow", None)  # uint16 0xFFFF
    store.set("plc", "ambient_temp", None)  # int16 0x8000
    await server.publish()
    await bus.poll_cycle(0)
    s = bus.sample("plc", "fws_supply_temp")
    assert s.quality is Quality.BAD and s.value == pytest.approx(850.0)
    assert "implausible" in s.reason and "[-20, 120]" in s.reason
    for dev, name, token in [
        ("cdu01", "fws_flow", "nan"),
        ("plc", "dh_flow", "0xFFFF"),
        ("plc", "ambient_temp", "0x8000"),
    ]:
        s = bus.sample(dev, name)
        assert s.quality is Quality.BAD and s.value is None, name
        assert "not available" in s.reason and token in s.reason, s.reason
    assert bus.sample("plc", "fws_return_temp").quality is Quality.GOOD
    store.set("plc", "fws_supply_temp", 36.5)
    await server.publish()
    await bus.poll_cycle(1)
    assert bus.sample("plc", "fws_supply_temp").good


@pytest.mark.parametrize("fault", [CommsFault.SILENT, CommsFault.EXCEPTION])
async def test_failed_device_goes_uncertain_then_bad_and_others_stay_good(
    store: PointStore, make_bus: BusFactory, fault: CommsFault
) -> None:
    budget = 0.4
    bus = await make_bus(poll_budget_s=budget, timeout_s=0.15, stale_after_cycles=3)
    await bus.poll_cycle(0)
    last_good = bus.sample("heatpump", "cond_outlet_temp")
    assert last_good.good
    store.faults["heatpump"] = fault
    for cycle in (1, 2, 3):
        report = await bus.poll_cycle(cycle)
        assert report.duration_s <= budget + 0.05
        assert not report.late
        snap = bus.snapshot()
        for dev, samples in snap.items():
            if dev == "heatpump":
                continue
            assert all(s.good for s in samples.values()), dev
        hp = snap["heatpump"]["cond_outlet_temp"]
        if cycle < 3:
            assert hp.quality is Quality.UNCERTAIN
            assert hp.value == last_good.value and hp.timestamp == last_good.timestamp
            assert hp.age_cycles == cycle
        else:
            assert hp.quality is Quality.BAD and hp.value is None
            assert "stale" in hp.reason
        cause = "no response" if fault is CommsFault.SILENT else "exception 4"
        assert cause in hp.reason
    st = bus.device_stats()["heatpump"]
    # One failed request per cycle: the rest of the device's blocks are skipped.
    assert st.errors == 3
    if fault is CommsFault.SILENT:
        assert st.timeouts == 3
    else:
        assert st.exceptions == 3
    assert not bus.device_online("heatpump") and bus.device_online("plc")
    del store.faults["heatpump"]
    await bus.poll_cycle(4)
    assert bus.sample("heatpump", "cond_outlet_temp").good


async def _rogue_device(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers every request with a frame of the wrong protocol id, then garbage."""
    with contextlib.suppress(Exception):
        while await reader.read(260):
            writer.write(b"\x00\x01\x12\x34\x00\x05\x01\x83\x02" + bytes(range(40)))
            await writer.drain()
    writer.close()


async def test_device_faults_are_counted_and_logged_once_per_cause(
    caplog: pytest.LogCaptureFixture, unused_tcp_port: int
) -> None:
    INCIDENTS.clear()
    caplog.set_level(logging.WARNING)
    caplog.set_level(logging.WARNING, logger="pymodbus")  # modbus_helpers mutes it
    rogue = await asyncio.start_server(_rogue_device, "127.0.0.1", unused_tcp_port)
    cfg = FieldBusConfig.single_link(
        shipped_map(), "127.0.0.1", unused_tcp_port, poll_budget_s=0.4, timeout_s=0.1
    )
    bus = FieldBus(shipped_map(), cfg)
    await bus.start()
    try:
        for cycle in range(6):
            await bus.poll_cycle(cycle)
            await asyncio.sleep(0.05)
    finally:
        await bus.stop()
        rogue.close()
    assert not bus.device_online("heatpump")
    counted = sum(n for (sub, _), n in INCIDENTS.counts().items() if sub == "modbus")
    assert counted >= 6
    from_pymodbus = [r for r in caplog.records if r.name.startswith("pymodbus")]
    causes = {c for (sub, c) in INCIDENTS.counts() if sub == "modbus"}
    assert 1 <= len(from_pymodbus) <= len(causes)  # one line per cause, not one per request
    assert not any("\n" in r.getMessage() for r in caplog.records)  # no frame dumps


async def test_silent_device_does_not_delay_the_others_on_its_link(
    store: PointStore, make_bus: BusFactory
) -> None:
    bus = await make_bus(poll_budget_s=0.3, timeout_s=0.2)
    await bus.poll_cycle(0)
    store.faults["cdu01"] = CommsFault.SILENT  # first device in the poll order
    await bus.poll_cycle(1)
    t_fail = bus.device_stats()["cdu01"].last_error_time
    await bus.poll_cycle(2)
    # After its first failure the silent device is polled last, so the others'
    # values in cycle 2 were read before it timed out.
    assert t_fail is not None
    ts = [s.timestamp for d, ss in bus.snapshot().items() if d != "cdu01" for s in ss.values()]
    assert max(ts) < bus.device_stats()["cdu01"].last_error_time


async def test_slow_points_are_read_every_slow_every_cycles(
    store: PointStore, server: PlantModbusServer, make_bus: BusFactory
) -> None:
    bus = await make_bus(slow_every=4)
    await bus.poll_cycle(0)
    first = bus.sample("heatmeter", "energy").value
    store.set("heatmeter", "energy", 1234567.0)
    store.set("heatmeter", "flow", 77.0)
    await server.publish()
    for cycle in (1, 2, 3):
        await bus.poll_cycle(cycle)
        e = bus.sample("heatmeter", "energy")
        assert e.quality is Quality.GOOD and e.value == first and e.age_cycles == cycle
        assert bus.sample("heatmeter", "flow").value == 77.0
    await bus.poll_cycle(4)
    e = bus.sample("heatmeter", "energy")
    assert e.value == 1234567.0 and e.age_cycles == 0


async def test_poll_is_skipped_not_queued_while_the_previous_one_runs(
    make_bus: BusFactory,
) -> None:
    # A 40 ms gap between ~17 requests makes one poll last ~0.7 s, far past the budget.
    bus = await make_bus(poll_budget_s=0.2, gap_s=0.04)
    t0 = time.monotonic()
    r0 = await bus.poll_cycle(0)
    assert time.monotonic() - t0 < 0.3
    assert r0.late == ["plant"]
    assert bus.sample("cdu01", "it_load").good  # polled first, inside the budget
    assert bus.sample("dhi", "heat_demand").quality is Quality.BAD  # not reached yet
    r1 = await bus.poll_cycle(1)
    assert r1.skipped == ["plant"] and r1.polled == [] and r1.duration_s < 0.05
    link = bus.links["plant"]
    assert link.stats.skipped_polls == 1 and link.stats.late_polls == 1
    # The skipped cycle refreshed nothing: one miss, the last value is only usable.
    s = bus.sample("cdu01", "it_load")
    assert s.quality is Quality.UNCERTAIN and "missed" in s.reason and s.age_cycles == 1
    async with asyncio.timeout(2.0):
        await bus.idle()
    # The late poll's values land when they arrive, dated by their poll.
    s = bus.sample("dhi", "heat_demand")
    assert s.good and s.age_cycles == 1
    requests = sum(st.requests for st in bus.device_stats().values())
    assert link.stats.last_poll_s >= (requests - 1) * 0.04
    r2 = await bus.poll_cycle(2)
    assert r2.polled == ["plant"]


async def test_unit_switch_delay_is_applied_between_devices(make_bus: BusFactory) -> None:
    fast = await make_bus()
    await fast.poll_cycle(0)
    slow = await make_bus(unit_switch_delay_s=0.03)
    await slow.poll_cycle(0)
    # 7 devices in a row: at least 6 unit-id changes.
    assert slow.links["plant"].stats.last_poll_s >= 6 * 0.03
    assert fast.links["plant"].stats.last_poll_s < 6 * 0.03


async def test_reconnect_with_backoff_after_server_restart(
    store: PointStore, server: PlantModbusServer, make_bus: BusFactory
) -> None:
    bus = await make_bus(
        slow_every=1000, backoff_initial_s=0.05, backoff_max_s=0.2, stale_after_cycles=2
    )
    link = bus.links["plant"]
    await bus.poll_cycle(0)
    assert bus.sample("cdu01", "it_load").good
    host, port = server.endpoints["cdu01"]
    await server.stop()
    cycle = 1
    t_end = time.monotonic() + 0.8
    while time.monotonic() < t_end:
        await bus.poll_cycle(cycle)
        cycle += 1
        await asyncio.sleep(0.01)
    s = bus.sample("cdu01", "it_load")
    assert s.quality is Quality.BAD and s.value is None and "down" in s.reason
    assert link.stats.disconnects == 1
    assert link.stats.backoff_history[:3] == [0.05, 0.1, 0.2]
    assert max(link.stats.backoff_history) == 0.2
    assert link.stats.connect_failures < cycle / 3  # backoff, not an attempt per cycle
    # The meter's energy (slow, every 1000 cycles) changes while the link is down.
    store.set("heatmeter", "energy", 4242.0)
    await server.start()  # the same server object comes back on the same (ephemeral) port
    assert server.endpoints["cdu01"] == (host, port)
    async with asyncio.timeout(2.0):
        while not bus.sample("cdu01", "it_load").good:
            await bus.poll_cycle(cycle)
            cycle += 1
            await asyncio.sleep(0.01)
    assert link.stats.connects == 2
    assert all(s.good for ss in bus.snapshot().values() for s in ss.values())
    # Slow and once blocks are re-read straight after a reconnect.
    assert bus.sample("heatmeter", "energy").value == 4242.0


async def test_restart_between_cycles_rereads_slow_points_in_the_reconnecting_poll(
    store: PointStore, server: PlantModbusServer, make_bus: BusFactory
) -> None:
    bus = await make_bus(slow_every=1000)
    link = bus.links["plant"]
    await bus.poll_cycle(0)
    host, port = server.endpoints["cdu01"]
    await server.stop()
    for _ in range(100):  # the client learns of the close asynchronously
        if not link.connected:
            break
        await asyncio.sleep(0.01)
    store.set("heatmeter", "energy", 777.0)
    async with PlantModbusServer(shipped_map(), store, host=host, port=port):
        await bus.poll_cycle(1)
        assert link.stats.connects == 2
        e = bus.sample("heatmeter", "energy")
        assert e.good and e.value == 777.0 and e.age_cycles == 0


async def test_link_down_at_start_comes_up_later(store: PointStore, unused_tcp_port: int) -> None:
    cfg = FieldBusConfig.single_link(
        shipped_map(),
        "127.0.0.1",
        unused_tcp_port,
        timeout_s=0.1,
        backoff_initial_s=0.05,
        backoff_max_s=0.05,
    )
    bus = FieldBus(shipped_map(), cfg)
    await bus.start()
    try:
        await bus.poll_cycle(0)
        assert bus.sample("plc", "heartbeat").quality is Quality.BAD
        async with PlantModbusServer(shipped_map(), store, port=unused_tcp_port):
            async with asyncio.timeout(2.0):
                cycle = 1
                while not bus.sample("plc", "heartbeat").good:
                    await asyncio.sleep(0.02)
                    await bus.poll_cycle(cycle)
                    cycle += 1
    finally:
        await bus.stop()


# ================================================================ commands


@pytest.fixture
async def bus(make_bus: BusFactory) -> FieldBus:
    return await make_bus()


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def test_commands_are_written_on_change_only(store: PointStore, bus: FieldBus) -> None:
    w = CommandWriter(bus, clock=FakeClock(), refresh_s=5.0)
    r = await w.apply({"heatpump": {"supply_setpoint": 70.0}, "plc": {"bypass_valve_cmd": 42.3}})
    assert r.ok and len(r.written) == 2
    assert store.values["heatpump"]["supply_setpoint"] == 70.0
    assert store.values["plc"]["bypass_valve_cmd"] == pytest.approx(42.3)
    r = await w.apply({"heatpump": {"supply_setpoint": 70.0}, "plc": {"bypass_valve_cmd": 42.31}})
    assert r.written == []  # 42.31 % is the same register word as 42.3 %
    r = await w.apply({"heatpump": {"supply_setpoint": 71.0}})
    assert [o.point for o in r.written] == ["supply_setpoint"]
    assert len(store.writes) == 3
    assert w.stats["heatpump"].writes == 2


async def test_unchanged_commands_are_refreshed(store: PointStore, bus: FieldBus) -> None:
    clock = FakeClock()
    w = CommandWriter(bus, clock=clock, refresh_s=5.0)
    await w.apply({"plc": {"p1a_run": 1.0, "heartbeat": 7.0}})
    clock.t += 4.9
    assert (await w.flush()).written == []
    clock.t += 0.2
    r = await w.flush()
    assert sorted(o.point for o in r.written) == ["heartbeat", "p1a_run"]
    assert len(store.writes) == 4


async def test_read_back_mismatch_is_counted_and_reported(store: PointStore, bus: FieldBus) -> None:
    store.on_write = lambda dev, pt, v: min(v, 80.0)  # the heat pump clamps silently
    w = CommandWriter(bus, clock=FakeClock())
    r = await w.apply({"heatpump": {"supply_setpoint": 90.0, "load_setpoint": 50.0}})
    assert [o.point for o in r.mismatched] == ["supply_setpoint"]
    bad = r.mismatched[0]
    assert bad.written != bad.read_back and not r.ok
    assert [o.point for o in r.written] == ["load_setpoint"]
    assert w.stats["heatpump"].mismatches == 1
    assert "read back" in w.stats["heatpump"].last_error


async def test_out_of_range_command_is_refused_locally(store: PointStore, bus: FieldBus) -> None:
    w = CommandWriter(bus)
    before = bus.device_stats()["heatpump"].requests
    with pytest.raises(CommandError, match=r"setpoint: 120 outside allowed range \[45, 95\]"):
        w.set("heatpump", "supply_setpoint", 120.0)
    with pytest.raises(CommandError, match="read-only"):
        w.set("heatpump", "cop", 3.0)
    with pytest.raises(CommandError, match="no such point"):
        w.set("heatpump", "turbo", 1.0)
    with pytest.raises(CommandError):  # one bad command: none of the batch is taken
        w.set_many({"plc": {"heartbeat": 1.0, "bypass_valve_cmd": 101.0}})
    assert (await w.flush()).written == []
    assert bus.device_stats()["heatpump"].requests == before
    assert store.writes == []
    assert w.stats["heatpump"].refused == 3


async def test_revert_all_writes_every_revert_value(store: PointStore, bus: FieldBus) -> None:
    regmap = shipped_map()
    w = CommandWriter(bus)
    await w.apply({"heatpump": {"load_setpoint": 80.0, "enable": 1.0}})
    for dev in regmap.devices:
        for p in regmap.points_of(dev):
            if p.writable:
                store.values[dev][p.name] = p.range[1] if p.range else 0.0
    r = await w.revert_all()
    writable = [(d, p) for d in regmap.devices for p in regmap.points_of(d) if p.writable]
    assert r.ok and len(r.written) == len(writable)
    for dev, p in writable:
        assert store.values[dev][p.name] == p.revert, (dev, p.name)
    assert w.command("heatpump", "load_setpoint") == 0.0
    r = await w.revert_all(["drycooler"])
    assert [(o.device, o.point) for o in r.written] == [("drycooler", "fan_speed_cmd")]


async def test_a_revert_says_which_points_were_already_at_their_revert_value(
    store: PointStore, bus: FieldBus
) -> None:
    w = CommandWriter(bus)
    await w.apply({"heatpump": {"load_setpoint": 80.0}})
    r = await w.revert_all(["heatpump"])
    assert r.ok and r.written
    changed = {f"{o.device}.{o.point}" for o in r.written} - set(r.already)
    assert "heatpump.load_setpoint" in changed  # it was at 80: this write moved it
    again = await w.revert_all(["heatpump"])
    assert again.ok and sorted(again.already) == sorted(
        f"{o.device}.{o.point}" for o in again.written
    )


async def test_a_write_task_that_raises_is_reported_failed_point_by_point(
    store: PointStore, bus: FieldBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop once logged 'revert values written: written 0' with nothing failed: an
    exception that was not a LinkError vanished with the task's result."""

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("transport gone")

    for link in bus.links.values():
        monkeypatch.setattr(link, "write", broken)
    r = await CommandWriter(bus).revert_all(["drycooler"])
    assert not r.ok and r.written == []
    assert r.not_written() == {
        "drycooler.fan_speed_cmd": "write task: RuntimeError('transport gone')"
    }


async def test_writes_to_a_silent_device_fail_without_blocking_the_others(
    store: PointStore, bus: FieldBus
) -> None:
    store.faults["heatpump"] = CommsFault.SILENT
    w = CommandWriter(bus)
    r = await w.apply(
        {"heatpump": {"supply_setpoint": 70.0, "enable": 1.0}, "plc": {"heartbeat": 3.0}}
    )
    assert [(o.device, o.point) for o in r.written] == [("plc", "heartbeat")]
    assert [(o.device, o.point) for o in r.failed] == [("heatpump", "supply_setpoint")]
    assert "no response" in r.failed[0].reason
    assert [s[:2] for s in r.skipped] == [("heatpump", "enable")]
    assert bus.device_stats()["heatpump"].timeouts == 1
    del store.faults["heatpump"]
    r = await w.flush()  # the failed commands are still pending and go out now
    assert sorted(o.point for o in r.written) == ["enable", "supply_setpoint"]


async def test_writes_and_polls_share_the_link(store: PointStore, bus: FieldBus) -> None:
    w = CommandWriter(bus)
    for cycle in range(5):
        report, wr = await asyncio.gather(
            bus.poll_cycle(cycle), w.apply({"plc": {"heartbeat": float(cycle + 1)}})
        )
        assert not report.late and wr.ok
    assert all(st.errors == 0 for st in bus.device_stats().values())
    assert store.values["plc"]["heartbeat"] == 5.0
