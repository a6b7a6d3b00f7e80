"""The one way a SCADA client changes the plant: the three DH setpoints, checked item by item.

Why this replaces ``attribute_service.write`` for client sessions (libraries.md,
section 2): a setter that raises turns the whole WriteRequest into a ServiceFault,
so a SCADA writing demand and setpoint together could not tell which one was
wrong. Here every item gets its own status code, and every item, accepted or
refused, is an audit record naming the user, the node, the value and the result.

Order of the checks: node and attribute, then the role (an unauthorised user
learns nothing about types or limits), then the type (exactly the node's data
type: a Float or an integer sent to a Double setpoint is BadTypeMismatch), then
the range (EURange of the node, from the site's limits; NaN and infinities are
out of range). Only the value is taken from the request: status code and
timestamps are the server's.

The server's own writes (initial values, history bookkeeping) come from the
internal session, whose user is not a plant user, and pass through unchanged.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from asyncua import ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.address_space import AddressSpace

from controller.opcua.addressspace import Kind, PlantAddressSpace, PointNode
from controller.opcua.audit import audit
from controller.opcua.model import SetpointWrite
from controller.opcua.security import PlantUser
from controller.opcua.uatyped import status_code, ua_time

WriteFn = Callable[..., Awaitable[list[ua.StatusCode]]]
_MAX_LOGGED_CHARS = 80
_INTERNAL = User(role=UserRole.Admin)  # asyncua's default for server-side writes


def _short(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = repr(value)
    return text if len(text) <= _MAX_LOGGED_CHARS else text[:_MAX_LOGGED_CHARS] + "..."


class SetpointGuard:
    """Installed as ``iserver.attribute_service.write``."""

    def __init__(
        self,
        plant: PlantAddressSpace,
        aspace: AddressSpace,
        original: WriteFn,
        on_accept: Callable[[SetpointWrite], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._setpoints = plant.setpoints()
        self._paths = {n.nodeid: path for path, n in plant.points.items()}
        self._aspace = aspace
        self._original = original
        self._on_accept = on_accept
        self._clock = clock
        self.accepted = 0
        self.refused = 0

    async def write(
        self, params: ua.WriteParameters, user: User = _INTERNAL
    ) -> list[ua.StatusCode]:
        if not isinstance(user, PlantUser):
            return await self._original(params, user=user)
        return [await self._write_one(item, user) for item in params.NodesToWrite]

    async def _write_one(self, item: ua.WriteValue, user: PlantUser) -> ua.StatusCode:
        node = self._setpoints.get(item.NodeId)
        variant = item.Value.Value if item.Value is not None else None
        raw = variant.Value if variant is not None else None
        code = self._check(item, node, variant, user)
        if code is not None or node is None or raw is None:  # _check refuses a null value
            return self._refuse(item, user, raw, code or ua.StatusCodes.BadNotWritable)
        now = self._clock()
        stamp = datetime.fromtimestamp(now, UTC)
        old = self._aspace.read_attribute_value(node.nodeid, ua.AttributeIds.Value)
        dv = ua.DataValue(
            ua.Variant(raw, node.point.variant_type),
            StatusCode=status_code(ua.StatusCodes.Good),
            SourceTimestamp=ua_time(stamp),
            ServerTimestamp=ua_time(stamp),
        )
        status = await self._aspace.write_attribute_value(node.nodeid, ua.AttributeIds.Value, dv)
        if not status.is_good():
            return self._refuse(item, user, raw, status.value)
        self._on_accept(SetpointWrite(node.point.name, raw, user.name or "", now))
        self.accepted += 1
        audit().info(
            "opcua.write",
            result="accepted",
            user=user.name,
            role=user.plant_role,
            node=node.point.path,
            value=raw,
            previous=old.Value.Value if old.Value is not None else None,
        )
        return status_code(ua.StatusCodes.Good)

    def _check(
        self,
        item: ua.WriteValue,
        node: PointNode | None,
        variant: ua.Variant | None,
        user: PlantUser,
    ) -> int | None:
        """The refusal code, or None when the write may go ahead."""
        if node is None:
            known = item.NodeId in self._aspace
            return ua.StatusCodes.BadNotWritable if known else ua.StatusCodes.BadNodeIdUnknown
        if item.AttributeId != ua.AttributeIds.Value:
            return ua.StatusCodes.BadNotWritable
        if item.IndexRange:
            return ua.StatusCodes.BadWriteNotSupported
        if not user.may_write:
            return ua.StatusCodes.BadUserAccessDenied
        p = node.point
        if (
            variant is None
            or variant.VariantType != p.variant_type
            or isinstance(variant.Value, list | tuple)
            or variant.Value is None
        ):
            return ua.StatusCodes.BadTypeMismatch
        if p.kind is Kind.ANALOG and p.eu_range is not None:
            lo, hi = p.eu_range
            v = variant.Value
            if not (math.isfinite(v) and lo <= v <= hi):
                return ua.StatusCodes.BadOutOfRange
        return None

    def _refuse(self, item: ua.WriteValue, user: PlantUser, raw: Any, code: int) -> ua.StatusCode:
        status = status_code(code)
        self.refused += 1
        audit().warning(
            "opcua.write",
            result=status.name,
            user=user.name,
            role=user.plant_role,
            node=self._paths.get(item.NodeId, item.NodeId.to_string()),
            attribute=int(item.AttributeId),
            value=_short(raw),
        )
        return status
