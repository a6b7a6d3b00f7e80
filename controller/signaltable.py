"""The site's signal table: every published signal once, and what it generates.

Why one table: a signal used to be declared in five places (the OPC UA rows, the
feed's browse-path list with its types guessed from name endings, the metric
tuples, the status snapshot and the conditioning keys) and they drifted: the
evaporator inlet range was -10..100 in the register map but 0..100 in OPC UA.
Here each signal is one row (as in VOLTTRON's registry laid over its device
models): its key, where its value comes from (a register-map point through a
role, a command, or the core's frozen output), its OPC UA browse path, type,
unit and range, its metric, and whether the status snapshot carries it. The
OPC UA nodes (``plant_points``), the feed, the status snapshot and ``/metrics``
are generated from it, and the fleet's Sparkplug catalogue reads the same rows.

Ranges of field points are never written here: they come from the register map
(through ``PlantShape.ranges``), so the two cannot disagree. A field point whose
EURange is sized to the plant (flows, powers) says how, and a test checks the
sized range lies inside the map's. Every register-map point is either used by a
row or listed in ``INTERNAL`` with the reason it is not published.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from controller.plantpoints import (
    SETPOINTS_PATH,
    Kind,
    PlantShape,
    PointDef,
    top,
)

if TYPE_CHECKING:
    from controller.accounting.totals import Totals
    from controller.config.settings import SiteSettings
    from controller.core.image import ProcessImage
    from controller.core.outputs import CoreOutput

CDU = "{cdu}"
PUMP = "{pump}"


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A register-map point, named by the role of its device (roles in the site file).

    ``role`` is ``plc``, ``heatpump``, ``drycooler``, ``heatmeter``, ``utility`` or
    ``cdu`` (each CDU of ``plant.cdus``); ``point`` may hold ``{pump}`` (lower case).
    """

    role: str
    point: str


@dataclass(frozen=True, slots=True)
class MetricRef:
    """Where a signal shows in ``/metrics``: a labelled family or a gauge of its own."""

    name: str  # a key of ``FAMILIES``, or a gauge's name without the prefix
    labels: tuple[str, ...] = ()  # label values inside a family; () for a gauge of its own
    help: str = ""  # for a gauge of its own


# name -> (help, label names): the labelled families, in the order they are exported.
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "temperature_celsius": ("Key temperatures, setpoints and limits, °C", ("signal",)),
    "heat_kilowatts": (
        "Heat flows: IT heat, heat-pump heat, delivered to the network, demand, "
        "target, dumped to the dry coolers; kW",
        ("flow",),
    ),
    "flow_cubic_metres_per_hour": ("Loop flows, m³/h", ("loop",)),
    "actuator_percent": ("Bypass valve and dry-cooler fans, %", ("actuator", "kind")),
}


@dataclass(frozen=True, slots=True)
class Scan:
    """What a row's value is computed from: one scan cycle's frozen output and image."""

    image: ProcessImage
    out: CoreOutput
    settings: SiteSettings
    now: float
    cycle: int | None = None
    cycle_ms: float | None = None
    energy: Totals | None = None
    starts_today: int | None = None


Getter = Callable[[Scan], Any]
Sizer = Callable[[PlantShape], tuple[float, float]]


class Absent:
    """Returned by a getter when the signal has no source at this site (not even Bad)."""


ABSENT = Absent()


