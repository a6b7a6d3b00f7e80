"""Heat injection into the network: the DH pump speed that delivers what is asked.

Feed-forward from the demand and the temperature lift gives the flow, and the pump
curve against the network's differential pressure turns it into a speed (flow is not
proportional to speed when the pump lifts against a static head, and nothing flows
below sqrt(dp / H0)); a PI on the measured heat power trims it. A second PI guards
the supply temperature: when the water leaving for the network falls below setpoint
minus a margin (the tank top is cooler than asked, the heat pump cannot keep up), it
cuts the flow - the contract's temperature comes before its power. The two are
low-selected with tracking.

Injection stops when the network cannot take heat, the utility withdraws permission,
there is nothing to deliver, or the water would leave far too cold.
"""

from __future__ import annotations

import math

from controller.config.settings import SiteSettings, per_kw_gains
from controller.core.conditioning import CP_KWH_PER_M3K, PlantView
from controller.core.dhleaving import plant_leaving_temp
from controller.core.pid import Loop

MIN_SPEED = 10.0
MIN_FLOW_PCT = 10.0
"""While injecting, never less than this flow: the supply sensor sits at the network
connection, after the line, and water that does not move tells it nothing."""
TRIM_SPAN = 40.0  # % of nominal flow
TIE_PCT = 1e-9  # outputs this close are equal (float rounding of the external reset)
COLD_STOP_K = 5.0
COLD_STOP_S = 120.0
SOC_TAPER = 0.1
TANK_EXHAUSTED_K = 4.0
MIN_TARGET_SHARE = 1.0 / 1200.0
"""Less demand than this share of the heat pump's capacity is no reason to inject
(1 kW on the 1.2 MW reference)."""
WARMUP_BAND_K = 1.0
WARMUP_SETTLE_S = 60.0
WARMUP_OVER_K = 3.0
WARMUP_MAX_S = 600.0
"""A starting heat pump pre-circulates its condenser water (flow proving, loading) at
the return temperature, then overshoots while its pump is at minimum flow, and this
plant's hot header sends condenser water to the network first. While the unit warms
up, injection holds - it does not start, and it pauses if the mixed water leaving falls
outside the band - so that water goes into the tank instead. The warm-up ends once the
outlet has stayed between setpoint - ``WARMUP_BAND_K`` and setpoint + ``WARMUP_OVER_K``
for ``WARMUP_SETTLE_S`` (passing through on the way up does not count; a unit that sits
2-3 K high while it loads is warm, the mixing trim handles it, and holding for it cost
10 min of delivery in controller-stop), or after ``WARMUP_MAX_S`` whatever the outlet
(a unit that cannot reach the setpoint is then the temperature guard's to handle)."""


