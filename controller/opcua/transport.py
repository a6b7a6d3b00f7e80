"""Hardening of asyncua's TCP server against clients that send rubbish or hold sockets.

asyncua 2.1 buffers a message until the size its header announces has arrived,
without comparing that size to the transport limits, and appends every read to
one bytes object. Eight bytes of garbage can announce a 4 GB message, and the
server then copies an ever-growing buffer on every read: memory and CPU for
nothing, and the copying holds the GIL the scan thread needs. Here a frame header
is checked as soon as its 8 bytes are in: an unknown message type, an unknown
chunk type or a size beyond the receive-buffer limit (64 KiB per chunk, as
negotiated in Hello) closes the connection at once.

What else the guarded protocol adds to asyncua's:

* admission (``admission.ConnectionGate``): per-address and overall bounds, so a
  flood of half-open sockets cannot lock the utility out;
* a handshake deadline: the secure channel must be open within
  ``handshake_s`` (asyncua waits for ActivateSession only, 10 s here);
* a session dies with its connection. asyncua keeps a session with
  subscriptions alive after its TCP connection is lost, for a client that would
  transfer it; clients reconnect with a new session anyway (asyncua's does), and
  50 abandoned sessions held every slot for the session timeout;
* a message that makes asyncua raise closes the connection and is counted as an
  incident, once per source and cause in the log (``controller.incidents``),
  instead of one traceback per message;
* the peer address is known to the login check (``security.current_peer``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

from asyncua import Server
from asyncua.crypto import uacrypto
from asyncua.server.binary_server_asyncio import BinaryServer, OPCUAProtocol
from asyncua.server.uaprocessor import UaProcessor

from controller.incidents import INCIDENTS
from controller.opcua.admission import ConnectionGate
from controller.opcua.security import current_peer

SUBSYSTEM = "opcua"
_TYPES = frozenset({b"HEL", b"ACK", b"ERR", b"RHE", b"OPN", b"CLO", b"MSG"})
_CHUNKS = frozenset({b"F", b"C", b"A"})
_HEADER = struct.Struct("<3scI")


class ReclaimingProcessor(UaProcessor):
    """Closes the session when its connection is lost, subscriptions or not."""

    def _should_close_session_on_transport_loss(self) -> bool:
        return self.session is not None


class GuardedProtocol(OPCUAProtocol):
    gate: ConnectionGate
    handshake_s: float

    def __init__(self, *args: Any, gate: ConnectionGate, handshake_s: float, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.gate = gate
        self.handshake_s = handshake_s
        self.host = ""
        self._deadline: asyncio.TimerHandle | None = None

    # -- admission ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.peer_name = transport.get_extra_info("peername")
        self.host = str(self.peer_name[0]) if self.peer_name else ""
        if not self.gate.admit(self):
            if isinstance(transport, asyncio.Transport):  # TCP: drop without a goodbye
                transport.abort()
            else:
                transport.close()
            return
        self.transport = transport  # type: ignore[assignment]
        self.processor = ReclaimingProcessor(self.iserver, self.transport, self.limits)
        self.processor.set_policies(self.policies)
        self.iserver.asyncio_transports.append(transport)
        self.clients.append(self)
        self._task = asyncio.create_task(self._process_received_message_loop())
        if self.iserver.max_pending_activation_seconds > 0:
            self._activation_watchdog_task = asyncio.create_task(self._activation_watchdog())
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self.handshake_s, self._handshake_deadline)

    def connection_lost(self, ex: BaseException | None) -> None:
        self.gate.forget(self)
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(ex)

    def activated(self) -> bool:
        p = self.processor
        return p is not None and p.session is not None and p.session.is_activated()

    def displace(self, reason: str) -> None:
        INCIDENTS.record(SUBSYSTEM, reason, self.host)
        self._close()

    def _handshake_deadline(self) -> None:
        p = self.processor
        if self.transport is not None and p is not None and not p._connection.is_open():
            INCIDENTS.record(SUBSYSTEM, "no secure channel by the handshake deadline", self.host)
            self._close()

    def _close(self) -> None:
        self._buffer = b""
        if self.transport is not None:
            self.transport.abort()

    # -- frames -------------------------------------------------------------------------

    def _header_ok(self, buf: bytes) -> bool:
        if len(buf) < _HEADER.size:
            return True
        mtype, chunk, size = _HEADER.unpack_from(buf)
        return mtype in _TYPES and chunk in _CHUNKS and 8 <= size <= self.limits.max_recv_buffer

    def data_received(self, data: bytes) -> None:
        if self.transport is None:
            return
        buf = self._buffer
        head = buf[: _HEADER.size] if len(buf) >= _HEADER.size else buf + data[: _HEADER.size]
        if not self._header_ok(head):
            self._drop()
            return
        super().data_received(data)
        if self.transport is not None and not self._header_ok(self._buffer[: _HEADER.size]):
            self._drop()

    def _drop(self) -> None:
        INCIDENTS.record(SUBSYSTEM, "malformed or oversized frame", self.host)
        self._close()

    # -- messages -----------------------------------------------------------------------

    async def _process_received_message_loop(self) -> None:
        current_peer.set(self.host)
        while True:
            header, buf = await self.messages.get()
            if header is None and buf is None:
                break
            try:
                if not await self._process_one_msg(header, buf):
                    break
            except Exception as exc:
                # asyncua answers what it can with a ServiceFault; what escapes is a
                # message it could not make sense of: the connection is not usable.
                cause = f"unprocessable message: {type(exc).__name__}"
                INCIDENTS.record(SUBSYSTEM, cause, self.host)
                self._close()
                break


class GuardedBinaryServer(BinaryServer):
    def __init__(self, *args: Any, gate: ConnectionGate, handshake_s: float, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.gate = gate
        self.handshake_s = handshake_s

    def _make_protocol(self) -> OPCUAProtocol:
        return GuardedProtocol(
            iserver=self.iserver,
            policies=self._policies,
            clients=self.clients,
            closing_tasks=self.closing_tasks,
            limits=self.limits,
            gate=self.gate,
            handshake_s=self.handshake_s,
        )

    def drop_where(self, predicate: Any) -> int:
        """Close every client connection whose session's user matches (e.g. a removed user)."""
        n = 0
        for proto in list(self.clients):
            session = proto.processor.session if proto.processor is not None else None
            if session is not None and predicate(session.user):
                if proto.transport is not None:
                    proto.transport.abort()
                n += 1
        return n


