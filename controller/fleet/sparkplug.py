"""Sparkplug B 3.0 on the wire: topics, data types, metric values, payloads.

Shared by the edge node (controller side) and the central host (``fleet``), so both
read and write the same encoding. The payload is the protobuf ``Payload`` of the
specification (``sparkplug_b_pb2``, generated from ``proto/sparkplug_b.proto``);
this module only adds what protobuf cannot know: which oneof field carries which
data type, and the 3.0 array encodings (little-endian packed numbers in
``bytes_value``; strings NUL-terminated, one after the other).
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from controller.fleet import sparkplug_b_pb2 as pb

NAMESPACE = "spBv1.0"
Payload = pb.Payload
Metric = pb.Payload.Metric

_ID = re.compile(r"^[^/+#\s]{1,128}$")
"""Group, edge node and device ids: MQTT topic levels, no wildcards (spec 4.1.1)."""


class DataType:
    """Sparkplug B 3.0 data type codes (the ``DataType`` enum of the .proto)."""

    INT32 = pb.Int32
    INT64 = pb.Int64
    UINT16 = pb.UInt16
    UINT32 = pb.UInt32
    UINT64 = pb.UInt64
    DOUBLE = pb.Double
    BOOLEAN = pb.Boolean
    STRING = pb.String
    DATASET = pb.DataSet
    INT64_ARRAY = pb.Int64Array
    DOUBLE_ARRAY = pb.DoubleArray
    STRING_ARRAY = pb.StringArray


class MessageType(StrEnum):
    NBIRTH = "NBIRTH"
    NDEATH = "NDEATH"
    NDATA = "NDATA"
    NCMD = "NCMD"
    DBIRTH = "DBIRTH"
    DDEATH = "DDEATH"
    DDATA = "DDATA"
    DCMD = "DCMD"


REBIRTH = "Node Control/Rebirth"
BDSEQ = "bdSeq"


def valid_id(name: str) -> bool:
    return bool(_ID.match(name))


def check_id(kind: str, name: str) -> str:
    if not valid_id(name):
        raise ValueError(
            f"{kind} {name!r} is not a valid Sparkplug id (1-128 characters, no '/', '+', "
            "'#' or spaces)"
        )
    return name


def topic(group: str, kind: MessageType, node: str, device: str | None = None) -> str:
    base = f"{NAMESPACE}/{group}/{kind}/{node}"
    return base if device is None else f"{base}/{device}"


def state_topic(host_id: str) -> str:
    return f"{NAMESPACE}/STATE/{host_id}"


@dataclass(frozen=True, slots=True)
class Topic:
    group: str
    kind: MessageType
    node: str
    device: str | None


def parse_topic(text: str) -> Topic | None:
    """A Sparkplug data topic, or None for anything else (STATE, foreign namespaces)."""
    parts = text.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE:
        return None
    try:
        kind = MessageType(parts[2])
    except ValueError:
        return None
    return Topic(parts[1], kind, parts[3], parts[4] if len(parts) == 5 else None)


# ---------------------------------------------------------------------- values
def _pack(fmt: str, values: Sequence[Any]) -> bytes:
    return struct.pack(f"<{len(values)}{fmt}", *values)


def set_value(m: Any, datatype: int, value: Any) -> None:
    """Put ``value`` into the oneof field the data type uses; None sets ``is_null``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        m.is_null = True
        return
    if datatype == DataType.DOUBLE:
        m.double_value = float(value)
    elif datatype == DataType.BOOLEAN:
        m.boolean_value = bool(value)
    elif datatype == DataType.STRING:
        m.string_value = str(value)
    elif datatype in (DataType.UINT16, DataType.UINT32):
        m.int_value = int(value) % 2**32
    elif datatype == DataType.INT32:
        m.int_value = int(value) & 0xFFFFFFFF  # two's complement in a uint32 (spec 6.4.16)
    elif datatype in (DataType.INT64, DataType.UINT64):
        m.long_value = int(value) & 0xFFFFFFFFFFFFFFFF
    elif datatype == DataType.DOUBLE_ARRAY:
        m.bytes_value = _pack("d", [float(x) for x in value])
    elif datatype == DataType.INT64_ARRAY:
        m.bytes_value = _pack("q", [int(x) for x in value])
    elif datatype == DataType.STRING_ARRAY:
        m.bytes_value = b"".join(str(x).encode() + b"\0" for x in value)
    else:
        raise ValueError(f"data type {datatype} is not used by this node")


