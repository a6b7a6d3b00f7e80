"""sd_notify from the scan cycle: READY once, WATCHDOG while cycles complete, STOPPING."""

from __future__ import annotations

import os
import socket
import time
from types import SimpleNamespace
from typing import Any

import pytest

from controller.systemd import Notifier, SystemdWatchdog, watchdog_interval_s


def listener() -> tuple[socket.socket, str]:
    """An abstract-namespace datagram socket, as systemd's NOTIFY_SOCKET may be."""
    name = f"@heatrecovery-test-{os.getpid()}-{time.monotonic_ns()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name[1:])
    sock.settimeout(1.0)
    return sock, name


def messages(sock: socket.socket) -> list[str]:
    out = []
    sock.settimeout(0.05)
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            return out


def cycle(wd: SystemdWatchdog, mode: str = "RECOVERY") -> None:
    out: Any = SimpleNamespace(status=SimpleNamespace(mode=mode))
    wd.on_cycle(None, None, out)  # type: ignore[arg-type]


def test_ready_after_first_cycle_then_watchdog_pings_then_stopping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sock, name = listener()
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    wd = SystemdWatchdog(Notifier(name))
    assert wd.ping_every_s == pytest.approx(0.25)
    cycle(wd)
    first = messages(sock)
    assert len(first) == 1 and first[0].startswith("READY=1")
    cycle(wd)  # too soon for another ping
    assert messages(sock) == []
    time.sleep(0.26)
    cycle(wd)
    assert messages(sock) == ["WATCHDOG=1"]
    cycle(wd, "SAFE")  # a mode change is reported at once
    assert messages(sock) == ["WATCHDOG=1\nSTATUS=scanning, mode SAFE"]
    wd.on_stop(None)  # type: ignore[arg-type]
    assert messages(sock)[0].startswith("STOPPING=1")
    sock.close()


def test_watchdog_meant_for_another_process_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog_interval_s() is None


def test_outside_systemd_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    n = Notifier()
    assert not n.enabled and n.send("READY=1") is False
