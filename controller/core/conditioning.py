"""From raw points to the plant as the loops need it: voted, validated, with fallbacks.

Every quantity a loop uses comes from here, with the fallback chain written down in
one place: redundant sensors are voted (``SensorGroup``), a CDU whose data is lost is
replaced by its last value for a short while and then by the others' average, heat
flows missing a meter are computed from flow and temperatures. A quantity with no
trustworthy source is None, and the loop that needs it holds or goes to its safe
output: it never runs on a made-up number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from controller.config.settings import SiteSettings
from controller.core.image import ProcessImage
from controller.core.sensorgroup import SensorGroup
from controller.core.tankstate import TankState

CP_KWH_PER_M3K = 985.0 * 4.186 / 3600.0  # water near 55 °C, for estimates only
CDU_HOLD_S = 60.0


@dataclass(slots=True)
class PlantView:
    fws_supply: float | None = None
    fws_return: float | None = None
    fws_flow_m3h: float | None = None
    it_heat_kw: float | None = None
    dh_supply: float | None = None
    dh_return: float | None = None
    dh_flow_m3h: float | None = None
    dh_power_kw: float | None = None
    ambient: float | None = None
    valve_pos: float | None = None
    fan_speed: float | None = None
    dc_heat_kw: float | None = None
    dc_glycol_temp: float | None = None
    hp_known: bool = False
    hp_running: bool = False
    hp_tripped: bool = False
    hp_state: int | None = None
    hp_load: float | None = None
    hp_heat_kw: float | None = None
    hp_power_kw: float | None = None
    hp_cop: float | None = None
    hp_cond_out: float | None = None
    hp_evap_in: float | None = None
    hp_evap_out: float | None = None
    hp_evap_sat: float | None = None
    hp_setpoint: float | None = None
    hp_cond_flow_m3h: float | None = None
    tank_top: float | None = None
    pumps_running: dict[str, bool] = field(default_factory=dict)
    pumps_available: dict[str, bool] = field(default_factory=dict)
    pump_speed: dict[str, float | None] = field(default_factory=dict)
    network_available: bool | None = None
    utility_injection_enabled: bool | None = None
    utility_demand_kw: float | None = None
    utility_setpoint: float | None = None
    plc_known: bool = False
    plc_local_safe: bool = False
    comms_lost: frozenset[str] = frozenset()
    cdu_estimated: tuple[str, ...] = ()


class PlantReadings(NamedTuple):
    """What of the plant view the core's output carries for the metrics, the status
    view and OPC UA: one cycle's values, immutable.

    The view itself stays a mutable object the loops read at full speed (a frozen
    one costs ~10 % of the scan to build); this copy is a few positional values.
    """

    fws_return: float | None = None
    dh_return: float | None = None
    dh_flow_m3h: float | None = None
    dh_power_kw: float | None = None
    ambient: float | None = None
    valve_pos: float | None = None
    fan_speed: float | None = None
    hp_running: bool = False
    hp_tripped: bool = False
    hp_load: float | None = None
    hp_heat_kw: float | None = None
    hp_power_kw: float | None = None
    hp_cop: float | None = None
    hp_cond_out: float | None = None
    tank_top: float | None = None

    @classmethod
    def of(cls, v: PlantView) -> PlantReadings:
        return tuple.__new__(  # in field order; NamedTuple's own __new__ is slower
            cls,
            (
                v.fws_return,
                v.dh_return,
                v.dh_flow_m3h,
                v.dh_power_kw,
                v.ambient,
                v.valve_pos,
                v.fan_speed,
                v.hp_running,
                v.hp_tripped,
                v.hp_load,
                v.hp_heat_kw,
                v.hp_power_kw,
                v.hp_cop,
                v.hp_cond_out,
                v.tank_top,
            ),
        )


class Conditioner:
    """Owns the sensor groups and turns each process image into a ``PlantView``."""

    def __init__(self, settings: SiteSettings) -> None:
        r = settings.roles
        s = settings.sensors
        self.roles = r
        self.cdus = list(settings.plant.cdus)
        plc, hp, dc, hm, ut = r.plc, r.heatpump, r.drycooler, r.heatmeter, r.utility
        self.plc, self.hp, self.dc, self.hm, self.ut = plc, hp, dc, hm, ut

        def group(name: str, keys: list[str]) -> SensorGroup:
            return SensorGroup(name, keys, s.disagreement_k, s.disagreement_s, s.frozen_s)

        self.fws_supply = group(
            "fws_supply",
            [f"{plc}.fws_supply_temp", f"{plc}.fws_supply_temp_b"]
            + [f"{c}.fws_supply_temp" for c in self.cdus],
        )
        self.fws_return = group("fws_return", [f"{plc}.fws_return_temp", f"{hp}.evap_inlet_temp"])
        self.dh_supply = group("dh_supply", [f"{plc}.dh_supply_temp", f"{hm}.supply_temp"])
        self.dh_return = group("dh_return", [f"{plc}.dh_return_temp", f"{hm}.return_temp"])
        self.ambient = group("ambient", [f"{plc}.ambient_temp", f"{dc}.ambient_temp"])
        self.groups = (
            self.fws_supply,
            self.fws_return,
            self.dh_supply,
            self.dh_return,
            self.ambient,
        )
        self.tank = TankState(settings.plant.tank_volume_m3, settings.plant.tank_sensors)
        self.tank_keys = [
            f"{plc}.tank_temp_{i + 1:02d}" for i in range(settings.plant.tank_sensors)
        ]
        self.pumps = list(settings.pumps.fws.pumps) + list(settings.pumps.dh.pumps)
        self._cdu_last: dict[str, tuple[float, float]] = {}
        self.view = PlantView()
        self._cdu_keys = [(c, f"{c}.heat_to_fws") for c in self.cdus]
        self._pump_keys = [
            (p, f"{plc}.{p}_fault", f"{plc}.{p}_running", f"{plc}.{p}_speed_fb") for p in self.pumps
        ]
        names = (
            ["fws_flow", "dh_flow", "bypass_valve_pos", "local_safe_mode"],
            [
                "state",
                "running",
                "tripped",
                "load_actual",
                "heat_output",
                "electric_power",
                "cop",
                "cond_outlet_temp",
                "evap_inlet_temp",
                "evap_outlet_temp",
                "evap_sat_temp",
                "supply_setpoint",
                "cond_flow",
            ],
            ["network_available", "injection_enabled", "heat_demand", "supply_setpoint"],
        )
        self.kp = {n: f"{plc}.{n}" for n in names[0]}
        self.kh = {n: f"{hp}.{n}" for n in names[1]}
        self.ku = {n: f"{ut}.{n}" for n in names[2]}
        self.k_meter_flow = f"{hm}.flow"
        self.k_meter_power = f"{hm}.power"
        self.k_fan = f"{dc}.fan_speed_fb"
        self.k_dc_heat = f"{dc}.heat_rejected"
        self.k_dc_glycol = f"{dc}.glycol_supply_temp"

    def update(self, img: ProcessImage, now: float, dh_setpoint: float) -> PlantView:
        v = self.view
        vals = img.values
        g = vals.get
        kp, kh, ku = self.kp, self.kh, self.ku
        v.comms_lost = img.comms_lost
        v.fws_supply = self.fws_supply.update(vals, now)
        v.fws_return = self.fws_return.update(vals, now)
        v.dh_supply = self.dh_supply.update(vals, now)
        v.dh_return = self.dh_return.update(vals, now)
        v.ambient = self.ambient.update(vals, now)
        v.fws_flow_m3h = g(kp["fws_flow"])
        flow = g(kp["dh_flow"])
        v.dh_flow_m3h = flow if flow is not None else g(self.k_meter_flow)
        power = g(self.k_meter_power)
        if (
            power is None
            and v.dh_flow_m3h is not None
            and v.dh_supply is not None
            and v.dh_return is not None
        ):
            power = v.dh_flow_m3h * CP_KWH_PER_M3K * (v.dh_supply - v.dh_return)
        v.dh_power_kw = power
        v.valve_pos = g(kp["bypass_valve_pos"])
        v.fan_speed = g(self.k_fan)
        v.dc_heat_kw = g(self.k_dc_heat)
        v.dc_glycol_temp = g(self.k_dc_glycol)
        # IT heat: each CDU's own figure, held briefly and then estimated from the others.
        total = 0.0
        known = 0
        missing: list[str] = []
        for c, key in self._cdu_keys:
            q = g(key)
            if q is not None:
                self._cdu_last[c] = (q, now)
                total += q
                known += 1
                continue
            last = self._cdu_last.get(c)
            if last is not None and now - last[1] <= CDU_HOLD_S:
                total += last[0]
                known += 1
            else:
                missing.append(c)
        it_heat: float | None = total
        if missing and known:
            it_heat = total + total / known * len(missing)
        elif missing:
            fl, ts, tr = v.fws_flow_m3h, v.fws_supply, v.fws_return
            it_heat = (
                fl * CP_KWH_PER_M3K * (tr - ts)
                if fl is not None and ts is not None and tr is not None
                else None
            )
        v.cdu_estimated = tuple(missing)
        v.it_heat_kw = it_heat
        # Heat pump.
        st = g(kh["state"])
        v.hp_known = self.hp not in img.comms_lost and st is not None
        v.hp_state = int(st) if st is not None else None
        v.hp_running = bool(g(kh["running"]))
        v.hp_tripped = bool(g(kh["tripped"]))
        v.hp_load = g(kh["load_actual"])
        v.hp_heat_kw = g(kh["heat_output"])
        v.hp_power_kw = g(kh["electric_power"])
        v.hp_cop = g(kh["cop"])
        v.hp_cond_out = g(kh["cond_outlet_temp"])
        v.hp_evap_in = g(kh["evap_inlet_temp"])
        v.hp_evap_out = g(kh["evap_outlet_temp"])
        v.hp_evap_sat = g(kh["evap_sat_temp"])
        v.hp_setpoint = g(kh["supply_setpoint"])
        v.hp_cond_flow_m3h = g(kh["cond_flow"])
        # Pumps: available = no fault reported and the PLC is talking to us.
        v.plc_known = self.plc not in img.comms_lost
        avail, running, speed = v.pumps_available, v.pumps_running, v.pump_speed
        for p, k_fault, k_run, k_speed in self._pump_keys:
            fault = g(k_fault)
            avail[p] = fault is not None and fault < 0.5
            running[p] = bool(g(k_run))
            speed[p] = g(k_speed)
        v.plc_local_safe = bool(g(kp["local_safe_mode"]))
        # Utility RTU.
        na = g(ku["network_available"])
        v.network_available = None if na is None else na >= 0.5
        ie = g(ku["injection_enabled"])
        v.utility_injection_enabled = None if ie is None else ie >= 0.5
        v.utility_demand_kw = g(ku["heat_demand"])
        v.utility_setpoint = g(ku["supply_setpoint"])
        # Tank, against the usable temperature span right now.
        t_cold = v.dh_return if v.dh_return is not None else 40.0
        self.tank.update([g(k) for k in self.tank_keys], t_cold, dh_setpoint)
        v.tank_top = self.tank.temps[0] if self.tank.temps and self.tank.soc is not None else None
        return v
