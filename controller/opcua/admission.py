"""Which TCP connections the OPC UA server holds, so the utility's SCADA always gets in.

Why: asyncua refuses a connection once it holds ``max_connections``, and it keeps
a connection that never says Hello for 10 s. About 110 half-open sockets from
one host locked the utility out for as long as they were held. Here:

* each source address may hold at most ``per_address`` connections (one host
  cannot take the server's capacity);
* beyond ``max_total`` a newcomer displaces the oldest connection that has not
  activated a session, taken from the address holding the most connections, so a
  flood from many addresses still leaves room for a client that completes its
  handshake; established sessions are never displaced;
* a connection must open its secure channel within the handshake deadline and
  activate a session within the activation deadline (enforced by the protocol).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Protocol


class Held(Protocol):
    """What the gate needs of a connection."""

    host: str

    def activated(self) -> bool: ...

    def displace(self, reason: str) -> None: ...


class ConnectionGate:
    """Admits and forgets connections; all calls come from the server's event loop."""

    def __init__(
        self,
        max_total: int,
        per_address: int,
        on_refuse: Callable[[str, str], object] = lambda host, cause: None,
    ) -> None:
        self.max_total = max_total
        self.per_address = per_address
        self._on_refuse = on_refuse
        self._held: dict[Held, None] = {}  # insertion order = age

    def __len__(self) -> int:
        return len(self._held)

    def admit(self, conn: Held) -> bool:
        """Take ``conn`` in (True) or refuse it (False; the caller closes it)."""
        per_host = Counter(c.host for c in self._held)
        if per_host[conn.host] >= self.per_address:
            self._on_refuse(conn.host, "too many connections from one address")
            return False
        if len(self._held) >= self.max_total:
            victim = self._oldest_pending(per_host)
            if victim is None:
                self._on_refuse(conn.host, "server full of established sessions")
                return False
            self.forget(victim)
            victim.displace("displaced by a newer connection: server at its connection limit")
        self._held[conn] = None
        return True

    def forget(self, conn: Held) -> None:
        self._held.pop(conn, None)

    def _oldest_pending(self, per_host: Counter[str]) -> Held | None:
        pending = [c for c in self._held if not c.activated()]
        if not pending:
            return None
        busiest = max(per_host[c.host] for c in pending)
        return next(c for c in pending if per_host[c.host] == busiest)
