"""``heatrecovery probe`` against a running simulator server."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
from pathlib import Path

import pytest
from modbus_helpers import MAP_PATH, shipped_map
from pointstore import PointStore

from controller.cli import BUILTIN_COMMANDS, _load
from controller.fieldbus.probe import probe_device, register_probe, render_probe
from controller.fieldbus.signals import Quality
from simulator.modbus_server import PlantModbusServer


@pytest.fixture
def port(server: PlantModbusServer) -> int:
    return server.endpoints["heatpump"][1]


def _line(text: str, point: str) -> str:
    return next(ln for ln in text.splitlines() if ln.startswith(point + " "))


async def test_probe_prints_raw_words_beside_decoded_values(
    store: PointStore, server: PlantModbusServer, port: int
) -> None:
    store.set("heatpump", "supply_setpoint", 70.0)
    store.set("heatpump", "cond_outlet_temp", None)  # NaN from the device
    store.set("heatpump", "cop", 42.0)  # implausible
    store.set("heatpump", "starts_total", 305419896.0)  # 0x12345678
    await server.publish()
    result = await probe_device(shipped_map(), "heatpump", "127.0.0.1", port)
    assert result.connected and not result.all_good
    text = render_probe(result)
    assert text.startswith(f"probe heatpump (model heatpump, unit 10) at 127.0.0.1:{port}")
    assert len(result.rows) == len(shipped_map().points_of("heatpump"))
    sp = _line(text, "supply_setpoint").split()
    assert sp[:5] == ["supply_setpoint", "holding", "0", "float32/big", "0x428C"]
    assert sp[5:] == ["0x0000", "70", "70", "°C", "GOOD"]
    assert _line(text, "starts_total").split()[4:7] == ["0x1234", "0x5678", "305419896"]
    nan = _line(text, "cond_outlet_temp")
    assert "0x7FC0 0x0000" in nan and "BAD (not available" in nan
    assert "BAD (implausible: 42 outside [0, 15])" in _line(text, "cop")
    assert "GOOD" in _line(text, "running") and "discrete" in _line(text, "running")
    assert text.rstrip().endswith(f"{len(result.rows) - 2} of {len(result.rows)} points GOOD")


async def test_probe_isolates_a_wrong_address_to_its_own_line(port: int, tmp_path: Path) -> None:
    text = MAP_PATH.read_text(encoding="utf-8")
    wrong = text.replace(
        'name = "min_off_remaining"\ntable = "input"\naddress = 31',
        'name = "min_off_remaining"\ntable = "input"\naddress = 33',
    )
    assert wrong != text
    path = tmp_path / "registers.toml"
    path.write_text(wrong, encoding="utf-8")
    code, out = await _cli("--device", "heatpump", "--port", str(port), "--map", str(path))
    assert code == 1
    assert "BAD (exception 2 (illegal data address))" in _line(out, "min_off_remaining")
    assert "GOOD" in _line(out, "min_run_remaining")


async def _cli(*argv: str) -> tuple[int, str]:
    """Run the registered ``probe`` command in a worker thread (it runs its own loop)."""
    parser = argparse.ArgumentParser()
    register_probe(parser.add_subparsers())
    args = parser.parse_args(["probe", *argv])
    buf = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            return int(args.func(args))

    code = await asyncio.to_thread(run)
    return code, buf.getvalue()


async def test_cli_probe_exit_codes(port: int, unused_tcp_port: int) -> None:
    code, out = await _cli("--device", "plc", "--port", str(port), "--map", str(MAP_PATH))
    assert code == 0, out
    assert "heartbeat" in out and "p1a_run" in out and "coil" in out
    code, out = await _cli(
        "--device",
        "plc",
        "--port",
        str(unused_tcp_port),
        "--map",
        str(MAP_PATH),
        "--timeout",
        "0.2",
    )
    assert code == 3 and "no connection" in out
    code, out = await _cli("--device", "nope", "--map", str(MAP_PATH))
    assert code == 2 and "unknown device 'nope'" in out
    code, out = await _cli(
        "--device", "plc", "--port", str(port), "--map", str(MAP_PATH), "--unit", "99"
    )
    assert code == 1 and "(model plc, unit 99)" in out and "exception 11" in out


def test_probe_is_a_builtin_command() -> None:
    assert "controller.fieldbus.probe:register_probe" in BUILTIN_COMMANDS
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    for spec in BUILTIN_COMMANDS:
        _load(spec)(sub)
    args = parser.parse_args(["probe", "--device", "cdu01"])
    assert (args.host, args.port, args.map) == ("127.0.0.1", 5020, Path("config/registers.toml"))


async def test_probe_result_rows_carry_quality(port: int) -> None:
    result = await probe_device(shipped_map(), "cdu01", "127.0.0.1", port)
    assert result.all_good
    assert all(r.quality is Quality.GOOD and r.words is not None for r in result.rows)
