"""Real-time benchmark: the controller daemon against the simulator over Modbus TCP.

The simulator runs in its own process (as a plant would be another machine); the
daemon runs in this one, exactly as ``heatrecovery run`` would, on a copy of the
site file pointed at the simulator's port with the requested scan period. Reported:
scan-cycle duration and start jitter (p50/p99/max), overruns, and the controller
process's CPU use as a share of one core. This is a benchmark, not a test: wall
time on a shared machine is not repeatable enough to assert on.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from controller.config.settings import load_site
from controller.daemon import Daemon
from controller.opcua.feed import attach_scada
from controller.opcua.passwords import hash_password
from controller.scan import ScanClock

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RealtimeResult:
    period_s: float
    duration_s: float
    cycles: int
    overruns: int
    duration_p50_ms: float
    duration_p99_ms: float
    duration_max_ms: float
    jitter_p50_ms: float
    jitter_p99_ms: float
    jitter_max_ms: float
    cpu_pct_of_core: float
    extra: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def bench_site(tmp: Path, port: int, period_s: float, extra_toml: str = "") -> Path:
    """The shipped site file, pointed at the benchmark's simulator and scan period."""
    budget = min(0.5, 0.4 * period_s)
    text = (ROOT / "config" / "site.toml").read_text()
    cfg = ROOT / "config"
    text = text.replace(
        'register_map = "registers.toml"', f'register_map = "{cfg / "registers.toml"}"'
    )
    text = text.replace('alarms_file = "alarms.toml"', f'alarms_file = "{cfg / "alarms.toml"}"')
    text = text.replace("port = 5020", f"port = {port}")
    text = text.replace("period_s = 1.0", f"period_s = {period_s}")
    text = text.replace("poll_budget_s = 0.5", f"poll_budget_s = {budget}")
    text = text.replace("write_budget_s = 0.3", f"write_budget_s = {0.3 * period_s}")
    text = text.replace("timeout_s = 0.25", f"timeout_s = {min(0.25, 0.3 * period_s)}")
    text = text.replace(
        'ledger_path = "../var/energy-ledger.sqlite"', f'ledger_path = "{tmp / "ledger.sqlite"}"'
    )
    path = tmp / "site.toml"
    path.write_text(text + extra_toml)
    return path


