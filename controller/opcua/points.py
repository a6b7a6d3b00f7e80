"""The description table of the address space (DESIGN.md section 5), one row per variable.

Why a table: the browse names are a public contract that SCADA configurations are
built on. One list, read by the server, the NodeSet2 export, docs/opcua.md and the
tests, keeps them from drifting apart. Only the plant's shape (CDUs, pumps, tank
layers, write limits, nameplate sizes for the ranges) comes from the site file.

EURange is the normal operating range (what trends and bars are scaled to); for the
writable setpoints it is also the accepted write range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from asyncua import ua

if TYPE_CHECKING:
    from controller.config.settings import SiteSettings

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

    @classmethod
    def from_site(cls, s: SiteSettings) -> PlantShape:
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
        )

    def cdu_names(self) -> list[str]:
        """CDU01, CDU02, ... in the order of ``plant.cdus`` in the site file."""
        return [f"CDU{i:02d}" for i in range(1, self.cdus + 1)]


def _top(x: float, step: float = 100.0) -> float:
    """A round upper EURange bound with headroom, so trends are not clipped."""
    return float(math.ceil(1.25 * x / step) * step)


# Row builders: short enough that the table reads as a table.
def _analog(path: str, unit: str, lo: float, hi: float, desc: str, **kw: Any) -> PointDef:
    return PointDef(path, Kind.ANALOG, desc, unit, (float(lo), float(hi)), **kw)


def _flag(path: str, true: str, false: str, desc: str, **kw: Any) -> PointDef:
    return PointDef(path, Kind.TWO_STATE, desc, states=(true, false), **kw)


def _enum(path: str, states: tuple[str, ...], desc: str) -> PointDef:
    return PointDef(path, Kind.MULTI_STATE, desc, states=states)


def _plain(path: str, kind: Kind, desc: str) -> PointDef:
    return PointDef(path, kind, desc)


def plant_points(shape: PlantShape) -> list[PointDef]:
    """Every variable of the tree, in browse order."""
    cap = shape.hp_capacity_kw
    it_kw = shape.it_kw
    fws_flow, dh_flow = _top(shape.fws_flow_m3h, 10.0), _top(shape.dh_flow_m3h, 10.0)
    sp_lo, sp_hi = shape.supply_temp_limits
    pts = [
        _plain("Status/Mode", Kind.STRING,
               "Supervisory mode: STARTUP, BYPASS, RECOVERY, DEGRADED, SAFE or MANUAL"),
        _plain("Status/ModeCode", Kind.INT32,
               "Mode as a number: 0 STARTUP, 1 BYPASS, 2 RECOVERY, 3 DEGRADED, 4 SAFE, 5 MANUAL"),
        _flag("Status/Healthy", "Healthy", "Not healthy",
              "No safety interlock holds and every device answers"),
        _analog("Status/CycleTime", "C26", 0, 2000, "Duration of the last scan cycle"),
        _plain("Status/Heartbeat", Kind.UINT32,
               "Scan counter: changes every cycle while the controller runs"),
        _plain("Status/ActiveAlarmCount", Kind.UINT32, "Alarms on the active-alarm list"),
    ]  # fmt: skip
    for cdu in shape.cdu_names():
        p = f"CDUs/{cdu}/"
        pts += [
            _analog(p + "FwsSupplyTemp", "CEL", 0, 100, "Facility water entering the CDU",
                    historized=True),
            _analog(p + "FwsReturnTemp", "CEL", 0, 100, "Facility water leaving the CDU"),
            _analog(p + "FwsFlow", "MQH", 0, fws_flow, "Facility water flow through the CDU"),
            _analog(p + "ItLoad", "KWT", 0, _top(it_kw / shape.cdus),
                    "Electrical power of the racks served"),
            _enum(p + "Status", ("Stopped", "Running", "Warning", "Fault"), "CDU state"),
        ]  # fmt: skip
    pts += [
        _analog("FacilityWater/SupplyTemp", "CEL", 0, 100,
                "Facility water supply to the CDUs, the IT-cooling controlled variable",
                historized=True),
        _analog("FacilityWater/ReturnTemp", "CEL", 0, 100, "Facility water return from the CDUs"),
        _analog("FacilityWater/Flow", "MQH", 0, fws_flow, "Facility water flow"),
        _analog("FacilityWater/SupplySetpoint", "CEL", 0, 100,
                "Setpoint of the facility water supply"),
        _analog("HeatPump/EvapInletTemp", "CEL", 0, 100, "Evaporator inlet (facility water)"),
        _analog("HeatPump/EvapOutletTemp", "CEL", 0, 100, "Evaporator outlet"),
        _analog("HeatPump/CondInletTemp", "CEL", 0, 130, "Condenser inlet (district-heating side)"),
        _analog("HeatPump/CondOutletTemp", "CEL", 0, 130, "Condenser outlet"),
        _analog("HeatPump/SupplySetpoint", "CEL", 0, 130,
                "Condenser-outlet setpoint sent to the heat pump"),
        _analog("HeatPump/Load", "P1", 0, 100, "Actual load"),
        _analog("HeatPump/HeatOutput", "KWT", 0, _top(cap), "Heat output"),
        _analog("HeatPump/ElectricPower", "KWT", 0, _top(cap / 2), "Electrical power drawn"),
        _analog("HeatPump/COP", "C62", 0, 10, "Coefficient of performance"),
        _flag("HeatPump/Running", "Running", "Stopped", "Compressor running"),
        _flag("HeatPump/Tripped", "Tripped", "OK", "Heat pump tripped on a fault"),
        _plain("HeatPump/StartsToday", Kind.UINT32, "Compressor starts since midnight (site time)"),
        _enum("HeatPump/State", ("Off", "Starting", "Running", "Stopping", "Tripped",
                                 "Blocked by anti-short-cycle"), "Heat-pump state"),
        _analog("BufferTank/StateOfCharge", "P1", 0, 100, "State of charge", historized=True),
        _analog("BufferTank/StoredEnergy", "MWH", 0,
                _top(shape.tank_volume_m3 * 1.16 * 50 / 1000, 1.0), "Heat stored in the tank"),
        _analog("BufferTank/TopTemp", "CEL", 0, 100, "Temperature at the top of the tank"),
        _analog("BufferTank/BottomTemp", "CEL", 0, 100, "Temperature at the bottom of the tank"),
        PointDef("BufferTank/LayerTemps", Kind.ANALOG_ARRAY,
                 "Tank temperatures, index 0 at the top", "CEL", (0.0, 100.0),
                 length=shape.tank_layers),
        _analog("DistrictHeating/SupplyTemp", "CEL", 0, 130, "Supply to the network (heat meter)",
                historized=True),
        _analog("DistrictHeating/ReturnTemp", "CEL", 0, 130,
                "Return from the network (heat meter)", historized=True),
        _analog("DistrictHeating/Flow", "MQH", 0, dh_flow, "Network flow (heat meter)"),
        _analog("DistrictHeating/HeatPower", "KWT", 0, _top(cap),
                "Heat delivered to the network (heat meter)", historized=True),
        _flag("DistrictHeating/NetworkAvailable", "Available", "Unavailable",
              "The network accepts heat"),
        _analog(f"{SETPOINTS_PATH}/SupplyTempSetpoint", "CEL", sp_lo, sp_hi,
                "Network supply temperature asked by the utility", writable=True),
        _analog(f"{SETPOINTS_PATH}/HeatDemand", "KWT", 0, shape.demand_max_kw,
                "Heat asked by the utility", writable=True),
        _flag(f"{SETPOINTS_PATH}/InjectionEnabled", "Enabled", "Disabled",
              "The utility allows heat injection", writable=True),
        _analog("DryCoolers/BypassValvePosition", "P1", 0, 100,
                "Bypass valve position (100 % = all to the dry coolers)"),
        _analog("DryCoolers/FanSpeed", "P1", 0, 100, "Dry-cooler fan speed"),
        _analog("DryCoolers/HeatRejected", "KWT", 0, _top(it_kw), "Heat rejected to ambient"),
        _analog("DryCoolers/AmbientTemp", "CEL", -40, 50, "Outdoor air temperature"),
    ]  # fmt: skip
    for pump in shape.pumps:
        p = f"Pumps/{pump}/"
        pts += [
            _flag(p + "Running", "Running", "Stopped", "Pump running (feedback)"),
            _flag(p + "Fault", "Fault", "OK", "Pump fault"),
            _analog(p + "Speed", "P1", 0, 100, "Pump speed"),
        ]
    pts += [
        _analog("Energy/DeliveredTotal", "MWH", 0, 1e6,
                "Heat delivered to the network since commissioning"),
        _analog("Energy/DeliveredToday", "MWH", 0, _top(cap * 24 / 1000, 1.0),
                "Heat delivered since midnight (site time)"),
        _analog("Energy/LastIntervalEnergy", "KWH", 0, _top(cap / 4),
                "Heat delivered in the last 15-minute interval"),
        _analog("Energy/ElectricityTotal", "MWH", 0, 1e6, "Electricity used since commissioning"),
        _analog("Energy/SeasonalCOP", "C62", 0, 10,
                "Heat delivered over electricity used, this season"),
        _analog("Energy/ThermalAvailability", "P1", 0, 100,
                "Time heat was delivered as requested over time it was requested (SLA)"),
        _plain("Alarms/ActiveAlarms", Kind.STRING_ARRAY,
               "Active-alarm list, most urgent first: id | priority | state | raised (UTC) | "
               "message"),
        _plain("Alarms/ActiveAlarmIds", Kind.STRING_ARRAY, "Ids of the active-alarm list"),
        _plain("Alarms/UnacknowledgedCount", Kind.UINT32, "Alarms waiting for acknowledgement"),
    ]  # fmt: skip
    return pts


def snapshot_keys(shape: PlantShape) -> list[str]:
    """The keys ``publish`` understands (the alarm variables are set by ``alarm_update``)."""
    return [p.path for p in plant_points(shape) if not p.path.startswith("Alarms/")]
