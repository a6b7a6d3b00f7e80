"""systemd readiness and watchdog (``Type=notify``, ``WatchdogSec=``) without a library.

Why the ping comes from the scan cycle: systemd's watchdog should fire when the
controller stops controlling, not merely when the process hangs. A ping from a
timer task would keep coming while the scan loop is stuck in an await that never
returns; a ping sent at the end of each completed cycle stops with the cycle, and
systemd restarts the service (``Restart=on-failure`` covers watchdog kills).

The protocol is one datagram per message to ``$NOTIFY_SOCKET`` (an ``@`` prefix
means the abstract namespace). Without that variable, outside systemd, every call
is a no-op, so ``heatrecovery run`` attaches this unconditionally.
"""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING

import structlog

from controller.daemon import Extension

if TYPE_CHECKING:
    from controller.core.core import CoreOutput
    from controller.core.image import ProcessImage
    from controller.daemon import Daemon

log = structlog.get_logger("systemd")

DEFAULT_PING_S = 1.0


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        addr = os.environ.get("NOTIFY_SOCKET") if address is None else address
        self.address = "\0" + addr[1:] if addr and addr.startswith("@") else addr
        self.sock: socket.socket | None = None
        if self.address:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        return self.sock is not None

    def send(self, *fields: str) -> bool:
        if self.sock is None or self.address is None:
            return False
        try:
            self.sock.sendto("\n".join(fields).encode(), self.address)
        except OSError as exc:  # systemd gone or socket full: never stop the scan cycle
            log.warning("sd_notify failed", error=str(exc))
            return False
        return True

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def watchdog_interval_s() -> float | None:
    """The watchdog period systemd asked for, if it is meant for this process."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid.isdigit() and int(pid) != os.getpid()):
        return None
    try:
        return int(usec) / 1e6
    except ValueError:
        return None


class SystemdWatchdog:
    """READY=1 after the first full cycle, WATCHDOG=1 from the cycle, STOPPING=1 at stop."""

    def __init__(self, notifier: Notifier | None = None) -> None:
        self.notifier = notifier or Notifier()
        wd = watchdog_interval_s()
        # systemd recommends pinging at half the interval; a quarter leaves room for
        # one overrun. Without a watchdog, one status update a second is plenty.
        self.ping_every_s = wd / 4 if wd else DEFAULT_PING_S
        self.watchdog = wd is not None
        self.ready = False
        self._next_ping = 0.0
        self._mode = ""
        self.extension = Extension("systemd", on_cycle=self.on_cycle, on_stop=self.on_stop)

    def on_cycle(self, daemon: Daemon, image: ProcessImage, out: CoreOutput) -> None:
        now = time.monotonic()
        mode = str(out.status.mode)
        if not self.ready:
            self.ready = True
            self.notifier.send("READY=1", f"STATUS=scanning, mode {mode}", f"MAINPID={os.getpid()}")
            self._mode = mode
            self._next_ping = now + self.ping_every_s
            return
        if now < self._next_ping and mode == self._mode:
            return
        self._next_ping = now + self.ping_every_s
        fields = ["WATCHDOG=1"] if self.watchdog else []
        if mode != self._mode:
            self._mode = mode
            fields.append(f"STATUS=scanning, mode {mode}")
        if fields:
            self.notifier.send(*fields)

    def on_stop(self, daemon: Daemon) -> None:
        self.notifier.send("STOPPING=1", "STATUS=stopping: revert values written")
        self.notifier.close()


def attach_systemd(daemon: Daemon) -> SystemdWatchdog | None:
    """Hook the daemon up to systemd if it runs under it; else do nothing."""
    notifier = Notifier()
    if not notifier.enabled:
        return None
    wd = SystemdWatchdog(notifier)
    daemon.extensions.append(wd.extension)
    log.info("systemd notify enabled", watchdog_s=watchdog_interval_s())
    return wd
