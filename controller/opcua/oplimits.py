"""How much one request may ask of the server: the OPC UA operation limits, enforced.

Why: a Read of 100,000 nodes is a legal request, and asyncua serves it in one go,
holding the server thread (and, through the GIL, the scan thread) for tens of
milliseconds; the mean scan cycle went from 6 to 74 ms. Each service here takes
at most ``MAX_NODES_PER_REQUEST`` items (more is ``BadTooManyOperations``, as
Part 4 prescribes), and the limits are published under
Server/ServerCapabilities/OperationLimits so a client can split its requests.
The message-size limit (``server.MAX_MESSAGE_BYTES``) bounds the decoding that
happens before these checks.

A second bound is on rate: every source address gets a budget of node operations
per second (nodes read, browsed, translated, registered, monitored; a token bucket
holding one second's worth) for the sessions that may not write. A request beyond
the budget is served late, not refused: the connection waits, the server does not
work, so a client reading as fast as it can from one address takes a bounded share
of the server and the utility's requests (never metered) are served at once. In
the soak, two sessions reading 1000 nodes back to back otherwise kept the server
saturated and the utility's reads took up to 2.4 s.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from asyncua import Server, ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.internal_server import InternalServer
from asyncua.server.internal_session import InternalSession

MAX_NODES_PER_REQUEST = 1000
MAX_MONITORED_ITEMS_PER_CALL = 1000

_LIMITS = "Server_ServerCapabilities_OperationLimits_"
PUBLISHED = {
    getattr(ua.ObjectIds, _LIMITS + name): value
    for name, value in (
        ("MaxNodesPerRead", MAX_NODES_PER_REQUEST),
        ("MaxNodesPerHistoryReadData", MAX_NODES_PER_REQUEST),
        ("MaxNodesPerHistoryReadEvents", MAX_NODES_PER_REQUEST),
        ("MaxNodesPerWrite", MAX_NODES_PER_REQUEST),
        ("MaxNodesPerMethodCall", MAX_NODES_PER_REQUEST),
        ("MaxNodesPerBrowse", MAX_NODES_PER_REQUEST),
        ("MaxNodesPerRegisterNodes", MAX_NODES_PER_REQUEST),
        ("MaxNodesPerTranslateBrowsePathsToNodeIds", MAX_NODES_PER_REQUEST),
        ("MaxMonitoredItemsPerCall", MAX_MONITORED_ITEMS_PER_CALL),
    )
}


def _bound(items: list[Any] | None, limit: int = MAX_NODES_PER_REQUEST) -> None:
    if items is not None and len(items) > limit:
        raise ServiceError(ua.StatusCodes.BadTooManyOperations)


class AddressBudgets:
    """Node operations per second per source address: one token bucket each."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._buckets: dict[str, tuple[float, float]] = {}  # host -> (tokens, at)

    def delay(self, host: str, ops: int) -> float:
        """Seconds to wait before serving ``ops`` operations for ``host`` (debits them)."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        if len(self._buckets) > 10_000:  # an address flood must not grow this forever
            self._buckets.clear()
        tokens, at = self._buckets.get(host, (self.rate, now))
        tokens = min(self.rate, tokens + (now - at) * self.rate) - ops
        self._buckets[host] = (tokens, now)
        return 0.0 if tokens >= 0 else -tokens / self.rate


class LimitedSession(InternalSession):
    """asyncua's session with every multi-item service bounded."""

    budgets: AddressBudgets | None = None

    async def _meter(self, items: list[Any] | None) -> None:
        budgets = self.budgets
        if budgets is None or not items or getattr(self.user, "may_write", False):
            return
        host = str(self.name[0]) if isinstance(self.name, tuple) and self.name else str(self.name)
        wait = budgets.delay(host, len(items))
        if wait > 0:
            await asyncio.sleep(wait)

    async def read(self, params: ua.ReadParameters) -> list[ua.DataValue]:
        _bound(params.NodesToRead)
        await self._meter(params.NodesToRead)
        return await super().read(params)

    async def history_read(self, params: ua.HistoryReadParameters) -> list[ua.HistoryReadResult]:
        _bound(params.NodesToRead)
        await self._meter(params.NodesToRead)
        return await super().history_read(params)

    async def write(self, params: ua.WriteParameters) -> list[ua.StatusCode]:
        _bound(params.NodesToWrite)
        return await super().write(params)

    async def browse(self, params: ua.BrowseParameters) -> list[ua.BrowseResult]:
        _bound(params.NodesToBrowse)
        await self._meter(params.NodesToBrowse)
        return await super().browse(params)

    async def browse_next(self, parameters: ua.BrowseNextParameters) -> list[ua.BrowseResult]:
        _bound(parameters.ContinuationPoints)
        return await super().browse_next(parameters)

    async def register_nodes(self, nodes: list[ua.NodeId]) -> list[ua.NodeId]:
        _bound(nodes)
        await self._meter(nodes)
        return await super().register_nodes(nodes)

    async def translate_browsepaths_to_nodeids(self, params: list[ua.BrowsePath]) -> Any:
        _bound(params)
        await self._meter(params)
        return await super().translate_browsepaths_to_nodeids(params)

    async def call(self, params: list[ua.CallMethodRequest]) -> list[ua.CallMethodResult]:
        _bound(params)
        return await super().call(params)

    async def create_monitored_items(self, params: ua.CreateMonitoredItemsParameters) -> Any:
        _bound(params.ItemsToCreate, MAX_MONITORED_ITEMS_PER_CALL)
        await self._meter(params.ItemsToCreate)
        return await super().create_monitored_items(params)

    async def modify_monitored_items(self, params: ua.ModifyMonitoredItemsParameters) -> Any:
        _bound(params.ItemsToModify, MAX_MONITORED_ITEMS_PER_CALL)
        return await super().modify_monitored_items(params)

    async def delete_monitored_items(self, params: ua.DeleteMonitoredItemsParameters) -> Any:
        _bound(params.MonitoredItemIds, MAX_MONITORED_ITEMS_PER_CALL)
        return await super().delete_monitored_items(params)


_ANONYMOUS = User(role=UserRole.Anonymous)


def install(iserver: InternalServer, budgets: AddressBudgets) -> None:
    """Client sessions become ``LimitedSession`` (the server's own session is unbounded)."""

    def create_session(
        name: str, user: User = _ANONYMOUS, external: bool = False
    ) -> InternalSession:
        subs = iserver.subscription_service
        if not external:
            return InternalSession(iserver, iserver.aspace, subs, name, user=user)
        session = LimitedSession(iserver, iserver.aspace, subs, name, user=user, external=True)
        session.budgets = budgets
        return session

    iserver.create_session = create_session  # type: ignore[method-assign]


async def publish(server: Server) -> None:
    """Write the limits into ServerCapabilities/OperationLimits."""
    for node_id, value in PUBLISHED.items():
        await server.write_attribute_value(
            ua.NodeId(node_id), ua.DataValue(ua.Variant(value, ua.VariantType.UInt32))
        )
