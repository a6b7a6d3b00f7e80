"""The simulator's Modbus server, seen by a plain pymodbus client over loopback TCP."""

from __future__ import annotations

import asyncio
import math
import struct
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from modbus_helpers import shipped_map
from pointstore import PointStore
from pymodbus.client import AsyncModbusTcpClient

from controller.config.registermap import Point, Table
from controller.fieldbus.codec import decode, encode
from simulator.modbus_server import PlantModbusServer, publish_words
from simulator.pointio import CommsFault

ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3
DEVICE_FAILURE = 4
GATEWAY_NO_RESPONSE = 11


async def connect(host: str, port: int) -> AsyncModbusTcpClient:
    c = AsyncModbusTcpClient(host, port=port, timeout=0.5, retries=0, reconnect_delay=0)
    assert await c.connect()
    return c


@pytest.fixture
async def client(server: PlantModbusServer) -> AsyncIterator[AsyncModbusTcpClient]:
    c = await connect(*server.endpoints["cdu01"])
    yield c
    c.close()


async def read(c: AsyncModbusTcpClient, table: Table, address: int, count: int, unit: int) -> Any:
    fn: Callable[..., Any] = {
        Table.HOLDING: c.read_holding_registers,
        Table.INPUT: c.read_input_registers,
        Table.COIL: c.read_coils,
        Table.DISCRETE: c.read_discrete_inputs,
    }[table]
    return await fn(address, count=count, device_id=unit)


def words_of(rr: Any, point: Point) -> list[int]:
    assert not rr.isError(), rr
    if point.table.is_bit:
        return [1 if b else 0 for b in rr.bits[: point.words]]
    return list(rr.registers)


def unit(name: str) -> int:
    return shipped_map().devices[name].unit_id


# ---------------------------------------------------------------- reads
async def test_client_reads_what_the_store_holds(
    store: PointStore, server: PlantModbusServer, client: AsyncModbusTcpClient
) -> None:
    regmap = shipped_map()
    # Distinctive values: negatives, fractions, both word orders, bits set and clear.
    store.set("plc", "ambient_temp", -12.3)
    store.set("plc", "p1b_fault", 1.0)
    store.set("plc", "p2a_run", 1.0)
    store.set("heatmeter", "power", -321.5)
    store.set("heatmeter", "energy", 98765432.0)
    store.set("heatpump", "run_hours", 12345.67)
    store.set("dhi", "network_available", 1.0)
    await server.publish()
    tables_seen: set[Table] = set()
    for dev in regmap.devices:
        for p in regmap.points_of(dev):
            rr = await read(client, p.table, p.address, p.words, unit(dev))
            value = decode(words_of(rr, p), p)
            expected = store.values[dev][p.name]
            assert value == pytest.approx(expected, rel=1e-6, abs=p.scale / 2), f"{dev}.{p.name}"
            tables_seen.add(p.table)
    assert tables_seen == set(Table)


async def test_block_read_returns_every_word_of_the_block(
    store: PointStore, client: AsyncModbusTcpClient
) -> None:
    rr = await client.read_input_registers(0, count=15, device_id=unit("cdu02"))
    assert not rr.isError()
    p = shipped_map().point("cdu02", "it_load")
    assert decode(rr.registers[6:8], p) == store.values["cdu02"]["it_load"]


async def test_publish_copies_new_plant_values(
    store: PointStore, server: PlantModbusServer, client: AsyncModbusTcpClient
) -> None:
    p = shipped_map().point("cdu01", "fws_supply_temp")
    before = store.values["cdu01"]["fws_supply_temp"]
    store.set("cdu01", "fws_supply_temp", 37.25)
    rr = await client.read_input_registers(0, count=2, device_id=1)
    assert decode(rr.registers, p) == before  # not yet published
    await server.publish()
    rr = await client.read_input_registers(0, count=2, device_id=1)
    assert decode(rr.registers, p) == 37.25