class InjectionControl:
    def __init__(self, settings: SiteSettings) -> None:
        self.settings = settings
        t = settings.tuning
        self.power = Loop(
            "injection_power",
            *per_kw_gains(t.injection, settings.plant.hp_capacity_kw),
            0.0,
            (-TRIM_SPAN, TRIM_SPAN),
        )
        self.guard = Loop(
            "injection_temp_guard",
            t.injection_temp_guard.kp,
            t.injection_temp_guard.ki,
            t.injection_temp_guard.kd,
            70.0,
            (0.0, 100.0),
            direct=False,
            initial=100.0,
        )
        self.injecting = False
        self.speed = 0.0
        self.target_kw = 0.0
        self.limited_by_temp = False
        self._cold_since: float | None = None
        self.cold_stop = False
        self._hp_was_running: bool | None = None  # None: not seen yet (no start seen)
        self.warming = False
        self._warm_start = 0.0
        self._in_band_since: float | None = None

    def apply_settings(self, s: SiteSettings, view: PlantView) -> None:
        self.settings = s
        t = s.tuning
        self.power.retune(*per_kw_gains(t.injection, s.plant.hp_capacity_kw), view.dh_power_kw)
        self.guard.retune(
            t.injection_temp_guard.kp,
            t.injection_temp_guard.ki,
            t.injection_temp_guard.kd,
            view.dh_supply,
        )

    def speed_for_flow(self, flow_pct: float) -> float:
        """Pump speed (%) for a flow (% of nominal), inverting H = H0 n^2 - k Q^2."""
        p = self.settings.plant
        h0, dp = p.dh_pump_shutoff_head_bar, p.dh_network_dp_bar
        if h0 is None or dp <= 0.0 or flow_pct <= 0.0:
            return flow_pct
        r = min(dp / h0, 1.0)
        x = flow_pct / 100.0
        return 100.0 * math.sqrt(r + (1.0 - r) * x * x)

    def deliverable(self, demand: float, soc: float | None, hp_heat: float | None) -> float:
        """What we can promise now: the demand, tapering to what the heat pump makes.

        The tank's share of the delivery fades out over the last ``SOC_TAPER`` of its
        charge, so the thermocline never reaches the outlet at full discharge flow
        (the supply temperature would sag, then overshoot when the tank stops).
        """
        soc_min = self.settings.limits.tank_soc_min
        hp = max(0.0, hp_heat or 0.0)
        if soc is None or demand <= hp:
            return demand
        share = min(1.0, max(0.0, (soc - soc_min) / SOC_TAPER))
        return hp + (demand - hp) * share

    def _warmup(self, now: float, view: PlantView, hp_running: bool, dh_setpoint: float) -> None:
        """Track a starting heat pump's warm-up (see ``WARMUP_SETTLE_S``)."""
        started = hp_running and self._hp_was_running is False
        self._hp_was_running = hp_running
        out = view.hp_cond_out
        if started:
            self.warming = True
            self._warm_start = now
            self._in_band_since = None
        if not hp_running or out is None or now - self._warm_start >= WARMUP_MAX_S:
            self.warming = False
            return
        if not self.warming:
            return
        if -WARMUP_BAND_K <= out - dh_setpoint <= WARMUP_OVER_K:
            if self._in_band_since is None:
                self._in_band_since = now
            if now - self._in_band_since >= WARMUP_SETTLE_S:
                self.warming = False
        else:
            self._in_band_since = None

    def step(
        self,
        now: float,
        dt: float,
        view: PlantView,
        allowed: bool,
        dh_setpoint: float,
        target_kw: float,
        hp_running: bool,
    ) -> float:
        s = self.settings
        # The guard judges the water being sent, not the connection sensor a line delay
        # downstream (controller.core.dhleaving); cold-stop still uses the sensor.
        leaving = plant_leaving_temp(view)
        guard_pv = leaving if leaving is not None else view.dh_supply
        supply = view.dh_supply
        # Far too cold for long: stop sending water the network cannot use.
        if (
            self.injecting
            and supply is not None
            and supply < dh_setpoint - COLD_STOP_K
            and not hp_running
        ):
            if self._cold_since is None:
                self._cold_since = now
            elif now - self._cold_since >= COLD_STOP_S:
                self.cold_stop = True
        else:
            self._cold_since = None
        if self.cold_stop and (hp_running or (supply is not None and supply >= dh_setpoint - 1.0)):
            self.cold_stop = False
        self._warmup(now, view, hp_running, dh_setpoint)
        # Already sending during a warm-up: carry on while the mix stays in the band.
        hold = self.warming and (
            not self.injecting or leaving is None or leaving < dh_setpoint - WARMUP_BAND_K
        )
        min_target = s.plant.hp_capacity_kw * MIN_TARGET_SHARE
        want = allowed and target_kw > min_target and not self.cold_stop and not hold
        self.target_kw = target_kw if want else 0.0
        t_ret = view.dh_return if view.dh_return is not None else dh_setpoint - 30.0
        lift = max(dh_setpoint - t_ret, 5.0)
        nominal = s.plant.dh_pump_nominal_m3h
        # The loops work in FLOW (% of nominal), where heat is linear in the output; the
        # pump curve turns the chosen flow into a speed last. In speed the loop gain
        # grows without bound near the minimum speed (dQ/dn is infinite there) and the
        # power trim chattered between two speeds every scan.
        ff = target_kw / (CP_KWH_PER_M3K * lift) / nominal * 100.0
        self.guard.setpoint = dh_setpoint - s.tuning.injection_guard_k
        floor = MIN_FLOW_PCT
        self.guard.set_limits(floor, 100.0)
        self.power.setpoint = target_kw
        if not want:
            self.injecting = False
            self.speed = 0.0
            self.power.track(0.0, view.dh_power_kw)
            self.guard.track(100.0, guard_pv)
            self.limited_by_temp = False
            return 0.0
        if not self.injecting:
            # Start from feed-forward alone: trim and guard begin neutral.
            self.power.track(0.0, view.dh_power_kw)
            self.guard.track(100.0, guard_pv)
        self.injecting = True
        pw = view.dh_power_kw
        trim = self.power.update(pw, dt) if pw is not None else self.power.last_output
        u_power = ff + trim
        u_guard = (
            self.guard.update(guard_pv, dt) if guard_pv is not None else self.guard.last_output
        )
        # Low select with external reset: the loser's integral follows the winner, so a
        # tie is the steady state of whichever loop won last (the guard at its flow floor
        # with the power loop reset onto it); a tie keeps that winner, not a coin toss.
        guard_wins = u_guard < u_power - TIE_PCT or (
            self.limited_by_temp and u_guard <= u_power + TIE_PCT
        )
        if guard_wins:
            self.limited_by_temp = True
            self.power.reset_feedback(u_guard - ff)
            u = u_guard
        else:
            self.limited_by_temp = False
            self.guard.reset_feedback(u_power)
            u = u_power
        top, m_c = view.tank_top, view.hp_cond_flow_m3h
        if (
            hp_running
            and top is not None
            and m_c is not None
            and top < dh_setpoint - TANK_EXHAUSTED_K
        ):
            # The tank has nothing usable left: send no more than the heat pump heats,
            # so no cold tank water is mixed into the supply.
            cap = m_c / nominal * 100.0
            if u > cap:
                u = cap
                self.power.reset_feedback(u - ff)
        flow = min(100.0, max(floor, u))
        self.speed = min(100.0, max(MIN_SPEED, self.speed_for_flow(flow)))
        return self.speed
