"""The simulated plant: what the site physically is, as the simulator builds it.

The nameplate (racks, CDUs, heat-pump capacity, tank, pump flows, the injection
pump's curve and the network's differential pressure) is written once,
in the site file's ``[plant]`` table, and filled in here; ``plant.toml`` in the same
site folder holds the physics only the simulator needs (approach temperatures, dry
coolers, volumes, sensor noise). A plant file that still states a nameplate figure
must agree with the site file, or it is refused naming both: two copies that drift
apart ran a pilot a whole day DEGRADED without a word. Ratings are given the way a
datasheet gives them and converted to UA values once, when the plant is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from controller.config.settings import PlantNameplate
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

Pos = Annotated[float, Field(gt=0)]
NonNeg = Annotated[float, Field(ge=0)]
Frac = Annotated[float, Field(ge=0, le=1)]


class _Section(StrictModel):
    """A table of the plant file."""


class ItConfig(_Section):
    rack_power_kw: Pos = 130.0
    liquid_fraction: Annotated[float, Field(gt=0, le=1)] = 0.85


class CduConfig(_Section):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    racks: Annotated[int, Field(ge=1)]


class CduDesign(_Section):
    approach_k: Pos = 3.0
    tcs_delta_t_k: Pos = 12.0
    tcs_volume_m3: Pos = 1.5


class FwsConfig(_Section):
    supply_volume_m3: Pos = 2.0  # well-mixed: headers, exchangers, short branches
    return_volume_m3: Pos = 2.0
    supply_pipe_length_m: NonNeg = 60.0  # plug flow: the run between plant room and hall
    return_pipe_length_m: NonNeg = 60.0
    pipe_diameter_m: Pos = 0.2065
    design_supply_temp: float = 35.0


class PumpGroupConfig(_Section):
    nominal_flow_m3h: Pos
    power_kw: Pos
    # Pump curve H = H0 * n^2 - k * Q^2 (affinity laws) against a static differential
    # pressure; None: a closed loop with friction only, where flow is proportional to speed.
    shutoff_head_bar: Pos | None = None
    spin_s: Pos = 3.0
    second_pump_gain: Annotated[float, Field(ge=1.0, le=2.0)] = 1.15


class PumpsConfig(_Section):
    fws: PumpGroupConfig = PumpGroupConfig(nominal_flow_m3h=100.0, power_kw=15.0)
    dh: PumpGroupConfig = PumpGroupConfig(nominal_flow_m3h=45.0, power_kw=7.5)


Compressor = Literal["screw_variable_speed", "screw_slide_valve", "centrifugal", "reciprocating"]


class PartLoadCurve(_Section):
    """EIRfPLR = a + b*PLR + c*PLR^2: electric input ratio at part load (DOE-2 form)."""

    a: float
    b: float
    c: float
    min_load_pct: Annotated[float, Field(ge=0, lt=100)]

    @model_validator(mode="after")
    def _positive(self) -> Self:
        for plr in (0.05, 0.25, 0.5, 0.75, 1.0):
            if self.a + plr * (self.b + plr * self.c) <= 0:
                raise ValueError(f"EIRfPLR must stay positive (it is not at PLR {plr})")
        return self


class HeatPumpConfig(_Section):
    capacity_kw: Pos = 1200.0
    min_load_pct: Annotated[float, Field(ge=0, lt=100)] = 20.0
    """The unit's minimum load (nameplate); its part-load curve must be valid down to it."""
    compressor: Compressor = "screw_slide_valve"
    part_load: dict[str, PartLoadCurve] = Field(
        default_factory=lambda: {
            "screw_slide_valve": PartLoadCurve(a=0.1061, b=0.7306, c=0.1633, min_load_pct=20.0)
        }
    )
    rated_evap_leaving: float = 40.0
    rated_cond_leaving: float = 85.0
    evap_approach_k: Pos = 3.0
    cond_approach_k: Pos = 3.0
    cap_per_k_evap: Annotated[float, Field(ge=0, le=0.1)] = 0.029
    cap_per_k_cond: Annotated[float, Field(ge=0, le=0.1)] = 0.006
    ramp_pct_per_min: Pos = 10.0
    start_s: Pos = 60.0
    stop_s: Pos = 30.0
    min_run_s: NonNeg = 600.0
    min_off_s: NonNeg = 300.0
    eta_carnot: Annotated[float, Field(gt=0, lt=1)] = 0.48
    cop_max: Pos = 8.0
    evap_design_approach_k: Pos = 3.0
    evap_design_delta_t_k: Pos = 8.0
    cond_design_approach_k: Pos = 3.0
    cond_design_delta_t_k: Pos = 30.0
    cond_flow_min_m3h: Pos = 4.0
    cond_flow_max_m3h: Pos = 60.0
    cond_volume_m3: Pos = 0.4
    lwt_kp: Pos = 0.3
    lwt_ti_s: Pos = 60.0
    lwt_sensor_lag_s: NonNeg = 10.0
    evap_flow_switch_m3h: Pos = 20.0
    cond_flow_switch_m3h: Pos = 3.0
    flow_prove_s: Pos = 15.0
    flow_prove_timeout_s: Pos = 60.0
    evap_unload_sat: float = 8.0
    evap_trip_sat: float = 3.0
    evap_lwt_unload: float = 6.0
    evap_lwt_trip: float = 3.0
    cond_unload_sat: float = 95.0
    cond_trip_sat: float = 100.0
    trip_delay_s: NonNeg = 5.0
    outlet_overshoot_k: Pos = 4.0
    outlet_stop_k: Pos = 6.0
    outlet_stop_delay_s: NonNeg = 60.0

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.evap_trip_sat < self.evap_unload_sat:
            raise ValueError("evap_trip_sat must be below evap_unload_sat")
        if not self.evap_lwt_trip < self.evap_lwt_unload:
            raise ValueError("evap_lwt_trip must be below evap_lwt_unload")
        if not self.cond_unload_sat < self.cond_trip_sat:
            raise ValueError("cond_unload_sat must be below cond_trip_sat")
        if not self.cond_flow_min_m3h < self.cond_flow_max_m3h:
            raise ValueError("cond_flow_min_m3h must be below cond_flow_max_m3h")
        if not self.cond_flow_switch_m3h <= self.cond_flow_min_m3h:
            raise ValueError("cond_flow_switch_m3h must not exceed cond_flow_min_m3h")
        if not self.outlet_overshoot_k < self.outlet_stop_k:
            raise ValueError("outlet_overshoot_k (unload) must be below outlet_stop_k (stop)")
        if self.compressor not in self.part_load:
            name = self.compressor
            raise ValueError(f"compressor {name!r} has no [heatpump.part_load.{name}] curve")
        if self.min_load_pct < self.curve.min_load_pct:
            raise ValueError(
                f"min_load_pct {self.min_load_pct} is below the {self.compressor} part-load "
                f"curve's min_load_pct {self.curve.min_load_pct}: the curve does not hold there"
            )
        return self

    @property
    def curve(self) -> PartLoadCurve:
        return self.part_load[self.compressor]


