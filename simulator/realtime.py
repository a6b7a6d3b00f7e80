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


async def run_daemon(
    site_path: Path,
    duration_s: float,
    warmup_s: float = 5.0,
    attach: Callable[[Any], Awaitable[None] | None] | None = None,
) -> RealtimeResult:
    site = load_site(site_path)
    daemon = Daemon(site, duration_s=duration_s + warmup_s)
    if attach is not None:
        res = attach(daemon)
        if res is not None:
            await res
    extra: dict[str, Any] = {}

    async def measure() -> None:
        await asyncio.sleep(warmup_s)
        # Statistics start after the warm-up: connection set-up is not the steady state.
        daemon.clock.durations.clear()
        daemon.clock.jitters.clear()
        extra["overruns_at_warmup"] = daemon.clock.overruns
        extra["cpu0"] = resource.getrusage(resource.RUSAGE_SELF)
        extra["wall0"] = time.monotonic()

    task = asyncio.create_task(measure())
    await daemon.run()
    await task
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    wall = time.monotonic() - extra.pop("wall0")
    cpu0 = extra.pop("cpu0")
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    clock: ScanClock = daemon.clock
    st = clock.stats()
    return RealtimeResult(
        period_s=clock.period,
        duration_s=wall,
        cycles=len(clock.durations),
        overruns=st.overruns - extra.pop("overruns_at_warmup"),
        duration_p50_ms=st.duration_p50_ms,
        duration_p99_ms=st.duration_p99_ms,
        duration_max_ms=st.duration_max_ms,
        jitter_p50_ms=st.jitter_p50_ms,
        jitter_p99_ms=st.jitter_p99_ms,
        jitter_max_ms=st.jitter_max_ms,
        cpu_pct_of_core=100.0 * cpu / wall,
        extra=extra,
    )


def run_realtime(period_s: float, duration_s: float, extra_toml: str = "") -> RealtimeResult:
    port = free_port()
    sim = start_simulator(port)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            site = bench_site(Path(tmp), port, period_s, extra_toml)
            return asyncio.run(run_daemon(site, duration_s))
    finally:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(5)
        except subprocess.TimeoutExpired:
            sim.kill()


if __name__ == "__main__":  # pragma: no cover - manual use
    p = float(os.environ.get("PERIOD", "1.0"))
    d = float(os.environ.get("DURATION", "30"))
    print(run_realtime(p, d))
