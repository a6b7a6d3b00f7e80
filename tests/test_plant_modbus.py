"""The real plant behind the Modbus shell, seen by a plain pymodbus client over TCP.

tests/test_modbus_server.py proves the server against a dictionary of points; here
the points are the physics core's (``simulator.plant.Plant``), so the register map,
the devices' point names and the plant's write rules are checked together.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from modbus_helpers import shipped_map
from pymodbus.client import AsyncModbusTcpClient

from controller.config.registermap import DataType, Point, Table
from controller.fieldbus.codec import decode, encode
from simulator.modbus_server import PlantModbusServer
from simulator.plant import Plant
from simulator.plantconfig import load_plant_config

CFG = load_plant_config(Path(__file__).resolve().parent.parent / "config" / "plant.toml")

ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3
DEVICE_FAILURE = 4


def unit(device: str) -> int:
    return shipped_map().devices[device].unit_id


def point(device: str, name: str) -> Point:
    return shipped_map().point(device, name)


class Heartbeat:
    """Keeps the PLC watchdog fed, as the controller would."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> int:
        self.n = (self.n + 1) % 65535
        return self.n


@pytest.fixture
def plant() -> Plant:
    p = Plant(CFG, hp_running=True, seed=3)
    for i in range(60):  # a minute of operation: every value has moved off its initial one
        p.write_point("plc", "heartbeat", float(i + 1))
        p.step(1.0)
    return p


@pytest.fixture
async def server(plant: Plant) -> AsyncIterator[PlantModbusServer]:
    srv = PlantModbusServer(shipped_map(), plant, port=0)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def client(server: PlantModbusServer) -> AsyncIterator[AsyncModbusTcpClient]:
    host, port = server.endpoints["plc"]
    c = AsyncModbusTcpClient(host, port=port, timeout=0.5, retries=0, reconnect_delay=0)
    assert await c.connect()
    yield c
    c.close()


async def read_words(c: AsyncModbusTcpClient, dev: str, p: Point) -> Any:
    fn: Callable[..., Any] = {
        Table.HOLDING: c.read_holding_registers,
        Table.INPUT: c.read_input_registers,
        Table.COIL: c.read_coils,
        Table.DISCRETE: c.read_discrete_inputs,
    }[p.table]
    return await fn(p.address, count=p.words, device_id=unit(dev))


async def read_value(c: AsyncModbusTcpClient, dev: str, name: str) -> float | None:
    p = point(dev, name)
    rr = await read_words(c, dev, p)
    assert not rr.isError(), (dev, name, rr)
    words = [1 if b else 0 for b in rr.bits[:1]] if p.table.is_bit else list(rr.registers)
    return decode(words, p)


def resolution(p: Point, value: float) -> float:
    """Largest difference the encoding alone can make."""
    if p.type is DataType.BOOL:
        return 0.0
    if p.type is DataType.FLOAT32:
        return abs(value) * 2.0**-23 + 1e-30  # round to nearest: half an ulp is 2**-24
    return abs(p.scale) / 2.0 + 1e-9


async def beat_and_step(c: AsyncModbusTcpClient, plant: Plant, hb: Heartbeat, seconds: int) -> None:
    """Step the plant, writing the heartbeat over Modbus every second as a controller does."""
    hb_point = point("plc", "heartbeat")
    for _ in range(seconds):
        rr = await c.write_register(hb_point.address, hb.next(), device_id=unit("plc"))
        assert not rr.isError()
        plant.step(1.0)


async def assert_all_points_match(c: AsyncModbusTcpClient, plant: Plant) -> int:
    regmap = shipped_map()
    values = plant.point_values()
    checked = 0
    for dev in regmap.devices:
        for p in regmap.points_of(dev):
            got = await read_value(c, dev, p.name)
            expected = values[dev][p.name]
            assert expected is not None and got is not None, (dev, p.name)
            assert abs(got - expected) <= resolution(p, expected), (dev, p.name, got, expected)
            checked += 1
    return checked