class PlantOpcServer(Server):
    """asyncua's Server with the guarded transport (``start`` as in asyncua 2.1)."""

    max_connections_per_address = 10
    handshake_s = 3.0

    async def start(self) -> None:
        if self.iserver.certificate is not None:
            uacrypto.check_certificate(
                self.iserver.certificate, self._application_uri, socket.gethostname()
            )
        await self._setup_server_nodes()
        await self.iserver.start()
        try:
            host, port = self._get_bind_socket_info()
            gate = ConnectionGate(
                self.iserver.max_connections,
                self.max_connections_per_address,
                on_refuse=lambda h, cause: INCIDENTS.record(SUBSYSTEM, cause, h),
            )
            self.bserver = GuardedBinaryServer(
                self.iserver, host, port, self.limits, gate=gate, handshake_s=self.handshake_s
            )
            self.bserver.set_policies(self._policies)
            await self.bserver.start()
        except Exception:
            await self.iserver.stop()
            raise

    async def stop(self) -> None:
        # History writes asyncua fires and forgets would run after it closes the
        # database ("Cannot operate on a closed database", one per write in flight):
        # let them finish first.
        saves = [t for t in asyncio.all_tasks() if _is_history_write(t) and not t.done()]
        if saves:
            await asyncio.wait(saves, timeout=2.0)
        await super().stop()
        # Tasks asyncua leaves behind (session watchdogs of abandoned sessions, closing
        # tasks): cancel and await them, or the loop's close reports each one as
        # "Task was destroyed but it is pending".
        current = asyncio.current_task()
        left = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        for t in left:
            t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait(left, timeout=2.0) if left else None


def _is_history_write(task: asyncio.Task[Any]) -> bool:
    name = getattr(task.get_coro(), "__qualname__", "")
    return name.endswith(("save_node_value", "save_event"))