class TankConfig(_Section):
    volume_m3: Pos = 100.0
    layers: Annotated[int, Field(ge=8, le=100)] = 12
    sensors: Annotated[int, Field(ge=2, le=10)] = 10
    loss_w_per_k: NonNeg = 120.0
    mixing_w_per_k: NonNeg = 100.0
    inlet_entrainment: Annotated[float, Field(ge=0, le=2)] = 0.0
    room_temp: float = 15.0
    cold_temp: float = 40.0
    hot_temp: float = 70.0

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.cold_temp < self.hot_temp:
            raise ValueError("cold_temp must be below hot_temp")
        return self


class DryCoolerConfig(_Section):
    units: Annotated[int, Field(ge=1)] = 2
    capacity_kw: Pos = 600.0
    design_ambient: float = 35.0
    design_water_in: float = 50.0
    design_water_out: float = 40.0
    design_air_rise_k: Pos = 8.0
    natural_fraction: Frac = 0.08
    fan_power_kw: Pos = 24.0
    fan_ramp_s: Pos = 10.0
    glycol_mass_fraction: Annotated[float, Field(ge=0, le=0.6)] = 0.3
    hx_approach_k: Pos = 3.0
    frost_limit: float = 2.0

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.design_ambient < self.design_water_out < self.design_water_in:
            raise ValueError("need design_ambient < design_water_out < design_water_in")
        if self.frost_limit < 0.0:
            raise ValueError("frost_limit protects water in the plate exchanger: at least 0 °C")
        return self