# ---------------------------------------------------------------- reads
async def test_every_point_reads_what_the_physics_holds(
    plant: Plant, server: PlantModbusServer, client: AsyncModbusTcpClient
) -> None:
    regmap = shipped_map()
    n_points = sum(len(regmap.points_of(d)) for d in regmap.devices)
    assert await assert_all_points_match(client, plant) == n_points
    # Spot checks against the physics' own attributes, not only its point table.
    assert await read_value(client, "plc", "bypass_valve_pos") == pytest.approx(
        plant.valve.pos, abs=0.05
    )
    assert await read_value(client, "heatpump", "load_actual") == pytest.approx(
        plant.hp.load, rel=1e-6
    )
    assert await read_value(client, "heatpump", "running") == 1.0
    assert await read_value(client, "heatmeter", "energy") == float(int(plant.meter.energy_kwh))
    # The plant moves on; after a publish the registers follow it.
    before = {
        (d, p.name): plant.point_values()[d][p.name]
        for d in regmap.devices
        for p in regmap.points_of(d)
    }
    hb = Heartbeat()
    hb.n = 1000
    await beat_and_step(client, plant, hb, 120)
    await server.publish()
    assert await assert_all_points_match(client, plant) == n_points
    after = plant.point_values()
    moved = [k for k, v in before.items() if v != after[k[0]][k[1]]]
    assert len(moved) > n_points // 3  # a live plant, not a frozen image


async def test_registers_do_not_change_until_published(
    plant: Plant, server: PlantModbusServer, client: AsyncModbusTcpClient
) -> None:
    hp_load = await read_value(client, "heatpump", "heat_output")
    plant.write_point("heatpump", "load_setpoint", 100.0)
    await beat_and_step(client, plant, Heartbeat(), 60)
    assert plant.hp.q_cond != pytest.approx(hp_load, rel=1e-3)
    assert await read_value(client, "heatpump", "heat_output") == hp_load
    await server.publish()
    got = await read_value(client, "heatpump", "heat_output")
    assert got == pytest.approx(plant.point_values()["heatpump"]["heat_output"], rel=1e-6)


# ---------------------------------------------------------------- writes
async def test_bypass_valve_command_over_modbus_moves_the_valve(
    plant: Plant, server: PlantModbusServer, client: AsyncModbusTcpClient
) -> None:
    p = point("plc", "bypass_valve_cmd")
    # A steady start: the heat pump takes all the IT heat, so the bypass is shut.
    assert plant.valve.pos == 0.0
    rr = await client.write_register(p.address, encode(60.0, p)[0], device_id=unit("plc"))
    assert not rr.isError()
    assert plant.cmd[("plc", "bypass_valve_cmd")] == pytest.approx(60.0)
    assert plant.valve.pos == 0.0  # the command is stored; only a step moves the valve
    hb = Heartbeat()
    await beat_and_step(client, plant, hb, 6)
    rate = 100.0 / CFG.valve.stroke_s
    lag = CFG.valve.backlash_pct / 2  # the plug trails the stem by half the backlash
    assert plant.valve.pos == pytest.approx(6 * rate - lag)  # moving at its stroke rate
    await beat_and_step(client, plant, hb, 10)
    assert plant.valve.pos == pytest.approx(60.0 - lag)
    assert not plant.local_safe_mode
    await server.publish()
    assert await read_value(client, "plc", "bypass_valve_pos") == pytest.approx(
        60.0 - lag, abs=0.05
    )
    assert await read_value(client, "plc", "bypass_valve_cmd") == pytest.approx(60.0, abs=0.05)


async def test_heat_pump_setpoint_over_modbus_reaches_the_unit(
    plant: Plant, server: PlantModbusServer, client: AsyncModbusTcpClient
) -> None:
    p = point("heatpump", "supply_setpoint")
    assert plant.hp.t_cond_out == pytest.approx(70.0, abs=1.0)
    rr = await client.write_registers(p.address, encode(60.0, p), device_id=unit("heatpump"))
    assert not rr.isError()
    assert plant.cmd[("heatpump", "supply_setpoint")] == 60.0
    await beat_and_step(client, plant, Heartbeat(), 1)
    assert plant.hp.setpoint == 60.0
    # The unit's own leaving-water loop follows within minutes (a 10 K step).
    await beat_and_step(client, plant, Heartbeat(), 400)
    assert plant.hp.t_cond_out == pytest.approx(60.0, abs=0.5)
    assert await read_value(client, "heatpump", "supply_setpoint") == 60.0


