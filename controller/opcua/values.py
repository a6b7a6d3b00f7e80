"""Readings become DataValues: the quality decides the status, never the number.

A BAD reading, or one without a usable value (None, NaN), is written as a null
value with BadNoCommunication (OPC UA Part 4, 7.7.1: with a Bad status the value is
to be ignored, and a null makes sure no client shows an old number as current).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from asyncua import ua

from controller.fieldbus.signals import Quality
from controller.opcua.model import STATUS_OF_QUALITY, Reading
from controller.opcua.points import Kind, PointDef
from controller.opcua.uatyped import status_code, ua_time

_BAD = status_code(ua.StatusCodes.BadNoCommunication)


def _convert(p: PointDef, v: Any) -> Any:
    kind = p.kind
    if kind is Kind.ANALOG:
        return float(v)
    if kind is Kind.TWO_STATE:
        return bool(v)
    if kind is Kind.STRING:
        return str(v)
    if kind is Kind.ANALOG_ARRAY:
        return [float(x) for x in v]
    if kind is Kind.UINT32:
        return int(v) % 2**32  # counters wrap like their registers do
    if kind is Kind.MULTI_STATE:
        n = int(v)
        if not 0 <= n < len(p.states):
            raise ValueError(f"state {n} has no EnumString")
        return n
    if kind is Kind.INT32:
        return int(v)
    return [str(x) for x in v]


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def datavalue_of(p: PointDef, r: Reading, now: datetime) -> ua.DataValue:
    """Reading -> DataValue: BAD (or no value) is a null value with a Bad status."""
    source = datetime.fromtimestamp(r.timestamp, UTC) if r.timestamp > 0 else now
    if r.quality is Quality.BAD or _is_missing(r.value):
        return ua.DataValue(
            ua.Variant(),
            StatusCode=_BAD,
            SourceTimestamp=ua_time(source),
            ServerTimestamp=ua_time(now),
        )
    return ua.DataValue(
        ua.Variant(_convert(p, r.value), p.variant_type),
        StatusCode=STATUS_OF_QUALITY[r.quality],
        SourceTimestamp=ua_time(source),
        ServerTimestamp=ua_time(now),
    )


def state_of(r: Reading) -> tuple[Any, Quality]:
    v = r.value
    if isinstance(v, list):
        v = tuple(v)
    return (v, r.quality)
