"""The scan cycle starts at once; the OPC UA server comes up beside it (issue 14 follow-up).

Before: ``serve()`` started the server and waited for it (5-30 s on a loaded
gateway, a child process to spawn and a certificate to make) before the first
scan, so a restarted controller wrote no heartbeat meanwhile and the PLC's 10 s
watchdog put the plant in local safe mode on every restart. A server that could
not come up stopped the controller.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from e2e import write_site
from modbus_helpers import shipped_map
from opcua_support import free_port
from pointstore import PointStore
from structlog.testing import capture_logs

from controller.config.settings import load_site
from controller.daemon import Daemon
from controller.incidents import INCIDENTS
from controller.opcua import feed as feed_module
from controller.opcua.launcher import START_FAILED
from controller.opcua.process import ScadaProcess
from controller.opcua.server import ScadaServer
from controller.runtime import RunOptions, StartupError, serve
from simulator.modbus_server import PlantModbusServer

PERIOD_S = 0.5
SLOW_START_S = 1.5


def opcua_site(tmp: Path, plant_port: int, opcua_port: int, isolation: str) -> Path:
    path = write_site(tmp, plant_port, period_s=PERIOD_S, time_scale=1.0)
    text = path.read_text(encoding="utf-8")
    text += (
        "[opcua]\n"
        'host = "127.0.0.1"\n'
        f"port = {opcua_port}\n"
        f'data_dir = "{tmp / "opcua"}"\n'
        f'isolation = "{isolation}"\n'
    )
    path.write_text(text, encoding="utf-8")
    return path


def slowed(cls: type[Any], record: dict[str, float]) -> type[Any]:
    """The real server, taking SLOW_START_S longer to start (as on a loaded box)."""

    class Slow(cls):  # type: ignore[misc, valid-type]
        def start(self, timeout: float = 60.0) -> None:
            time.sleep(SLOW_START_S)
            super().start(timeout)
            record["up"] = time.monotonic()

        def publish(self, snapshot: Any) -> None:
            record.setdefault("first_publish", time.monotonic())
            super().publish(snapshot)

    return Slow


@pytest.fixture
async def plant() -> Any:
    store = PointStore(shipped_map())
    srv = PlantModbusServer(shipped_map(), store, port=0)
    await srv.start()
    yield srv, store
    await srv.stop()


@pytest.mark.parametrize("isolation", ["thread", "process"])
async def test_first_heartbeat_is_written_within_one_scan_of_start_while_opcua_starts_slowly(
    plant: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolation: str
) -> None:
    server, store = plant
    heartbeats: list[float] = []

    def on_write(device: str, point: str, value: float) -> float:
        if point == "heartbeat":
            heartbeats.append(time.monotonic())
        return value

    store.on_write = on_write
    record: dict[str, float] = {}
    cls = ScadaServer if isolation == "thread" else ScadaProcess
    monkeypatch.setattr(
        feed_module,
        "create_scada_server",
        slowed(cls, record),
    )
    site = load_site(opcua_site(tmp_path, server.endpoints["cdu01"][1], free_port(), isolation))
    started = time.monotonic()
    run = asyncio.create_task(serve(site, RunOptions(duration_s=60.0)))
    for _ in range(600):  # up to 60 s on a loaded box (a child process, a certificate)
        if "first_publish" in record or run.done():
            break
        await asyncio.sleep(0.1)
    os.kill(os.getpid(), signal.SIGTERM)  # as systemd stops it
    daemon = await run
    assert daemon.stopped_cleanly
    assert heartbeats, "no heartbeat written"
    assert heartbeats[0] - started < PERIOD_S, (
        f"first heartbeat {heartbeats[0] - started:.2f} s after start: the scan waited"
        " for the OPC UA server"
    )
    assert "up" in record, "the OPC UA server never came up"
    during = [t for t in heartbeats if t < record["up"]]
    assert len(during) >= int(SLOW_START_S / PERIOD_S), "the scan paused while the server started"
    assert record.get("first_publish", 0.0) >= record["up"], "published before the server was up"


async def test_a_server_that_cannot_come_up_is_retried_and_never_stops_the_controller(
    plant: Any, tmp_path: Path
) -> None:
    """The port is taken after the start-up check (by another process, say): the error
    names the cause, is counted and retried; once the port is free the server comes up."""
    server, _ = plant
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    site = load_site(opcua_site(tmp_path, server.endpoints["cdu01"][1], port, "thread"))
    before = INCIDENTS.counts().get(("opcua", START_FAILED), 0)
    with capture_logs() as logs:
        daemon = Daemon(site)
        launcher = feed_module.attach_scada_background(daemon, backoff_initial_s=0.1)
        running = asyncio.create_task(daemon.run())
        try:
            for _ in range(100):  # up to 10 s
                if launcher.failures >= 2 and daemon.cycle.number >= 2:
                    break
                await asyncio.sleep(0.1)
            assert launcher.failures >= 2, "a failed start was not retried"
            assert not running.done(), "a failed OPC UA start stopped the controller"
            assert daemon.cycle.number >= 2, "the scan did not run while the server failed"
            holder.close()
            for _ in range(150):  # up to 15 s
                if launcher.up:
                    break
                await asyncio.sleep(0.1)
            assert launcher.up, "the server did not come up once the port was free"
        finally:
            holder.close()
            daemon.request_stop()
            await asyncio.wait_for(running, 20.0)
    assert daemon.stopped_cleanly and not launcher.up
    errors = [e for e in logs if e["event"].startswith("opcua server not serving")]
    assert errors and all(e["log_level"] == "error" for e in errors)
    assert "address already in use" in errors[0]["cause"].lower(), errors[0]
    assert INCIDENTS.counts().get(("opcua", START_FAILED), 0) - before >= 2


def test_a_port_taken_at_start_is_a_clear_startup_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        site = load_site(opcua_site(tmp_path, free_port(), taken, "thread"))
        with pytest.raises(StartupError, match=f"OPC UA on 127.0.0.1:{taken}: Address already"):
            asyncio.run(serve(site, RunOptions(duration_s=0.5)))
