"""SIGTERM: the plant is handed over in its defined state and the ledger is closed (issue 7).

What a plant PLC (and the integrator who commissioned it) relies on when the
controller leaves: every writable point at the revert value the register map
defines for it, read back over Modbus from the plant itself, not taken from the
controller's log. And what the billing relies on: the ledger file closed cleanly
(no write-ahead log left behind, integrity check ok) by a process that exited 0.
The same run stands in for systemd's notify socket: READY after the first cycle,
watchdog pings from the scan cycle, STOPPING on the way out.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import sqlite3
import time
from pathlib import Path

import pytest
from e2e import BIN, Proc, free_port, start_simulator
from metrics_helpers import quick_site
from modbus_helpers import shipped_map
from pymodbus.client import AsyncModbusTcpClient

from controller.config.registermap import Point, Table
from controller.fieldbus.codec import decode

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e"), pytest.mark.timeout(90)]

IN_CHARGE = ("RECOVERY", "BYPASS", "DEGRADED")


def revert_points() -> list[tuple[str, Point]]:
    regmap = shipped_map()
    return [
        (dev, p)
        for dev in regmap.devices
        for p in regmap.points_of(dev)
        if p.writable and p.revert is not None
    ]


async def read_writable(port: int) -> dict[str, float | None]:
    regmap = shipped_map()
    out: dict[str, float | None] = {}
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=1, retries=0)
    await client.connect()
    try:
        for dev, p in revert_points():
            unit = regmap.devices[dev].unit_id
            if p.table is Table.COIL:
                rr = await client.read_coils(p.address, count=1, device_id=unit)
                out[f"{dev}.{p.name}"] = float(rr.bits[0])
            else:
                rr = await client.read_holding_registers(p.address, count=p.words, device_id=unit)
                out[f"{dev}.{p.name}"] = decode(rr.registers, p)
    finally:
        client.close()
    return out


def off_revert(values: dict[str, float | None]) -> dict[str, tuple[float | None, float]]:
    bad = {}
    for dev, p in revert_points():
        key = f"{dev}.{p.name}"
        got, want = values[key], float(p.revert)  # type: ignore[arg-type]
        if got is None or not math.isclose(got, want, abs_tol=abs(p.scale) + 1e-9):
            bad[key] = (got, want)
    return bad


def notify_socket() -> tuple[socket.socket, str]:
    """Stands in for systemd: the daemon under test reports READY/WATCHDOG/STOPPING."""
    name = f"@heatrecovery-shutdown-{os.getpid()}-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name[1:])
    sock.settimeout(0.2)
    return sock, name


def received(sock: socket.socket) -> list[str]:
    out = []
    try:
        while True:
            out += sock.recv(4096).decode().splitlines()
    except TimeoutError:
        return out


def test_sigterm_hands_the_plant_over_and_closes_the_ledger(tmp_path: Path) -> None:
    assert len(revert_points()) >= 10, "the register map defines the hand-over state"
    port = free_port()
    sim = start_simulator(port)
    site = quick_site(tmp_path, port)
    sock, name = notify_socket()
    env = {"NOTIFY_SOCKET": name, "WATCHDOG_USEC": "2000000"}
    ctl = Proc([str(BIN), "run", "--config", str(site), "--json"], env=env)
    try:
        ctl.wait_for(lambda r: r.get("kind") == "mode" and r.get("to") in IN_CHARGE, timeout=40)
        ctl.wait_for(lambda r: r.get("event") == "ledger opened", timeout=1)
        # The controller is in charge: its outputs are not (all) the hand-over values.
        before = asyncio.run(read_writable(port))
        assert off_revert(before), "nothing to hand over: outputs already at revert values"

        assert ctl.terminate() == 0, "\n".join(ctl.lines[-20:])
        written = ctl.wait_for(lambda r: r.get("event") == "revert values written", timeout=1)
        assert written["unreverted"] == []
        ctl.wait_for(lambda r: r.get("event") == "controller stopped", timeout=1)

        after = asyncio.run(read_writable(port))
        assert off_revert(after) == {}
        notes = received(sock)
        assert notes[0] == "READY=1" and "WATCHDOG=1" in notes and "STOPPING=1" in notes
    finally:
        ctl.kill()
        sim.kill()
        sock.close()

    ledger = tmp_path / "energy-ledger.sqlite"
    assert ledger.exists()
    # WAL mode: the last connection's clean close checkpoints and removes the log.
    assert not Path(f"{ledger}-wal").exists(), "ledger not closed cleanly (WAL left behind)"
    db = sqlite3.connect(ledger)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] >= 1
    finally:
        db.close()