# ---------------------------------------------------------------- writes
async def test_write_to_rw_points_reaches_the_plant(
    store: PointStore, client: AsyncModbusTcpClient
) -> None:
    regmap = shipped_map()
    sp = regmap.point("heatpump", "supply_setpoint")
    rr = await client.write_registers(0, encode(70.5, sp), device_id=10)
    assert not rr.isError()
    rr = await client.write_register(1, 423, device_id=20)  # plc bypass_valve_cmd, scale 0.1
    assert not rr.isError()
    rr = await client.write_coil(0, False, device_id=20)  # plc p1a_run
    assert not rr.isError()
    assert store.writes[0] == ("heatpump", "supply_setpoint", 70.5)
    assert store.writes[1][:2] == ("plc", "bypass_valve_cmd")
    assert store.writes[1][2] == pytest.approx(42.3)
    assert store.writes[2] == ("plc", "p1a_run", 0.0)
    rr = await client.read_holding_registers(0, count=2, device_id=10)
    assert decode(rr.registers, sp) == 70.5
    rr = await client.read_coils(0, count=1, device_id=20)
    assert rr.bits[0] is False


async def test_multi_register_write_covering_several_points(
    store: PointStore, client: AsyncModbusTcpClient
) -> None:
    regmap = shipped_map()
    words = encode(60.0, regmap.point("heatpump", "supply_setpoint")) + encode(
        40.0, regmap.point("heatpump", "load_setpoint")
    )
    rr = await client.write_registers(0, [*words, 1], device_id=10)
    assert not rr.isError()
    assert store.writes == [
        ("heatpump", "supply_setpoint", 60.0),
        ("heatpump", "load_setpoint", 40.0),
        ("heatpump", "enable", 1.0),
    ]


async def test_device_shows_the_value_it_actually_took(
    store: PointStore, client: AsyncModbusTcpClient
) -> None:
    store.on_write = lambda dev, pt, v: min(v, 80.0)  # the heat pump clamps internally
    sp = shipped_map().point("heatpump", "supply_setpoint")
    assert not (await client.write_registers(0, encode(90.0, sp), device_id=10)).isError()
    rr = await client.read_holding_registers(0, count=2, device_id=10)
    assert decode(rr.registers, sp) == 80.0


@pytest.mark.parametrize(
    ("unit_id", "address", "words", "why"),
    [
        (10, 0, [0x42F0, 0x0000], "120 °C above the setpoint range"),
        (10, 0, [0x7FC0, 0x0000], "NaN setpoint"),
        (10, 4, [5], "5 written to a bool register"),
        (20, 1, [1001], "100.1 % valve"),
        (20, 1, [0xFFFF], "the type's sentinel"),
    ],
)
async def test_out_of_range_write_is_refused_and_not_applied(
    store: PointStore,
    client: AsyncModbusTcpClient,
    *,
    unit_id: int,
    address: int,
    words: list[int],
    why: str,
) -> None:
    before = await client.read_holding_registers(address, count=len(words), device_id=unit_id)
    rr = await client.write_registers(address, words, device_id=unit_id)
    assert rr.isError(), why
    assert rr.exception_code == ILLEGAL_VALUE, why
    assert store.calls == []  # refused by the server, the plant never saw it
    after = await client.read_holding_registers(address, count=len(words), device_id=unit_id)
    assert after.registers == before.registers


@pytest.mark.parametrize(
    ("unit_id", "address", "words", "why"),
    [
        (40, 4, [0x0000, 0x44BB], "heat meter power is read-only"),
        (10, 6, [1], "holding 6 is not in the heat pump's map"),
        (30, 1, [1], "dry cooler holding 1 is not mapped"),
        (10, 0, [0x4282], "half of the float32 setpoint"),
        (10, 1, [0x0000, 0x4220], "second half of one float, first half of the next"),
        (10, 0, [0x4282, 0x0000, 0x4220], "whole setpoint, half of the load"),
        (10, 4, [1, 0, 0], "runs past the last mapped register"),
    ],
)
async def test_write_outside_the_map_is_refused(
    store: PointStore,
    client: AsyncModbusTcpClient,
    *,
    unit_id: int,
    address: int,
    words: list[int],
    why: str,
) -> None:
    if len(words) == 1:
        rr = await client.write_register(address, words[0], device_id=unit_id)
    else:
        rr = await client.write_registers(address, words, device_id=unit_id)
    assert rr.isError(), why
    assert rr.exception_code == ILLEGAL_ADDRESS, why
    assert store.calls == []


