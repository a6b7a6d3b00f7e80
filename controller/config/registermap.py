"""The register map: the contract between the field bus and the plant's devices.

One file (``config/registers.toml``) describes every device model's points (table,
address, data type, word order, scale, offset, unit, access, plausible range, revert
value, poll class) and every device instance (model and Modbus unit id). The
controller decodes with it and the simulator serves it, so both sides cannot drift.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator

from controller.config.strictmodel import StrictModel
from controller.config.tomlfile import load_model


class Table(StrEnum):
    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE = "discrete"

    @property
    def is_bit(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE)

    @property
    def writable(self) -> bool:
        return self in (Table.HOLDING, Table.COIL)


class DataType(StrEnum):
    BOOL = "bool"
    UINT16 = "uint16"
    INT16 = "int16"
    UINT32 = "uint32"
    INT32 = "int32"
    FLOAT32 = "float32"

    @property
    def words(self) -> int:
        return 2 if self in (DataType.UINT32, DataType.INT32, DataType.FLOAT32) else 1

    @property
    def raw_limits(self) -> tuple[float, float]:
        return _RAW_LIMITS[self]


_RAW_LIMITS: dict[DataType, tuple[float, float]] = {
    DataType.BOOL: (0, 1),
    DataType.UINT16: (0, 0xFFFF),
    DataType.INT16: (-0x8000, 0x7FFF),
    DataType.UINT32: (0, 0xFFFFFFFF),
    DataType.INT32: (-0x80000000, 0x7FFFFFFF),
    DataType.FLOAT32: (-3.4e38, 3.4e38),
}

# Raw values devices use for "not available", per type, unless a point says otherwise.
DEFAULT_SENTINELS: dict[DataType, tuple[int, ...]] = {
    DataType.BOOL: (),
    DataType.UINT16: (0xFFFF,),
    DataType.INT16: (-0x8000,),
    DataType.UINT32: (0xFFFFFFFF,),
    DataType.INT32: (-0x80000000,),
    DataType.FLOAT32: (),  # NaN and infinities are always "not available"
}


class WordOrder(StrEnum):
    BIG = "big"  # high word first (Modbus convention)
    LITTLE = "little"  # low word first (common on meters and some PLCs)


class Access(StrEnum):
    READ = "r"
    READ_WRITE = "rw"


class PollClass(StrEnum):
    FAST = "fast"  # every scan cycle
    SLOW = "slow"  # every ``slow_every`` cycles (counters, diagnostics)
    ONCE = "once"  # at start-up and after reconnect (nameplate data)


# UNECE Rec. 20 codes used on the plant, with the symbol shown to people.
UNITS: dict[str, str] = {
    "": "",
    "CEL": "°C",
    "KEL": "K",
    "KWT": "kW",
    "MAW": "MW",
    "KWH": "kWh",
    "MWH": "MWh",
    "MQH": "m³/h",
    "MTQ": "m³",
    "P1": "%",
    "SEC": "s",
    "HUR": "h",
    "BAR": "bar",
    "C62": "",  # "one": dimensionless ratio such as COP
}


class Point(StrictModel):
    """One signal of a device model, as it sits in the device's Modbus tables."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    table: Table
    address: Annotated[int, Field(ge=0, le=0xFFFF)]
    type: DataType
    word_order: WordOrder = WordOrder.BIG
    scale: float = 1.0
    offset: float = 0.0
    unit: str = ""
    access: Access = Access.READ
    range: tuple[float, float] | None = None
    revert: float | None = None
    poll: PollClass = PollClass.FAST
    sentinel: tuple[int, ...] | None = None
    rollover: int | None = Field(default=None, gt=0)
    description: str = ""

    @field_validator("scale")
    @classmethod
    def _scale_nonzero(cls, v: float) -> float:
        if v == 0:
            raise ValueError("scale must not be 0")
        return v

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, v: str) -> str:
        if v not in UNITS:
            raise ValueError(f"unknown UNECE unit code {v!r}; known: {', '.join(sorted(UNITS))}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.table.is_bit and self.type is not DataType.BOOL:
            raise ValueError(f"{self.table} points hold single bits: type must be 'bool'")
        if self.access is Access.READ_WRITE and not self.table.writable:
            raise ValueError(f"{self.table} table is read-only on Modbus; access must be 'r'")
        if self.range is not None:
            lo, hi = self.range
            if lo >= hi:
                raise ValueError(f"range [{lo}, {hi}] must have min < max")
            rlo, rhi = self.type.raw_limits
            elo, ehi = sorted((rlo * self.scale + self.offset, rhi * self.scale + self.offset))
            if self.type is not DataType.FLOAT32 and (lo < elo - 1e-9 or hi > ehi + 1e-9):
                raise ValueError(
                    f"range [{lo}, {hi}] cannot be represented by {self.type} with scale "
                    f"{self.scale} and offset {self.offset} (limits {elo:g}..{ehi:g})"
                )
        if self.access is Access.READ_WRITE:
            if self.revert is None:
                raise ValueError("every writable point needs a revert (safe) value")
            if self.range is None:
                raise ValueError(
                    "every writable point needs a range that writes are checked against"
                )
        if self.revert is not None and self.range is not None:
            lo, hi = self.range
            if not lo <= self.revert <= hi:
                raise ValueError(f"revert value {self.revert} lies outside range [{lo}, {hi}]")
        return self

    @property
    def words(self) -> int:
        """Registers (or bits, for coil/discrete tables) the point occupies."""
        return self.type.words

    @property
    def writable(self) -> bool:
        return self.access is Access.READ_WRITE

    @property
    def sentinels(self) -> tuple[int, ...]:
        return self.sentinel if self.sentinel is not None else DEFAULT_SENTINELS[self.type]

    @property
    def unit_symbol(self) -> str:
        return UNITS[self.unit]


class DeviceModel(StrictModel):
    """A device type's point table, shared by every instance of that type."""

    description: str = ""
    points: list[Point]

    @model_validator(mode="after")
    def _no_overlap(self) -> Self:
        names: set[str] = set()
        taken: dict[tuple[Table, int], str] = {}
        for p in self.points:
            if p.name in names:
                raise ValueError(f"point name {p.name!r} is used twice")
            names.add(p.name)
            for addr in range(p.address, p.address + p.words):
                other = taken.get((p.table, addr))
                if other is not None:
                    raise ValueError(
                        f"point {p.name!r} overlaps {other!r} at {p.table} address {addr}"
                    )
                if addr > 0xFFFF:
                    raise ValueError(f"point {p.name!r} runs past address 65535")
                taken[(p.table, addr)] = p.name
        return self

    def point(self, name: str) -> Point:
        for p in self.points:
            if p.name == name:
                return p
        raise KeyError(name)


class Device(StrictModel):
    """A device on the field bus: which model it is and the unit id it answers to."""

    model: str
    unit_id: Annotated[int, Field(ge=0, le=247)]
    description: str = ""


class RegisterMap(StrictModel):
    """The whole map: device models and device instances."""

    version: Annotated[int, Field(ge=1)] = 1
    models: dict[str, DeviceModel]
    devices: dict[str, Device]

    @model_validator(mode="after")
    def _devices_consistent(self) -> Self:
        seen: dict[int, str] = {}
        for name, dev in self.devices.items():
            if dev.model not in self.models:
                raise ValueError(
                    f"device {name!r} uses unknown model {dev.model!r}; "
                    f"known: {', '.join(sorted(self.models))}"
                )
            if dev.unit_id in seen:
                raise ValueError(
                    f"devices {seen[dev.unit_id]!r} and {name!r} share unit id {dev.unit_id}"
                )
            seen[dev.unit_id] = name
        return self

    def points_of(self, device: str) -> list[Point]:
        return self.models[self.devices[device].model].points

    def point(self, device: str, name: str) -> Point:
        return self.models[self.devices[device].model].point(name)


def load_register_map(path: Path | str) -> RegisterMap:
    """Load and check the register map; raises ConfigError naming field and line."""
    return load_model(RegisterMap, path)