class ValveConfig(_Section):
    stroke_s: Pos = 15.0
    deadband_pct: Annotated[float, Field(ge=0, le=5)] = 0.0
    backlash_pct: Annotated[float, Field(ge=0, le=5)] = 0.0
    characteristic: Literal["linear", "equal_percentage"] = "linear"
    rangeability: Annotated[float, Field(gt=1)] = 50.0


class DhConfig(_Section):
    supply_volume_m3: Pos = 0.2  # well-mixed: header and meter run at the connection
    pipe_length_m: NonNeg = 50.0  # plug flow: plant to the utility's connection
    pipe_diameter_m: Pos = 0.1603
    network_dp_bar: NonNeg = 1.0  # supply minus return at the connection


class PlcConfig(_Section):
    watchdog_s: Pos = 10.0
    resume_s: Pos = 5.0
    local_fws_setpoint: float = 30.0
    local_band_k: Pos = 5.0


class SensorConfig(_Section):
    temp_noise_k: NonNeg = 0.03
    temp_lag_s: NonNeg = 8.0
    flow_noise_pct: NonNeg = 0.4
    flow_lag_s: NonNeg = 2.0
    power_noise_pct: NonNeg = 0.4


class HeatMeterConfig(_Section):
    flow_bias_pct: Annotated[float, Field(ge=-5, le=5)] = 0.3
    temp_pair_bias_k: Annotated[float, Field(ge=-1, le=1)] = 0.02
    flow_in_return: bool = True


