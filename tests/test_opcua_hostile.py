"""Hostile clients (issue 14): half-open sockets, session crowds, abandoned sessions,
password floods, huge requests, garbage. The utility's client must always get in.

Attackers connect from other loopback addresses (127.0.0.2 and up; on Linux the
whole 127/8 is local), the utility from 127.0.0.1, as they would from other hosts.
Each test gets its own small server (limits scaled down, same code paths).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from asyncua import Client, ua
from opcua_support import bind_source, connect, plant_node, settings

from controller.fieldbus.signals import Quality
from controller.incidents import INCIDENTS
from controller.opcua import PlantShape, Reading, ScadaServer
from controller.opcua.oplimits import MAX_NODES_PER_REQUEST
from controller.opcua.server import HANDSHAKE_S

MAX_SESSIONS = 6
RESERVED = 2
PER_ADDRESS = 5
NODE_OPS_PER_S = 500
SHAPE = PlantShape(cdus=1, pumps=("P1A", "P1B"), tank_layers=4)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ScadaServer]:
    INCIDENTS.clear()
    cfg = settings(
        tmp_path / "data",
        max_sessions=MAX_SESSIONS,
        reserved_write_sessions=RESERVED,
        max_connections_per_address=PER_ADDRESS,
        node_operations_per_s_per_address=NODE_OPS_PER_S,
        session_timeout_s=30.0,
    )
    srv = ScadaServer(cfg, SHAPE)
    srv.start()
    srv.publish({"HeatPump/COP": Reading(3.0, Quality.GOOD, time.time())})
    yield srv
    srv.stop()


def _half_open(port: int, source: str, n: int) -> list[socket.socket]:
    """TCP connections that never say Hello."""
    out = []
    for _ in range(n):
        s = socket.socket()
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        out.append(s)
    return out


def _open_count(socks: list[socket.socket]) -> int:
    """How many the server still holds (closed ones read EOF or reset)."""
    held = 0
    for s in socks:
        s.setblocking(False)
        try:
            held += s.recv(1) != b""  # data would be a protocol violation by the server
        except BlockingIOError:
            held += 1
        except OSError:
            pass
    return held


async def _utility_reads(url: str) -> float:
    t0 = time.perf_counter()
    async with connect(url, "utility", request_timeout=3.0) as c:
        assert await (await plant_node(c, "HeatPump/COP")).read_value() == 3.0
    return time.perf_counter() - t0


async def test_half_open_flood_leaves_room_for_the_utility(server: ScadaServer) -> None:
    # One host opens 20; four more hosts open 5 each: 40 against a capacity of 22.
    socks = await asyncio.to_thread(_half_open, server.port, "127.0.0.2", 20)
    for i in range(3, 7):
        socks += await asyncio.to_thread(_half_open, server.port, f"127.0.0.{i}", PER_ADDRESS)
    await asyncio.sleep(0.3)
    try:
        assert _open_count(socks[:20]) <= PER_ADDRESS  # one host cannot take the server
        assert await _utility_reads(server.endpoint_url) < 2.0  # while the rest are held
        # Nobody who never says Hello keeps a slot past the handshake deadline.
        await asyncio.sleep(HANDSHAKE_S + 0.7)
        assert _open_count(socks) == 0
    finally:
        for s in socks:
            s.close()
    assert INCIDENTS.counts()[("opcua", "too many connections from one address")] >= 15


async def _session(url: str, user: str | None, source: str) -> Client | None:
    client = Client(url, timeout=3)
    bind_source(client, source)
    if user is not None:
        client.set_user(user)
        client.set_password({"operator": "op-secret"}[user])
    try:
        await client.connect()
    except Exception:
        return None
    return client


async def test_reader_crowd_cannot_take_the_sessions_reserved_for_the_utility(
    server: ScadaServer,
) -> None:
    url = server.endpoint_url
    crowd = [
        await _session(url, "operator" if i % 2 else None, f"127.0.0.{2 + i // 2}")
        for i in range(MAX_SESSIONS)
    ]
    opened = [c for c in crowd if c is not None]
    try:
        assert len(opened) == MAX_SESSIONS - RESERVED
        assert await _utility_reads(url) < 2.0
    finally:
        await asyncio.gather(*(c.disconnect() for c in opened), return_exceptions=True)


async def test_sessions_of_dead_connections_are_reclaimed_at_once(server: ScadaServer) -> None:
    url = server.endpoint_url
    clients = [
        await _session(url, None, f"127.0.0.{2 + i}") for i in range(MAX_SESSIONS - RESERVED)
    ]
    assert all(c is not None for c in clients)
    for c in clients:  # each with a subscription: asyncua kept those sessions alive
        assert c is not None
        sub = await c.create_subscription(500, None)
        await sub.subscribe_data_change(await plant_node(c, "HeatPump/COP"))
    assert server.stats().sessions == MAX_SESSIONS - RESERVED
    for c in clients:  # the TCP connection dies; the session is never closed
        assert c is not None
        c.uaclient.protocol.transport.abort()  # type: ignore[union-attr]
    await asyncio.sleep(0.5)
    assert server.stats().sessions == 0
    async with connect(url, "operator", source="127.0.0.9"):  # reader slots are free again
        pass
    for c in clients:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(c.disconnect(), 1.0)


async def test_password_flood_throttles_its_source_not_other_users(server: ScadaServer) -> None:
    url = server.endpoint_url

    async def guess(i: int) -> bool:
        try:
            async with connect(url, "operator", password=f"guess{i}", source="127.0.0.2"):
                return True
        except Exception:
            return False

    assert not any([await guess(i) for i in range(30)])
    # First login of another user from another address: served at once.
    t0 = time.perf_counter()
    async with connect(url, "admin", source="127.0.0.1") as c:
        assert await (await plant_node(c, "HeatPump/COP")).read_value() == 3.0
    assert time.perf_counter() - t0 < 2.0
    # The guessing address itself is throttled, even with a right password.
    with pytest.raises(ua.UaError):
        async with connect(url, "utility", source="127.0.0.2"):
            pass
    causes = INCIDENTS.counts()
    assert causes[("opcua", "login refused: wrong password")] >= 5
    assert causes[("opcua", "login refused: login budget spent")] >= 20


async def test_requests_beyond_the_operation_limits_are_refused(server: ScadaServer) -> None:
    async with connect(server.endpoint_url, "operator") as c:
        cop = await plant_node(c, "HeatPump/COP")
        limit = c.get_node(ua.ObjectIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead)
        assert await limit.read_value() == MAX_NODES_PER_REQUEST
        values = await c.read_values([cop] * MAX_NODES_PER_REQUEST)
        assert values[0] == 3.0
        with pytest.raises(ua.UaStatusCodeError) as refused:
            await c.read_values([cop] * (MAX_NODES_PER_REQUEST + 1))
        assert refused.value.code == ua.StatusCodes.BadTooManyOperations
        # The session is still good afterwards.
        assert await cop.read_value() == 3.0


async def test_reads_of_one_address_are_metered_the_utility_never(server: ScadaServer) -> None:
    url = server.endpoint_url

    async def three_reads(c: Client) -> float:
        cop = await plant_node(c, "HeatPump/COP")
        t0 = time.perf_counter()
        for _ in range(3):
            assert (await c.read_values([cop] * 500))[0] == 3.0
        return time.perf_counter() - t0

    async with connect(url, "operator", source="127.0.0.2") as reader:
        metered = await three_reads(reader)  # 1500 nodes; the bucket holds 500
    async with connect(url, "utility", source="127.0.0.2") as utility:
        unmetered = await three_reads(utility)  # same address, same load
    assert metered >= 1.8, metered
    assert unmetered < 1.5, unmetered


def _garbage_after_hello(port: int, source: str) -> None:
    """A well-formed Hello, then a secure-channel frame whose body is nonsense."""
    url = b"opc.tcp://127.0.0.1"
    hello = struct.pack("<IIIII", 0, 65535, 65535, 0, 0) + struct.pack("<i", len(url)) + url
    frames = b"HELF" + struct.pack("<I", 8 + len(hello)) + hello
    body = b"\xff" * 40
    frames += b"OPNF" + struct.pack("<I", 8 + len(body)) + body
    with socket.socket() as s:
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.settimeout(2.0)
        s.sendall(frames)
        with contextlib.suppress(OSError):
            while s.recv(65536):
                pass


async def test_garbage_is_counted_and_logged_once_per_source_and_cause(
    server: ScadaServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(20):
        await asyncio.to_thread(_garbage_after_hello, server.port, "127.0.0.2")
    await asyncio.sleep(0.2)
    counted = sum(n for (sub, _), n in INCIDENTS.counts().items() if sub == "opcua")
    assert counted >= 20
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage()[:120] for r in errors]
    from_asyncua = [
        r for r in caplog.records if r.name.startswith("asyncua") and r.levelno >= logging.WARNING
    ]
    assert len(from_asyncua) <= 2, [r.getMessage()[:120] for r in from_asyncua]
    assert await _utility_reads(server.endpoint_url) < 2.0


async def test_abandoned_sessions_leave_no_pending_tasks_at_stop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="asyncio")
    srv = ScadaServer(settings(tmp_path / "data", session_timeout_s=600.0), SHAPE)
    srv.start()
    try:
        clients = [await _session(srv.endpoint_url, None, "127.0.0.1") for _ in range(4)]
        for c in clients:
            assert c is not None
            sub = await c.create_subscription(500, None)
            await sub.subscribe_data_change(await plant_node(c, "Status/Mode"))
        for c in clients:  # abandoned: the connection dies, the session is never closed
            assert c is not None
            c.uaclient.protocol.transport.abort()  # type: ignore[union-attr]
        await asyncio.sleep(0.3)
    finally:
        srv.stop()
    del srv  # what the tasks hang on: a stopped daemon lets go of its server
    gc.collect()
    pending = [r for r in caplog.records if "Task was destroyed" in r.getMessage()]
    assert pending == []
    for c in clients:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(c.disconnect(), 1.0)