@dataclass(frozen=True, slots=True)
class Signal:
    """One row: a signal, its source, and how it is published."""

    key: str
    description: str
    path: str | None = None  # OPC UA browse path below Plant; may hold {cdu} or {pump}
    kind: Kind = Kind.ANALOG
    unit: str | None = None  # UNECE code
    field: FieldRef | None = None  # value, quality and time from the process image
    command: FieldRef | None = None  # value from this cycle's commands
    value: Getter | None = None  # value from the core's output (or the scan's counters)
    eu_range: tuple[float, float] | Sizer | None = None  # fixed or sized to the plant
    states: tuple[str, ...] = ()
    writable: bool = False
    historized: bool = False
    to_opcua: Callable[[Any], Any] | None = None  # unit change for the OPC UA value
    metric: MetricRef | None = None
    status: bool = False  # in the status snapshot (every metric is)
    by_alarms: bool = False  # published by the alarm list, not the feed

    def __post_init__(self) -> None:
        sources = sum(x is not None for x in (self.field, self.command, self.value))
        if sources != (0 if self.by_alarms else 1):
            raise ValueError(f"signal {self.key}: give exactly one of field, command, value")
        if self.field is not None and isinstance(self.eu_range, tuple):
            raise ValueError(
                f"signal {self.key}: the range of a field point comes from the register map"
            )
        if self.metric is not None and not self.status:
            raise ValueError(f"signal {self.key}: metrics are rendered from the status snapshot")
        if self.path is None and not self.status:
            raise ValueError(f"signal {self.key}: published nowhere")


def _st(name: str) -> Getter:
    return lambda s: getattr(s.out.status, name)


def _pl(name: str) -> Getter:
    return lambda s: getattr(s.out.plant, name)


def _energy(name: str) -> Getter:
    return lambda s: ABSENT if s.energy is None else getattr(s.energy, name)


def _sized(nominal: Callable[[PlantShape], float], step: float = 100.0) -> Sizer:
    return lambda shape: (0.0, top(nominal(shape), step))


def _pct(x: float | None) -> float | None:
    return None if x is None else 100.0 * x


def _mwh(kwh: float | None) -> float | None:
    return None if kwh is None else kwh / 1000.0


def _kwh(mwh: float | None) -> float | None:
    return None if mwh is None else mwh * 1000.0


F = FieldRef
_S = Signal
_TEMP = "temperature_celsius"
_HEAT = "heat_kilowatts"
_ACT = "actuator_percent"
_FLOW = "flow_cubic_metres_per_hour"
RUNNING, STOPPED = "Running", "Stopped"