class ModbusConfig(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 5020
    device_ports: dict[str, Annotated[int, Field(ge=1, le=65535)]] = Field(default_factory=dict)
    register_map: str = "registers.toml"


class PlantConfig(_Section):
    """The whole site as the simulator builds it."""

    name: str = "Reference site"
    it: ItConfig = ItConfig()
    cdus: list[CduConfig] = Field(
        default_factory=lambda: [CduConfig(name="cdu01", racks=4), CduConfig(name="cdu02", racks=4)]
    )
    cdu: CduDesign = CduDesign()
    fws: FwsConfig = FwsConfig()
    pumps: PumpsConfig = PumpsConfig()
    heatpump: HeatPumpConfig = HeatPumpConfig()
    tank: TankConfig = TankConfig()
    drycoolers: DryCoolerConfig = DryCoolerConfig()
    valve: ValveConfig = ValveConfig()
    dh: DhConfig = DhConfig()
    plc: PlcConfig = PlcConfig()
    sensors: SensorConfig = SensorConfig()
    heatmeter: HeatMeterConfig = HeatMeterConfig()
    modbus: ModbusConfig = ModbusConfig()

    @model_validator(mode="after")
    def _dh_pump_beats_the_network(self) -> Self:
        h0 = self.pumps.dh.shutoff_head_bar
        if h0 is not None and not h0 > self.dh.network_dp_bar:
            raise ValueError(
                f"pumps.dh.shutoff_head_bar ({h0}) must exceed dh.network_dp_bar "
                f"({self.dh.network_dp_bar}): the injection pump could never deliver"
            )
        return self

    @model_validator(mode="after")
    def _cdus(self) -> Self:
        names = [c.name for c in self.cdus]
        if len(set(names)) != len(names):
            raise ValueError("CDU names must be unique")
        if not self.cdus:
            raise ValueError("the plant needs at least one CDU")
        return self

    @property
    def racks(self) -> int:
        return sum(c.racks for c in self.cdus)

    @property
    def it_liquid_kw(self) -> float:
        """Heat the racks hand to liquid at full utilisation."""
        return self.racks * self.it.rack_power_kw * self.it.liquid_fraction


SITE_FILE = "site.toml"


def nameplate_figures(np: PlantNameplate) -> dict[tuple[str, ...], tuple[Any, str]]:
    """Plant-file key -> (value, the site file's key it comes from)."""
    return {
        ("it", "rack_power_kw"): (np.rack_power_kw, "plant.rack_power_kw"),
        ("it", "liquid_fraction"): (np.liquid_fraction, "plant.liquid_fraction"),
        ("cdus",): (
            [{"name": c, "racks": n} for c, n in np.racks_per_cdu().items()],
            "plant.cdus and plant.racks",
        ),
        ("pumps", "fws", "nominal_flow_m3h"): (
            np.fws_pump_nominal_m3h,
            "plant.fws_pump_nominal_m3h",
        ),
        ("pumps", "dh", "nominal_flow_m3h"): (np.dh_pump_nominal_m3h, "plant.dh_pump_nominal_m3h"),
        ("pumps", "dh", "shutoff_head_bar"): (
            np.dh_pump_shutoff_head_bar,
            "plant.dh_pump_shutoff_head_bar",
        ),
        ("dh", "network_dp_bar"): (np.dh_network_dp_bar, "plant.dh_network_dp_bar"),
        ("heatpump", "capacity_kw"): (np.hp_capacity_kw, "plant.hp_capacity_kw"),
        ("heatpump", "min_load_pct"): (np.hp_min_load_pct, "plant.hp_min_load_pct"),
        ("tank", "volume_m3"): (np.tank_volume_m3, "plant.tank_volume_m3"),
        ("tank", "sensors"): (np.tank_sensors, "plant.tank_sensors"),
    }


def read_nameplate(site_file: Path) -> PlantNameplate:
    """The ``[plant]`` table of a site file, checked on its own (no register map)."""
    data, text = read_toml(site_file)
    table = data.get("plant", {})
    return validate_data(PlantNameplate, table, text, site_file, prefix=("plant",))


def _fill(
    data: dict[str, Any], np: PlantNameplate, index: dict[tuple[Any, ...], int], site_name: str
) -> list[ConfigProblem]:
    """Put the nameplate into the plant data; a figure stated differently is a problem."""
    defaults = PlantConfig().model_dump()
    problems: list[ConfigProblem] = []
    for loc, (value, source) in nameplate_figures(np).items():
        node: dict[str, Any] = data
        seed: Any = defaults
        for key in loc[:-1]:
            seed = seed[key]
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = dict(seed)  # table absent: start from the model's
            node = child
        stated = node.get(loc[-1])
        if stated is not None and stated != value:
            problems.append(
                ConfigProblem(
                    format_loc(loc),
                    line_of(index, loc),
                    f"{stated!r} disagrees with the nameplate, {site_name} {source} = "
                    f"{value!r}: the nameplate is written once, in {site_name} [plant]; "
                    "remove it here",
                )
            )
        node[loc[-1]] = value
    return problems


def load_plant_config(path: Path | str, nameplate: PlantNameplate | None = None) -> PlantConfig:
    """The plant file completed from the nameplate of its site.

    ``nameplate`` defaults to the ``[plant]`` table of the ``site.toml`` beside the
    plant file; a plant file without one stands alone (tests, studies).
    """
    path = Path(path)
    data, text = read_toml(path)
    site_file = path.parent / SITE_FILE
    if nameplate is None and site_file.is_file():
        nameplate = read_nameplate(site_file)
    if nameplate is not None:
        problems = _fill(data, nameplate, locate_lines(text), site_file.name)
        if problems:
            raise ConfigError(path, problems)
    return validate_data(PlantConfig, data, text, path)
