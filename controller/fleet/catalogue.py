"""Which metrics a site publishes, on which Sparkplug device, with which alias.

The metric names are the browse paths of DESIGN.md section 5 (``HeatPump/COP``), so
the central host can rebuild each site's OPC UA tree from the birth certificates
alone: the birth carries each metric's data type and, as properties, what the
address space needs (kind, unit, EURange, state texts, write access, array length).

Devices are the plant units: ``CDU01``, ``HeatPump``, ``BufferTank``, ``P1A``...
Status, energy, alarms, the scan counters and the ledger belong to the edge node
itself. Aliases are numbered in this fixed order, unique across the node and its
devices (spec 6.4.4), and stay the same for the same plant shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from controller.fleet.sparkplug import BDSEQ, REBIRTH, Column, DataType
from controller.opcua.points import Kind, PlantShape, PointDef
from controller.signaltable import SIGNALS, Signal, plant_points

NODE_OBJECTS = frozenset({"Status", "Energy", "Alarms"})

DATATYPE_OF_KIND: dict[Kind, int] = {
    Kind.ANALOG: DataType.DOUBLE,
    Kind.ANALOG_ARRAY: DataType.DOUBLE_ARRAY,
    Kind.TWO_STATE: DataType.BOOLEAN,
    Kind.MULTI_STATE: DataType.UINT16,
    Kind.STRING: DataType.STRING,
    Kind.INT32: DataType.INT32,
    Kind.UINT32: DataType.UINT32,
    Kind.STRING_ARRAY: DataType.STRING_ARRAY,
}

LEDGER_METRIC = "Ledger/Intervals"
"""NDATA metric: closed 15-minute ledger rows, a DataSet, one row per interval."""
LEDGER_ACK_METRIC = "Ledger/Stored"
"""NCMD metric from the host: Int64Array of the interval starts it has committed."""
SCAN_CYCLES = "Scan/Cycles"
SCAN_OVERRUNS = "Scan/Overruns"


@dataclass(frozen=True, slots=True)
class MetricDef:
    name: str
    alias: int
    datatype: int
    device: str | None  # None: the edge node itself
    point: PointDef | None = None  # the section 5 variable it mirrors
    deadband: float = 0.0  # absolute, for doubles

    def properties(self) -> dict[str, object]:
        p = self.point
        if p is None:
            return {}
        props: dict[str, object] = {"kind": p.kind.value, "description": p.description}
        if p.unit:
            props["engUnit"] = p.unit
        if p.eu_range is not None:
            props["engLow"], props["engHigh"] = p.eu_range
        if p.states:
            props["states"] = "|".join(p.states)
        if p.writable:
            props["writable"] = True
        if p.length:
            props["length"] = p.length
        return props


def point_from_birth(name: str, props: dict[str, object]) -> PointDef:
    """The section 5 variable a birth metric describes (the host's side of ``properties``)."""
    kind = Kind(str(props["kind"]))
    lo, hi = props.get("engLow"), props.get("engHigh")
    states = str(props.get("states", ""))
    length = props.get("length", 0)
    return PointDef(
        path=name,
        kind=kind,
        description=str(props.get("description", "")),
        unit=str(props["engUnit"]) if "engUnit" in props else None,
        eu_range=(float(lo), float(hi))
        if isinstance(lo, int | float) and isinstance(hi, int | float)
        else None,
        states=tuple(states.split("|")) if states else (),
        writable=bool(props.get("writable", False)),
        length=int(length) if isinstance(length, int) else 0,
    )


def device_of(path: str) -> str | None:
    """The Sparkplug device a section 5 path belongs to (None: the edge node)."""
    parts = path.split("/")
    if parts[0] in NODE_OBJECTS:
        return None
    if parts[0] in ("CDUs", "Pumps"):
        return parts[1]
    return parts[0]


@dataclass(frozen=True, slots=True)
class Catalogue:
    metrics: tuple[MetricDef, ...]
    by_name: dict[str, MetricDef] = field(default_factory=dict)
    devices: tuple[str, ...] = ()

    def of_device(self, device: str | None) -> list[MetricDef]:
        return [m for m in self.metrics if m.device == device]


def build_catalogue(
    shape: PlantShape, deadband_pct: float, table: Sequence[Signal] = SIGNALS
) -> Catalogue:
    """Every metric of the site, aliases 1.. in a fixed order (0 is left unused): the
    rows of the site's signal table that OPC UA publishes, under their browse paths."""
    defs: list[MetricDef] = []

    def add(name: str, dt: int, device: str | None, point: PointDef | None = None) -> None:
        db = 0.0
        if point is not None and point.eu_range is not None and dt == DataType.DOUBLE:
            lo, hi = point.eu_range
            db = (hi - lo) * deadband_pct / 100.0
        defs.append(MetricDef(name, len(defs) + 1, dt, device, point, db))

    add(BDSEQ, DataType.INT64, None)
    add(REBIRTH, DataType.BOOLEAN, None)
    add(SCAN_CYCLES, DataType.UINT64, None)
    add(SCAN_OVERRUNS, DataType.UINT64, None)
    add(LEDGER_METRIC, DataType.DATASET, None)
    for p in plant_points(shape, table):
        add(p.path, DATATYPE_OF_KIND[p.kind], device_of(p.path), p)
    devices = tuple(dict.fromkeys(m.device for m in defs if m.device is not None))
    return Catalogue(tuple(defs), {m.name: m for m in defs}, devices)


LEDGER_COLUMNS_INT = frozenset({"start", "end"})
LEDGER_COLUMNS_STR = frozenset({"day", "kind", "flags"})
LEDGER_COLUMNS_BOOL = frozenset({"mismatch"})


def ledger_columns(names: tuple[str, ...]) -> list[Column]:
    """The DataSet columns of a ledger row: every column of ``ClosedInterval``."""
    out = []
    for n in names:
        if n in LEDGER_COLUMNS_INT:
            dt = DataType.INT64
        elif n in LEDGER_COLUMNS_STR:
            dt = DataType.STRING
        elif n in LEDGER_COLUMNS_BOOL:
            dt = DataType.BOOLEAN
        else:
            dt = DataType.DOUBLE
        out.append(Column(n, dt))
    return out