# Browse order is table order; rows of one CDU or pump stay together per instance.
SIGNALS: tuple[Signal, ...] = (
    _S("mode", "Supervisory mode: STARTUP, BYPASS, RECOVERY, DEGRADED, SAFE or MANUAL",
       "Status/Mode", Kind.STRING, value=lambda s: str(s.out.status.mode)),
    _S("mode_code",
       "Mode as a number: 0 STARTUP, 1 BYPASS, 2 RECOVERY, 3 DEGRADED, 4 SAFE, 5 MANUAL",
       "Status/ModeCode", Kind.INT32, value=lambda s: s.out.status.mode.code),
    _S("healthy", "No safety interlock holds and every device answers", "Status/Healthy",
       Kind.TWO_STATE, states=("Healthy", "Not healthy"),
       value=lambda s: bool(s.out.status.healthy) and not s.image.comms_lost),
    _S("cycle_time", "Duration of the last scan cycle", "Status/CycleTime", unit="C26",
       eu_range=(0, 2000), value=lambda s: s.cycle_ms),
    _S("heartbeat", "Scan counter: changes every cycle while the controller runs",
       "Status/Heartbeat", Kind.UINT32, value=lambda s: s.cycle),
    _S("active_alarm_count", "Alarms on the active-alarm list", "Status/ActiveAlarmCount",
       Kind.UINT32, by_alarms=True),
    _S("cdu_fws_supply", "Facility water entering the CDU", f"CDUs/{CDU}/FwsSupplyTemp",
       unit="CEL", field=F("cdu", "fws_supply_temp"), historized=True),
    _S("cdu_fws_return", "Facility water leaving the CDU", f"CDUs/{CDU}/FwsReturnTemp",
       unit="CEL", field=F("cdu", "fws_return_temp")),
    _S("cdu_fws_flow", "Facility water flow through the CDU", f"CDUs/{CDU}/FwsFlow",
       unit="MQH", field=F("cdu", "fws_flow"), eu_range=_sized(lambda p: p.fws_flow_m3h, 10.0)),
    _S("cdu_it_load", "Electrical power of the racks served", f"CDUs/{CDU}/ItLoad",
       unit="KWT", field=F("cdu", "it_load"), eu_range=_sized(lambda p: p.it_kw / p.cdus)),
    _S("cdu_status", "CDU state", f"CDUs/{CDU}/Status", Kind.MULTI_STATE,
       states=("Stopped", "Running", "Warning", "Fault"), field=F("cdu", "status")),
    _S("fws_supply", "Facility water supply to the CDUs, the IT-cooling controlled variable",
       "FacilityWater/SupplyTemp", unit="CEL", eu_range=(0, 100), historized=True,
       value=_st("fws_supply"), status=True, metric=MetricRef(_TEMP, ("fws_supply",))),
    _S("fws_return_sensor", "Facility water return from the CDUs", "FacilityWater/ReturnTemp",
       unit="CEL", field=F("plc", "fws_return_temp")),
    _S("fws_flow", "Facility water flow", "FacilityWater/Flow", unit="MQH",
       field=F("plc", "fws_flow"), eu_range=_sized(lambda p: p.fws_flow_m3h, 10.0),
       status=True, metric=MetricRef(_FLOW, ("fws",))),
    _S("fws_supply_setpoint", "Setpoint of the facility water supply",
       "FacilityWater/SupplySetpoint", unit="CEL", eu_range=(0, 100),
       value=lambda s: s.settings.setpoints.fws_supply_temp, status=True,
       metric=MetricRef(_TEMP, ("fws_supply_setpoint",))),
    _S("hp_evap_in", "Evaporator inlet (facility water)", "HeatPump/EvapInletTemp", unit="CEL",
       field=F("heatpump", "evap_inlet_temp")),
    _S("hp_evap_out", "Evaporator outlet", "HeatPump/EvapOutletTemp", unit="CEL",
       field=F("heatpump", "evap_outlet_temp")),
    _S("hp_cond_in", "Condenser inlet (district-heating side)", "HeatPump/CondInletTemp",
       unit="CEL", field=F("heatpump", "cond_inlet_temp")),
    _S("hp_condenser_outlet", "Condenser outlet", "HeatPump/CondOutletTemp", unit="CEL",
       field=F("heatpump", "cond_outlet_temp"), status=True,
       metric=MetricRef(_TEMP, ("hp_condenser_outlet",))),
    _S("hp_setpoint", "Condenser-outlet setpoint sent to the heat pump",
       "HeatPump/SupplySetpoint", unit="CEL", field=F("heatpump", "supply_setpoint")),
    _S("hp_load", "Actual load", "HeatPump/Load", unit="P1", field=F("heatpump", "load_actual"),
       status=True,
       metric=MetricRef("heatpump_load_percent", help="Heat-pump load (actual), %")),
    _S("hp_heat", "Heat output", "HeatPump/HeatOutput", unit="KWT",
       field=F("heatpump", "heat_output"), eu_range=_sized(lambda p: p.hp_capacity_kw),
       status=True, metric=MetricRef(_HEAT, ("hp_heat",))),
    _S("hp_power", "Electrical power drawn", "HeatPump/ElectricPower", unit="KWT",
       field=F("heatpump", "electric_power"), eu_range=_sized(lambda p: p.hp_capacity_kw / 2),
       status=True, metric=MetricRef("heatpump_electric_power_kilowatts",
                                     help="Heat-pump electric power, kW")),
    _S("hp_cop", "Coefficient of performance", "HeatPump/COP", unit="C62",
       field=F("heatpump", "cop"), status=True,
       metric=MetricRef("heatpump_cop",
                        help="Heat-pump coefficient of performance (instantaneous)")),
    _S("hp_running", "Compressor running", "HeatPump/Running", Kind.TWO_STATE,
       states=(RUNNING, STOPPED), field=F("heatpump", "running"), status=True,
       metric=MetricRef("heatpump_running", help="1 while the heat pump runs")),
    _S("hp_tripped", "Heat pump tripped on a fault", "HeatPump/Tripped", Kind.TWO_STATE,
       states=("Tripped", "OK"), field=F("heatpump", "tripped"), status=True,
       metric=MetricRef("heatpump_tripped", help="1 while the heat pump reports a trip")),
    _S("hp_starts_today", "Compressor starts since midnight (site time)",
       "HeatPump/StartsToday", Kind.UINT32, value=lambda s: s.starts_today),
    _S("hp_state", "Heat-pump state", "HeatPump/State", Kind.MULTI_STATE,
       states=("Off", "Starting", "Running", "Stopping", "Tripped",
               "Blocked by anti-short-cycle"), field=F("heatpump", "state")),
    _S("tank_soc", "State of charge", "BufferTank/StateOfCharge", unit="P1", eu_range=(0, 100),
       historized=True, value=_st("soc"), to_opcua=_pct, status=True,
       metric=MetricRef("tank_state_of_charge_ratio", help="Buffer tank state of charge, 0-1")),
    _S("tank_stored", "Heat stored in the tank", "BufferTank/StoredEnergy", unit="MWH",
       eu_range=lambda p: (0.0, top(p.tank_volume_m3 * 1.16 * 50 / 1000, 1.0)),
       value=_st("stored_kwh"), to_opcua=_mwh, status=True,
       metric=MetricRef("tank_stored_energy_kwh",
                        help="Usable heat stored in the buffer tank, kWh")),
    _S("tank_top_sensor", "Temperature at the top of the tank", "BufferTank/TopTemp",
       unit="CEL", field=F("plc", "tank_temp_01")),
    _S("tank_bottom_sensor", "Temperature at the bottom of the tank", "BufferTank/BottomTemp",
       unit="CEL", field=F("plc", "tank_temp_{layers}")),
    _S("tank_layers", "Tank temperatures, index 0 at the top", "BufferTank/LayerTemps",
       Kind.ANALOG_ARRAY, unit="CEL", eu_range=(0, 100),
       value=lambda s: list(s.out.status.tank_temps) if s.out.status.tank_temps else None),
    _S("dh_supply_meter", "Supply to the network (heat meter)", "DistrictHeating/SupplyTemp",
       unit="CEL", field=F("heatmeter", "supply_temp"), historized=True),
    _S("dh_return_meter", "Return from the network (heat meter)", "DistrictHeating/ReturnTemp",
       unit="CEL", field=F("heatmeter", "return_temp"), historized=True),
    _S("dh_flow_meter", "Network flow (heat meter)", "DistrictHeating/Flow", unit="MQH",
       field=F("heatmeter", "flow"), eu_range=_sized(lambda p: p.dh_flow_m3h, 10.0)),
    _S("dh_power_meter", "Heat delivered to the network (heat meter)",
       "DistrictHeating/HeatPower", unit="KWT", field=F("heatmeter", "power"),
       eu_range=_sized(lambda p: p.hp_capacity_kw), historized=True),
    _S("network_available", "The network accepts heat", "DistrictHeating/NetworkAvailable",
       Kind.TWO_STATE, states=("Available", "Unavailable"),
       field=F("utility", "network_available"), status=True,
       metric=MetricRef("network_available",
                        help="1 if the utility reports its network available")),
    _S("dh_supply_setpoint", "Network supply temperature asked by the utility",
       f"{SETPOINTS_PATH}/SupplyTempSetpoint", unit="CEL",
       eu_range=lambda p: p.supply_temp_limits, writable=True, value=_st("dh_setpoint"),
       status=True, metric=MetricRef(_TEMP, ("dh_supply_setpoint",))),
    _S("demand", "Heat asked by the utility", f"{SETPOINTS_PATH}/HeatDemand", unit="KWT",
       eu_range=lambda p: (0.0, p.demand_max_kw), writable=True, value=_st("demand_kw"),
       status=True, metric=MetricRef(_HEAT, ("demand",))),
    _S("injection_enabled", "The utility allows heat injection",
       f"{SETPOINTS_PATH}/InjectionEnabled", Kind.TWO_STATE, states=("Enabled", "Disabled"),
       writable=True, value=lambda s: bool(s.out.status.injection_enabled)),
    _S("bypass_valve", "Bypass valve position (100 % = all to the dry coolers)",
       "DryCoolers/BypassValvePosition", unit="P1", field=F("plc", "bypass_valve_pos"),
       status=True, metric=MetricRef(_ACT, ("bypass_valve", "feedback"))),
    _S("drycooler_fan", "Dry-cooler fan speed", "DryCoolers/FanSpeed", unit="P1",
       field=F("drycooler", "fan_speed_fb"), status=True,
       metric=MetricRef(_ACT, ("drycooler_fan", "feedback"))),
    _S("dumped", "Heat rejected to ambient", "DryCoolers/HeatRejected", unit="KWT",
       field=F("drycooler", "heat_rejected"), eu_range=_sized(lambda p: p.it_kw), status=True,
       metric=MetricRef(_HEAT, ("dumped",))),
    _S("ambient_sensor", "Outdoor air temperature", "DryCoolers/AmbientTemp", unit="CEL",
       field=F("drycooler", "ambient_temp")),
    _S("pump_running", "Pump running (feedback)", f"Pumps/{PUMP}/Running", Kind.TWO_STATE,
       states=(RUNNING, STOPPED), field=F("plc", "{pump}_running")),
    _S("pump_fault", "Pump fault", f"Pumps/{PUMP}/Fault", Kind.TWO_STATE, states=("Fault", "OK"),
       field=F("plc", "{pump}_fault")),
    _S("pump_speed", "Pump speed", f"Pumps/{PUMP}/Speed", unit="P1",
       field=F("plc", "{pump}_speed_fb")),
    _S("delivered_total", "Heat delivered to the network since commissioning",
       "Energy/DeliveredTotal", unit="MWH", eu_range=(0, 1e6),
       value=_energy("delivered_total_mwh")),
    _S("delivered_today", "Heat delivered since midnight (site time)", "Energy/DeliveredToday",
       unit="MWH", eu_range=lambda p: (0.0, top(p.hp_capacity_kw * 24 / 1000, 1.0)),
       value=_energy("delivered_today_mwh")),
    _S("last_interval", "Heat delivered in the last 15-minute interval",
       "Energy/LastIntervalEnergy", unit="KWH", eu_range=_sized(lambda p: p.hp_capacity_kw / 4),
       value=_energy("last_interval_mwh"), to_opcua=_kwh),
    _S("electricity_total", "Electricity used since commissioning", "Energy/ElectricityTotal",
       unit="MWH", eu_range=(0, 1e6), value=_energy("electricity_total_mwh")),
    _S("seasonal_cop", "Heat delivered over electricity used, this season",
       "Energy/SeasonalCOP", unit="C62", eu_range=(0, 10), value=_energy("seasonal_cop")),
    _S("thermal_availability",
       "Time heat was delivered as requested over time it was requested (SLA)",
       "Energy/ThermalAvailability", unit="P1", eu_range=(0, 100),
       value=_energy("thermal_availability_pct")),
    _S("active_alarms",
       "Active-alarm list, most urgent first: id | priority | state | raised (UTC) | message",
       "Alarms/ActiveAlarms", Kind.STRING_ARRAY, by_alarms=True),
    _S("active_alarm_ids", "Ids of the active-alarm list", "Alarms/ActiveAlarmIds",
       Kind.STRING_ARRAY, by_alarms=True),
    _S("unacknowledged", "Alarms waiting for acknowledgement", "Alarms/UnacknowledgedCount",
       Kind.UINT32, by_alarms=True),
    # In the status snapshot and /metrics only: the conditioned (voted) values the loops
    # use, the core's targets and commands. The raw sensors above are OPC UA's.
    _S("fws_return", "Facility water return, voted", value=_pl("fws_return"), status=True,
       metric=MetricRef(_TEMP, ("fws_return",))),
    _S("fws_supply_limit", "Facility water supply trip limit",
       value=lambda s: s.settings.limits.fws_supply_high_high, status=True,
       metric=MetricRef(_TEMP, ("fws_supply_limit",))),
    _S("dh_supply", "Network supply, voted", value=_st("dh_supply"), status=True,
       metric=MetricRef(_TEMP, ("dh_supply",))),
    _S("dh_return", "Network return, voted", value=_pl("dh_return"), status=True,
       metric=MetricRef(_TEMP, ("dh_return",))),
    _S("ambient", "Outdoor air, voted", value=_pl("ambient"), status=True,
       metric=MetricRef(_TEMP, ("ambient",))),
    _S("tank_top", "Tank top, from the tank's state", value=_pl("tank_top"), status=True,
       metric=MetricRef(_TEMP, ("tank_top",))),
    _S("it_heat", "IT heat from the CDUs (estimated for a silent CDU)", value=_st("it_heat_kw"),
       status=True, metric=MetricRef(_HEAT, ("it_heat",))),
    _S("delivered", "Heat delivered to the network (meter, else flow and temperatures)",
       value=_pl("dh_power_kw"), status=True, metric=MetricRef(_HEAT, ("delivered",))),
    _S("deliver_target", "Heat the core aims to deliver", value=_st("deliver_kw"), status=True,
       metric=MetricRef(_HEAT, ("deliver_target",))),
    _S("bypass_valve_cmd", "Bypass valve command", command=F("plc", "bypass_valve_cmd"),
       status=True, metric=MetricRef(_ACT, ("bypass_valve", "command"))),
    _S("drycooler_fan_cmd", "Dry-cooler fan command", command=F("drycooler", "fan_speed_cmd"),
       status=True, metric=MetricRef(_ACT, ("drycooler_fan", "command"))),
    _S("dh_flow", "Network flow (PLC, else the heat meter)", value=_pl("dh_flow_m3h"),
       status=True, metric=MetricRef(_FLOW, ("dh",))),
    _S("injecting", "Heat injected into the network", value=_st("injecting"), status=True,
       metric=MetricRef("injecting",
                        help="1 while heat is injected into the district-heating network")),
    _S("hx_ua_ratio", "Evaporator fouling", value=_st("hx_ua_ratio"), status=True,
       metric=MetricRef("hx_ua_ratio",
                        help="Evaporator UA against its clean value (fouling), 0-1")),
)  # fmt: skip

