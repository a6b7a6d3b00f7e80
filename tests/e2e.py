"""Processes on loopback for end-to-end tests: the simulator and the controller daemon.

Both are started as real processes through the installed ``heatrecovery`` command,
talk real Modbus TCP on a free 127.0.0.1 port, and are read from outside: the
controller's JSON log lines, the plant's registers through a pymodbus client.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent / "heatrecovery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_site(tmp: Path, port: int, *, period_s: float = 0.1, time_scale: float = 10.0) -> Path:
    """A copy of the shipped site file for a fast loop against an accelerated plant."""
    text = (ROOT / "config" / "site.toml").read_text()
    data = tomllib.loads(text)
    cfg = ROOT / "config"
    out = [
        f'register_map = "{cfg / "registers.toml"}"',
        f'alarms_file = "{cfg / "alarms.toml"}"',
        "[scan]",
        f"period_s = {period_s}",
        f"time_scale = {time_scale}",
        "startup_s = 10.0",
        "[fieldbus]",
        f"poll_budget_s = {period_s * 0.4}",
        f"write_budget_s = {period_s * 0.3}",
        "refresh_s = 0.5",
        "[[fieldbus.links]]",
        'name = "plant"',
        'host = "127.0.0.1"',
        f"port = {port}",
        f"devices = {json.dumps(data['fieldbus']['links'][0]['devices'])}",
        f"timeout_s = {period_s * 0.3}",
        "backoff_initial_s = 0.2",
        "backoff_max_s = 1.0",
        # The sections a site must give: the tests run on the shipped nameplate, the
        # models' setpoints and limits, a ledger of their own and the shipped contract.
        "[plant]",
        *(f"{key} = {json.dumps(value)}" for key, value in data["plant"].items()),
        "[setpoints]",
        "[limits]",
        "[accounting]",
        'ledger_path = "energy-ledger.sqlite"',
        "[contract]",
        *(f"{key} = {json.dumps(value)}" for key, value in data["contract"].items()),
    ]
    path = tmp / "site.toml"
    path.write_text("\n".join(out) + "\n")
    return path


class Proc:
    """A child process whose stdout lines are collected (and parsed if JSON)."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.args = args
        self.lines: list[str] = []
        self.records: list[dict[str, Any]] = []
        self.p = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.append(line.rstrip("\n"))
            with contextlib.suppress(json.JSONDecodeError):
                self.records.append(json.loads(line))

    def wait_for(self, predicate: Any, timeout: float) -> dict[str, Any]:
        end = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < end:
            while seen < len(self.records):
                rec = self.records[seen]
                seen += 1
                if predicate(rec):
                    return rec
            if self.p.poll() is not None and seen >= len(self.records):
                break
            time.sleep(0.05)
        tail = "\n".join(self.lines[-30:])
        raise AssertionError(f"not seen within {timeout} s; last output:\n{tail}")

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            return self.p.wait(timeout)
        finally:
            self._reader.join(2.0)

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(5)


def start_simulator(port: int, speed: float = 10.0, scenario: str = "winter-steady") -> Proc:
    proc = Proc(
        [str(BIN), "simulator", "--port", str(port), "--speed", str(speed), "--scenario", scenario]
    )
    end = time.monotonic() + 15
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("simulator did not start listening:\n" + "\n".join(proc.lines))


def start_controller(site: Path) -> Proc:
    return Proc([str(BIN), "run", "--config", str(site), "--json"])


def mode_is(mode: str) -> Any:
    return lambda r: r.get("kind") == "mode" and r.get("to") == mode