async def test_coil_writes_are_checked_against_the_map(
    store: PointStore, client: AsyncModbusTcpClient
) -> None:
    rr = await client.write_coil(4, True, device_id=20)  # plc coils 0..3 only
    assert rr.isError() and rr.exception_code == ILLEGAL_ADDRESS
    rr = await client.write_coils(2, [True, True, True], device_id=20)
    assert rr.isError() and rr.exception_code == ILLEGAL_ADDRESS
    rr = await client.write_coils(2, [True, False], device_id=20)
    assert not rr.isError()
    assert store.writes == [("plc", "p2a_run", 1.0), ("plc", "p2b_run", 0.0)]


# ---------------------------------------------------------------- bad requests
@pytest.mark.parametrize(
    ("unit_id", "table", "address", "count"),
    [
        (1, Table.INPUT, 100, 1),
        (1, Table.INPUT, 14, 2),  # cdu status is the last input register
        (1, Table.HOLDING, 0, 1),  # a CDU has no holding registers at all
        (20, Table.COIL, 4, 1),  # inside the first 16-coil word, but not mapped
        (20, Table.DISCRETE, 0, 10),  # plc discretes 0..8
        (10, Table.INPUT, 30, 3),
        (40, Table.HOLDING, 12, 2),
    ],
)
async def test_reads_touching_unmapped_addresses_get_illegal_address(
    client: AsyncModbusTcpClient, unit_id: int, table: Table, address: int, count: int
) -> None:
    rr = await read(client, table, address, count, unit_id)
    assert rr.isError()
    assert rr.exception_code == ILLEGAL_ADDRESS
    ok = await client.read_input_registers(0, count=15, device_id=1)
    assert not ok.isError()


async def test_unknown_unit_id_gets_gateway_exception(client: AsyncModbusTcpClient) -> None:
    rr = await client.read_input_registers(0, count=1, device_id=99)
    assert rr.isError() and rr.exception_code == GATEWAY_NO_RESPONSE


async def test_garbage_on_the_socket_does_not_stop_the_server(
    server: PlantModbusServer, client: AsyncModbusTcpClient
) -> None:
    host, port = server.endpoints["cdu01"]
    for junk in (b"\x00\x01\x00\x00\x00\x06\x01\x63\x00\x00\x00\x01", b"\xff" * 300, b"hello\r\n"):
        _reader, writer = await asyncio.open_connection(host, port)
        writer.write(junk)
        await writer.drain()
        await asyncio.sleep(0.01)
        writer.close()
        await writer.wait_closed()
    rr = await client.read_input_registers(0, count=15, device_id=1)
    assert not rr.isError()


# ---------------------------------------------------------------- fault injection
async def test_silent_device_times_out_while_others_answer(
    store: PointStore, server: PlantModbusServer, client: AsyncModbusTcpClient
) -> None:
    store.faults["heatpump"] = CommsFault.SILENT
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await client.read_input_registers(0, count=2, device_id=10)
    assert time.monotonic() - t0 >= 0.29
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await client.write_register(4, 1, device_id=10)
    assert store.writes == []
    t0 = time.monotonic()
    rr = await client.read_input_registers(0, count=15, device_id=1)
    assert not rr.isError()
    assert time.monotonic() - t0 < 0.1
    del store.faults["heatpump"]
    rr = await client.read_input_registers(0, count=2, device_id=10)
    assert not rr.isError()


async def test_exception_device_answers_every_request_with_an_exception(
    store: PointStore, client: AsyncModbusTcpClient
) -> None:
    store.faults["cdu02"] = CommsFault.EXCEPTION
    rr = await client.read_input_registers(0, count=2, device_id=2)
    assert rr.isError() and rr.exception_code == DEVICE_FAILURE
    rr = await client.read_input_registers(500, count=2, device_id=2)
    assert rr.isError() and rr.exception_code == DEVICE_FAILURE
    rr = await client.read_input_registers(0, count=2, device_id=1)
    assert not rr.isError()
    store.faults["heatpump"] = CommsFault.EXCEPTION
    rr = await client.write_register(4, 1, device_id=10)
    assert rr.isError() and rr.exception_code == DEVICE_FAILURE
    assert store.writes == []


