"""Water-to-water heat pump with the behaviour of an industrial unit's own controller.

What the plant controller sees of a real heat pump is its local controller: it
accepts an enable, a load demand and a condenser-outlet setpoint, enforces its own
minimum run and off times, ramps its capacity, unloads when a pressure limit comes
near and trips when one is passed. The refrigerant side is a Carnot-fraction model
on saturation temperatures found from evaporator and condenser UA, so fouling and
lift show up where they would on a real machine: in the COP and the trip margins.

Energy: Q_cond = Q_evap + W_el exactly, every step.
"""

from __future__ import annotations

import math
from enum import IntEnum

from simulator.physics import CP_WATER
from simulator.physics.hx import eff_phase_change
from simulator.plantconfig import HeatPumpConfig

KELVIN = 273.15


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


class HeatPump:
    """One heat pump; ``decide`` sets load and condenser flow, ``exchange`` the heat."""

    def __init__(self, cfg: HeatPumpConfig, design_evap_flow_kg_s: float) -> None:
        self.cfg = cfg
        cap = cfg.capacity_kw
        # Design evaporator duty at a typical COP of 4.5; only used to size UA.
        q_e = cap * (1 - 1 / 4.5)
        c_e = max(q_e / cfg.evap_design_delta_t_k, 1e-3)
        eps_e = cfg.evap_design_delta_t_k / (cfg.evap_design_delta_t_k + cfg.evap_design_approach_k)
        self.ua_evap_clean = -c_e * math.log(1 - eps_e)
        c_c = cap / cfg.cond_design_delta_t_k
        eps_c = cfg.cond_design_delta_t_k / (cfg.cond_design_delta_t_k + cfg.cond_design_approach_k)
        self.ua_cond_clean = -c_c * math.log(1 - eps_c)
        self.evap_fouling = 1.0
        self.cond_fouling = 1.0
        self.m_cond_min = cfg.cond_flow_min_m3h / 3.6 * 0.98  # kg/s, water near 60 °C
        self.m_cond_max = cfg.cond_flow_max_m3h / 3.6 * 0.98
        # Commands (as written by the plant controller or the PLC).
        self.enable = False
        self.load_cmd = 0.0
        self.setpoint = 65.0
        self.reset_request = False
        # State.
        self.state = HpState.OFF
        self.fault: int = HpFault.NONE
        self.cause_active = False
        self.load = 0.0  # % of capacity actually produced
        self.on_since = -1e9
        self.off_since = -1e9
        self.starts = 0
        self.run_seconds = 0.0
        self._evap_low_s = 0.0
        self._cond_high_s = 0.0
        self._no_flow_s = 0.0
        self._m_evap = design_evap_flow_kg_s
        # Thermal outputs of the last exchange.
        self.q_cond = 0.0
        self.q_evap = 0.0
        self.w_el = 0.0
        self.cop = 0.0
        self.m_cond = 0.0
        self.t_cond_in = 40.0
        self.t_cond_out = 40.0
        self.t_evap_in = 40.0
        self.t_evap_out = 40.0
        self.t_evap_sat = 35.0
        self.t_cond_sat = 45.0
        self._cop_guess = 4.0

    # ----------------------------------------------------------------- commands
    def trip(self, fault: int, now: float) -> None:
        if self.state is not HpState.TRIPPED:
            self.state = HpState.TRIPPED
            self.fault = fault
            self.load = 0.0
            self.off_since = now

    @property
    def running(self) -> bool:
        return self.state in (HpState.STARTING, HpState.RUNNING, HpState.STOPPING)

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
            else:
                self.state = HpState.BLOCKED
        elif st is HpState.STARTING:
            self.load = min(cfg.min_load_pct, self.load + cfg.min_load_pct / cfg.start_s * dt)
            if self.load >= cfg.min_load_pct - 1e-9:
                self.state = HpState.RUNNING
        elif st is HpState.RUNNING:
            if not self.enable and now - self.on_since >= cfg.min_run_s:
                self.state = HpState.STOPPING
            else:
                target = cfg.min_load_pct if not self.enable else self.load_cmd
                target = min(100.0, max(cfg.min_load_pct, target))
                if self._must_unload():
                    target = min(target, self.load - ramp)
                target = max(cfg.min_load_pct, target)
                if target > self.load:
                    self.load = min(target, self.load + ramp)
                else:
                    self.load = max(target, self.load - ramp)
        if self.state is HpState.STOPPING:
            self.load = max(0.0, self.load - max(self.load, cfg.min_load_pct) / cfg.stop_s * dt)
            if self.load <= 0.0:
                self.state = HpState.OFF
                self.off_since = now
        if self.running:
            self.run_seconds += dt
        # Condenser pump: variable flow to hold the outlet at its setpoint.
        q = self.load * 0.01 * cfg.capacity_kw
        if q > 0.0:
            lift = max(self.setpoint - self.t_cond_in, 1.0)
            target = q / (CP_WATER * lift)
            target = min(self.m_cond_max, max(self.m_cond_min, target))
            self.m_cond += (target - self.m_cond) * min(1.0, dt / 10.0)
            self.m_cond = min(self.m_cond_max, max(self.m_cond_min, self.m_cond))
        else:
            self.m_cond = 0.0

    def _fault_persists(self) -> bool:
        """A protection trip cannot be reset while its physical cause is still there."""
        cfg = self.cfg
        f = self.fault
        if f == HpFault.LOW_EVAPORATING:
            return self.t_evap_sat < cfg.evap_trip_sat
        if f == HpFault.HIGH_CONDENSING:
            return self.t_cond_sat > cfg.cond_trip_sat
        if f == HpFault.NO_EVAPORATOR_FLOW:
            return self._m_evap < 0.5
        return False

    def _must_unload(self) -> bool:
        cfg = self.cfg
        return (
            self.t_cond_sat > cfg.cond_unload_sat
            or self.t_evap_sat < cfg.evap_unload_sat
            or self.t_cond_out > self.setpoint + cfg.outlet_overshoot_k
        )

    def exchange(
        self, now: float, dt: float, t_cond_in: float, t_evap_in: float, m_evap: float
    ) -> None:
        """Heat flows for this step given the water entering both exchangers."""
        cfg = self.cfg
        self.t_cond_in = t_cond_in
        self.t_evap_in = t_evap_in
        self._m_evap = m_evap
        q_cond = self.load * 0.01 * cfg.capacity_kw
        m_c = self.m_cond
        c_e = m_evap * CP_WATER
        if q_cond <= 0.0 or m_c <= 0.0 or c_e <= 1e-6:
            self.q_cond = self.q_evap = self.w_el = self.cop = 0.0
            relax = min(1.0, dt / 600.0)
            if m_c > 0.0:
                # Water still flows through a condenser that makes no heat: it leaves
                # as it came (anything else would create energy).
                self.t_cond_out = t_cond_in
            else:
                self.t_cond_out += (t_cond_in - self.t_cond_out) * relax
            self.t_evap_out = t_evap_in
            self.t_evap_sat += (t_evap_in - self.t_evap_sat) * relax
            self.t_cond_sat += (self.t_cond_out - self.t_cond_sat) * relax
            self._protect(now, dt, m_evap)
            return
        c_c = m_c * CP_WATER
        eps_e = eff_phase_change(self.ua_evap_clean * self.evap_fouling, c_e)
        eps_c = eff_phase_change(self.ua_cond_clean * self.cond_fouling, c_c)
        t_cs = t_cond_in + q_cond / (eps_c * c_c)
        cop = self._cop_guess
        t_es = t_evap_in
        for _ in range(3):
            q_e = q_cond * (1.0 - 1.0 / cop)
            t_es = t_evap_in - q_e / (eps_e * c_e)
            cop = cfg.eta_carnot * (t_cs + KELVIN) / max(t_cs - t_es, 1.0)
            cop = min(cfg.cop_max, max(1.01, cop))
        # The refrigerant cannot evaporate below -10 °C: that bounds the heat taken.
        q_e = q_cond * (1.0 - 1.0 / cop)
        q_e_max = eps_e * c_e * (t_evap_in + 10.0)
        if q_e > q_e_max:
            q_e = max(0.0, q_e_max)
            q_cond = q_e / (1.0 - 1.0 / cop)
            t_es = -10.0
        self._cop_guess = cop
        self.q_cond = q_cond
        self.q_evap = q_e
        self.w_el = q_cond - q_e
        self.cop = cop
        self.t_cond_sat = t_cs
        self.t_evap_sat = t_es
        self.t_cond_out = t_cond_in + q_cond / c_c
        self.t_evap_out = t_evap_in - q_e / c_e
        self._protect(now, dt, m_evap)

    def _protect(self, now: float, dt: float, m_evap: float) -> None:
        """The unit's own trips: persistent limit violations, not single samples."""
        cfg = self.cfg
        if not self.running:
            self._evap_low_s = self._cond_high_s = self._no_flow_s = 0.0
            return
        self._evap_low_s = self._evap_low_s + dt if self.t_evap_sat < cfg.evap_trip_sat else 0.0
        self._cond_high_s = self._cond_high_s + dt if self.t_cond_sat > cfg.cond_trip_sat else 0.0
        self._no_flow_s = self._no_flow_s + dt if m_evap < 0.5 else 0.0
        if self._no_flow_s > cfg.trip_delay_s:
            self.trip(HpFault.NO_EVAPORATOR_FLOW, now)
        elif self._evap_low_s > cfg.trip_delay_s:
            self.trip(HpFault.LOW_EVAPORATING, now)
        elif self._cond_high_s > cfg.trip_delay_s:
            self.trip(HpFault.HIGH_CONDENSING, now)
