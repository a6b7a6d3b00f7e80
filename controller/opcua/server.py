"""The OPC UA server for the utility's SCADA, isolated from the scan cycle.

Why its own thread and event loop: an asyncua read of 100 values costs a few ms of
CPU, and TLS-style crypto, history queries and misbehaving clients cost more. On
the scan loop that would be scan-cycle jitter; here the scan thread only drops a
reference into a one-slot queue and pokes the server loop: tens of microseconds,
and it never waits for the server. What the two threads still share is the GIL: a
CPU-bound server thread delays the scan thread by up to the interpreter switch
interval (lowered to 0.5 ms here) each time the scan thread wants to run, and a
flood of 1000-node Reads did that often enough to hold the scan 258-428 ms at p99.
``process.ScadaProcess`` runs this same class in a child process, the default
(bench/opcua_load.py measures both).

Data flow, scan thread to server: ``publish`` (latest snapshot wins, applied in one
pass, only values or qualities that changed are written) and ``alarm_update``
(queued, nothing dropped). Server to scan thread: ``take_setpoints`` and
``take_acknowledgements``, read once per cycle.

A setpoint the utility wrote and the daemon has not yet taken is not overwritten
by a publish of the previous value, so the SCADA never sees its write bounce back.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from asyncua import ua
from asyncua.common.connection import TransportLimits
from asyncua.server.internal_session import InternalSession

from controller import __version__
from controller.core.alarms import AlarmEvent, AlarmState
from controller.incidents import INCIDENTS, quiet_library_loggers
from controller.opcua import oplimits
from controller.opcua.addressspace import (
    PlantAddressSpace,
    PlantShape,
    build_address_space,
    plant_points,
    snapshot_keys,
)
from controller.opcua.alarms import AlarmPublisher
from controller.opcua.audit import log
from controller.opcua.certs import (
    ClientTrust,
    ServerCertificate,
    ensure_server_certificate,
    pki_dirs,
)
from controller.opcua.history import PlantHistory
from controller.opcua.model import Reading, SetpointWrite
from controller.opcua.security import PlantRuleset, PlantUser, PlantUserManager
from controller.opcua.settings import OpcUaSettings
from controller.opcua.transport import SUBSYSTEM, GuardedBinaryServer, PlantOpcServer
from controller.opcua.uatyped import property_id, status_code, ua_time
from controller.opcua.values import datavalue_of, state_of
from controller.opcua.writes import SetpointGuard

MAX_MESSAGE_BYTES = 2 * 1024 * 1024
"""Largest message either way. It bounds what the server decodes before the operation
limits (``oplimits``) can refuse a request: 2 MiB is a Read of about 50,000 numeric
NodeIds, and 1000 nodes per request need a few tens of KiB."""
CHUNK_BYTES = 65535
PENDING_ACTIVATION_S = 10.0
HANDSHAKE_S = 3.0
"""A connection must have opened its secure channel this long after connecting."""
SWITCH_INTERVAL_S = 0.0005
"""The interpreter's GIL switch interval while the server thread runs (default 5 ms):
how long a busy server thread may keep the scan thread waiting each time it wants
to run. bench/opcua_load.py measures the effect."""
MAX_QUEUE_PER_ITEM = 1
APPLY_DELAY_S = 0.002
"""The server waits this long after a publish before applying it: the scan thread
gets the GIL back at once and finishes its cycle instead of waiting for the
server thread's apply (or the 5 ms switch interval) inside publish()."""
_CONVERSION_FAILED = status_code(ua.StatusCodes.BadInternalError)


@dataclass(frozen=True, slots=True)
class ScadaStats:
    published: int  # snapshots handed over by the scan thread
    applied: int  # snapshots the server applied (fewer: a newer one replaced them)
    values_written: int
    last_apply_ms: float
    writes_accepted: int
    writes_refused: int
    sessions: int
    unknown_keys: tuple[str, ...]
    incidents: dict[str, int] = field(default_factory=dict)
    """Hostile or faulty traffic by cause (``controller.incidents``), this server's."""