_USED = "read by the control core, not published"
_CMD = "a command the core writes; its feedback is published"
_DIAG = "diagnostic kept for the register-map tools; not published"

# Register-map points that no row publishes, per role, and why. A new point in the
# map must be added to a row or here (a test says so).
INTERNAL: dict[str, dict[str, str]] = {
    "cdu": {
        "heat_to_fws": _USED + " (IT heat)",
        "tcs_supply_temp": _DIAG,
        "tcs_return_temp": _DIAG,
    },
    "heatpump": {
        "load_setpoint": _CMD,
        "enable": _CMD,
        "trip_reset": _CMD,
        "evap_sat_temp": _USED + " (evaporator fouling monitor)",
        "cond_sat_temp": _DIAG,
        "cond_flow": _USED + " (heat-pump control)",
        "evap_flow": _DIAG,
        "starts_total": _USED + " (published as HeatPump/StartsToday)",
        "run_hours": _DIAG,
        "fault_code": _DIAG,
        "min_run_remaining": _DIAG,
        "min_off_remaining": _DIAG,
    },
    "plc": {
        "heartbeat": _CMD,
        "{pump}_speed_cmd": _CMD,
        "{pump}_run": _CMD,
        "fws_supply_temp": _USED + " (voted into FacilityWater/SupplyTemp)",
        "fws_supply_temp_b": _USED + " (voted into FacilityWater/SupplyTemp)",
        "dh_supply_temp": _USED + " (voted DH supply)",
        "dh_return_temp": _USED + " (voted DH return)",
        "dh_flow": _USED + " (network flow)",
        "ambient_temp": _USED + " (voted ambient)",
        "tank_temp_{layer}": _USED + " (tank state; published as BufferTank/LayerTemps)",
        "tank_flow": _DIAG,
        "local_safe_mode": _USED + " (PLC's own SAFE)",
    },
    "drycooler": {
        "glycol_supply_temp": _USED + " (the fan limiter's frost measurement)",
        "inlet_temp": _DIAG,
        "outlet_temp": _DIAG,
        "water_flow": _DIAG,
    },
    "heatmeter": {
        "energy": _USED + " (ledger)",
        "volume": _USED + " (ledger)",
        "error_code": _USED + " (ledger)",
    },
    "utility": {
        "injection_enabled": _USED + " (published as the setpoint InjectionEnabled)",
        "heat_demand": _USED + " (published as the setpoint HeatDemand)",
        "supply_setpoint": _USED + " (published as the setpoint SupplyTempSetpoint)",
    },
}