async def test_read_outside_the_map_gets_an_exception_and_serving_continues(
    plant: Plant, client: AsyncModbusTcpClient
) -> None:
    rr = await client.read_input_registers(1000, count=2, device_id=unit("cdu01"))
    assert rr.isError() and rr.exception_code == ILLEGAL_ADDRESS
    rr = await client.read_holding_registers(0, count=1, device_id=unit("cdu01"))
    assert rr.isError() and rr.exception_code == ILLEGAL_ADDRESS  # a CDU has no holdings
    got = await read_value(client, "cdu01", "fws_supply_temp")
    expected = plant.point_values()["cdu01"]["fws_supply_temp"]
    assert got == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("device", "name", "words", "why"),
    [
        ("plc", "bypass_valve_cmd", [1001], "100.1 % valve"),
        ("heatpump", "supply_setpoint", [0x42F0, 0x0000], "120 °C setpoint"),
        ("heatpump", "load_setpoint", [0xC120, 0x0000], "-10 % load"),
        ("drycooler", "fan_speed_cmd", [2000], "200 % fan"),
    ],
)
async def test_write_outside_a_points_range_is_refused_and_not_applied(
    plant: Plant,
    server: PlantModbusServer,
    client: AsyncModbusTcpClient,
    *,
    device: str,
    name: str,
    words: list[int],
    why: str,
) -> None:
    p = point(device, name)
    # Mid-travel values, so an accepted write would visibly move something.
    plant.write_point("plc", "bypass_valve_cmd", 50.0)
    plant.valve.set_position(50.0)
    plant.write_point("drycooler", "fan_speed_cmd", 60.0)
    await server.publish()
    cmd_before = dict(plant.cmd)
    valve_before = plant.valve.pos
    rr = await client.write_registers(p.address, words, device_id=unit(device))
    assert rr.isError(), why
    assert rr.exception_code == ILLEGAL_VALUE, why
    assert plant.cmd == cmd_before, why
    plant.step(1.0)
    assert plant.valve.pos == valve_before, why
    assert plant.hp.setpoint == cmd_before[("heatpump", "supply_setpoint")], why
    assert plant.hp.load_cmd == cmd_before[("heatpump", "load_setpoint")], why
    assert plant.drycoolers.fan_cmd == pytest.approx(0.6), why
    value = await read_value(client, device, name)
    assert value == pytest.approx(cmd_before[(device, name)], abs=p.scale / 2), why


# ---------------------------------------------------------------- comms loss
def comms_loss(device: str, mode: str) -> SimpleNamespace:
    return SimpleNamespace(kind="comms_loss", device=device, mode=mode)


@pytest.mark.parametrize("device", ["heatpump", "heatmeter"])
async def test_silent_device_does_not_answer_while_others_do(
    plant: Plant, client: AsyncModbusTcpClient, device: str
) -> None:
    first = shipped_map().points_of(device)[0]
    event = comms_loss(device, "silent")
    plant.apply_event(event, "start")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await read_words(client, device, first)
    # A write is dropped too: nothing reaches the plant.
    enable = point("heatpump", "enable")
    before = plant.cmd[("heatpump", "enable")]
    if device == "heatpump":
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await client.write_register(enable.address, 0, device_id=unit("heatpump"))
        assert plant.cmd[("heatpump", "enable")] == before
    # Its neighbours on the same port answer at once.
    for other in ("cdu01", "plc", "dhi"):
        async with asyncio.timeout(0.2):
            assert (
                await read_value(client, other, shipped_map().points_of(other)[0].name) is not None
            )
    plant.apply_event(event, "end")
    got = await read_value(client, device, first.name)
    assert got == pytest.approx(plant.point_values()[device][first.name], rel=1e-6)


@pytest.mark.parametrize("device", ["heatpump", "cdu02"])
async def test_failing_device_answers_with_exceptions_while_others_do_not(
    plant: Plant, client: AsyncModbusTcpClient, device: str
) -> None:
    event = comms_loss(device, "exception")
    plant.apply_event(event, "start")
    for p in shipped_map().points_of(device):
        rr = await read_words(client, device, p)
        assert rr.isError() and rr.exception_code == DEVICE_FAILURE, p.name
    if device == "heatpump":
        sp = point("heatpump", "supply_setpoint")
        rr = await client.write_registers(sp.address, encode(60.0, sp), device_id=unit(device))
        assert rr.isError() and rr.exception_code == DEVICE_FAILURE
        assert plant.cmd[("heatpump", "supply_setpoint")] == 70.0
    for other in ("cdu01", "plc", "heatmeter"):
        assert await read_value(client, other, shipped_map().points_of(other)[0].name) is not None
    plant.apply_event(event, "end")
    first = shipped_map().points_of(device)[0]
    assert await read_value(client, device, first.name) == pytest.approx(
        plant.point_values()[device][first.name], rel=1e-6
    )
