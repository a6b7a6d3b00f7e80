"""Water-to-water heat pump with the behaviour of an industrial unit's own controller.

What the plant controller sees of a real heat pump is its local controller: it
accepts an enable, a load demand and a condenser-outlet setpoint, enforces its own
minimum run and off times, ramps its capacity, unloads when a pressure limit comes
near and trips when one is passed. What a real unit also does, and this one does:

* start: the condenser pump runs and both flow switches must be made for
  ``flow_prove_s`` before the compressor loads; not proven in time, or lost while
  running, is a trip (no evaporator / no condenser flow);
* capacity and COP from the manufacturer-style map of ``hpmap`` (leaving water
  temperatures, evaporator flow through the leaving temperature, part-load curve of
  the compressor type); fouling adds to the approach the map assumes;
* the leaving water is held by the unit's own PI on its condenser pump, acting on a
  lagged sensor, with the water held in the condenser as a thermal mass: it settles
  in tens of seconds and overshoots on a load step;
* high leaving water: unload, then stop at minimum load; low evaporator leaving
  water (freeze protection): unload, then trip.

Energy: Q_cond = Q_evap + W_el exactly, every step, and the condenser's water mass
is part of the plant's stored energy.
"""

from __future__ import annotations

import math
from enum import IntEnum

from simulator.physics import CP_WATER, RHO_WATER
from simulator.physics.hpmap import KELVIN, MapParams, solve_capacity
from simulator.plantconfig import HeatPumpConfig

__all__ = ["KELVIN", "HeatPump", "HpFault", "HpState", "map_params"]


def map_params(cfg: HeatPumpConfig) -> MapParams:
    """The performance map of the unit the plant file describes."""
    c = cfg.curve
    return MapParams(
        capacity_kw=cfg.capacity_kw,
        rated_evap_leaving=cfg.rated_evap_leaving,
        rated_cond_leaving=cfg.rated_cond_leaving,
        eta_carnot=cfg.eta_carnot,
        evap_approach_k=cfg.evap_approach_k,
        cond_approach_k=cfg.cond_approach_k,
        cap_per_k_evap=cfg.cap_per_k_evap,
        cap_per_k_cond=cfg.cap_per_k_cond,
        eir_plr=(c.a, c.b, c.c),
        cop_max=cfg.cop_max,
    )


def _approach(q: float, ua: float, c: float) -> float:
    """Leaving water to saturation temperature of a phase-change exchanger (K)."""
    if c <= 1e-9 or q <= 0.0:
        return 0.0
    ntu = min(ua / c, 50.0)
    return q / c / math.expm1(ntu)


class HpState(IntEnum):
    OFF = 0
    STARTING = 1
    RUNNING = 2
    STOPPING = 3
    TRIPPED = 4
    BLOCKED = 5  # enabled but held off by the minimum off time


class HpFault(IntEnum):
    NONE = 0
    LOW_EVAPORATING = 1
    HIGH_CONDENSING = 2
    NO_CONDENSER_FLOW = 3
    NO_EVAPORATOR_FLOW = 4
    INTERNAL = 9


_RUNNING = frozenset((HpState.STARTING, HpState.RUNNING, HpState.STOPPING))


