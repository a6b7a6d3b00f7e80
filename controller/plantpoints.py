"""What a published variable is (``PointDef``) and what of the site shapes the tree.

The rows themselves are the site's signal table (``controller.signaltable``), which
also feeds the metrics and the status snapshot; ``plant_points`` there turns them
into these definitions. The browse names are a public contract (DESIGN.md section
5) that SCADA configurations are built on. Only the plant's shape (CDUs, pumps,
tank layers, write limits, nameplate sizes, the register map's ranges) comes from
the site.

EURange is the normal operating range (what trends and bars are scaled to); for the
writable setpoints it is also the accepted write range; for a field point it is the
register map's range unless the table sizes it to the plant.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from asyncua import ua

if TYPE_CHECKING:
    from controller.config.registermap import RegisterMap
    from controller.config.settings import SiteSettings

# The reference site shipped with the source, for a shape built without a site.
REFERENCE_SITE = Path(__file__).resolve().parents[1] / "config" / "site.toml"

Ranges = tuple[tuple[str, str, float, float], ...]
"""(role, point, low, high) of every register-map point with a range."""

SETPOINTS_PATH = "DistrictHeating/Setpoints"


class Kind(Enum):
    ANALOG = "analog"  # Double, AnalogItemType
    ANALOG_ARRAY = "analog[]"
    TWO_STATE = "two-state"  # Boolean, TwoStateDiscreteType
    MULTI_STATE = "multi-state"  # UInt16, MultiStateDiscreteType
    STRING = "string"
    INT32 = "int32"
    UINT32 = "uint32"
    STRING_ARRAY = "string[]"


_O = ua.ObjectIds
# kind: (type definition, data type, variant type, value rank)
KIND_TYPES: dict[Kind, tuple[int, int, ua.VariantType, int]] = {
    Kind.ANALOG: (_O.AnalogItemType, _O.Double, ua.VariantType.Double, -1),
    Kind.ANALOG_ARRAY: (_O.AnalogItemType, _O.Double, ua.VariantType.Double, 1),
    Kind.TWO_STATE: (_O.TwoStateDiscreteType, _O.Boolean, ua.VariantType.Boolean, -1),
    Kind.MULTI_STATE: (_O.MultiStateDiscreteType, _O.UInt16, ua.VariantType.UInt16, -1),
    Kind.STRING: (_O.BaseDataVariableType, _O.String, ua.VariantType.String, -1),
    Kind.INT32: (_O.BaseDataVariableType, _O.Int32, ua.VariantType.Int32, -1),
    Kind.UINT32: (_O.BaseDataVariableType, _O.UInt32, ua.VariantType.UInt32, -1),
    Kind.STRING_ARRAY: (_O.BaseDataVariableType, _O.String, ua.VariantType.String, 1),
}


@dataclass(frozen=True, slots=True)
class PointDef:
    """One variable: its browse path below Plant and what a SCADA engineer needs."""

    path: str
    kind: Kind
    description: str
    unit: str | None = None  # UNECE code
    eu_range: tuple[float, float] | None = None
    states: tuple[str, ...] = ()  # two-state: (true, false); multi-state: one per value
    writable: bool = False
    historized: bool = False
    length: int = 0  # fixed array length (0: variable)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def parent(self) -> str:
        return self.path.rpartition("/")[0]

    @property
    def variant_type(self) -> ua.VariantType:
        return KIND_TYPES[self.kind][2]


def map_ranges(s: SiteSettings, regmap: RegisterMap) -> Ranges:
    """The ranges of the points each role's device has (a CDU: the first CDU's)."""
    r = s.roles
    devices = {
        "plc": r.plc,
        "heatpump": r.heatpump,
        "drycooler": r.drycooler,
        "heatmeter": r.heatmeter,
        "utility": r.utility,
    }
    if s.plant.cdus:
        devices["cdu"] = s.plant.cdus[0]
    out: list[tuple[str, str, float, float]] = []
    for role, dev in devices.items():
        if dev not in regmap.devices:
            continue
        for p in regmap.points_of(dev):
            if p.range is not None:
                out.append((role, p.name, float(p.range[0]), float(p.range[1])))
    return tuple(out)


@functools.cache
def reference_ranges() -> Ranges:
    """The reference site's ranges: for shapes built in tests and load benches."""
    from controller.config.settings import load_site  # noqa: PLC0415 - only without a site

    site = load_site(REFERENCE_SITE)
    return map_ranges(site.settings, site.regmap)


@dataclass(frozen=True, slots=True)
class PlantShape:
    """What of the site changes the tree: counts, names and the utility's write limits."""

    cdus: int = 2
    pumps: tuple[str, ...] = ("P1A", "P1B", "P2A", "P2B")
    tank_layers: int = 10
    supply_temp_limits: tuple[float, float] = (50.0, 90.0)
    demand_max_kw: float = 4800.0
    hp_capacity_kw: float = 1200.0
    it_kw: float = 1040.0
    tank_volume_m3: float = 100.0
    fws_flow_m3h: float = 100.0
    dh_flow_m3h: float = 45.0
    ranges: Ranges = field(default_factory=reference_ranges)
    """The register map's ranges by role (field points take their EURange from here)."""

    @classmethod
    def from_site(cls, s: SiteSettings, regmap: RegisterMap) -> PlantShape:
        return cls(
            cdus=len(s.plant.cdus),
            pumps=tuple(p.upper() for p in (*s.pumps.fws.pumps, *s.pumps.dh.pumps)),
            tank_layers=s.plant.tank_sensors,
            supply_temp_limits=(s.limits.dh_supply_min, s.limits.dh_supply_max),
            demand_max_kw=s.dh_demand_max_kw,
            hp_capacity_kw=s.plant.hp_capacity_kw,
            it_kw=s.plant.it_kw,
            tank_volume_m3=s.plant.tank_volume_m3,
            fws_flow_m3h=s.plant.fws_pump_nominal_m3h,
            dh_flow_m3h=s.plant.dh_pump_nominal_m3h,
            ranges=map_ranges(s, regmap),
        )

    def range_of(self, role: str, point: str) -> tuple[float, float] | None:
        for r, p, lo, hi in self.ranges:
            if r == role and p == point:
                return (lo, hi)
        return None

    def cdu_names(self) -> list[str]:
        """CDU01, CDU02, ... in the order of ``plant.cdus`` in the site file."""
        return [f"CDU{i:02d}" for i in range(1, self.cdus + 1)]


def top(x: float, step: float = 100.0) -> float:
    """A round upper EURange bound with headroom, so trends are not clipped."""
    return float(math.ceil(1.25 * x / step) * step)
