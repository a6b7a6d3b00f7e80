"""The simulated site: every component wired together, plus the plant PLC.

One ``step(dt, boundary)`` advances the whole plant. The order is the order in
which water moves: pumps and valve, the CDUs heating facility water, the heat
pump's evaporator and the dry coolers cooling it, the condenser heating the
district-heating side, headers mixing with the tank, and the network taking its
share. Each heat flow is applied once to each side, so ``energy_balance()``
closes to rounding error; tests hold it to that.

The PLC part is what a real plant PLC would do on its own: apply the controller's
commands, and take local safe mode (bypass open, fans up, heat pump off) if the
controller's heartbeat stops changing for its watchdog time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.devices import DevicePoints
from simulator.events import HxFouling
from simulator.physics import CP_WATER, RHO_WATER
from simulator.physics.actuators import PumpGroup, Valve
from simulator.physics.cdu import Cdu
from simulator.physics.drycooler import DryCoolers
from simulator.physics.heatpump import HeatPump, HpFault
from simulator.physics.meter import HeatMeter
from simulator.physics.pipe import PlugPipe, pipe_volume_m3
from simulator.physics.tank import Tank
from simulator.plantconfig import PlantConfig
from simulator.pointio import CommsFault, PointWriteError
from simulator.series import Boundary

if TYPE_CHECKING:
    from simulator.series import Boundary  # a scenario's sample: the same fields

FWS_PUMPS = ("p1a", "p1b")
DH_PUMPS = ("p2a", "p2b")


@dataclass(slots=True)
class PlantBoundary:
    """What the outside world imposes at an instant (a scenario sample has these fields)."""

    it_utilisation: float = 0.8
    ambient_temp: float = 5.0
    dh_demand: float = 1000.0
    dh_supply_setpoint: float = 70.0
    dh_return_temp: float = 40.0
    network_available: bool = True
    injection_enabled: bool = True


@dataclass(slots=True)
class EnergyTotals:
    """Heat and electricity integrated by the physics itself, in kWh."""

    it_heat: float = 0.0  # heat the racks gave to liquid
    recovered: float = 0.0  # heat the heat pump took from facility water
    hp_heat: float = 0.0  # condenser heat
    hp_electricity: float = 0.0
    delivered: float = 0.0  # heat delivered to the network
    rejected: float = 0.0  # heat rejected by the dry coolers
    tank_loss: float = 0.0
    fan_electricity: float = 0.0
    pump_electricity: float = 0.0
    demand: float = 0.0  # heat the utility asked for while the network was available


class Plant:
    """The whole simulated site. Implements ``simulator.pointio.PlantPoints``."""

    def __init__(
        self,
        cfg: PlantConfig,
        *,
        seed: int = 1,
        tank_soc: float = 0.5,
        hp_running: bool = False,
        fws_supply_temp: float | None = None,
        boundary: PlantBoundary | Boundary | None = None,
    ) -> None:
        self.cfg = cfg
        self.time = 0.0
        self.boundary: PlantBoundary | Boundary = boundary or PlantBoundary()
        b = self.boundary
        t_s = cfg.fws.design_supply_temp if fws_supply_temp is None else fws_supply_temp
        self.fws_pumps = PumpGroup(cfg.pumps.fws, list(FWS_PUMPS), duty_running=True)
        self.dh_pumps = PumpGroup(cfg.pumps.dh, list(DH_PUMPS), duty_running=False)
        m_f = self.fws_pumps.m_nominal
        self.fws_pumps.flow = m_f
        self.cdus = [
            Cdu(c.name, c.racks, cfg.it, cfg.cdu, m_f / len(cfg.cdus), t_s, b.it_utilisation)
            for c in cfg.cdus
        ]
        q0 = sum(c.q_hx for c in self.cdus)
        self.t_fws_supply = t_s
        self.t_fws_return = t_s + q0 / (m_f * CP_WATER)
        self.m_fws = m_f
        self.cap_fws_supply = cfg.fws.supply_volume_m3 * RHO_WATER * CP_WATER
        self.cap_fws_return = cfg.fws.return_volume_m3 * RHO_WATER * CP_WATER
        fws = cfg.fws
        self.fws_supply_pipe = PlugPipe(
            pipe_volume_m3(fws.supply_pipe_length_m, fws.pipe_diameter_m), t_s
        )
        self.fws_return_pipe = PlugPipe(
            pipe_volume_m3(fws.return_pipe_length_m, fws.pipe_diameter_m), self.t_fws_return
        )
        self.hp = HeatPump(cfg.heatpump, m_f)
        self.hp.t_evap_in = self.t_fws_return
        # Tank at the setpoint the utility asks for at t = 0, its cold part at the return.
        self.tank = Tank(
            cfg.tank, tank_soc, hot_temp=b.dh_supply_setpoint, cold_temp=b.dh_return_temp
        )
        self.drycoolers = DryCoolers(cfg.drycoolers)
        v = cfg.valve
        self.valve = Valve(
            v.stroke_s,
            position=100.0,
            deadband=v.deadband_pct,
            backlash=v.backlash_pct,
            characteristic=v.characteristic,
            rangeability=v.rangeability,
        )
        self.t_dh_supply = self.tank.top
        self.dh_pipe = PlugPipe(
            pipe_volume_m3(cfg.dh.pipe_length_m, cfg.dh.pipe_diameter_m), self.t_dh_supply
        )
        self.meter = HeatMeter(cfg.heatmeter, t_supply=self.t_dh_supply, t_return=b.dh_return_temp)
        self.cap_dh = cfg.dh.supply_volume_m3 * RHO_WATER * CP_WATER
        self.m_dh = 0.0
        self.m_tank = 0.0
        self.t_evap_out = self.t_fws_return
        self.q_dh = 0.0
        # Commands as last written. From cold these are the PLC's power-on values (bypass
        # open, fans full, heat pump off) and the PLC runs its local program until the
        # controller's heartbeat has been seen; from a steady operating point they are
        # the outputs that hold that point.
        self.cmd: dict[tuple[str, str], float] = {
            ("heatpump", "supply_setpoint"): 65.0,
            ("heatpump", "load_setpoint"): 0.0,
            ("heatpump", "enable"): 0.0,
            ("heatpump", "trip_reset"): 0.0,
            ("plc", "heartbeat"): 0.0,
            ("plc", "bypass_valve_cmd"): 100.0,
            ("drycooler", "fan_speed_cmd"): 100.0,
        }
        for p in FWS_PUMPS + DH_PUMPS:
            self.cmd[("plc", f"{p}_run")] = 1.0 if p == "p1a" else 0.0
            self.cmd[("plc", f"{p}_speed_cmd")] = 100.0 if p in FWS_PUMPS else 0.0
        # PLC watchdog.
        self.local_safe_mode = not hp_running
        self.safe_mode_entries = 0
        self._hb_seen = 0.0
        self._hb_changed_at = 0.0
        self._resume_started: float | None = None
        self.hp.t_cond_out = self.hp.t_cond_in = self.hp.lwt_meas = self.tank.bottom
        if hp_running:
            self._steady_start(q0)
        # Injected faults.
        self.sensor_overrides: dict[tuple[str, str], float] = {}
        self.comms_faults: dict[str, CommsFault] = {}
        # One fouling event per exchanger at most (scenario validation refuses overlaps).
        self._fouling: dict[str, HxFouling] = {}
        self.energy = EnergyTotals()
        self._stored0 = self.stored_energy_kwh()
        self.points = DevicePoints(self, seed)
        self._apply_commands()

    def _steady_start(self, q_it: float) -> None:
        """Heat pump running, taking the IT heat, and DH pump, valve and fans to match.

        The heat pump's load is chosen so its evaporator takes the heat the CDUs give
        (within its minimum and full load); the DH pump delivers the demand at the
        setpoint; whatever the heat pump cannot take goes through the bypass to dry
        coolers whose fans are set to reject exactly that. Every state variable is then
        at the value the next step would keep, so nothing moves at t = 0 but the
        boundary.
        """
        b = self.boundary
        cfg = self.cfg
        hp = self.hp
        m_f = self.m_fws
        sp = b.dh_supply_setpoint
        t_ret = b.dh_return_temp
        # DH pump at the flow that carries the demand.
        m_nom = self.dh_pumps.m_nominal
        m_d = b.dh_demand / (CP_WATER * max(sp - t_ret, 1.0)) if b.network_available else 0.0
        m_d = min(m_d, m_nom)
        speed = self.dh_pumps.speed_for_flow(m_d, cfg.dh.network_dp_bar)
        duty = self.dh_pumps.pumps[0]
        duty.run_cmd, duty.speed_cmd, duty.speed = True, speed, speed
        self.dh_pumps.flow = m_d
        self.cmd[("plc", "p2a_run")] = 1.0
        self.cmd[("plc", "p2a_speed_cmd")] = round(speed * 100.0, 2)
        # Heat-pump load whose evaporator heat equals the IT heat.
        lo = cfg.heatpump.min_load_pct
        load = 100.0
        for _ in range(30):
            hp.set_steady(self.time, load, sp, t_ret, m_f)
            hp.exchange(self.time, 1.0, t_ret, self.t_fws_return, m_f, steady=True)
            if hp.q_evap <= 0.0:
                break
            new = min(100.0, max(lo, load * q_it / hp.q_evap))
            if abs(new - load) < 1e-6:
                break
            load = new
        hp.set_steady(self.time, load, sp, t_ret, m_f)
        hp.exchange(self.time, 1.0, t_ret, self.t_fws_return, m_f, steady=True)
        hp.t_cond_out = hp.lwt_meas = sp
        self.t_evap_out = hp.t_evap_out
        self.cmd[("heatpump", "enable")] = 1.0
        self.cmd[("heatpump", "load_setpoint")] = round(load, 2)
        self.cmd[("heatpump", "supply_setpoint")] = sp
        # What the heat pump cannot take: bypass open and fans at the speed that rejects it.
        rest = q_it - hp.q_evap
        dc = self.drycoolers
        if rest <= 1e-6:
            valve, fan = 0.0, 0.0
        else:
            valve, lo_f, hi_f = 100.0, 0.0, 1.0
            for _ in range(30):
                fan = 0.5 * (lo_f + hi_f)
                dc.fan = fan
                if dc.step(0.0, m_f, hp.t_evap_out, b.ambient_temp) < rest:
                    lo_f = fan
                else:
                    hi_f = fan
        dc.fan = dc.fan_cmd = fan
        self.valve.set_position(valve)
        self.cmd[("plc", "bypass_valve_cmd")] = valve
        self.cmd[("drycooler", "fan_speed_cmd")] = round(fan * 100.0, 2)
        self.t_dh_supply = sp
        self.dh_pipe = PlugPipe(self.dh_pipe.mass / RHO_WATER, sp)
        self.meter = HeatMeter(self.cfg.heatmeter, t_supply=sp, t_return=t_ret)

    # ----------------------------------------------------------------- energy
    def stored_energy_kwh(self) -> float:
        kj = (
            sum(c.cap * c.t_tcs_ret for c in self.cdus)
            + self.cap_fws_supply * self.t_fws_supply
            + self.cap_fws_return * self.t_fws_return
            + self.cap_dh * self.t_dh_supply
            + self.hp.cap_cond * self.hp.t_cond_out
            + self.fws_supply_pipe.stored_kj()
            + self.fws_return_pipe.stored_kj()
            + self.dh_pipe.stored_kj()
            + self.tank.stored_kj()
        )
        return kj / 3600.0

    def energy_balance(self) -> dict[str, float]:
        """Heat in, heat out and stored change since start, all kWh."""
        e = self.energy
        heat_in = e.it_heat + e.hp_electricity
        heat_out = e.delivered + e.rejected + e.tank_loss
        stored = self.stored_energy_kwh() - self._stored0
        residual = heat_in - heat_out - stored
        return {
            "heat_in": heat_in,
            "heat_out": heat_out,
            "stored_change": stored,
            "residual": residual,
            "relative_error": residual / heat_in if heat_in > 0 else 0.0,
        }

    # ----------------------------------------------------------------- PLC
    def _plc_watchdog(self, now: float) -> None:
        cfg = self.cfg.plc
        hb = self.cmd[("plc", "heartbeat")]
        changed = hb != self._hb_seen
        if changed:
            self._hb_seen = hb
            self._hb_changed_at = now
        age = now - self._hb_changed_at
        if not self.local_safe_mode:
            if age > cfg.watchdog_s:
                self.local_safe_mode = True
                self.safe_mode_entries += 1
                self._resume_started = None
            return
        if changed:
            if self._resume_started is None:
                self._resume_started = now
            elif now - self._resume_started >= cfg.resume_s:
                self.local_safe_mode = False
        elif age > 3.0:
            self._resume_started = None

    def _apply_commands(self) -> None:
        """Hand the controller's commands (or the PLC's own, in safe mode) to the equipment."""
        c = self.cmd
        hp = self.hp
        if self.local_safe_mode:
            cfg = self.cfg.plc
            self.valve.cmd = 100.0
            fan = (
                self.t_fws_supply - (cfg.local_fws_setpoint - cfg.local_band_k)
            ) / cfg.local_band_k
            self.drycoolers.fan_cmd = min(1.0, max(0.2, fan))
            hp.enable = False
            for p in self.fws_pumps.pumps:
                p.run_cmd, p.speed_cmd = True, 1.0
            for p in self.dh_pumps.pumps:
                p.run_cmd = False
        else:
            self.valve.cmd = c[("plc", "bypass_valve_cmd")]
            self.drycoolers.fan_cmd = c[("drycooler", "fan_speed_cmd")] / 100.0
            hp.enable = c[("heatpump", "enable")] >= 0.5
            for group in (self.fws_pumps, self.dh_pumps):
                for p in group.pumps:
                    p.run_cmd = c[("plc", f"{p.name}_run")] >= 0.5
                    p.speed_cmd = c[("plc", f"{p.name}_speed_cmd")] / 100.0
        hp.load_cmd = c[("heatpump", "load_setpoint")]
        hp.setpoint = c[("heatpump", "supply_setpoint")]

    # ----------------------------------------------------------------- physics
    def step(self, dt: float, boundary: PlantBoundary | Any | None = None) -> None:
        if boundary is not None:
            self.boundary = boundary
        b = self.boundary
        now = self.time
        self._plc_watchdog(now)
        self._apply_commands()
        self._update_fouling(now)
        # Actuators.
        self.valve.step(dt)
        m_f = self.fws_pumps.step(dt)
        m_pump = self.dh_pumps.step(dt, self.cfg.dh.network_dp_bar)
        # With the network closed the injection pump runs against a shut valve: no flow.
        m_d = m_pump if b.network_available else 0.0
        self.m_fws = m_f
        self.m_dh = m_d
        t_ret_dh = b.dh_return_temp
        t_amb = b.ambient_temp
        # Heat pump sequencer and condenser flow; then the cold header it draws from.
        hp = self.hp
        hp.decide(now, dt)
        m_c = hp.m_cond
        tank = self.tank
        m_t = m_c - m_d
        # The water that leaves the tank this step, taken before the step so the
        # header mixing and the tank agree exactly on it.
        t_bot = tank.outlet_temp(m_t * dt, from_top=False) if m_t > 0.0 else tank.bottom
        t_top = tank.outlet_temp(-m_t * dt, from_top=True) if m_t < 0.0 else tank.top
        if m_c > 0.0:
            t_ci = (m_d * t_ret_dh + m_t * t_bot) / m_c if m_t > 0.0 else t_ret_dh
        else:
            t_ci = hp.t_cond_in
        # Facility water: CDUs heat it, the evaporator and the dry coolers cool it.
        t_s = self.t_fws_supply
        t_r = self.t_fws_return
        u = b.it_utilisation
        n = len(self.cdus)
        q_hx = 0.0
        q_it = 0.0
        for cdu in self.cdus:
            q_hx += cdu.step(dt, u, t_s, m_f / n)
            q_it += cdu.heat_kw
        c_f = m_f * CP_WATER
        hp.exchange(now, dt, t_ci, t_r, m_f)
        if c_f > 1e-9:
            t_ret_mix = t_s + q_hx / c_f
            t_eo = t_r - hp.q_evap / c_f
        else:
            t_ret_mix = t_r
            t_eo = t_r
        self.t_evap_out = t_eo
        m_dc = m_f * self.valve.flow_fraction
        q_dc = self.drycoolers.step(dt, m_dc, t_eo, t_amb)
        t_mix = t_eo - q_dc / c_f if c_f > 1e-9 else t_s
        # Both runs are plug flow: what enters now arrives volume / flow later.
        t_ret_in = self.fws_return_pipe.flow(m_f * dt, t_ret_mix)
        t_sup_in = self.fws_supply_pipe.flow(m_f * dt, t_mix)
        self.t_fws_return = t_r + m_f * CP_WATER * dt / self.cap_fws_return * (t_ret_in - t_r)
        self.t_fws_supply = t_s + m_f * CP_WATER * dt / self.cap_fws_supply * (t_sup_in - t_s)
        # District-heating side: hot header, supply pipe, tank.
        t_dh = self.t_dh_supply
        if m_d > 0.0:
            # Charging: the heat pump alone feeds the network; discharging: the tank top joins.
            t_hot = hp.t_cond_out if m_t >= 0.0 else (m_c * hp.t_cond_out - m_t * t_top) / m_d
            t_arr = self.dh_pipe.flow(m_d * dt, t_hot)  # plug flow to the connection
            self.t_dh_supply = t_dh + m_d * CP_WATER * dt / self.cap_dh * (t_arr - t_dh)
            q_dh = m_d * CP_WATER * (t_dh - t_ret_dh)
        else:
            q_dh = 0.0
        self.q_dh = q_dh
        self.m_tank = m_t
        loss_before = tank.loss_kj
        tank.step(dt, m_t, hp.t_cond_out if m_t > 0.0 else t_ret_dh)
        # Energy ledger (kWh).
        h = dt / 3600.0
        e = self.energy
        e.it_heat += q_it * h
        e.recovered += hp.q_evap * h
        e.hp_heat += hp.q_cond * h
        e.hp_electricity += hp.w_el * h
        e.delivered += q_dh * h
        e.rejected += q_dc * h
        e.tank_loss += (tank.loss_kj - loss_before) / 3600.0
        e.fan_electricity += self.drycoolers.fan_power * h
        e.pump_electricity += (self.fws_pumps.power + self.dh_pumps.power) * h
        if b.network_available and b.injection_enabled:
            e.demand += b.dh_demand * h
        self.meter.step(dt, m_d, t_dh, t_ret_dh)
        self.time = now + dt
        self.points.update(dt)

    def _update_fouling(self, now: float) -> None:
        for exchanger, event in self._fouling.items():
            factor = event.ua_factor_at(now)
            if exchanger == "evaporator":
                self.hp.evap_fouling = factor
            else:
                self.hp.cond_fouling = factor

    # ----------------------------------------------------------------- events
    def apply_event(self, event: Any, phase: str) -> None:
        """Start or end a scenario event (``phase`` is "start" or "end")."""
        kind = event.kind
        start = phase == "start"
        now = self.time
        if kind == "hp_trip":
            if start:
                self.hp.trip(int(getattr(event, "fault_code", HpFault.INTERNAL)), now)
                self.hp.cause_active = True
            else:
                self.hp.cause_active = False
        elif kind == "pump_failure":
            group = self.fws_pumps if event.pump in FWS_PUMPS else self.dh_pumps
            for p in group.pumps:
                if p.name == event.pump:
                    p.faulted = start
        elif kind == "sensor_stuck":
            key = (event.device, event.point)
            if start:
                value = self.points.values[event.device][event.point]
                self.sensor_overrides[key] = value if value is not None else float("nan")
            else:
                self.sensor_overrides.pop(key, None)
        elif kind == "sensor_out_of_range":
            key = (event.device, event.point)
            if start:
                self.sensor_overrides[key] = float(event.value)
            else:
                self.sensor_overrides.pop(key, None)
        elif kind == "comms_loss":
            if start:
                self.comms_faults[event.device] = CommsFault(event.mode)
            else:
                self.comms_faults.pop(event.device, None)
        elif kind == "hx_fouling" and start:
            self._fouling[event.exchanger] = event
        # network_outage acts through the boundary; controller_stop through the runner.

    # ----------------------------------------------------------------- PlantPoints
    def point_values(self) -> Mapping[str, Mapping[str, float | None]]:
        return self.points.values

    def comms_fault(self, device: str) -> CommsFault | None:
        return self.comms_faults.get(device)

    def write_point(self, device: str, point: str, value: float) -> None:
        key = (device, point)
        if key not in self.cmd:
            raise PointWriteError(f"{device}.{point} is not a writable point of the plant")
        lo, hi = WRITE_LIMITS.get(point, (0.0, 100.0))
        if not lo <= value <= hi:
            raise PointWriteError(f"{device}.{point}: {value} outside [{lo}, {hi}]")
        if point == "trip_reset" and value >= 0.5 and self.cmd[key] < 0.5:
            self.hp.reset_request = True
        self.cmd[key] = float(value)
        if key not in self.sensor_overrides:
            self.points.command_written(device, point, float(value))


WRITE_LIMITS: dict[str, tuple[float, float]] = {
    "supply_setpoint": (30.0, 100.0),
    "heartbeat": (0.0, 65535.0),
    "enable": (0.0, 1.0),
    "trip_reset": (0.0, 1.0),
    **{f"{p}_run": (0.0, 1.0) for p in FWS_PUMPS + DH_PUMPS},
}
