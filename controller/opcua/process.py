"""The same SCADA server facade, with the server in a child process.

Why offer it: in the thread variant the server thread shares the GIL with the scan
thread, so a CPU-busy server (many sessions, crypto, history queries) can hold
the scan thread back by up to the interpreter switch interval each time it wants
to run (bench/opcua_load.py measures it). A child process shares nothing but two
queues; the operating system schedules it like any other process, and it runs at
a lower priority (``nice``) than the controller.

What crosses the process boundary is what crossed the thread boundary: snapshots
and alarm updates one way, accepted setpoints, acknowledgements and statistics the
other. ``publish`` puts the snapshot on a multiprocessing queue, whose feeder
thread pickles and writes it, so a stalled child can never block the caller.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from controller import logs
from controller.core.alarms import AlarmEvent, AlarmState
from controller.incidents import INCIDENTS
from controller.opcua.addressspace import PlantShape, snapshot_keys
from controller.opcua.certs import ServerCertificate
from controller.opcua.model import Reading, SetpointWrite
from controller.opcua.server import ScadaServer, ScadaStats
from controller.opcua.settings import OpcUaSettings
from controller.opcua.transport import SUBSYSTEM

CHILD_NICE = 10
_POLL_S = 0.05


def _child_main(
    settings: OpcUaSettings,
    shape: PlantShape,
    inbox: Any,
    outbox: Any,
    nice: int,
    logging_config: tuple[bool, int, str | None] | None = None,
) -> None:
    with contextlib.suppress(OSError):
        os.nice(nice)
    if logging_config is not None:  # audit records and incidents as the daemon's own
        json, level, path = logging_config
        stream = sys.stdout
        if path is not None:
            with contextlib.suppress(OSError):
                stream = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        logs.configure_logging(json=json, level=level, stream=stream)
    outbox.cancel_join_thread()
    server = ScadaServer(settings, shape)
    try:
        server.start()
    except BaseException as exc:
        outbox.put(("error", exc))
        return
    outbox.put(("ready", (server.port, server.certificate)))
    parent = os.getppid()
    last_stats = 0.0
    try:
        while os.getppid() == parent:  # orphaned (daemon killed): free the port and go
            try:
                msg = inbox.get(timeout=_POLL_S)
            except queue.Empty:
                msg = None
            latest: Mapping[str, Reading] | None = None
            while msg is not None:  # drain: alarms in order, the newest snapshot only
                kind = msg[0]
                if kind == "stop":
                    return
                if kind == "publish":
                    latest = msg[1]
                elif kind == "alarms":
                    server.alarm_update(*msg[1])
                elif kind == "reconfigure":
                    server.reconfigure(*msg[1])
                try:
                    msg = inbox.get_nowait()
                except queue.Empty:
                    msg = None
            if latest is not None:
                server.publish(latest)
            setpoints = server.take_setpoints()
            if setpoints:
                outbox.put(("setpoints", setpoints))
            acks = server.take_acknowledgements()
            if acks:
                outbox.put(("acks", acks))
            now = time.monotonic()
            if now - last_stats >= 1.0:
                last_stats = now
                outbox.put(("stats", server.stats()))
    finally:
        server.stop()


class ScadaProcess:
    """Drop-in for ``ScadaServer`` (same methods), hosting it in a child process."""

    def __init__(self, settings: OpcUaSettings, shape: PlantShape, *, nice: int = CHILD_NICE):
        self._settings = settings
        self._shape = shape
        self._nice = nice
        self._keys = snapshot_keys(shape)
        ctx = multiprocessing.get_context("spawn")
        self._ctx = ctx
        self._inbox: Any = ctx.Queue()
        self._outbox: Any = ctx.Queue()
        # Never wait at exit for a queue whose reader died (multiprocessing would).
        self._inbox.cancel_join_thread()
        self._proc: Any = None
        self._port = settings.port
        self._cert: ServerCertificate | None = None
        self._setpoints: dict[str, SetpointWrite] = {}
        self._acks: list[tuple[str, str]] = []
        self._stats: ScadaStats | None = None
        self._published = 0
        self._listed: tuple[tuple[str, str], ...] = ()

    def start(self, timeout: float = 60.0) -> None:
        if self._proc is not None:
            raise RuntimeError("ScadaProcess already started")
        self._proc = self._ctx.Process(
            target=_child_main,
            args=(
                self._settings,
                self._shape,
                self._inbox,
                self._outbox,
                self._nice,
                logs.current,
            ),
            name="opcua-server",
            daemon=True,
        )
        proc = self._proc
        proc.start()
        deadline = time.monotonic() + timeout
        while True:  # short waits: a child that died (or was stopped) ends the wait
            try:
                kind, payload = self._outbox.get(timeout=_POLL_S * 4)
                break
            except queue.Empty:
                pass
            if not proc.is_alive():
                self._proc = None
                raise RuntimeError(
                    f"OPC UA server process exited with code {proc.exitcode} while starting"
                )
            if time.monotonic() >= deadline:
                self.stop()
                raise TimeoutError(
                    f"OPC UA server process did not start within {timeout:g} s"
                ) from None
        if kind == "error":
            self._proc.join(5)
            self._proc = None
            raise payload
        self._port, self._cert = payload

    def stop(self, timeout: float = 15.0) -> None:
        proc = self._proc
        if proc is None:
            return
        with contextlib.suppress(Exception):
            self._inbox.put(("stop",))
        proc.join(timeout)
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
        self._proc = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.is_alive()

    @property
    def port(self) -> int:
        return self._port

    @property
    def endpoint_url(self) -> str:
        return f"opc.tcp://{self._settings.host}:{self._port}"

    @property
    def certificate(self) -> ServerCertificate | None:
        return self._cert

    def snapshot_keys(self) -> list[str]:
        return list(self._keys)

    def publish(self, snapshot: Mapping[str, Reading]) -> None:
        """Never blocks. Dropped while the child is not running (``running`` is False):
        a dead child must not make the queue grow without end."""
        if self._proc is None or not self._proc.is_alive():
            return
        self._inbox.put(("publish", dict(snapshot)))
        self._published += 1

    def alarm_update(
        self, events: Sequence[AlarmEvent], active: Sequence[AlarmState], now_epoch: float
    ) -> None:
        listed = tuple((s.id, s.status) for s in active)
        if (events or listed != self._listed) and self.running:
            self._listed = listed
            self._inbox.put(("alarms", (list(events), list(active), now_epoch)))

    def reconfigure(self, settings: OpcUaSettings, shape: PlantShape) -> None:
        """As ``ScadaServer.reconfigure``, applied in the child."""
        if self.running:
            self._inbox.put(("reconfigure", (settings, shape)))

    def _collect(self) -> None:
        while True:
            try:
                kind, payload = self._outbox.get_nowait()
            except queue.Empty:
                return
            if kind == "setpoints":
                self._setpoints.update(payload)
            elif kind == "acks":
                self._acks.extend(payload)
            elif kind == "stats":
                self._stats = payload
                INCIDENTS.absorb(SUBSYSTEM, payload.incidents)

    def take_setpoints(self) -> dict[str, SetpointWrite]:
        self._collect()
        taken, self._setpoints = self._setpoints, {}
        return taken

    def take_acknowledgements(self) -> list[tuple[str, str]]:
        self._collect()
        taken, self._acks = self._acks, []
        return taken

    def stats(self) -> ScadaStats:
        """The child's figures as of its last report (about once a second)."""
        self._collect()
        if self._stats is None:
            return ScadaStats(self._published, 0, 0, 0.0, 0, 0, 0, ())
        return self._stats
