"""The site file an operator edits: setpoints, limits, tuning, sequencing, field bus.

Loaded with pydantic-settings from ``config/site.toml`` with environment overrides
(prefix ``HRC_``, nested with ``__``: ``HRC_SETPOINTS__FWS_SUPPLY_TEMP=34``). The
cross-field checks here are the ones that would otherwise show up as a plant
misbehaving: limits out of order, a setpoint outside its limits, a pump group that
names pumps the register map does not have. Errors name the field and its line.
"""

from __future__ import annotations

import os
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from controller.accounting.contract import ContractSettings
from controller.accounting.settings import AccountingSettings
from controller.config.registermap import RegisterMap, load_register_map
from controller.config.tomlfile import (
    ConfigError,
    ConfigProblem,
    format_loc,
    locate_lines,
    problems_from_validation,
    read_toml,
)
from controller.fieldbus.linkconfig import FieldBusConfig
from controller.metricsettings import MetricsSettings
from controller.opcua.settings import OpcUaSettings

ENV_PREFIX = "HRC_"

Pos = Annotated[float, Field(gt=0)]
NonNeg = Annotated[float, Field(ge=0)]
Frac = Annotated[float, Field(ge=0, le=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteInfo(_Section):
    name: str = "Heat-recovery plant"
    timezone: str = "UTC"


class ScanSettings(_Section):
    period_s: Annotated[float, Field(ge=0.05, le=10)] = 1.0
    time_scale: Annotated[float, Field(ge=1, le=1000)] = 1.0
    """Simulation only: plant seconds per wall second when the plant runs accelerated."""
    startup_s: NonNeg = 10.0
    """Time in STARTUP: every safety signal must be good this long before control starts."""


class PlantNameplate(_Section):
    """What the controller needs to know of the plant it runs (from datasheets)."""

    hp_capacity_kw: Pos = 1200.0
    hp_min_load_pct: Annotated[float, Field(ge=0, lt=100)] = 20.0
    tank_volume_m3: Pos = 100.0
    tank_sensors: Annotated[int, Field(ge=2, le=10)] = 10
    dh_pump_nominal_m3h: Pos = 45.0
    # The injection pump's curve and the network's differential pressure: with both,
    # flow is not proportional to speed and nothing flows below sqrt(dp / H0).
    dh_pump_shutoff_head_bar: Pos | None = None
    dh_network_dp_bar: NonNeg = 0.0
    fws_pump_nominal_m3h: Pos = 100.0
    it_liquid_kw: Pos = 884.0
    cdus: Annotated[list[str], Field(min_length=1)] = ["cdu01", "cdu02"]


class WeatherCurve(_Section):
    """DH supply setpoint against outdoor temperature, used when the utility sends none."""

    points: list[tuple[float, float]] = [(-15.0, 80.0), (0.0, 72.0), (15.0, 65.0)]

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
    scada_timeout_s: Pos = 900.0
    """A SCADA setpoint older than this falls back to the RTU, then the fixed values."""


class Limits(_Section):
    fws_supply_low: float = 20.0
    fws_supply_high: float = 38.0
    fws_supply_high_high: float = 40.0
    fws_recovery_margin_k: Pos = 1.0
    """The heat pump may cool facility water at most this far below its setpoint."""
    dh_supply_min: float = 50.0
    dh_supply_max: float = 90.0
    dh_supply_tolerance_k: Pos = 1.0
    hp_setpoint_min: float = 45.0
    hp_setpoint_max: float = 92.0
    hp_setpoint_ramp_k_per_min: Pos = 2.0
    dh_demand_max_kw: Pos = 5000.0
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
        if not self.dh_supply_min < self.dh_supply_max:
            raise ValueError("need dh_supply_min < dh_supply_max")
        if not self.hp_setpoint_min < self.hp_setpoint_max:
            raise ValueError("need hp_setpoint_min < hp_setpoint_max")
        if not self.tank_soc_min < self.tank_soc_restart < self.tank_soc_stop:
            raise ValueError("need tank_soc_min < tank_soc_restart < tank_soc_stop")
        return self


class PidTuning(_Section):
    kp: float
    ki: NonNeg = 0.0
    kd: NonNeg = 0.0
    """Gains in engineering units of output per unit of error (ki per second)."""


class Tuning(_Section):
    fws: PidTuning = PidTuning(kp=8.0, ki=8.0 / 150.0)
    """Facility-water supply: % of split-range output per K above setpoint."""
    fws_split_pct: Annotated[float, Field(gt=0, lt=100)] = 30.0
    """Share of the split-range output that strokes the bypass valve before fans start."""
    hp_trim: PidTuning = PidTuning(kp=1.5, ki=1.5 / 200.0)
    """Heat-pump outlet setpoint trim: K per K of DH supply error."""
    hp_trim_range_k: tuple[float, float] = (-3.0, 10.0)
    soc: PidTuning = PidTuning(kp=2000.0, ki=2000.0 / 3600.0)
    """Tank charge: kW of extra heat-pump output per unit of state-of-charge error."""
    source: PidTuning = PidTuning(kp=250.0, ki=250.0 / 300.0)
    """Source limit: kW of heat-pump output per K of facility water above its low bound."""
    injection: PidTuning = PidTuning(kp=0.02, ki=0.02 / 20.0)
    """DH injection pump: % speed per kW of delivered-heat error."""
    injection_temp_guard: PidTuning = PidTuning(kp=20.0, ki=20.0 / 60.0)
    """Cuts injection flow, % per K, when DH supply falls below setpoint - guard_k."""
    injection_guard_k: Pos = 0.6
    charge_margin_k: Annotated[float, Field(ge=0, le=2)] = 0.5
    """While the heat pump charges the tank, DH supply aims this far above setpoint."""


class HeatPumpSequencing(_Section):
    min_run_s: NonNeg = 600.0
    min_off_s: NonNeg = 300.0
    max_starts_per_hour: Annotated[int, Field(ge=1, le=60)] = 4
    source_min_kw: NonNeg = 150.0
    """IT heat below this for ``source_low_s`` stops the heat pump (nothing to recover)."""
    source_low_s: NonNeg = 1800.0
    start_demand_pct: Annotated[float, Field(ge=0, le=100)] = 50.0
    """A stopped heat pump starts for the network's demand alone (with the tank not
    full) when the demand is at least this share of its capacity; below, it starts
    when the tank falls to ``limits.tank_soc_restart``."""
    auto_reset_trips_per_day: Annotated[int, Field(ge=0, le=10)] = 2
    trip_reset_delay_s: NonNeg = 120.0


class PumpGroupSettings(_Section):
    pumps: Annotated[list[str], Field(min_length=2)]
    proof_s: Pos = 3.0
    rotation_h: Pos = 168.0
    overlap_s: NonNeg = 10.0
    speed_pct: Annotated[float, Field(ge=0, le=100)] = 100.0


class PumpSettings(_Section):
    fws: PumpGroupSettings = PumpGroupSettings(pumps=["p1a", "p1b"])
    dh: PumpGroupSettings = PumpGroupSettings(pumps=["p2a", "p2b"], speed_pct=0.0)


class InterlockSettings(_Section):
    dwell_s: NonNeg = 120.0
    """A latched interlock releases this long after its cause has cleared."""
    device_loss_grace_s: NonNeg = 20.0
    """Outputs to a device whose data is lost revert after this long."""
    network_loss: Literal["store", "safe"] = "store"
    """On DH network loss: "store" keeps the heat pump charging the tank until full (the
    heat is sold later); "safe" stops it at once and dumps everything."""


class SensorSettings(_Section):
    disagreement_k: Pos = 1.0
    disagreement_s: NonNeg = 30.0
    frozen_s: Pos = 600.0
    """A reading that has not changed at all this long while its group moved is stuck."""


class HxMonitorSettings(_Section):
    clean_ua_kw_per_k: Annotated[float, Field(ge=0)] = 0.0
    """Evaporator UA when clean; 0 = learn it from the first hours of steady running."""
    learn_h: Pos = 2.0
    filter_h: Pos = 1.0
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


class SiteSettings(BaseSettings):
    """Everything the controller reads from the site file."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    site: SiteInfo = SiteInfo()
    register_map: str = "registers.toml"
    """Path to the register map, relative to the site file."""
    alarms_file: str = "alarms.toml"
    roles: Roles = Roles()
    fieldbus: FieldBusConfig
    scan: ScanSettings = ScanSettings()
    plant: PlantNameplate = PlantNameplate()
    setpoints: Setpoints = Setpoints()
    weather_curve: WeatherCurve = WeatherCurve()
    limits: Limits = Limits()
    tuning: Tuning = Tuning()
    heatpump: HeatPumpSequencing = HeatPumpSequencing()
    pumps: PumpSettings = PumpSettings()
    interlocks: InterlockSettings = InterlockSettings()
    sensors: SensorSettings = SensorSettings()
    hx_monitor: HxMonitorSettings = HxMonitorSettings()
    manual: ManualSettings = ManualSettings()
    accounting: AccountingSettings = AccountingSettings()
    contract: ContractSettings | None = None
    opcua: OpcUaSettings = OpcUaSettings(enabled=False)
    metrics: MetricsSettings = MetricsSettings(enabled=False)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's content arrives as init values; the environment overrides it.
        return (env_settings, init_settings)

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
        if sp.dh_demand_kw > lim.dh_demand_max_kw:
            raise ValueError("setpoints.dh_demand_kw exceeds limits.dh_demand_max_kw")
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


class LoadedSite(BaseModel):
    """Settings plus the files they point to, all validated together."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    path: Path
    settings: SiteSettings
    regmap: RegisterMap

    def resolve(self, relative: str) -> Path:
        p = Path(relative)
        return p if p.is_absolute() else self.path.parent / p


def _env_overrides() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}


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
    for cdu in settings.plant.cdus:
        if cdu not in regmap.devices:
            problems.append((("plant", "cdus"), f"CDU {cdu!r} is not a device of the register map"))
    mapped = set(regmap.devices)
    for dev in mapped - set(settings.fieldbus.devices()):
        problems.append(
            (("fieldbus", "links"), f"device {dev!r} of the register map is on no link")
        )
    return problems


def load_site(path: Path | str) -> LoadedSite:
    """Read and check the site file and its register map; raise ConfigError on any problem.

    Nothing is returned half-checked: either everything validates together or the
    caller keeps what it had.
    """
    path = Path(path)
    data, text = read_toml(path)
    index = locate_lines(text)
    try:
        settings = SiteSettings(**data)
    except ValidationError as exc:
        problems = problems_from_validation(exc, index)
        env = _env_overrides()
        if env:
            problems.append(
                ConfigProblem(
                    "", None, f"environment overrides in effect: {', '.join(sorted(env))}"
                )
            )
        raise ConfigError(path, problems) from None
    map_path = Path(settings.register_map)
    if not map_path.is_absolute():
        map_path = path.parent / map_path
    regmap = load_register_map(map_path)
    problems = [
        ConfigProblem(format_loc(loc), index.get(loc) or index.get(loc[:2]), msg)
        for loc, msg in _check_against_map(settings, regmap)
    ]
    if problems:
        raise ConfigError(path, problems)
    return LoadedSite(path=path, settings=settings, regmap=regmap)
