"""Hostile or careless clients: garbage on the socket, more sessions than allowed,
sessions never closed. The clients that behave must keep being served."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from asyncua import Client, ua
from opcua_support import connect, plant_node, settings

from controller.fieldbus.signals import Quality
from controller.opcua import PlantShape, Reading, ScadaServer

MAX_SESSIONS = 6

# One server per module: keep the module on one xdist worker.
pytestmark = pytest.mark.xdist_group("opcua-robustness")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScadaServer]:
    cfg = settings(
        tmp_path_factory.mktemp("opcua") / "data",
        max_sessions=MAX_SESSIONS,
        reserved_write_sessions=1,
        session_timeout_s=5.0,
    )
    srv = ScadaServer(cfg, PlantShape(cdus=1, pumps=("P1A", "P1B"), tank_layers=4))
    srv.start()
    srv.publish({"HeatPump/COP": Reading(3.0, Quality.GOOD, time.time())})
    yield srv
    srv.stop()


def _closed_by_server(sock: socket.socket, timeout: float = 2.0) -> bool:
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


async def _reads_while(url: str, until: asyncio.Event) -> list[float]:
    """Read round trips (s) of a well-behaved client until ``until`` is set."""
    times: list[float] = []
    async with connect(url, "operator") as c:
        node = await plant_node(c, "HeatPump/COP")
        while not until.is_set() or len(times) < 3:
            t0 = time.perf_counter()
            assert await node.read_value() == 3.0
            times.append(time.perf_counter() - t0)
            await asyncio.sleep(0.01)
    return times


def _send_garbage(host: str, port: int, payload: bytes) -> bool:
    with socket.create_connection((host, port), timeout=2) as sock:
        try:
            sock.sendall(payload)
        except (ConnectionResetError, BrokenPipeError):
            return True
        return _closed_by_server(sock)


async def test_garbage_bytes_are_cut_off_and_others_still_served(server: ScadaServer) -> None:
    done = asyncio.Event()
    reader = asyncio.create_task(_reads_while(server.endpoint_url, done))
    await asyncio.sleep(0.2)
    host, port = "127.0.0.1", server.port
    payloads = [
        os.urandom(256 * 1024),  # noise
        b"HELF" + struct.pack("<I", 0xFFFFFFF0) + os.urandom(4096),  # announces 4 GB
        b"MSGF" + struct.pack("<I", 70000) + b"\0" * 1000,  # beyond the 64 KiB chunk limit
        b"\x00" * 8,  # size 0
    ]
    t0 = time.perf_counter()
    closed = await asyncio.gather(
        *(asyncio.to_thread(_send_garbage, host, port, p) for p in payloads)
    )
    elapsed = time.perf_counter() - t0
    done.set()
    times = await reader
    assert all(closed), closed
    assert elapsed < 2.0
    assert max(times) < 1.0, f"well-behaved client stalled: {max(times):.3f} s"


async def _try_session(url: str) -> Client | None:
    client = Client(url, timeout=3)
    try:
        await client.connect()
    except Exception:
        return None
    return client


async def test_session_flood_is_capped_and_others_still_served(server: ScadaServer) -> None:
    done = asyncio.Event()
    reader = asyncio.create_task(_reads_while(server.endpoint_url, done))
    await asyncio.sleep(0.2)
    attempts = await asyncio.gather(*(_try_session(server.endpoint_url) for _ in range(30)))
    opened = [c for c in attempts if c is not None]
    try:
        # The reader holds one session; the limit holds for everybody else.
        assert 1 <= len(opened) <= MAX_SESSIONS - 1
        assert len(opened) < len(attempts)
        assert server.stats().sessions <= MAX_SESSIONS
    finally:
        done.set()
        times = await reader
        await asyncio.gather(*(c.disconnect() for c in opened), return_exceptions=True)
    assert max(times) < 1.0, f"well-behaved client stalled: {max(times):.3f} s"
    # Sessions that were closed free their slots.
    async with connect(server.endpoint_url, "utility") as c:
        assert await (await plant_node(c, "HeatPump/COP")).read_value() == 3.0


async def test_idle_sessions_are_limited_by_the_session_timeout(server: ScadaServer) -> None:
    client = Client(server.endpoint_url, timeout=3)
    client.session_timeout = 3_600_000  # asks for an hour
    async with client:
        assert client.session_timeout == 5000  # the server's session_timeout_s


def test_bind_error_raises_from_start(server: ScadaServer, tmp_path: Path) -> None:
    cfg = settings(tmp_path / "data", port=server.port)
    other = ScadaServer(cfg, PlantShape())
    with pytest.raises(OSError):
        other.start()
    assert not other.running
    other.stop()  # harmless


def test_publish_never_waits_for_the_server(server: ScadaServer) -> None:
    snap = {k: Reading(1.0, Quality.GOOD, time.time()) for k in server.snapshot_keys()}
    t0 = time.perf_counter()
    for _ in range(200):
        server.publish(snap)
    per_call = (time.perf_counter() - t0) / 200
    assert per_call < 0.002, f"publish took {per_call * 1e6:.0f} µs"


def test_unknown_keys_are_reported_not_fatal(server: ScadaServer) -> None:
    server.publish({"HeatPump/NoSuchThing": Reading(1.0, Quality.GOOD, time.time())})
    deadline = time.monotonic() + 2
    while "HeatPump/NoSuchThing" not in server.stats().unknown_keys:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert server.running
    assert ua.StatusCodes.Good == 0