def start_simulator(port: int, speed: float = 1.0) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).parent / "heatrecovery"
    proc = subprocess.Popen(
        [str(exe), "simulator", "--port", str(port), "--speed", str(speed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    end = time.monotonic() + 20
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the simulator did not start")


class Window:
    """Scan statistics over one measurement window of a running daemon."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        clock = daemon.clock
        clock.durations.clear()
        clock.jitters.clear()
        self.overruns0 = clock.overruns
        self.cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        self.wall0 = time.monotonic()

    def close(self, extra: dict[str, Any] | None = None) -> RealtimeResult:
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.monotonic() - self.wall0
        cpu = (cpu1.ru_utime - self.cpu0.ru_utime) + (cpu1.ru_stime - self.cpu0.ru_stime)
        clock: ScanClock = self.daemon.clock
        st = clock.stats()
        return RealtimeResult(
            period_s=clock.period,
            duration_s=wall,
            cycles=len(clock.durations),
            overruns=clock.overruns - self.overruns0,
            duration_p50_ms=st.duration_p50_ms,
            duration_p99_ms=st.duration_p99_ms,
            duration_max_ms=st.duration_max_ms,
            jitter_p50_ms=st.jitter_p50_ms,
            jitter_p99_ms=st.jitter_p99_ms,
            jitter_max_ms=st.jitter_max_ms,
            cpu_pct_of_core=100.0 * cpu / wall,
            extra=extra or {},
        )


async def run_daemon(
    site_path: Path,
    duration_s: float,
    warmup_s: float = 5.0,
    attach: Callable[[Daemon], Awaitable[None] | None] | None = None,
) -> RealtimeResult:
    """One measurement window of ``duration_s`` after a warm-up."""
    site = load_site(site_path)
    daemon = Daemon(site)
    if attach is not None:
        res = attach(daemon)
        if res is not None:
            await res
    task = asyncio.create_task(daemon.run())
    await asyncio.sleep(warmup_s)  # connection set-up is not the steady state
    window = Window(daemon)
    await asyncio.sleep(duration_s)
    result = window.close()
    daemon.request_stop()
    await task
    return result


def run_realtime(period_s: float, duration_s: float, extra_toml: str = "") -> RealtimeResult:
    port = free_port()
    sim = start_simulator(port)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            site = bench_site(Path(tmp), port, period_s, extra_toml)
            return asyncio.run(run_daemon(site, duration_s))
    finally:
        _stop(sim)


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()


# ----------------------------------------------------------------- with SCADA load
def opcua_toml(port: int, data_dir: Path, sessions: int) -> str:
    pw = hash_password("bench-password")
    return f"""
[opcua]
enabled = true
host = "127.0.0.1"
port = {port}
allow_none_security = true
data_dir = "{data_dir}"
max_sessions = {max(50, sessions + 5)}
users = [{{ name = "utility", password_hash = "{pw}", role = "utility" }}]
"""


async def _read_line(proc: subprocess.Popen[str], within_s: float) -> str:
    loop = asyncio.get_running_loop()
    assert proc.stdout is not None
    return await asyncio.wait_for(loop.run_in_executor(None, proc.stdout.readline), within_s)


async def run_with_scada_load(
    site_path: Path, duration_s: float, sessions: int, security: str, tmp: Path
) -> tuple[RealtimeResult, RealtimeResult]:
    """The same daemon measured without, then with, SCADA clients in another process."""
    site = load_site(site_path)
    daemon = Daemon(site)
    server = attach_scada(daemon)
    task = asyncio.create_task(daemon.run())
    await asyncio.sleep(5.0)
    window = Window(daemon)
    await asyncio.sleep(duration_s)
    idle = window.close({"opcua_sessions": 0})
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "opcua_load.py"),
        "--client-process",
        server.endpoint_url,
        "--sessions",
        str(sessions),
        "--security",
        security,
        "--cert-dir",
        str(tmp / "client-cert"),
        "--server-cert",
        str(server.certificate.cert_path) if server.certificate else "",
    ]
    # The clients are remote in reality: a process of their own, started once.
    clients = subprocess.Popen(  # noqa: ASYNC220
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        line = await _read_line(clients, 120.0)
        if not line.startswith("READY"):
            raise RuntimeError(f"SCADA clients failed: {line.strip()}")
        window = Window(daemon)
        await asyncio.sleep(duration_s)
        assert clients.stdin is not None
        clients.stdin.write("\n")
        clients.stdin.flush()
        stats = json.loads(await _read_line(clients, 60.0))
        loaded = window.close({"opcua_sessions": sessions, "clients": stats})
    finally:
        _stop(clients)
        daemon.request_stop()
        await task
    return idle, loaded


def run_realtime_scada(
    period_s: float, duration_s: float, sessions: int = 20, security: str = "sign-encrypt"
) -> tuple[RealtimeResult, RealtimeResult]:
    port = free_port()
    sim = start_simulator(port)
    try:
        with tempfile.TemporaryDirectory() as tmp_s:
            tmp = Path(tmp_s)
            extra = opcua_toml(free_port(), tmp / "opcua", sessions)
            site = bench_site(tmp, port, period_s, extra)
            return asyncio.run(run_with_scada_load(site, duration_s, sessions, security, tmp))
    finally:
        _stop(sim)


if __name__ == "__main__":  # pragma: no cover - manual use
    p = float(os.environ.get("PERIOD", "1.0"))
    d = float(os.environ.get("DURATION", "30"))
    print(run_realtime(p, d))