class ScadaServer:
    """Thread-safe facade the daemon calls; every call returns without waiting."""

    def __init__(
        self,
        settings: OpcUaSettings,
        shape: PlantShape,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._shape = shape
        self._clock = clock
        self._keys = snapshot_keys(shape)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._stopping = False
        self._pending: deque[Mapping[str, Reading]] = deque(maxlen=1)
        self._alarm_queue: deque[tuple[list[AlarmEvent], list[AlarmState], float]] = deque()
        self._acks: deque[tuple[str, str]] = deque()
        self._listed: tuple[tuple[str, str], ...] = ()
        self._lock = threading.Lock()
        self._setpoints: dict[str, SetpointWrite] = {}
        self._server: PlantOpcServer | None = None
        self._plant: PlantAddressSpace | None = None
        self._guard: SetpointGuard | None = None
        self._alarms: AlarmPublisher | None = None
        self._port = settings.port
        self._cert: ServerCertificate | None = None
        self._published = 0
        self._applied = 0
        self._written = 0
        self._last_apply_ms = 0.0
        self._unknown: set[str] = set()
        self._reconfigure: deque[tuple[OpcUaSettings, PlantShape]] = deque()
        self._users: PlantUserManager | None = None
        self._budgets: oplimits.AddressBudgets | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Start the server thread; return once it listens, raise if it cannot."""
        if self._thread is not None:
            raise RuntimeError("ScadaServer already started")
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
        quiet_library_loggers()
        self._thread = threading.Thread(target=self._thread_main, name="opcua-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"OPC UA server did not start within {timeout:g} s")
        if self._start_error is not None:
            self._thread.join(5.0)
            self._thread = None
            raise self._start_error

    def stop(self, timeout: float = 15.0) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        self._poke()
        thread.join(timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._start_error is None

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
        """Every key ``publish`` accepts (browse paths relative to Objects/Plant)."""
        return list(self._keys)

    # -- scan thread -> server ----------------------------------------------------------

    def publish(self, snapshot: Mapping[str, Reading]) -> None:
        """Hand over this cycle's values. Never blocks; the latest snapshot wins.

        The mapping is copied (shallow), so the caller may reuse its dict.
        """
        self._pending.append(dict(snapshot))
        self._published += 1
        self._poke()

    def alarm_update(
        self, events: Sequence[AlarmEvent], active: Sequence[AlarmState], now_epoch: float
    ) -> None:
        """Alarm transitions of this cycle and the active-alarm list (queued, never dropped)."""
        listed = tuple((s.id, s.status) for s in active)
        if events or listed != self._listed:
            self._listed = listed
            self._alarm_queue.append((list(events), list(active), now_epoch))
            self._poke()

    def reconfigure(self, settings: OpcUaSettings, shape: PlantShape) -> None:
        """Apply a reloaded ``[opcua]`` section and the site's write limits, live.

        Users (a removed user's sessions are closed, a changed role takes effect
        at once), session limits and every EURange (the setpoints' accepted write
        range with it). What cannot change while running (endpoint, security,
        certificates, data folder) is refused by the site-file reload before
        this is called; those fields of ``settings`` are ignored here.
        """
        self._reconfigure.append((settings, shape))
        self._poke()

    # -- server -> scan thread ----------------------------------------------------------

    def take_setpoints(self) -> dict[str, SetpointWrite]:
        """The latest accepted write per setpoint since the last call."""
        with self._lock:
            taken, self._setpoints = self._setpoints, {}
        return taken

    def take_acknowledgements(self) -> list[tuple[str, str]]:
        """(alarm id, user) for each Acknowledge accepted since the last call."""
        out: list[tuple[str, str]] = []
        while self._acks:
            out.append(self._acks.popleft())
        return out

    def stats(self) -> ScadaStats:
        guard = self._guard
        sessions = max(0, InternalSession._current_connections)
        return ScadaStats(
            published=self._published,
            applied=self._applied,
            values_written=self._written,
            last_apply_ms=self._last_apply_ms,
            writes_accepted=guard.accepted if guard else 0,
            writes_refused=guard.refused if guard else 0,
            sessions=sessions,
            unknown_keys=tuple(sorted(self._unknown)),
            incidents=INCIDENTS.local(SUBSYSTEM),
        )

    # -- server thread ------------------------------------------------------------------

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return
        with contextlib.suppress(RuntimeError):  # loop closed while stopping
            loop.call_soon_threadsafe(wake.set)

    def _accept_setpoint(self, write: SetpointWrite) -> None:
        with self._lock:
            self._setpoints[write.name] = write

    def _accept_ack(self, alarm_id: str, user: str) -> None:
        self._acks.append((alarm_id, user))

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        finally:
            self._loop = None
            _cancel_leftovers(loop)
            loop.close()

    async def _serve(self) -> None:
        wake = asyncio.Event()
        try:
            server = await self._build()
            await server.start()
        except BaseException as exc:
            self._start_error = exc
            self._ready.set()
            return
        assert server.bserver is not None
        self._port = server.bserver.port
        self._server = server
        self._loop = asyncio.get_running_loop()
        self._wake = wake
        log.info(
            "opcua.started",
            endpoint=self.endpoint_url,
            none_security=self._settings.allow_none_security,
            anonymous=self._settings.allow_anonymous,
            users=len(self._settings.users),
            certificate_thumbprint=self._cert.thumbprint if self._cert else None,
        )
        self._ready.set()
        try:
            while not self._stopping:
                await wake.wait()
                await asyncio.sleep(APPLY_DELAY_S)
                wake.clear()
                await self._drain()
        finally:
            self._wake = None
            await self._stop_clock(server)
            await server.stop()
            log.info("opcua.stopped")

    @staticmethod
    async def _stop_clock(server: PlantOpcServer) -> None:
        """asyncua's ServerStatus clock sleeps 1 s between ticks and stop() waits for the
        tick; cancelling it makes a daemon restart (and every test) a second faster."""
        task = server.iserver.time_task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            server.iserver.time_task = None

    async def _drain(self) -> None:
        alarms = self._alarms
        assert alarms is not None
        while self._reconfigure:
            settings, shape = self._reconfigure.popleft()
            try:
                await self._apply_settings(settings, shape)
            except Exception:
                log.exception("opcua.reconfigure_failed")
        while self._alarm_queue:
            events, active, now = self._alarm_queue.popleft()
            try:
                await alarms.apply(events, active, now)
            except Exception:
                log.exception("opcua.alarm_update_failed")
        try:
            snapshot = self._pending.pop()
        except IndexError:
            return
        try:
            await self._apply(snapshot)
        except Exception:
            log.exception("opcua.publish_failed")

    async def _apply(self, snapshot: Mapping[str, Reading]) -> None:
        t0 = time.perf_counter()
        assert self._plant is not None and self._server is not None
        points = self._plant.points
        aspace = self._server.iserver.aspace
        with self._lock:
            held = set(self._setpoints)
        now = datetime.now(UTC)
        written = 0
        value_attr = ua.AttributeIds.Value
        for key, reading in snapshot.items():
            node = points.get(key)
            if node is None:
                if key not in self._unknown:
                    self._unknown.add(key)
                    log.warning("opcua.unknown_key", key=key)
                continue
            if node.point.writable and node.point.name in held:
                continue
            state = state_of(reading)
            if node.last == state:
                continue
            try:
                dv = datavalue_of(node.point, reading, now)
            except (TypeError, ValueError) as exc:
                dv = ua.DataValue(
                    ua.Variant(), StatusCode=_CONVERSION_FAILED, ServerTimestamp=ua_time(now)
                )
                log.warning("opcua.bad_value", key=key, error=str(exc))
            status = await aspace.write_attribute_value(node.nodeid, value_attr, dv)
            if not status.is_good():
                log.warning("opcua.write_failed", key=key, status=status.name)
            node.last = state
            written += 1
        self._written += written
        self._applied += 1
        self._last_apply_ms = (time.perf_counter() - t0) * 1000.0

    async def _apply_settings(self, new: OpcUaSettings, shape: PlantShape) -> None:
        server, plant, users = self._server, self._plant, self._users
        assert server is not None and plant is not None and users is not None
        old = self._settings
        applied: list[str] = []
        if new.users != old.users:
            users.set_users(new.users)
            roles = {u.name: u.role for u in new.users}

            def stale(user: object) -> bool:
                name = getattr(user, "name", None)
                if not isinstance(user, PlantUser) or name == "anonymous":
                    return False
                return roles.get(name or "") != user.plant_role

            bserver = server.bserver
            dropped = bserver.drop_where(stale) if isinstance(bserver, GuardedBinaryServer) else 0
            applied.append("users")
            if dropped:
                log.info("opcua.sessions_closed", reason="user removed or role changed", n=dropped)
        limits = (
            "max_sessions",
            "reserved_write_sessions",
            "session_timeout_s",
            "max_connections_per_address",
            "node_operations_per_s_per_address",
        )
        if any(getattr(new, k) != getattr(old, k) for k in limits):
            self._session_limits(server, new)
            if self._budgets is not None:
                self._budgets.rate = new.node_operations_per_s_per_address
            applied.append("session limits")
        if shape != self._shape:
            ranges = await self._apply_ranges(server, plant, shape)
            self._shape = shape
            if ranges:
                applied.append(f"ranges of {', '.join(ranges)}")
        self._settings = new.model_copy(
            update={"data_dir": old.data_dir, "trusted_clients_dir": old.trusted_clients_dir}
        )
        if applied:
            log.info("opcua.reconfigured", applied=applied)

    @staticmethod
    async def _apply_ranges(
        server: PlantOpcServer, plant: PlantAddressSpace, shape: PlantShape
    ) -> list[str]:
        changed: list[str] = []
        for p in plant_points(shape):
            node = plant.points.get(p.path)
            if node is None or node.point.eu_range == p.eu_range or p.eu_range is None:
                continue
            node.point = p  # the write guard reads the range from here
            lo, hi = p.eu_range
            prop = property_id(node.nodeid, "EURange")
            await server.write_attribute_value(
                prop, ua.DataValue(ua.Variant(ua.Range(Low=lo, High=hi)))
            )
            changed.append(p.path)
        return changed

    def _session_limits(self, server: PlantOpcServer, s: OpcUaSettings) -> None:
        iserver = server.iserver
        # asyncua 2.1 keeps the session limit on the class (process-wide); one server
        # per daemon process makes that the server's limit.
        InternalSession.max_connections = s.max_sessions
        iserver.max_connections = 2 * s.max_sessions + 10  # TCP, before activation
        iserver.max_session_timeout_ms = s.session_timeout_s * 1000.0
        iserver.max_subscriptions = 10 * s.max_sessions
        server.max_connections_per_address = s.max_connections_per_address
        if server.bserver is not None:
            gate = server.bserver.gate  # type: ignore[attr-defined]
            gate.max_total = iserver.max_connections
            gate.per_address = s.max_connections_per_address
        if self._users is not None:
            self._users.max_sessions = s.max_sessions
            self._users.reserved_write = s.reserved_write_sessions

    async def _build(self) -> PlantOpcServer:
        s = self._settings
        data_dir = s.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        _, rejected = pki_dirs(data_dir)
        s.trusted_dir().mkdir(parents=True, exist_ok=True)

        users = PlantUserManager(
            s.users,
            s.allow_anonymous,
            max_sessions=s.max_sessions,
            reserved_write=s.reserved_write_sessions,
            active_sessions=lambda: InternalSession._current_connections,
        )
        self._users = users
        server = PlantOpcServer(user_manager=users)
        server.handshake_s = HANDSHAKE_S
        server.iserver.bind_condition_methods = True  # ConditionRefresh for alarm clients
        server.iserver.history_manager.set_storage(PlantHistory(str(data_dir / "history.sqlite")))
        server.limits = TransportLimits(
            max_recv_buffer=CHUNK_BYTES,
            max_send_buffer=CHUNK_BYTES,
            max_chunk_count=MAX_MESSAGE_BYTES // CHUNK_BYTES + 1,
            max_message_size=MAX_MESSAGE_BYTES,
        )
        iserver = server.iserver
        self._session_limits(server, s)
        iserver.max_pending_activation_seconds = PENDING_ACTIVATION_S
        self._budgets = oplimits.AddressBudgets(s.node_operations_per_s_per_address)
        oplimits.install(iserver, self._budgets)
        # asyncua turns a requested queue size of 0 into this cap and then queues every
        # change; OPC UA says 0 means 1 (latest value only). 1 bounds the memory and CPU
        # a subscription can claim; every value's history is in HistoryRead anyway.
        iserver.max_monitored_item_queue_size = MAX_QUEUE_PER_ITEM
        await server.init()
        await oplimits.publish(server)
        server.set_endpoint(s.endpoint_url)
        server.set_server_name(s.server_name)
        server.product_uri = "urn:heat-recovery:controller"
        server.manufacturer_name = "heat-recovery"
        await server.set_application_uri(s.application_uri)
        await server.set_build_info(
            server.product_uri,
            server.manufacturer_name,
            s.server_name,
            __version__,
            "0",
            datetime.now(UTC),
        )

        self._cert = await asyncio.to_thread(
            ensure_server_certificate,
            data_dir,
            s.application_uri,
            s.server_name,
            [socket.gethostname(), "localhost"],
        )
        await server.load_certificate(str(self._cert.cert_path))
        await server.load_private_key(str(self._cert.key_path))
        policies = [
            ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
            ua.SecurityPolicyType.Basic256Sha256_Sign,
        ]
        if s.allow_none_security:
            policies.append(ua.SecurityPolicyType.NoSecurity)
        # asyncua's hint names its SimpleRoleRuleset; it takes any PermissionRuleset.
        server.set_security_policy(policies, permission_ruleset=PlantRuleset())  # type: ignore[arg-type]
        tokens: list[type] = [ua.UserNameIdentityToken]
        if s.allow_anonymous:
            tokens.append(ua.AnonymousIdentityToken)
        server.set_identity_tokens(tokens)
        trust = ClientTrust(s.trusted_dir(), rejected)
        await trust.refresh()
        server.set_certificate_validator(trust)
        if not trust.strict:
            log.warning("opcua.client_certificates_unrestricted", folder=str(s.trusted_dir()))

        plant = await build_address_space(server, self._shape)
        self._plant = plant
        guard = SetpointGuard(
            plant,
            iserver.aspace,
            iserver.attribute_service.write,
            self._accept_setpoint,
            self._clock,
        )
        iserver.attribute_service.write = guard.write  # type: ignore[method-assign]
        self._guard = guard
        self._alarms = AlarmPublisher(server, plant, self._accept_ack)
        await self._alarms.setup()
        historized = [
            server.get_node(n.nodeid) for n in plant.points.values() if n.point.historized
        ]
        await server.historize_node_data_change(historized, period=timedelta(days=s.history_days))
        return server


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and finish what is still pending, so closing the loop reports nothing."""
    left = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in left:
        t.cancel()
    if left:
        loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