ROLES = ("plc", "heatpump", "drycooler", "heatmeter", "utility", "cdu")


# ------------------------------------------------------------------------- expansion
@dataclass(frozen=True, slots=True)
class Bound:
    """A row for one instance at one site: its browse path and image (or command) key."""

    signal: Signal
    path: str | None
    key: str | None  # device.point of the field point or command


def _instances(sig: Signal, cdus: Sequence[tuple[str, str]], pumps: Sequence[str]) -> list[str]:
    text = sig.path or ""
    if CDU in text or (sig.field is not None and sig.field.role == "cdu"):
        return [c for c, _ in cdus]
    if PUMP in text:
        return list(pumps)
    return [""]


def _groups(table: Sequence[Signal]) -> Iterator[tuple[str, list[Signal]]]:
    """Runs of consecutive rows by placeholder ('' for plain rows), in table order."""
    run: list[Signal] = []
    kind = ""
    for sig in table:
        k = CDU if CDU in (sig.path or "") else PUMP if PUMP in (sig.path or "") else ""
        if run and k != kind:
            yield kind, run
            run = []
        kind = k
        run.append(sig)
    if run:
        yield kind, run


def bind(
    table: Sequence[Signal],
    cdus: Sequence[tuple[str, str]],
    pumps: Sequence[str],
    roles: Mapping[str, str],
    tank_layers: int,
) -> list[Bound]:
    """Every row for every instance, in browse order.

    ``cdus``: (browse name, device) per CDU; ``pumps``: pump names (lower case);
    ``roles``: role -> device.
    """
    out: list[Bound] = []

    def key(ref: FieldRef | None, dev_for_cdu: str, pump: str) -> str | None:
        if ref is None:
            return None
        dev = dev_for_cdu if ref.role == "cdu" else roles[ref.role]
        point = ref.point.replace("{pump}", pump).replace("{layers}", f"{tank_layers:02d}")
        return f"{dev}.{point}"

    for kind, rows in _groups(table):
        if kind == CDU:
            for name, dev in cdus:
                for sig in rows:
                    path = (sig.path or "").replace(CDU, name)
                    out.append(Bound(sig, path, key(sig.field, dev, "")))
        elif kind == PUMP:
            for pump in pumps:
                for sig in rows:
                    path = (sig.path or "").replace(PUMP, pump.upper())
                    out.append(Bound(sig, path, key(sig.field, "", pump)))
        else:
            for sig in rows:
                out.append(Bound(sig, sig.path, key(sig.field or sig.command, "", "")))
    return out


