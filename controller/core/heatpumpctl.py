"""The heat pump: when it runs, how hard, and at what outlet temperature.

Sequencing decides on/off with hysteresis on the tank's state of charge, guarded by
the anti-short-cycle block (min run, min off, starts per hour). While it runs:

* load: heat delivered to the network plus a charging term (PI on the state of
  charge, kW, never negative: surplus IT heat is stored, and the tank discharges
  only when the heat pump cannot cover the demand - the greedy policy that is
  optimal for one lossless store, see simulator/bound.py),
  LOW-SELECTED against a source limit so the heat pump never takes more heat than
  the IT load gives: a PI on facility-water supply holding it no lower than its
  setpoint minus a margin, biased by the (filtered) IT heat converted to condenser
  heat. The loop not selected tracks the selected one (external reset feedback), so
  neither winds up and either can take over within one step;
* outlet setpoint: the DH supply setpoint, ramped, plus a PI trim on the measured
  supply temperature after tank mixing.

A trip is reset automatically (a limited number of trips per day) once the unit has
been tripped for ``trip_reset_delay_s``; a trip that will not reset stays for the
operator.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.config.settings import SiteSettings, kw_gains
from controller.core.antishortcycle import AntiShortCycle, AntiShortCycleConfig
from controller.core.conditioning import PlantView
from controller.core.dhleaving import plant_leaving_temp
from controller.core.pid import Loop
from controller.core.ramp import Ramp, RampConfig
from controller.core.tripreset import TripReset

SOURCE_LOW_MARGIN_K = 3.0
TANK_EXHAUSTED_K = 4.0
FILL_SOC = 0.99
FILL_TAPER = 0.03
FILL_MIN_LOAD = 0.01
"""Without a network the heat pump unloads over ``FILL_TAPER`` of the tank's charge, down
to its minimum load ``FILL_MIN_LOAD`` before ``FILL_SOC``, and stops from there: the dry
coolers take the IT heat over as gradually as it is handed to them. Stopping from full
load on a full tank handed them ~950 kW within a minute, and facility water overshot its
high alarm."""
IT_FILTER_S = 300.0
COND_FLOW_MIN_SHARE = 1.0 / 90.0
"""Below this share of the DH pump's nominal flow the condenser flow is too small to
solve the mixing for (0.5 m3/h on the 45 m3/h reference)."""


@dataclass(slots=True)
class HpCommand:
    enable: bool = False
    load_pct: float = 0.0
    setpoint: float = 65.0
    trip_reset: bool = False
    wanted: bool = False
    q_target_kw: float = 0.0
    q_source_kw: float = 0.0
    limited_by_source: bool = False


class HeatPumpControl:
    def __init__(self, settings: SiteSettings, now: float) -> None:
        s = settings
        self.settings = s
        cap = s.plant.hp_capacity_kw
        self.cap = cap
        self.q_min = cap * s.plant.hp_min_load_pct / 100.0
        hs = s.heatpump
        self.asc = AntiShortCycle(AntiShortCycleConfig.of(hs))
        t = s.tuning
        # The tank loop only ever adds charging: heat from the tank in place of the heat
        # pump's would be recovered IT heat dumped. The tank discharges by itself when
        # the heat pump cannot keep up with the demand (source limit, capacity).
        self.soc_loop = Loop(
            "tank_soc", *kw_gains(t.soc, cap), s.setpoints.tank_soc_target, (0.0, cap)
        )
        self.source_loop = Loop(
            "hp_source",
            *kw_gains(t.source, cap),
            s.setpoints.fws_supply_temp - s.limits.fws_recovery_margin_k,
            (-cap, cap),
            direct=False,
            initial=0.0,  # neutral: the feed-forward alone until the water says otherwise
        )
        lo, hi = t.hp_trim_range_k
        self.trim_loop = Loop("hp_trim", t.hp_trim.kp, t.hp_trim.ki, t.hp_trim.kd, 70.0, (lo, hi))
        rate = s.limits.hp_setpoint_ramp_k_per_min
        self.setpoint_ramp = Ramp(RampConfig(up_per_min=rate, down_per_min=rate))
        self.it_filtered: float | None = None
        self.wanted = False
        self._source_low_since: float | None = None
        self.trip_reset = TripReset(hs.trip_reset_delay_s, hs.auto_reset_trips_per_day)
        self.cmd = HpCommand()

    def apply_settings(self, s: SiteSettings, view: PlantView) -> None:
        """New site file: gains and setpoints change without a bump."""
        self.settings = s
        self.trip_reset.delay = s.heatpump.trip_reset_delay_s
        self.trip_reset.per_day = s.heatpump.auto_reset_trips_per_day
        t = s.tuning
        self.soc_loop.setpoint = s.setpoints.tank_soc_target
        cap = s.plant.hp_capacity_kw
        self.soc_loop.retune(*kw_gains(t.soc, cap), None)
        self.source_loop.setpoint = s.setpoints.fws_supply_temp - s.limits.fws_recovery_margin_k
        self.source_loop.retune(*kw_gains(t.source, cap), view.fws_supply)
        self.trim_loop.retune(t.hp_trim.kp, t.hp_trim.ki, t.hp_trim.kd, view.dh_supply)
        rate = s.limits.hp_setpoint_ramp_k_per_min
        value = self.setpoint_ramp.value
        self.setpoint_ramp = Ramp(RampConfig(up_per_min=rate, down_per_min=rate), initial=value)

    # ----------------------------------------------------------------- sequencing
    def _want(
        self,
        now: float,
        view: PlantView,
        soc: float | None,
        can_inject: bool,
        deliver_kw: float,
        available: bool,
    ) -> bool:
        s = self.settings
        lim = s.limits
        it = view.it_heat_kw
        if it is not None and it < s.source_min_kw:
            if self._source_low_since is None:
                self._source_low_since = now
        else:
            self._source_low_since = None
        # Stop for lack of source only when it lasts (a job stop of 20 min is ridden
        # through at minimum load) or when facility water nears its low limit.
        fws = view.fws_supply
        near_low = fws is not None and fws < lim.fws_supply_low + SOURCE_LOW_MARGIN_K
        source_ok = not near_low and (
            self._source_low_since is None or now - self._source_low_since < s.heatpump.source_low_s
        )
        if not available or not source_ok:
            return False
        if soc is None:  # tank unknown: keep the current decision
            return self.wanted
        enough_demand = can_inject and deliver_kw >= self.q_min * 0.9
        # Without a network the heat pump fills the tank to the brim before it stops:
        # every kWh stored is sold later instead of dumped now.
        stop_at = lim.tank_soc_stop if can_inject else FILL_SOC
        if self.wanted:
            return not (soc >= stop_at and not enough_demand)
        # A stopped heat pump restarts on demand alone only when the network needs
        # enough to keep it running (winter); otherwise the tank serves until it is
        # low, which halves the starts and recovers the same heat (IT heat is in
        # surplus then: whatever the tank delivers, the heat pump stored earlier).
        big_demand = can_inject and deliver_kw >= s.heatpump.start_demand_pct / 100.0 * self.cap
        return (big_demand and soc < lim.tank_soc_stop) or soc < lim.tank_soc_restart

    # ----------------------------------------------------------------- step
    def step(
        self,
        now: float,
        dt: float,
        view: PlantView,
        soc: float | None,
        dh_setpoint: float,
        deliver_kw: float,
        can_inject: bool,
        injecting: bool,
        available: bool,
        force_off: bool,
        network_up: bool | None = None,
        demand_kw: float | None = None,
    ) -> HpCommand:
        s = self.settings
        cmd = self.cmd
        if not view.hp_known and not force_off:
            # No data from the heat pump: it keeps running on its last commands, and so
            # do its loops (no reset, no bump when the data returns). After the grace
            # time the core sends the unit's revert values instead.
            cmd.trip_reset = False
            return cmd
        cmd.trip_reset = self.trip_reset.step(view.hp_tripped, now)
        up = can_inject if network_up is None else network_up
        asked = deliver_kw if not up or demand_kw is None else max(deliver_kw, demand_kw)
        self.wanted = self._want(now, view, soc, up, asked, available)
        if force_off or not available:
            enable = self.asc.force_off(now)
            self.asc.request(False, view.hp_running, now)
        else:
            enable = self.asc.request(self.wanted, view.hp_running, now)
        cmd.enable = enable
        cmd.wanted = self.wanted
        # Source limit: what the IT load can give, as condenser heat.
        it = view.it_heat_kw
        if it is not None:
            a = dt / (IT_FILTER_S + dt)
            self.it_filtered = (
                it if self.it_filtered is None else self.it_filtered + a * (it - self.it_filtered)
            )
        cop = view.hp_cop if view.hp_cop is not None and view.hp_cop > 1.5 else 4.0
        ff = (self.it_filtered or 0.0) * cop / (cop - 1.0)
        # Below the minimum load the source limit has nothing left to take away: its
        # integral stops there, so it lets go at once when the water recovers.
        self.source_loop.set_limits(self.q_min - ff, self.cap)
        pv = view.fws_supply
        src_trim = (
            self.source_loop.update(pv, dt) if pv is not None else self.source_loop.last_output
        )
        q_source = max(0.0, ff + src_trim)
        # With no network to sell to, the tank is the only buyer: fill it. Otherwise the
        # tank is a buffer for demand the heat pump cannot meet, a risk that grows as
        # the demand nears its capacity: charge towards the target in winter, keep a
        # small reserve when the demand is a fraction of it (summer), where charging
        # fast only fills the tank, stops the heat pump and costs another start.
        if not (can_inject if network_up is None else network_up):
            target = FILL_SOC
        else:
            floor = s.limits.tank_soc_restart + 0.05
            target = max(floor, min(s.setpoints.tank_soc_target, deliver_kw / self.cap))
        self.soc_loop.setpoint = target
        q_tank = self.soc_loop.update(soc, dt) if soc is not None else self.soc_loop.last_output
        q_want = deliver_kw + q_tank
        if target == FILL_SOC and soc is not None:
            room = min(1.0, max(0.0, (FILL_SOC - FILL_MIN_LOAD - soc) / FILL_TAPER))
            q_want = min(q_want, self.q_min + (self.cap - self.q_min) * room)
        running = view.hp_running and enable
        if running:
            q = min(q_want, q_source)
            cmd.limited_by_source = q_source < q_want
            # External reset: the loop that lost the low select follows the winner.
            if cmd.limited_by_source:
                self.soc_loop.reset_feedback(q_source - deliver_kw)
            else:
                self.source_loop.reset_feedback(q_want - ff)
            q = min(self.cap, max(self.q_min, q))
        else:
            # Idle: loops follow what the unit makes now, ready for a bumpless start.
            q = 0.0
            cmd.limited_by_source = False
            start_q = self.q_min
            self.soc_loop.track(start_q - deliver_kw, soc)
            self.source_loop.reset_feedback(max(start_q, q_want) - ff)
        cmd.q_target_kw = q
        cmd.q_source_kw = q_source
        cmd.load_pct = q / self.cap * 100.0 if enable else 0.0
        # Outlet setpoint: ramped DH setpoint plus trim on the mixed supply temperature.
        base = self.setpoint_ramp.step(dh_setpoint, now)
        trim = self.trim_loop
        # While charging, aim a little above the setpoint: the tank top then still
        # meets the contract when it alone supplies the network later.
        ff = (
            self._mixing_trim(view, base, s.plant.dh_pump_nominal_m3h)
            if injecting and running
            else 0.0
        )
        discharging = ff > 0.0
        trim.setpoint = base if discharging else base + s.tuning.charge_margin_k
        # The trim acts on the water leaving the plant, not on the connection sensor a
        # line delay downstream (controller.core.dhleaving).
        leaving = plant_leaving_temp(view)
        pv = leaving if leaving is not None else view.dh_supply
        if injecting and running and pv is not None:
            t = ff + trim.update(pv, dt)
        elif running:
            trim.track(s.tuning.charge_margin_k, pv)
            t = s.tuning.charge_margin_k
        else:
            trim.track(0.0, pv)
            t = 0.0
        lo, hi = s.tuning.hp_trim_range_k
        t = min(hi, max(lo, t))
        lim = s.limits
        cmd.setpoint = min(lim.hp_setpoint_max, max(lim.hp_setpoint_min, base + t))
        return cmd

    @staticmethod
    def _mixing_trim(view: PlantView, setpoint: float, dh_nominal_m3h: float) -> float:
        """Outlet offset that makes heat-pump water and tank-top water mix to the setpoint.

        While the tank discharges, the network gets (m_c T_hp + m_x T_top) / m_d. Solving
        for T_hp gives the offset at once when the tank joins or runs dry; the PI trim
        only corrects what this misses (sensor errors, losses).
        """
        m_d, m_c, top = view.dh_flow_m3h, view.hp_cond_flow_m3h, view.tank_top
        if m_d is None or m_c is None or top is None or m_c < dh_nominal_m3h * COND_FLOW_MIN_SHARE:
            return 0.0
        if top < setpoint - TANK_EXHAUSTED_K:
            # An exhausted tank is not compensated by heating the heat pump's water
            # further (COP falls); injection is held to the heat pump's own flow.
            return 0.0
        m_x = m_d - m_c
        if m_x <= 0.0:
            return 0.0
        return m_x / m_c * (setpoint - top)

    def hand_over(self, view: PlantView, now: float) -> None:
        """Start from the plant as found (STARTUP, MANUAL): no jump on the first step."""
        running = view.hp_running
        self.wanted = running
        if view.hp_setpoint is not None:
            self.setpoint_ramp.track(view.hp_setpoint, now)
        self.asc.request(running, running, now)
        cmd = self.cmd
        cmd.enable = running
        cmd.wanted = running
        cmd.trip_reset = False
        if view.hp_load is not None:
            cmd.load_pct = view.hp_load
        if view.hp_setpoint is not None:
            cmd.setpoint = view.hp_setpoint

    @property
    def reset_exhausted(self) -> bool:
        """The trip could not be reset automatically (alarm HP_RESET_EXHAUSTED)."""
        return self.trip_reset.exhausted