def get_value(m: Any, datatype: int) -> Any:
    """The Python value of a metric (None when null)."""
    if m.is_null:
        return None
    if datatype == DataType.DOUBLE:
        return m.double_value
    if datatype == DataType.BOOLEAN:
        return m.boolean_value
    if datatype == DataType.STRING:
        return m.string_value
    if datatype in (DataType.UINT16, DataType.UINT32):
        return m.int_value
    if datatype == DataType.INT32:
        v = m.int_value
        return v - 2**32 if v >= 2**31 else v
    if datatype == DataType.UINT64:
        return m.long_value
    if datatype == DataType.INT64:
        v = m.long_value
        return v - 2**64 if v >= 2**63 else v
    if datatype == DataType.DOUBLE_ARRAY:
        raw = m.bytes_value
        return list(struct.unpack(f"<{len(raw) // 8}d", raw))
    if datatype == DataType.INT64_ARRAY:
        raw = m.bytes_value
        return list(struct.unpack(f"<{len(raw) // 8}q", raw))
    if datatype == DataType.STRING_ARRAY:
        raw = m.bytes_value
        return [s.decode() for s in raw.split(b"\0")[:-1]] if raw else []
    if datatype == DataType.DATASET:
        return m.dataset_value
    raise ValueError(f"data type {datatype} is not understood")


# ---------------------------------------------------------------------- properties
def set_properties(m: Any, props: Mapping[str, Any]) -> None:
    """Metric properties (units, ranges...): str, bool, int or float values."""
    ps = m.properties
    for key, value in props.items():
        ps.keys.append(key)
        pv = ps.values.add()
        if isinstance(value, bool):
            pv.type, pv.boolean_value = DataType.BOOLEAN, value
        elif isinstance(value, int):
            pv.type, pv.long_value = DataType.INT64, value & 0xFFFFFFFFFFFFFFFF
        elif isinstance(value, float):
            pv.type, pv.double_value = DataType.DOUBLE, value
        else:
            pv.type, pv.string_value = DataType.STRING, str(value)


def get_properties(m: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ps = m.properties
    for key, pv in zip(ps.keys, ps.values, strict=False):
        field = pv.WhichOneof("value")
        v = getattr(pv, field) if field else None
        if pv.type == DataType.INT64 and isinstance(v, int) and v >= 2**63:
            v -= 2**64
        out[key] = v
    return out


# ---------------------------------------------------------------------- data sets
@dataclass(frozen=True, slots=True)
class Column:
    name: str
    datatype: int  # INT64, DOUBLE, STRING or BOOLEAN


def fill_dataset(ds: Any, columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> None:
    """A DataSet; a None double is sent as NaN (DataSet values cannot be null)."""
    ds.num_of_columns = len(columns)
    ds.columns.extend(c.name for c in columns)
    ds.types.extend(c.datatype for c in columns)
    for row in rows:
        r = ds.rows.add()
        for col, v in zip(columns, row, strict=True):
            e = r.elements.add()
            if col.datatype == DataType.DOUBLE:
                e.double_value = math.nan if v is None else float(v)
            elif col.datatype == DataType.INT64:
                e.long_value = int(v) & 0xFFFFFFFFFFFFFFFF
            elif col.datatype == DataType.BOOLEAN:
                e.boolean_value = bool(v)
            else:
                e.string_value = "" if v is None else str(v)


def read_dataset(ds: Any) -> list[dict[str, Any]]:
    """DataSet rows as dicts; NaN doubles come back as None."""
    cols = list(ds.columns)
    types = list(ds.types)
    if len(cols) != len(types) or (ds.num_of_columns and ds.num_of_columns != len(cols)):
        raise ValueError("data set: columns, types and num_of_columns disagree")
    out = []
    for row in ds.rows:
        if len(row.elements) != len(cols):
            raise ValueError("data set: a row has the wrong number of elements")
        d: dict[str, Any] = {}
        for name, t, e in zip(cols, types, row.elements, strict=True):
            if t == DataType.DOUBLE:
                v = e.double_value
                d[name] = None if math.isnan(v) else v
            elif t == DataType.INT64:
                v = e.long_value
                d[name] = v - 2**64 if v >= 2**63 else v
            elif t == DataType.BOOLEAN:
                d[name] = e.boolean_value
            else:
                d[name] = e.string_value
        out.append(d)
    return out


def decode(data: bytes) -> Any:
    """Parse a payload; raises ``ValueError`` on bytes that are not a Sparkplug payload."""
    p = Payload()
    try:
        p.ParseFromString(data)
    except Exception as exc:  # google.protobuf.message.DecodeError
        raise ValueError(f"not a Sparkplug B payload: {exc}") from exc
    return p
