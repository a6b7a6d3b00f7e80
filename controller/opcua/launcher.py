"""Bringing the SCADA server up beside the scan cycle, never in front of it.

Why: the server takes 5-30 s to start on a loaded gateway (a child process to
spawn, a certificate to generate on the first start). A controller that waited
for it before its first scan wrote no heartbeat meanwhile, and the plant PLC's
10 s watchdog dropped the plant into local safe mode on every restart. So the
scan starts at once and the server comes up in the background: ``start`` runs in
a thread of its own (both the thread and the process variant block while they
start), the feed publishes only once ``server`` is set, and a server that fails
to come up (port taken meanwhile, a bad certificate, a crashed child) is logged
with its cause, counted in ``heatrecovery_incidents_total{subsystem="opcua",
cause="server start failed"}`` and tried again with a growing wait. The
controller never stops for it.

A dedicated daemon thread rather than ``asyncio.to_thread``: a start still
running when the controller stops must not hold the interpreter's exit (the
default executor is joined at exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

import structlog

from controller.incidents import INCIDENTS

log = structlog.get_logger("controller.opcua")

BACKOFF_INITIAL_S = 2.0
BACKOFF_MAX_S = 60.0
WATCH_S = 1.0
"""How often a running server is checked for having died (its child crashed)."""
START_FAILED = "server start failed"


class Startable(Protocol):
    def start(self, timeout: float = ...) -> None: ...
    def stop(self, timeout: float = ...) -> None: ...
    @property
    def running(self) -> bool: ...


def describe(exc: BaseException) -> str:
    """The cause as an operator reads it: ``[Errno 98] address already in use``."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def check_port_free(host: str, port: int) -> None:
    """Raise OSError if ``host:port`` cannot be bound now (taken, not a local address).

    The server itself starts in the background; this is the part of its start that
    is cheap and certain to be a configuration error worth refusing the start for.
    Bound the way asyncio binds a server (SO_REUSEADDR), so a port in TIME_WAIT from
    the previous run is not called taken.
    """
    if port == 0:
        return
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    for family, kind, proto, _, addr in infos:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(addr)


class ScadaLauncher:
    """Starts a server made by ``make`` in the background, and again if it fails or dies."""

    def __init__(
        self,
        make: Callable[[], Startable],
        *,
        endpoint: str,
        bind: tuple[str, int] | None = None,
        on_up: Callable[[Startable], None] | None = None,
        backoff_initial_s: float = BACKOFF_INITIAL_S,
        backoff_max_s: float = BACKOFF_MAX_S,
    ) -> None:
        self._make = make
        self._on_up = on_up
        self.endpoint = endpoint
        self.bind = bind
        """Checked before each attempt: a taken port fails at once, without building
        the address space (seconds of CPU) only to fail at the bind."""
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.server: Startable | None = None
        """Set while the server is up; the feed hands data over only then."""
        self.failures = 0
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = threading.Event()
        self._starting: tuple[Startable, threading.Thread] | None = None

    @property
    def up(self) -> bool:
        server = self.server
        return server is not None and server.running

    def begin(self) -> None:
        """Start bringing the server up (call from the running event loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name="opcua-launcher")

    async def _start(self, server: Startable) -> None:
        """``server.start()`` in a daemon thread; raises what it raised."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[BaseException | None] = loop.create_future()

        def settle(result: BaseException | None) -> None:
            if not done.done():
                done.set_result(result)

        def run() -> None:
            error: BaseException | None = None
            try:
                server.start()
            except BaseException as exc:
                error = exc
            if error is None and self._closing.is_set():  # came up after the stop
                with contextlib.suppress(Exception):
                    server.stop()
            with contextlib.suppress(RuntimeError):  # loop closed meanwhile
                loop.call_soon_threadsafe(settle, error)

        thread = threading.Thread(target=run, name="opcua-start", daemon=True)
        self._starting = (server, thread)
        thread.start()
        try:
            error = await done
        finally:
            self._starting = None
        if error is not None:
            raise error

    async def _supervise(self) -> None:
        delay = self.backoff_initial_s
        while not self._closing.is_set():
            t0 = time.monotonic()
            try:
                if self.bind is not None:
                    await asyncio.to_thread(check_port_free, *self.bind)  # may resolve a name
                server = self._make()
                await self._start(server)
            except Exception as exc:
                self._failed(describe(exc), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2.0, self.backoff_max_s)
                continue
            if self._closing.is_set():
                return
            self.server = server
            log.info(
                "opcua server up",
                endpoint=self.endpoint,
                start_s=round(time.monotonic() - t0, 2),
                after_failures=self.failures,
            )
            if self._on_up is not None:
                self._on_up(server)
            # What the start left in this process (the whole address space, in the
            # thread variant) is long-lived: keep it out of full collections, as the
            # daemon does with its own start-up (``daemon.settle_heap``). O(1).
            gc.freeze()
            delay = self.backoff_initial_s
            # Polled: a dead child or thread has no event to await.
            while server.running and not self._closing.is_set():  # noqa: ASYNC110
                await asyncio.sleep(WATCH_S)
            if self._closing.is_set():
                return
            self.server = None
            with contextlib.suppress(Exception):
                await asyncio.to_thread(server.stop, 2.0)
            self._failed("the server stopped while running", delay)
            await asyncio.sleep(delay)

    def _failed(self, cause: str, retry_in_s: float) -> None:
        self.failures += 1
        self.last_error = cause
        INCIDENTS.record("opcua", START_FAILED, emit=False)
        log.error(
            "opcua server not serving; the controller runs on, retrying",
            endpoint=self.endpoint,
            cause=cause,
            failures=self.failures,
            retry_in_s=round(retry_in_s, 1),
        )

    async def close(self, stop_timeout_s: float = 15.0) -> None:
        """Stop the server (or a start in progress) and stop trying."""
        self._closing.set()
        starting = self._starting  # read first: cancelling the task clears it
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if starting is not None:  # a start still running: stop what it brought up
            server, thread = starting
            with contextlib.suppress(Exception):
                await asyncio.to_thread(server.stop, stop_timeout_s)
            await asyncio.to_thread(thread.join, stop_timeout_s)
        running, self.server = self.server, None
        if running is not None:
            await asyncio.to_thread(running.stop, stop_timeout_s)