def bind_site(settings: SiteSettings, table: Sequence[Signal] = SIGNALS) -> list[Bound]:
    r = settings.roles
    roles = {
        "plc": r.plc,
        "heatpump": r.heatpump,
        "drycooler": r.drycooler,
        "heatmeter": r.heatmeter,
        "utility": r.utility,
    }
    pumps = [*settings.pumps.fws.pumps, *settings.pumps.dh.pumps]
    cdus = [(f"CDU{i:02d}", dev) for i, dev in enumerate(settings.plant.cdus, 1)]
    return bind(table, cdus, pumps, roles, settings.plant.tank_sensors)


# ------------------------------------------------------------------------- OPC UA
def _range_of(sig: Signal, shape: PlantShape, point: str | None) -> tuple[float, float] | None:
    if callable(sig.eu_range):
        lo, hi = sig.eu_range(shape)
        return (float(lo), float(hi))
    if sig.eu_range is not None:
        return (float(sig.eu_range[0]), float(sig.eu_range[1]))
    if sig.field is not None and point is not None and sig.kind is Kind.ANALOG:
        found = shape.range_of(sig.field.role, point)
        if found is None:
            raise ValueError(
                f"signal {sig.key}: {sig.field.role}.{point} has no range in the register map"
            )
        return found
    return None