async def test_device_on_its_own_port(
    store: PointStore, unused_tcp_port_factory: Callable[[], int]
) -> None:
    main, own = unused_tcp_port_factory(), unused_tcp_port_factory()
    srv = PlantModbusServer(shipped_map(), store, port=main, device_ports={"heatmeter": own})
    async with srv:
        assert srv.endpoints["heatmeter"] == ("127.0.0.1", own)
        assert srv.endpoints["cdu01"] == ("127.0.0.1", main)
        c_main = await connect("127.0.0.1", main)
        c_own = await connect("127.0.0.1", own)
        try:
            rr = await c_main.read_holding_registers(0, count=2, device_id=40)
            assert rr.isError() and rr.exception_code == GATEWAY_NO_RESPONSE
            p = shipped_map().point("heatmeter", "flow")
            for uid in (40, 255):  # its unit id, and "this device" on a dedicated port
                rr = await c_own.read_holding_registers(6, count=2, device_id=uid)
                assert decode(rr.registers, p) == store.values["heatmeter"]["flow"]
            store.faults["heatmeter"] = CommsFault.SILENT
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await c_own.read_holding_registers(6, count=2, device_id=40)
            assert not (await c_main.read_input_registers(0, count=2, device_id=1)).isError()
        finally:
            c_main.close()
            c_own.close()


def test_device_ports_must_name_known_devices(store: PointStore) -> None:
    with pytest.raises(ValueError, match="unknown device"):
        PlantModbusServer(shipped_map(), store, device_ports={"hp9": 5999})


# ---------------------------------------------------------------- publishing
def _f32(words: list[int], big: bool = True) -> float:
    hi, lo = (words[0], words[1]) if big else (words[1], words[0])
    return float(struct.unpack(">f", struct.pack(">HH", hi, lo))[0])


def test_publish_words_never_raise_and_clamp_to_the_type() -> None:
    m = shipped_map()
    cases: list[tuple[Point, float | None, list[int]]] = [
        (m.point("plc", "fws_supply_temp"), 5000.0, [0x7FFF]),  # int16 x0.1, 3276.7 max
        (m.point("plc", "fws_supply_temp"), -5000.0, [0x8001]),  # not the 0x8000 sentinel
        (m.point("plc", "fws_supply_temp"), None, [0x8000]),
        (m.point("plc", "fws_supply_temp"), math.nan, [0x8000]),
        (m.point("drycooler", "fan_speed_fb"), 7000.0, [0xFFFE]),  # not the 0xFFFF sentinel
        (m.point("drycooler", "fan_speed_fb"), None, [0xFFFF]),
        (m.point("cdu01", "status"), -5.0, [0x0000]),
        (m.point("heatpump", "starts_total"), 1e12, [0xFFFF, 0xFFFE]),
        (m.point("plc", "heartbeat"), 70000.0, [0xFFFF]),  # heartbeat has no sentinel
        (m.point("heatpump", "running"), None, [0]),
        (m.point("heatpump", "running"), 1.0, [1]),
    ]
    for point, value, words in cases:
        assert publish_words(point, value) == words, (point.name, value)
    it_load = m.point("cdu01", "it_load")
    assert _f32(publish_words(it_load, 1e40)) == pytest.approx(3.4028234663852886e38)
    assert math.isnan(_f32(publish_words(it_load, None)))
    assert math.isnan(_f32(publish_words(it_load, math.inf)))
    power = m.point("heatmeter", "power")  # little word order
    assert math.isnan(_f32(publish_words(power, None), big=False))
    assert _f32(publish_words(power, -221.0), big=False) == -221.0


async def test_out_of_range_plant_values_are_served_not_fatal(
    store: PointStore, server: PlantModbusServer, client: AsyncModbusTcpClient
) -> None:
    store.set("plc", "fws_supply_temp", 850.0)  # failed PT100: implausible but carried
    store.set("plc", "fws_return_temp", 99999.0)  # beyond int16: clamped
    store.set("cdu01", "fws_flow", None)
    store.values["cdu01"]["not_a_point"] = 1.0  # unknown names are ignored
    await server.publish()
    rr = await client.read_input_registers(1, count=3, device_id=20)
    m = shipped_map()
    assert decode(rr.registers[0:1], m.point("plc", "fws_supply_temp")) == pytest.approx(850.0)
    assert decode(rr.registers[2:3], m.point("plc", "fws_return_temp")) == pytest.approx(3276.7)
    rr = await client.read_input_registers(4, count=2, device_id=1)
    assert decode(rr.registers, m.point("cdu01", "fws_flow")) is None
