"""Hardening of asyncua's TCP server against clients that send rubbish.

asyncua 2.1 buffers a message until the size its header announces has arrived,
without comparing that size to the transport limits, and appends every read to
one bytes object. Eight bytes of garbage can announce a 4 GB message, and the
server then copies an ever-growing buffer on every read: memory and CPU for
nothing, and the copying holds the GIL the scan thread needs. Here a frame header
is checked as soon as its 8 bytes are in: an unknown message type, an unknown
chunk type or a size beyond the receive-buffer limit (64 KiB per chunk, as
negotiated in Hello) closes the connection at once.
"""

from __future__ import annotations

import logging
import socket
import struct

from asyncua import Server
from asyncua.crypto import uacrypto
from asyncua.server.binary_server_asyncio import BinaryServer, OPCUAProtocol

_log = logging.getLogger(__name__)
_TYPES = frozenset({b"HEL", b"ACK", b"ERR", b"RHE", b"OPN", b"CLO", b"MSG"})
_CHUNKS = frozenset({b"F", b"C", b"A"})
_HEADER = struct.Struct("<3scI")


class GuardedProtocol(OPCUAProtocol):
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
        _log.warning("closing connection from %s: malformed or oversized frame", self.peer_name)
        self._buffer = b""
        if self.transport is not None:
            self.transport.close()


class GuardedBinaryServer(BinaryServer):
    def _make_protocol(self) -> OPCUAProtocol:
        return GuardedProtocol(
            iserver=self.iserver,
            policies=self._policies,
            clients=self.clients,
            closing_tasks=self.closing_tasks,
            limits=self.limits,
        )


class PlantOpcServer(Server):
    """asyncua's Server with the guarded transport (``start`` as in asyncua 2.1)."""

    async def start(self) -> None:
        if self.iserver.certificate is not None:
            uacrypto.check_certificate(
                self.iserver.certificate, self._application_uri, socket.gethostname()
            )
        await self._setup_server_nodes()
        await self.iserver.start()
        try:
            host, port = self._get_bind_socket_info()
            self.bserver = GuardedBinaryServer(self.iserver, host, port, self.limits)  # type: ignore[arg-type]
            self.bserver.set_policies(self._policies)
            await self.bserver.start()
        except Exception:
            await self.iserver.stop()
            raise