def plant_points(shape: PlantShape, table: Sequence[Signal] = SIGNALS) -> list[PointDef]:
    """Every OPC UA variable of the tree, in browse order."""
    cdus = [(name, "") for name in shape.cdu_names()]
    pumps = [p.lower() for p in shape.pumps]
    pts: list[PointDef] = []
    for b in bind(table, cdus, pumps, _NO_ROLES, shape.tank_layers):
        sig = b.signal
        if b.path is None:
            continue
        point = None
        if sig.field is not None:
            point = (b.key or "").partition(".")[2]
        length = shape.tank_layers if sig.kind is Kind.ANALOG_ARRAY else 0
        pts.append(
            PointDef(
                b.path,
                sig.kind,
                sig.description,
                sig.unit,
                _range_of(sig, shape, point),
                sig.states,
                sig.writable,
                sig.historized,
                length,
            )
        )
    return pts


class _AnyRole(dict[str, str]):
    """Role -> the role's own name: the OPC UA tree needs no devices."""

    def __missing__(self, role: str) -> str:
        return role


_NO_ROLES: Mapping[str, str] = _AnyRole()


def snapshot_keys(shape: PlantShape, table: Sequence[Signal] = SIGNALS) -> list[str]:
    """The keys ``publish`` understands (the alarm variables are set by ``alarm_update``)."""
    return [p.path for p in plant_points(shape, table) if not p.path.startswith("Alarms/")]


