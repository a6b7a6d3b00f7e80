"""asyncua's wire values from plain Python values, typed as asyncua's hints name them.

asyncua annotates node identifiers, namespace indices, status codes and timestamps
with its own marker subclasses (``ua.Int32``, ``ua.String``, ``ua.Int16``,
``ua.UInt32``, ``ua.DateTime``), while its constants (``ua.ObjectIds``,
``ua.StatusCodes``) and its own code use plain ints, strs and datetimes, which it
encodes alike. These helpers state that once, without changing the value, so the
OPC UA modules type-check without ignores.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from asyncua import ua


def node_id(identifier: int | str, ns: int = 0) -> ua.NodeId:
    """A numeric (``ua.ObjectIds``) or string node id in namespace ``ns``."""
    ident = (
        cast(ua.Int32, identifier) if isinstance(identifier, int) else cast(ua.String, identifier)
    )
    return ua.NodeId(ident, cast(ua.Int16, ns))


def property_id(parent: ua.NodeId, name: str) -> ua.NodeId:
    """The node id of a property or argument node: ``<parent's string id>.<name>``."""
    ident = parent.Identifier
    if not isinstance(ident, str):
        raise TypeError(f"{parent}: properties hang only under string node ids")
    return node_id(f"{ident}.{name}", parent.NamespaceIndex)


def status_code(code: int) -> ua.StatusCode:
    """A status from a ``ua.StatusCodes`` constant."""
    return ua.StatusCode(cast(ua.UInt32, code))


def ua_time(t: datetime) -> ua.DateTime:
    """A DataValue timestamp (asyncua encodes any aware datetime)."""
    return cast(ua.DateTime, t)