class HeatPump:
    """One heat pump; ``decide`` sets load and condenser flow, ``exchange`` the heat."""

    def __init__(self, cfg: HeatPumpConfig, design_evap_flow_kg_s: float) -> None:
        self.cfg = cfg
        self.map = map_params(cfg)
        cap = cfg.capacity_kw
        # UA of both exchangers from their design approach: they give the saturation
        # temperatures on the bus and the extra approach that fouling adds to the map.
        q_e = cap * (1 - 1 / 4.5)
        c_e = max(q_e / cfg.evap_design_delta_t_k, 1e-3)
        eps_e = cfg.evap_design_delta_t_k / (cfg.evap_design_delta_t_k + cfg.evap_design_approach_k)
        self.ua_evap_clean = -c_e * math.log(1 - eps_e)
        c_c = cap / cfg.cond_design_delta_t_k
        eps_c = cfg.cond_design_delta_t_k / (cfg.cond_design_delta_t_k + cfg.cond_design_approach_k)
        self.ua_cond_clean = -c_c * math.log(1 - eps_c)
        self.evap_fouling = 1.0
        self.cond_fouling = 1.0
        kg_s = RHO_WATER / 3600.0  # (m3/h) -> kg/s
        self.m_cond_min = cfg.cond_flow_min_m3h * kg_s
        self.m_cond_max = cfg.cond_flow_max_m3h * kg_s
        self.m_evap_switch = cfg.evap_flow_switch_m3h * kg_s
        self.m_cond_switch = cfg.cond_flow_switch_m3h * kg_s
        self.cap_cond = cfg.cond_volume_m3 * RHO_WATER * CP_WATER  # kJ/K
        # Commands (as written by the plant controller or the PLC).
        self.enable = False
        self.load_cmd = 0.0
        self.setpoint = 65.0
        self.reset_request = False
        # State.
        self.state = HpState.OFF
        self.fault: int = HpFault.NONE
        self.cause_active = False
        self.load = 0.0  # % of the available capacity (the compressor's part-load ratio)
        self.on_since = -1e9
        self.off_since = -1e9
        self.starts = 0
        self.run_seconds = 0.0
        self.proving = False  # STARTING, waiting for both flow switches
        self._prove_started = 0.0
        self._proven_s = 0.0
        self._evap_low_s = 0.0
        self._cond_high_s = 0.0
        self._no_flow_s = 0.0
        self._no_cond_flow_s = 0.0
        self._freeze_s = 0.0
        self._high_lwt_s = 0.0
        self.high_lwt_stops = 0
        self._m_evap = design_evap_flow_kg_s
        # The unit's leaving-water controller: lagged sensor and PI integral (kg/s).
        self.lwt_meas = 40.0
        self.lwt_integral = self.m_cond_min
        # Thermal outputs of the last exchange.
        self.q_cond = 0.0
        self.q_evap = 0.0
        self.w_el = 0.0
        self.cop = 0.0
        self.m_cond = 0.0
        self.t_cond_in = 40.0
        self.t_cond_out = 40.0  # also the temperature of the water held in the condenser
        self.t_evap_in = 40.0
        self.t_evap_out = 40.0
        self.t_evap_sat = 35.0
        self.t_cond_sat = 45.0
        self._cop_guess = 4.0

    def set_steady(
        self, now: float, load: float, setpoint: float, t_cond_in: float, m_evap: float
    ) -> None:
        """Put the unit at a steady operating point: running, flows proven, outlet at setpoint."""
        self.state = HpState.RUNNING
        self.enable = True
        self.load = self.load_cmd = load
        self.on_since = now - self.cfg.min_run_s
        self.setpoint = setpoint
        self._m_evap = m_evap
        c_e = m_evap * CP_WATER
        q, cop, _ = solve_capacity(load / 100.0, self.t_evap_in, c_e, setpoint, self.map)
        lift = max(setpoint - t_cond_in, 1.0)
        self.m_cond = min(self.m_cond_max, max(self.m_cond_min, q / (CP_WATER * lift)))
        self.lwt_integral = self.m_cond
        self.t_cond_in = t_cond_in
        self.t_cond_out = self.lwt_meas = t_cond_in + q / (self.m_cond * CP_WATER)
        self._cop_guess = cop

    # ----------------------------------------------------------------- commands
    def trip(self, fault: int, now: float) -> None:
        if self.state is not HpState.TRIPPED:
            self.state = HpState.TRIPPED
            self.fault = fault
            self.load = 0.0
            self.proving = False
            self.off_since = now

    @property
    def running(self) -> bool:
        return self.state in _RUNNING

    def min_run_remaining(self, now: float) -> float:
        if not self.running:
            return 0.0
        return max(0.0, self.cfg.min_run_s - (now - self.on_since))

    def min_off_remaining(self, now: float) -> float:
        if self.running or self.state is HpState.TRIPPED:
            return 0.0
        return max(0.0, self.cfg.min_off_s - (now - self.off_since))

    # ----------------------------------------------------------------- step
    def decide(self, now: float, dt: float) -> None:
        """Advance the unit's own sequencer and set load and condenser flow."""
        cfg = self.cfg
        st = self.state
        ramp = cfg.ramp_pct_per_min / 60.0 * dt
        min_load = cfg.min_load_pct
        if st is HpState.TRIPPED:
            self.load = 0.0
            if self.reset_request and not self.cause_active and not self._fault_persists():
                self.state = HpState.OFF
                self.fault = HpFault.NONE
            self.reset_request = False
        elif st in (HpState.OFF, HpState.BLOCKED):
            self.load = 0.0
            if not self.enable:
                self.state = HpState.OFF
            elif now - self.off_since >= cfg.min_off_s:
                self.state = HpState.STARTING
                self.on_since = now
                self.starts += 1
                self.proving = True
                self._prove_started = now
                self._proven_s = 0.0
                self._high_lwt_s = 0.0
            else:
                self.state = HpState.BLOCKED
        elif st is HpState.STARTING:
            if self.proving:
                self._prove_flows(now, dt)
            else:
                self.load = min(min_load, self.load + min_load / cfg.start_s * dt)
                if self.load >= min_load - 1e-9:
                    self.state = HpState.RUNNING
        elif st is HpState.RUNNING:
            high_lwt = self._high_lwt_stop(dt)
            if high_lwt or (not self.enable and now - self.on_since >= cfg.min_run_s):
                self.state = HpState.STOPPING
            else:
                target = min_load if not self.enable else self.load_cmd
                target = min(100.0, max(min_load, target))
                if self._must_unload():
                    target = min(target, self.load - ramp)
                target = max(min_load, target)
                if target > self.load:
                    self.load = min(target, self.load + ramp)
                else:
                    self.load = max(target, self.load - ramp)
        if self.state is HpState.STOPPING:
            self.load = max(0.0, self.load - max(self.load, min_load) / cfg.stop_s * dt)
            if self.load <= 0.0:
                self.state = HpState.OFF
                self.off_since = now
        if self.running:
            self.run_seconds += dt
        self._condenser_pump(dt)

    def _prove_flows(self, now: float, dt: float) -> None:
        """Condenser pump on, compressor held until both flow switches have been made."""
        cfg = self.cfg
        evap_ok = self._m_evap >= self.m_evap_switch
        cond_ok = self.m_cond >= self.m_cond_switch
        self._proven_s = self._proven_s + dt if evap_ok and cond_ok else 0.0
        if self._proven_s >= cfg.flow_prove_s:
            self.proving = False
            self.lwt_integral = self.m_cond_min
        elif now - self._prove_started >= cfg.flow_prove_timeout_s:
            self.trip(HpFault.NO_EVAPORATOR_FLOW if not evap_ok else HpFault.NO_CONDENSER_FLOW, now)

    def _condenser_pump(self, dt: float) -> None:
        """The unit's leaving-water PI on its condenser pump (flow up when too hot)."""
        cfg = self.cfg
        if not self.running:
            self.m_cond = 0.0
            return
        lag = cfg.lwt_sensor_lag_s
        self.lwt_meas += (self.t_cond_out - self.lwt_meas) * dt / (lag + dt)
        lo, hi = self.m_cond_min, self.m_cond_max
        if self.proving or self.load <= 0.0:
            self.m_cond = lo
            return
        e = self.lwt_meas - self.setpoint
        self.lwt_integral = min(hi, max(lo, self.lwt_integral + cfg.lwt_kp * e * dt / cfg.lwt_ti_s))
        self.m_cond = min(hi, max(lo, self.lwt_integral + cfg.lwt_kp * e))

    def _high_lwt_stop(self, dt: float) -> bool:
        """Leaving water far above setpoint with nothing left to unload: stop (not a trip)."""
        cfg = self.cfg
        over = self.t_cond_out > self.setpoint + cfg.outlet_stop_k
        at_min = self.load <= cfg.min_load_pct + 1e-6
        self._high_lwt_s = self._high_lwt_s + dt if over and at_min else 0.0
        if self._high_lwt_s > cfg.outlet_stop_delay_s:
            self._high_lwt_s = 0.0
            self.high_lwt_stops += 1
            return True
        return False

    def _fault_persists(self) -> bool:
        """A protection trip cannot be reset while its physical cause is still there."""
        cfg = self.cfg
        f = self.fault
        if f == HpFault.LOW_EVAPORATING:
            return self.t_evap_sat < cfg.evap_trip_sat or self.t_evap_out < cfg.evap_lwt_trip
        if f == HpFault.HIGH_CONDENSING:
            return self.t_cond_sat > cfg.cond_trip_sat
        if f == HpFault.NO_EVAPORATOR_FLOW:
            return self._m_evap < self.m_evap_switch
        return False

    def _must_unload(self) -> bool:
        cfg = self.cfg
        return (
            self.t_cond_sat > cfg.cond_unload_sat
            or self.t_evap_sat < cfg.evap_unload_sat
            or self.t_evap_out < cfg.evap_lwt_unload
            or self.t_cond_out > self.setpoint + cfg.outlet_overshoot_k
        )

    def exchange(
        self,
        now: float,
        dt: float,
        t_cond_in: float,
        t_evap_in: float,
        m_evap: float,
        *,
        steady: bool = False,
    ) -> None:
        """Heat flows for this step given the water entering both exchangers.

        ``steady``: the condenser water is at its steady state for this step (the
        physical bound's operating points), instead of integrating its thermal mass.
        """
        self.t_cond_in = t_cond_in
        self.t_evap_in = t_evap_in
        self._m_evap = m_evap
        m_c = self.m_cond
        c_e = m_evap * CP_WATER
        c_c = m_c * CP_WATER
        cap = self.cap_cond
        t_hold = self.t_cond_out
        if self.load <= 0.0 or m_c <= 0.0 or c_e <= 1e-6:
            self.q_cond = self.q_evap = self.w_el = self.cop = 0.0
            if m_c > 0.0:
                # Water flows through a condenser that makes no heat: it mixes with the
                # water held there (anything else would create or lose energy).
                mixed = (cap * t_hold + dt * c_c * t_cond_in) / (cap + dt * c_c)
                self.t_cond_out = t_cond_in if steady else mixed
            relax = min(1.0, dt / 600.0)
            self.t_evap_out = t_evap_in
            self.t_evap_sat += (t_evap_in - self.t_evap_sat) * relax
            self.t_cond_sat += (self.t_cond_out - self.t_cond_sat) * relax
            self._protect(now, dt, m_evap)
            return
        # Fouling raises the approach above the clean one the map was rated with (taken
        # at the last step's heat: it moves slowly and this keeps the step explicit).
        extra_e = extra_c = 0.0
        ua_e, ua_c = self.ua_evap_clean, self.ua_cond_clean
        if self.evap_fouling != 1.0:
            qe_prev = max(self.q_evap, 1.0)
            extra_e = _approach(qe_prev, ua_e * self.evap_fouling, c_e) - _approach(
                qe_prev, ua_e, c_e
            )
        if self.cond_fouling != 1.0:
            q_prev = max(self.q_cond, 1.0)
            extra_c = _approach(q_prev, ua_c * self.cond_fouling, c_c) - _approach(
                q_prev, ua_c, c_c
            )
        t_cl = t_hold + extra_c  # the leaving temperature the compressor works against
        q, cop, _ = solve_capacity(
            self.load * 0.01,
            t_evap_in - extra_e,
            c_e,
            t_cl,
            self.map,
            self._cop_guess,
            self.q_cond if self.q_cond > 0.0 else None,
        )
        q_e = q * (1.0 - 1.0 / cop)
        # Water cannot leave the evaporator below -5 °C: the low-pressure cut-out acts first.
        q_e_max = c_e * (t_evap_in + 5.0)
        if q_e > q_e_max:
            q_e = max(0.0, q_e_max)
            q = q_e / (1.0 - 1.0 / cop)
        self._cop_guess = cop
        self.q_cond = q
        self.q_evap = q_e
        self.w_el = q - q_e
        self.cop = cop
        if steady:
            self.t_cond_out = t_cond_in + q / c_c
        else:
            self.t_cond_out = (cap * t_hold + dt * (q + c_c * t_cond_in)) / (cap + dt * c_c)
        self.t_evap_out = t_evap_in - q_e / c_e
        # Saturation temperatures as the unit's pressure transducers see them: the
        # exchangers' real approach at this heat and flow, fouling included.
        self.t_evap_sat = self.t_evap_out - _approach(q_e, ua_e * self.evap_fouling, c_e)
        self.t_cond_sat = self.t_cond_out + _approach(q, ua_c * self.cond_fouling, c_c)
        self._protect(now, dt, m_evap)

    def _protect(self, now: float, dt: float, m_evap: float) -> None:
        """The unit's own trips: persistent limit violations, not single samples."""
        cfg = self.cfg
        if not self.running:
            self._evap_low_s = self._cond_high_s = self._no_flow_s = 0.0
            self._no_cond_flow_s = self._freeze_s = 0.0
            return
        compressor = self.load > 0.0
        self._evap_low_s = self._evap_low_s + dt if self.t_evap_sat < cfg.evap_trip_sat else 0.0
        self._cond_high_s = self._cond_high_s + dt if self.t_cond_sat > cfg.cond_trip_sat else 0.0
        self._freeze_s = (
            self._freeze_s + dt if compressor and self.t_evap_out < cfg.evap_lwt_trip else 0.0
        )
        self._no_flow_s = (
            self._no_flow_s + dt if not self.proving and m_evap < self.m_evap_switch else 0.0
        )
        self._no_cond_flow_s = (
            self._no_cond_flow_s + dt if compressor and self.m_cond < self.m_cond_switch else 0.0
        )
        if self._no_flow_s > cfg.trip_delay_s:
            self.trip(HpFault.NO_EVAPORATOR_FLOW, now)
        elif self._no_cond_flow_s > cfg.trip_delay_s:
            self.trip(HpFault.NO_CONDENSER_FLOW, now)
        elif self._evap_low_s > cfg.trip_delay_s or self._freeze_s > cfg.trip_delay_s:
            self.trip(HpFault.LOW_EVAPORATING, now)
        elif self._cond_high_s > cfg.trip_delay_s:
            self.trip(HpFault.HIGH_CONDENSING, now)