def field_points(table: Sequence[Signal] = SIGNALS) -> dict[str, set[str]]:
    """role -> the register-map points its rows read (placeholders left in)."""
    used: dict[str, set[str]] = {r: set() for r in ROLES}
    for sig in table:
        for ref in (sig.field, sig.command):
            if ref is not None:
                used[ref.role].add(ref.point)
    return used


_PLACEHOLDER = re.compile(r"\{(pump|layer|layers)\}")


def point_pattern(point: str) -> re.Pattern[str]:
    """A row's or ``INTERNAL``'s point name as a pattern over the map's point names."""
    parts = _PLACEHOLDER.split(point)
    rx = "".join(
        re.escape(p) if i % 2 == 0 else (r"[a-z0-9]+" if p == "pump" else r"\d{2}")
        for i, p in enumerate(parts)
    )
    return re.compile(rx + r"\Z")


# ------------------------------------------------------------------------- status snapshot
StatusRow = tuple[str, Callable[[Scan], float | None]]


def status_rows(bound: Sequence[Bound]) -> list[StatusRow]:
    """(key, value of a scan) per row of the status snapshot, resolved once.

    Numbers only: a flag is 1.0 or 0.0, a value with no trustworthy source None (the
    metrics leave it out of the scrape rather than export a made-up number).
    """
    rows: list[StatusRow] = []
    for b in bound:
        sig = b.signal
        if not sig.status:
            continue
        if sig.field is not None and b.key is not None:
            rows.append((sig.key, _field_number(b.key, sig.kind is Kind.TWO_STATE)))
        elif sig.command is not None and b.key is not None:
            rows.append((sig.key, _command_number(b.key)))
        elif sig.value is not None:
            rows.append((sig.key, _value_number(sig.value)))
    return rows


def status_values(rows: Sequence[StatusRow], scan: Scan) -> dict[str, float | None]:
    return {key: get(scan) for key, get in rows}


def _field_number(key: str, flag: bool) -> Callable[[Scan], float | None]:
    if flag:

        def read_flag(s: Scan) -> float | None:
            v = s.image.values.get(key)
            return None if v is None else (1.0 if v >= 0.5 else 0.0)

        return read_flag
    return lambda s: s.image.values.get(key)


def _command_number(key: str) -> Callable[[Scan], float | None]:
    return lambda s: s.out.commands.get(key)


def _value_number(get: Getter) -> Callable[[Scan], float | None]:
    def read(s: Scan) -> float | None:
        v = get(s)
        return None if v is None or v is ABSENT else float(v)

    return read
