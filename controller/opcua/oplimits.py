"""How much one request may ask of the server: the OPC UA operation limits, enforced.

Why: a Read of 100,000 nodes is a legal request, and asyncua serves it in one go,
holding the server thread (and, through the GIL, the scan thread) for tens of
milliseconds; the mean scan cycle went from 6 to 74 ms. Each service here takes
at most ``MAX_NODES_PER_REQUEST`` items (more is ``BadTooManyOperations``, as
Part 4 prescribes), and the limits are published under
Server/ServerCapabilities/OperationLimits so a client can split its requests.
The message-size limit (``server.MAX_MESSAGE_BYTES``) bounds the decoding that
happens before these checks.
"""

from __future__ import annotations

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


class LimitedSession(InternalSession):
    """asyncua's session with every multi-item service bounded."""

    async def read(self, params: ua.ReadParameters) -> list[ua.DataValue]:
        _bound(params.NodesToRead)
        return await super().read(params)

    async def history_read(self, params: ua.HistoryReadParameters) -> list[ua.HistoryReadResult]:
        _bound(params.NodesToRead)
        return await super().history_read(params)

    async def write(self, params: ua.WriteParameters) -> list[ua.StatusCode]:
        _bound(params.NodesToWrite)
        return await super().write(params)

    async def browse(self, params: ua.BrowseParameters) -> list[ua.BrowseResult]:
        _bound(params.NodesToBrowse)
        return await super().browse(params)

    async def browse_next(self, parameters: ua.BrowseNextParameters) -> list[ua.BrowseResult]:
        _bound(parameters.ContinuationPoints)
        return await super().browse_next(parameters)

    async def register_nodes(self, nodes: list[ua.NodeId]) -> list[ua.NodeId]:
        _bound(nodes)
        return await super().register_nodes(nodes)

    async def translate_browsepaths_to_nodeids(self, params: list[ua.BrowsePath]) -> Any:
        _bound(params)
        return await super().translate_browsepaths_to_nodeids(params)

    async def call(self, params: list[ua.CallMethodRequest]) -> list[ua.CallMethodResult]:
        _bound(params)
        return await super().call(params)

    async def create_monitored_items(self, params: ua.CreateMonitoredItemsParameters) -> Any:
        _bound(params.ItemsToCreate, MAX_MONITORED_ITEMS_PER_CALL)
        return await super().create_monitored_items(params)

    async def modify_monitored_items(self, params: ua.ModifyMonitoredItemsParameters) -> Any:
        _bound(params.ItemsToModify, MAX_MONITORED_ITEMS_PER_CALL)
        return await super().modify_monitored_items(params)

    async def delete_monitored_items(self, params: ua.DeleteMonitoredItemsParameters) -> Any:
        _bound(params.MonitoredItemIds, MAX_MONITORED_ITEMS_PER_CALL)
        return await super().delete_monitored_items(params)


_ANONYMOUS = User(role=UserRole.Anonymous)


def install(iserver: InternalServer) -> None:
    """Client sessions become ``LimitedSession`` (the server's own session is unbounded)."""

    def create_session(
        name: str, user: User = _ANONYMOUS, external: bool = False
    ) -> InternalSession:
        cls = LimitedSession if external else InternalSession
        subs = iserver.subscription_service
        return cls(iserver, iserver.aspace, subs, name, user=user, external=external)

    iserver.create_session = create_session  # type: ignore[method-assign]


async def publish(server: Server) -> None:
    """Write the limits into ServerCapabilities/OperationLimits."""
    for node_id, value in PUBLISHED.items():
        await server.write_attribute_value(
            ua.NodeId(node_id), ua.DataValue(ua.Variant(value, ua.VariantType.UInt32))
        )
