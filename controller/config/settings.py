"""The site file an operator edits: setpoints, limits, tuning, sequencing, field bus.

Loaded from ``config/site.toml`` with environment overrides (``HRC_SETPOINTS__
FWS_SUPPLY_TEMP=34``, see ``controller.config.envoverrides``) and validated strictly
(``controller.config.strictmodel``): only the documented keys, no type conversion,
every number finite and inside bounds a plant engineer would sign. The sections a
site cannot run safely without (setpoints, limits, accounting with its ledger path,
contract) have no built-in defaults, so a file cut short is refused by name instead
of silently running on defaults with a fresh, empty billing ledger. The cross-field
checks are the ones that would otherwise show up as a plant misbehaving: limits out
of order, a setpoint outside its limits, a limit beyond what the register or the
facility-water class allows. Errors name the field and its line, or the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from controller.accounting.contract import ContractSettings
from controller.accounting.settings import METER_POWER_PER_HP_KW, AccountingSettings
from controller.config.envoverrides import ENV_PREFIX, apply_overrides, read_env_overrides
from controller.config.registermap import RegisterMap, load_register_map
from controller.config.strictmodel import StrictModel
from controller.config.tomlfile import (
    ConfigError,
    ConfigProblem,
    format_loc,
    line_of,
    locate_lines,
    read_toml,
    validate_data,
)
from controller.fieldbus.linkconfig import FieldBusConfig
from controller.fleet.settings import FleetSettings
from controller.metricsettings import MetricsSettings
from controller.opcua.settings import OpcUaSettings

__all__ = ["ENV_PREFIX", "LoadedSite", "SiteSettings", "load_site"]

Pos = Annotated[float, Field(gt=0)]
NonNeg = Annotated[float, Field(ge=0)]
Frac = Annotated[float, Field(ge=0, le=1)]
Minutes = Annotated[float, Field(ge=0, le=3600)]
"""A time in seconds of at most an hour."""
Day = Annotated[float, Field(ge=0, le=86400)]
"""A time in seconds of at most a day."""

FACILITY_WATER_CLASSES: dict[str, float] = {
    "W17": 17.0,
    "W27": 27.0,
    "W32": 32.0,
    "W40": 40.0,
    "W45": 45.0,
}
"""Highest facility-water supply temperature (°C) of each ASHRAE TC 9.9 liquid-cooling
class (Liquid Cooling Guidelines, 5th edition, 2021; the lower limit is 2 °C for all).
The class is what the site's IT equipment is rated for, so no limit may exceed it.
W+ (above 45 °C) has no upper limit and is not offered: such a site must name its own
ceiling in code review, not in a file."""
FACILITY_WATER_MIN = 2.0


class _Section(StrictModel):
    """A table of the site file."""


class SiteInfo(_Section):
    name: str = "Heat-recovery plant"
    timezone: str = "UTC"


class ScanSettings(_Section):
    period_s: Annotated[float, Field(ge=0.05, le=10)] = 1.0
    time_scale: Annotated[float, Field(ge=1, le=1000)] = 1.0
    """Simulation only: plant seconds per wall second when the plant runs accelerated."""
    startup_s: Minutes = 10.0
    """Time in STARTUP: every safety signal must be good this long before control starts."""


DeviceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class PlantNameplate(_Section):
    """The nameplate, written once: what the site is, from the datasheets. Every
    figure is required (a default would be the reference site's, silently), but the
    injection pump's curve: without one the loop has friction only.

    Everything that follows from it is derived or checked against it: the simulated
    plant (``plant.toml`` may not restate these figures, only agree with them), the
    register map's plausible ranges, a comms alarm per CDU, and the plant sizes the
    settings scale with (source threshold, demand cap, meter rates, loop gains).
    """

    racks: Annotated[int, Field(ge=1, le=10_000)]
    rack_power_kw: Annotated[float, Field(gt=0, le=2000)]
    liquid_fraction: Annotated[float, Field(gt=0, le=1)]
    """Share of IT power carried away by liquid (the rest is room air)."""
    cdus: Annotated[list[DeviceName], Field(min_length=1)]
    """The racks are shared evenly among them (the first ones take any remainder)."""
    hp_capacity_kw: Pos
    hp_min_load_pct: Annotated[float, Field(ge=0, lt=100)]
    tank_volume_m3: Pos
    tank_sensors: Annotated[int, Field(ge=2, le=10)]
    dh_pump_nominal_m3h: Pos
    """At full speed against ``dh_network_dp_bar``."""
    dh_pump_shutoff_head_bar: Pos | None = None
    """The injection pump's head at zero flow and full speed (datasheet). With the
    network's differential pressure, flow is not proportional to speed and nothing
    flows below sqrt(dp / H0); absent: a loop with friction only, flow ~ speed."""
    dh_network_dp_bar: NonNeg = 0.0
    """Supply minus return pressure at the utility's connection."""
    fws_pump_nominal_m3h: Pos

    @model_validator(mode="after")
    def _dh_pump_beats_the_network(self) -> Self:
        h0 = self.dh_pump_shutoff_head_bar
        if h0 is not None and not h0 > self.dh_network_dp_bar:
            raise ValueError(
                f"plant.dh_pump_shutoff_head_bar ({h0}) must exceed plant.dh_network_dp_bar "
                f"({self.dh_network_dp_bar}): the injection pump could never deliver"
            )
        return self

    @model_validator(mode="after")
    def _cdus(self) -> Self:
        if len(set(self.cdus)) != len(self.cdus):
            raise ValueError("plant.cdus: CDU names must be unique")
        if self.racks < len(self.cdus):
            raise ValueError(
                f"plant.racks {self.racks} is fewer than the {len(self.cdus)} CDUs: "
                "each CDU serves at least one rack"
            )
        return self

    @property
    def it_kw(self) -> float:
        return self.racks * self.rack_power_kw

    @property
    def it_liquid_kw(self) -> float:
        """Heat the racks hand to liquid at full utilisation."""
        return self.racks * self.rack_power_kw * self.liquid_fraction

    def racks_per_cdu(self) -> dict[str, int]:
        base, extra = divmod(self.racks, len(self.cdus))
        return {c: base + (1 if i < extra else 0) for i, c in enumerate(self.cdus)}


class WeatherCurve(_Section):
    """DH supply setpoint against outdoor temperature, used when the utility sends none."""

    points: list[tuple[float, float]] = Field(
        default_factory=lambda: [(-15.0, 80.0), (0.0, 72.0), (15.0, 65.0)]
    )

    @model_validator(mode="after")
    def _increasing(self) -> Self:
        xs = [p[0] for p in self.points]
        if len(xs) < 2 or any(b <= a for a, b in pairwise(xs)):
            raise ValueError("points need at least two entries with increasing temperatures")
        return self

    def setpoint(self, ambient: float) -> float:
        pts = self.points
        if ambient <= pts[0][0]:
            return pts[0][1]
        for (x0, y0), (x1, y1) in pairwise(pts):
            if ambient <= x1:
                return y0 + (y1 - y0) * (ambient - x0) / (x1 - x0)
        return pts[-1][1]


class Setpoints(_Section):
    fws_supply_temp: float = 35.0
    dh_supply_temp: float = 70.0
    """Used when ``source`` is "fixed", or when the utility's value is not available."""
    dh_demand_kw: NonNeg = 1000.0
    tank_soc_target: Frac = 0.9
    source: Literal["utility", "curve", "fixed"] = "utility"
    """Where DH supply setpoint and demand come from: the utility (SCADA writes, else its
    RTU over Modbus), the weather curve (setpoint only), or the fixed values above."""
    scada_timeout_s: Annotated[float, Field(gt=0, le=86400)] = 900.0
    """A SCADA setpoint older than this falls back to the RTU, then the fixed values."""


class Limits(_Section):
    facility_water_class: Literal["W17", "W27", "W32", "W40", "W45"] = "W40"
    """ASHRAE class of the IT equipment on the facility water: caps every FWS limit."""
    fws_supply_low: Annotated[float, Field(ge=FACILITY_WATER_MIN)] = 20.0
    fws_supply_high: float = 38.0
    fws_supply_high_high: float = 40.0
    fws_recovery_margin_k: Annotated[float, Field(gt=0, le=10)] = 1.0
    """The heat pump may cool facility water at most this far below its setpoint."""
    dh_supply_min: Annotated[float, Field(ge=20)] = 50.0
    dh_supply_max: float = 90.0
    """At most ``hp_setpoint_max``: the network gets no hotter water than the heat pump makes."""
    dh_supply_tolerance_k: Annotated[float, Field(gt=0, le=10)] = 1.0
    hp_setpoint_min: float = 45.0
    hp_setpoint_max: float = 92.0
    """Both within the range of the heat pump's setpoint register (checked against the map)."""
    hp_setpoint_ramp_k_per_min: Annotated[float, Field(gt=0, le=60)] = 2.0
    dh_demand_max_pct: Annotated[float, Field(gt=0, le=1000)] = 400.0
    """Largest demand accepted from the utility, in % of the heat pump's capacity (a
    guard against a garbled value, not a rating; see ``SiteSettings.dh_demand_max_kw``)."""
    tank_soc_min: Frac = 0.05
    tank_soc_stop: Frac = 0.95
    """Above this, with less demand than the heat pump's minimum load, it stops."""
    tank_soc_restart: Frac = 0.5
    """Below this a stopped heat pump may start again (hysteresis with soc_stop)."""
    drycooler_frost: float = 2.0
    """Glycol entering the dry coolers' plate exchanger must stay above this (°C)."""

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.fws_supply_low < self.fws_supply_high < self.fws_supply_high_high:
            raise ValueError("need fws_supply_low < fws_supply_high < fws_supply_high_high")
        ceiling = FACILITY_WATER_CLASSES[self.facility_water_class]
        if self.fws_supply_high_high > ceiling:
            raise ValueError(
                f"fws_supply_high_high {self.fws_supply_high_high:g} is above "
                f"{ceiling:g} °C, the limit of facility-water class {self.facility_water_class}"
            )
        if not self.dh_supply_min < self.dh_supply_max:
            raise ValueError("need dh_supply_min < dh_supply_max")
        if not self.hp_setpoint_min < self.hp_setpoint_max:
            raise ValueError("need hp_setpoint_min < hp_setpoint_max")
        if self.dh_supply_max > self.hp_setpoint_max:
            raise ValueError(
                f"dh_supply_max {self.dh_supply_max:g} is above hp_setpoint_max "
                f"{self.hp_setpoint_max:g}: the heat pump cannot make water that hot"
            )
        if not self.tank_soc_min < self.tank_soc_restart < self.tank_soc_stop:
            raise ValueError("need tank_soc_min < tank_soc_restart < tank_soc_stop")
        return self


class PidTuning(_Section):
    kp: Annotated[float, Field(gt=0)]
    ki: NonNeg = 0.0
    kd: NonNeg = 0.0
    """Gains in engineering units of output per unit of error (ki per second). Every
    loop is written for positive gains (the error's sign is the loop's); a negative or
    zero kp would drive its output the wrong way or not at all."""


REFERENCE_HP_KW = 1200.0
"""Capacity of the reference heat pump the shipped gains were tuned on (issue 3);
only used to state the normalised defaults in the reference's kW figures."""


class Tuning(_Section):
    """Loop gains. Loops whose output or input is a heat flow are normalised by the
    heat pump's capacity (``soc``, ``source``, ``injection``), so one default holds
    from a 110 kW pilot to a 26 MW hall; ``kw_gains`` turns them back into kW."""

    fws: PidTuning = PidTuning(kp=8.0, ki=8.0 / 150.0)
    """Facility-water supply: % of split-range output per K above setpoint."""
    fws_split_pct: Annotated[float, Field(gt=0, lt=100)] = 30.0
    """Share of the split-range output that strokes the bypass valve before fans start."""
    hp_trim: PidTuning = PidTuning(kp=1.5, ki=1.5 / 200.0)
    """Heat-pump outlet setpoint trim: K per K of DH supply error."""
    hp_trim_range_k: tuple[
        Annotated[float, Field(ge=-20, le=0)], Annotated[float, Field(ge=0, le=20)]
    ] = (-3.0, 10.0)
    soc: PidTuning = PidTuning(kp=2000.0 / REFERENCE_HP_KW, ki=2000.0 / 3600.0 / REFERENCE_HP_KW)
    """Tank charge: extra heat-pump output, in units of its capacity, per unit of
    state-of-charge error (2000 kW per unit on the reference)."""
    source: PidTuning = PidTuning(kp=250.0 / REFERENCE_HP_KW, ki=250.0 / 300.0 / REFERENCE_HP_KW)
    """Source limit: heat-pump output, in units of its capacity, per K of facility water
    above its low bound (250 kW/K on the reference)."""
    injection: PidTuning = PidTuning(kp=0.02 * REFERENCE_HP_KW, ki=0.02 / 20.0 * REFERENCE_HP_KW)
    """DH injection pump: % flow per unit of delivered-heat error, the unit being the
    heat pump's capacity (0.02 %/kW on the reference)."""
    injection_temp_guard: PidTuning = PidTuning(kp=20.0, ki=20.0 / 60.0)
    """Cuts injection flow, % per K, when DH supply falls below setpoint - guard_k."""
    injection_guard_k: Pos = 0.6
    charge_margin_k: Annotated[float, Field(ge=0, le=2)] = 0.5
    """While the heat pump charges the tank, DH supply aims this far above setpoint."""


def kw_gains(t: PidTuning, capacity_kw: float) -> tuple[float, float, float]:
    """A loop's kp, ki, kd with kW as output: the normalised gains times the capacity."""
    return t.kp * capacity_kw, t.ki * capacity_kw, t.kd * capacity_kw


def per_kw_gains(t: PidTuning, capacity_kw: float) -> tuple[float, float, float]:
    """A loop's kp, ki, kd with kW as input: the normalised gains over the capacity."""
    return t.kp / capacity_kw, t.ki / capacity_kw, t.kd / capacity_kw


class HeatPumpSequencing(_Section):
    min_run_s: Day = 600.0
    min_off_s: Day = 300.0
    max_starts_per_hour: Annotated[int, Field(ge=1, le=60)] = 4
    source_min_pct: Annotated[float, Field(ge=0, le=100)] = 12.5
    """IT heat below this share of the heat pump's capacity for ``source_low_s`` stops
    it (nothing to recover). 12.5 % is 150 kW on the 1.2 MW reference heat pump."""
    source_low_s: Day = 1800.0
    start_demand_pct: Annotated[float, Field(ge=0, le=100)] = 50.0
    """A stopped heat pump starts for the network's demand alone (with the tank not
    full) when the demand is at least this share of its capacity; below, it starts
    when the tank falls to ``limits.tank_soc_restart``."""
    auto_reset_trips_per_day: Annotated[int, Field(ge=0, le=10)] = 2
    trip_reset_delay_s: Day = 120.0


class PumpGroupSettings(_Section):
    pumps: Annotated[list[str], Field(min_length=2)]
    proof_s: Annotated[float, Field(gt=0, le=600)] = 3.0
    rotation_h: Annotated[float, Field(gt=0, le=8760)] = 168.0
    overlap_s: Annotated[float, Field(ge=0, le=600)] = 10.0
    speed_pct: Annotated[float, Field(ge=0, le=100)] = 100.0


class PumpSettings(_Section):
    fws: PumpGroupSettings = PumpGroupSettings(pumps=["p1a", "p1b"])
    dh: PumpGroupSettings = PumpGroupSettings(pumps=["p2a", "p2b"], speed_pct=0.0)


class InterlockSettings(_Section):
    dwell_s: Minutes = 120.0
    """A latched interlock releases this long after its cause has cleared."""
    device_loss_grace_s: Annotated[float, Field(ge=0, le=300)] = 20.0
    """Outputs to a device whose data is lost revert after this long (at most 5 min:
    longer, and a plant without its controller's data runs on stale commands)."""
    network_loss: Literal["store", "safe"] = "store"
    """On DH network loss: "store" keeps the heat pump charging the tank until full (the
    heat is sold later); "safe" stops it at once and dumps everything."""


class SensorSettings(_Section):
    disagreement_k: Annotated[float, Field(gt=0, le=20)] = 1.0
    disagreement_s: Minutes = 30.0
    frozen_s: Annotated[float, Field(gt=0, le=86400)] = 600.0
    """A reading that has not changed at all this long while its group moved is stuck."""


class HxMonitorSettings(_Section):
    clean_ua_kw_per_k: Annotated[float, Field(ge=0)] = 0.0
    """Evaporator UA when clean; 0 = learn it from the first hours of steady running."""
    learn_h: Annotated[float, Field(gt=0, le=168)] = 2.0
    filter_h: Annotated[float, Field(gt=0, le=168)] = 1.0
    min_load_pct: Annotated[float, Field(ge=0, le=100)] = 40.0


class ManualSettings(_Section):
    """MANUAL mode: the operator's fixed outputs, applied while ``enabled``."""

    enabled: bool = False
    bypass_valve_pct: Annotated[float, Field(ge=0, le=100)] = 100.0
    fan_speed_pct: Annotated[float, Field(ge=0, le=100)] = 100.0
    hp_enable: bool = False
    hp_load_pct: Annotated[float, Field(ge=0, le=100)] = 0.0
    hp_supply_setpoint: Annotated[float, Field(ge=45, le=95)] = 65.0
    dh_pump_speed_pct: Annotated[float, Field(ge=0, le=100)] = 0.0


class Roles(_Section):
    """Which device of the register map plays which part (names differ between sites)."""

    plc: str = "plc"
    heatpump: str = "heatpump"
    drycooler: str = "drycooler"
    heatmeter: str = "heatmeter"
    utility: str = "dhi"


class SiteSettings(StrictModel):
    """Everything the controller reads from the site file.

    New sections subclass ``StrictModel`` (``controller.config.strictmodel``); a
    section a site cannot run without gets no default.
    """

    site: SiteInfo = SiteInfo()
    register_map: str = "registers.toml"
    """Path to the register map, relative to the site file."""
    alarms_file: str = "alarms.toml"
    roles: Roles = Roles()
    fieldbus: FieldBusConfig
    scan: ScanSettings = ScanSettings()
    plant: PlantNameplate
    """The nameplate: no defaults, a site runs on its own figures or not at all."""
    setpoints: Setpoints
    weather_curve: WeatherCurve = WeatherCurve()
    limits: Limits
    tuning: Tuning = Tuning()
    heatpump: HeatPumpSequencing = HeatPumpSequencing()
    pumps: PumpSettings = PumpSettings()
    interlocks: InterlockSettings = InterlockSettings()
    sensors: SensorSettings = SensorSettings()
    hx_monitor: HxMonitorSettings = HxMonitorSettings()
    manual: ManualSettings = ManualSettings()
    accounting: AccountingSettings
    contract: ContractSettings
    opcua: OpcUaSettings = OpcUaSettings(enabled=False)
    metrics: MetricsSettings = MetricsSettings(enabled=False)
    fleet: FleetSettings = FleetSettings()

    @model_validator(mode="after")
    def _cross_checks(self) -> Self:
        lim, sp = self.limits, self.setpoints
        if not lim.fws_supply_low < sp.fws_supply_temp < lim.fws_supply_high:
            raise ValueError(
                f"setpoints.fws_supply_temp {sp.fws_supply_temp:g} must lie between "
                f"limits.fws_supply_low {lim.fws_supply_low:g} and limits.fws_supply_high "
                f"{lim.fws_supply_high:g}"
            )
        if sp.fws_supply_temp - lim.fws_recovery_margin_k <= lim.fws_supply_low:
            raise ValueError(
                "fws_supply_temp - fws_recovery_margin_k must stay above fws_supply_low"
            )
        if not lim.dh_supply_min <= sp.dh_supply_temp <= lim.dh_supply_max:
            raise ValueError(
                f"setpoints.dh_supply_temp {sp.dh_supply_temp:g} must lie within "
                f"[{lim.dh_supply_min:g}, {lim.dh_supply_max:g}]"
            )
        if sp.dh_demand_kw > self.dh_demand_max_kw:
            raise ValueError(
                f"setpoints.dh_demand_kw {sp.dh_demand_kw:g} exceeds "
                f"{self.dh_demand_max_kw:g} kW, limits.dh_demand_max_pct "
                f"{lim.dh_demand_max_pct:g} % of plant.hp_capacity_kw {self.plant.hp_capacity_kw:g}"
            )
        lo, hi = self.tuning.hp_trim_range_k
        if not lo < 0 < hi:
            raise ValueError("tuning.hp_trim_range_k must span 0, e.g. [-3, 10]")
        for _, y in self.weather_curve.points:
            if not lim.dh_supply_min <= y <= lim.dh_supply_max:
                raise ValueError(f"weather_curve setpoint {y:g} outside DH supply limits")
        fb = self.fieldbus
        if fb.poll_budget_s + fb.write_budget_s > 0.9 * self.scan.period_s:
            raise ValueError(
                f"fieldbus.poll_budget_s ({fb.poll_budget_s:g}) + write_budget_s "
                f"({fb.write_budget_s:g}) must leave 10 % of scan.period_s "
                f"({self.scan.period_s:g}) for the control core"
            )
        fws, dh = self.pumps.fws.pumps, self.pumps.dh.pumps
        if set(fws) & set(dh):
            raise ValueError("a pump cannot belong to both the fws and the dh group")
        return self

    @property
    def dh_demand_max_kw(self) -> float:
        """The largest demand accepted from the utility, sized from the nameplate."""
        return self.plant.hp_capacity_kw * self.limits.dh_demand_max_pct / 100.0

    @property
    def meter_max_power_kw(self) -> float:
        """The heat meter's largest plausible power: set, or sized from the nameplate."""
        set_kw = self.accounting.meter_max_power_kw
        return set_kw if set_kw is not None else METER_POWER_PER_HP_KW * self.plant.hp_capacity_kw

    @property
    def source_min_kw(self) -> float:
        """IT heat below which the heat pump has nothing to recover."""
        return self.plant.hp_capacity_kw * self.heatpump.source_min_pct / 100.0


class LoadedSite(BaseModel):
    """Settings plus the files they point to, all validated together."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    path: Path
    settings: SiteSettings
    regmap: RegisterMap

    def resolve(self, relative: str) -> Path:
        p = Path(relative)
        return p if p.is_absolute() else self.path.parent / p


def _check_against_map(
    settings: SiteSettings, regmap: RegisterMap
) -> list[tuple[tuple[Any, ...], str]]:
    problems: list[tuple[tuple[Any, ...], str]] = []
    for i, link in enumerate(settings.fieldbus.links):
        for dev in link.devices:
            if dev not in regmap.devices:
                problems.append((("fieldbus", "links", i, "devices"), f"unknown device {dev!r}"))
    roles = settings.roles
    for role, device in roles.model_dump().items():
        if device not in regmap.devices:
            problems.append((("roles", role), f"device {device!r} is not in the register map"))
    plc_points = (
        {p.name for p in regmap.points_of(roles.plc)} if roles.plc in regmap.devices else set()
    )
    for group in ("fws", "dh"):
        for pump in getattr(settings.pumps, group).pumps:
            if f"{pump}_run" not in plc_points:
                problems.append(
                    (("pumps", group, "pumps"), f"pump {pump!r} has no {pump}_run point on the PLC")
                )
    if roles.heatpump in regmap.devices:
        problems += _check_register_ranges(settings, regmap)
    problems += _check_sized_ranges(settings, regmap)
    for cdu in settings.plant.cdus:
        if cdu not in regmap.devices:
            problems.append((("plant", "cdus"), f"CDU {cdu!r} is not a device of the register map"))
    mapped = set(regmap.devices)
    for dev in mapped - set(settings.fieldbus.devices()):
        problems.append(
            (("fieldbus", "links"), f"device {dev!r} of the register map is on no link")
        )
    return problems


def _check_register_ranges(
    settings: SiteSettings, regmap: RegisterMap
) -> list[tuple[tuple[Any, ...], str]]:
    """Setpoint limits the heat pump's setpoint register cannot take are refused here,
    not found out as refused writes on a cold night."""
    device = settings.roles.heatpump
    try:
        point = regmap.point(device, "supply_setpoint")
    except KeyError:
        return [(("roles", "heatpump"), f"device {device!r} has no supply_setpoint point")]
    if point.range is None:
        return []
    lo, hi = point.range
    where = f"the range of {device}.supply_setpoint in the register map [{lo:g}, {hi:g}]"
    values = {
        ("limits", "hp_setpoint_min"): settings.limits.hp_setpoint_min,
        ("limits", "hp_setpoint_max"): settings.limits.hp_setpoint_max,
        ("manual", "hp_supply_setpoint"): settings.manual.hp_supply_setpoint,
    }
    return [
        (loc, f"{value:g} lies outside {where}")
        for loc, value in values.items()
        if not lo <= value <= hi
    ]


FULL_LOAD_MARGIN = 1.25
"""A reading at full load must sit this far inside its plausible range (overload,
sensor tolerance): a range sized tighter turns a busy afternoon into BAD data."""


def _sized_points(s: SiteSettings) -> list[tuple[str, str, float, tuple[str, ...], str]]:
    """(device, point, highest plausible reading, nameplate field, why) of every
    reading whose size follows from the nameplate."""
    p, r = s.plant, s.roles
    cap, m = p.hp_capacity_kw, FULL_LOAD_MARGIN
    rows: list[tuple[str, str, float, tuple[str, ...], str]] = [
        (r.heatpump, "heat_output", m * cap, ("plant", "hp_capacity_kw"), f"{m:g} x capacity"),
        (r.heatpump, "electric_power", cap / 2, ("plant", "hp_capacity_kw"), "capacity / COP 2"),
        (
            r.plc,
            "fws_flow",
            2 * p.fws_pump_nominal_m3h,
            ("plant", "fws_pump_nominal_m3h"),
            "both pumps at changeover",
        ),
        (
            r.plc,
            "dh_flow",
            2 * p.dh_pump_nominal_m3h,
            ("plant", "dh_pump_nominal_m3h"),
            "both pumps at changeover",
        ),
        (
            r.heatmeter,
            "flow",
            2 * p.dh_pump_nominal_m3h,
            ("plant", "dh_pump_nominal_m3h"),
            "both pumps at changeover",
        ),
        (
            r.heatmeter,
            "power",
            s.meter_max_power_kw,
            ("plant", "hp_capacity_kw"),
            "the meter's largest power",
        ),
        (
            r.utility,
            "heat_demand",
            s.dh_demand_max_kw,
            ("limits", "dh_demand_max_pct"),
            "the largest demand accepted",
        ),
    ]
    for cdu, racks in p.racks_per_cdu().items():
        it = m * racks * p.rack_power_kw
        why = f"{m:g} x {racks} racks"
        rows.append((cdu, "it_load", it, ("plant", "rack_power_kw"), why))
        rows.append((cdu, "heat_to_fws", it, ("plant", "rack_power_kw"), why))
        rows.append(
            (
                cdu,
                "fws_flow",
                2 * p.fws_pump_nominal_m3h,
                ("plant", "fws_pump_nominal_m3h"),
                "both pumps at changeover",
            )
        )
    return rows


def _check_sized_ranges(
    settings: SiteSettings, regmap: RegisterMap
) -> list[tuple[tuple[Any, ...], str]]:
    """A plausible range sized for another plant makes the readings of this one BAD
    all day (a 26 MW hall on the reference map); refuse it naming both ends."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    for device, name, need, loc, why in _sized_points(settings):
        if device not in regmap.devices:
            continue
        try:
            point = regmap.point(device, name)
        except KeyError:
            continue
        if point.range is not None and point.range[1] < need:
            lo, hi = point.range
            problems.append(
                (
                    loc,
                    f"{device}.{name} reads at most {hi:g} (its range [{lo:g}, {hi:g}] in the "
                    f"register map), but this plant reaches {need:g} ({why}): widen the range",
                )
            )
    return problems


REQUIRED_KEYS: dict[tuple[str, ...], str] = {
    ("accounting", "ledger_path"): (
        "required: where the billing ledger lives (a default would start a fresh, "
        "empty ledger next to the site file)"
    ),
}
"""Keys a site must give although the model has a default (Python callers use it)."""


def _precheck(data: Mapping[str, Any], index: Mapping[tuple[Any, ...], int]) -> list[ConfigProblem]:
    """What must be refused before validation: reserved keys and required keys."""
    problems: list[ConfigProblem] = []

    def walk(node: Any, loc: tuple[Any, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if str(key).startswith("_"):
                    problems.append(
                        ConfigProblem(
                            format_loc((*loc, key)),
                            line_of(index, (*loc, key)),
                            "keys starting with '_' are reserved, never settings",
                        )
                    )
                else:
                    walk(value, (*loc, key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, (*loc, i))

    walk(data, ())
    for loc, message in REQUIRED_KEYS.items():
        node: Any = data
        for part in loc[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and loc[-1] not in node:
            problems.append(ConfigProblem(format_loc(loc), line_of(index, loc[:-1]), message))
    return problems


def load_site(path: Path | str, environ: Mapping[str, str] | None = None) -> LoadedSite:
    """Read and check the site file and its register map; raise ConfigError on any problem.

    ``environ`` defaults to the process environment (its ``HRC_*`` overrides).
    Nothing is returned half-checked: either everything validates together or the
    caller keeps what it had.
    """
    path = Path(path)
    if path.is_dir():  # a site folder
        path = path / "site.toml"
    data, text = read_toml(path)
    index = locate_lines(text)
    env = read_env_overrides(SiteSettings, os.environ if environ is None else environ)
    merged = apply_overrides(data, env.values)
    problems = env.problems + _precheck(merged, index)
    if problems:
        raise ConfigError(path, problems)
    # A problem across fields may involve a value set by a variable: name them all.
    overrides = [
        ConfigProblem("", None, f"environment overrides in effect: {', '.join(names)}")
        for names in [sorted(o.removeprefix("environment ") for o in env.origins.values())]
        if names
    ]
    try:
        settings = validate_data(SiteSettings, merged, text, path, origins=env.origins)
    except ConfigError as exc:
        raise ConfigError(path, exc.problems + overrides) from None
    map_path = Path(settings.register_map)
    if not map_path.is_absolute():
        map_path = path.parent / map_path
    regmap = load_register_map(map_path)
    problems = [
        ConfigProblem(format_loc(loc), index.get(loc) or index.get(loc[:2]), msg)
        for loc, msg in _check_against_map(settings, regmap)
    ]
    if problems:
        raise ConfigError(path, problems + overrides)
    return LoadedSite(path=path, settings=settings, regmap=regmap)
