"""A conventional PLC strategy for the same plant: the yardstick for the project's controller.

Numbers only mean something beside an alternative, so every scenario also runs with
this: what a competent plant integrator commissions on a PLC, tuned honestly, with
the same safety frame as the project's controller (``controller.core.frame``:
signal conditioning and sensor voting, interlocks with their dwell, modes, N+1 pump
groups, start-up hand-over, alarm catalogue, SAFE overrides, output guard and
device-loss reverts); it is only another strategy plugged into it, plus the same
anti-short-cycle guard and trip auto-reset limits. Its rules:

* Heat pump outlet setpoint: fixed at the DH supply setpoint read at commissioning
  (the first valid value from the utility, else the site file) plus 0.5 K for the
  tank's standing losses. No trim, no mixing feed-forward, no weather or utility
  tracking afterwards. (A larger margin would put the supply outside the +/-1 K band
  whenever the heat pump alone feeds the network.)
* Heat pump on/off: ON when FWS return > 39 °C (there is IT heat worth lifting),
  OFF when FWS return < 36 °C for 60 s (it is pulling the facility water down);
  and a pair of tank thermostats: OFF when the bottom tank probe is within 5 K of
  the DH setpoint (tank charged), ON again when the third probe from the top falls
  5 K below it. Starts and stops go through the same anti-short-cycle guard (min
  run, min off, starts per hour from the site file).
* Heat pump load: fixed at 75 % while it runs (~900 kW of condenser heat, which
  takes the IT heat of a typical 80 % utilisation: the commissioning point).
* DH injection: runs while the network is available, injection is enabled and the
  utility asks for heat; pump speed by one PI on the heat meter's power to the
  utility's demand (0.02 %/kW, Ti 20 s), starting from 50 %. A cold cut-out stops
  it when DH supply stays 5 K under setpoint for 120 s, with a 10 min restart
  lockout. No state-of-charge management: the tank takes whatever the difference is.
* Bypass valve: PI on FWS supply alone (25 %/K, Ti 150 s, 10 s input filter), the
  project's FWS gains rescaled to the valve's full stroke.
* Dry-cooler fans in stages 0/40/70/100 %: one stage up when the valve is >= 95 %
  open and FWS supply > setpoint + 0.5 K for 60 s, one down when the valve is
  <= 20 % for 10 min or FWS supply < setpoint - 1.5 K for 5 min, at most one stage
  change a minute. An interlock that forces full cooling puts them at 100 % at once.
* Manual mode is not implemented (the site file's manual section is ignored).
"""

from __future__ import annotations

from collections.abc import Mapping

from controller.config.settings import SiteSettings
from controller.core.antishortcycle import AntiShortCycle, AntiShortCycleConfig
from controller.core.conditioning import PlantView
from controller.core.frame import Cycle, Regulated, SafetyFrame
from controller.core.interlocks import Interlock
from controller.core.modes import Mode
from controller.core.outputs import CoreEvent, StatusDraft
from controller.core.setpointsource import Targets
from controller.core.tripreset import TripReset
from simulator.baseline_rules import (
    BaselineTuning,
    FanStager,
    HeatPumpCall,
    InjectionPi,
    ValvePi,
)


class BaselineStrategy:
    """The PLC's rules (module docstring) as a strategy of the safety frame."""

    live_reload = False  # a PLC program is commissioned once: no live reload
    manual = False  # not implemented: the site file's manual section is ignored

    def __init__(self, settings: SiteSettings, reverts: Mapping[str, float], t: BaselineTuning):
        self.settings = settings
        self.tuning = t
        hs = settings.heatpump
        self.asc = AntiShortCycle(AntiShortCycleConfig.of(hs))
        self.trip_reset = TripReset(hs.trip_reset_delay_s, hs.auto_reset_trips_per_day)
        self.hp_call = HeatPumpCall(t, running=True)
        self.valve = ValvePi(t, settings.setpoints.fws_supply_temp)
        self.fans = FanStager(t, stage=len(t.fan_stages) - 1)
        self.inj = InjectionPi(t)
        self.hp_setpoint: float | None = None  # commissioned on the first good reading
        self.revert_setpoint = reverts.get(f"{settings.roles.heatpump}.supply_setpoint", 65.0)
        self.enable = False

    @property
    def dh_setpoint(self) -> float | None:
        """The DH supply the commissioned heat-pump setpoint aims at."""
        if self.hp_setpoint is None:
            return None
        return self.hp_setpoint - self.tuning.hp_setpoint_margin_k

    # ----------------------------------------------------------------- frame hooks
    def tank_reference(self, last: Targets | None, s: SiteSettings) -> float:
        sp = self.dh_setpoint
        return 70.0 if sp is None else sp

    def observe(self, targets: Targets, commissioned: bool, now: float) -> list[CoreEvent]:
        if self.hp_setpoint is not None or not commissioned:
            return []
        self.hp_setpoint = targets.dh_setpoint + self.tuning.hp_setpoint_margin_k
        return [
            CoreEvent(
                now,
                "setpoint",
                f"heat-pump setpoint commissioned at {self.hp_setpoint:.1f} °C",
                {"dh_setpoint": targets.dh_setpoint},
            )
        ]

    @property
    def ready(self) -> bool:
        return self.hp_setpoint is not None

    def apply_settings(self, new: SiteSettings, view: PlantView) -> None:
        raise AssertionError("the baseline takes no live reload")

    def force_full(self, view: PlantView, now: float) -> None:
        self.valve.force_open()
        self.fans.full(now)

    def hp_in_service(self, view: PlantView) -> bool:
        return self.asc.command or view.hp_running

    def mode_changed(self, before: Mode, mode: Mode, safe: bool, view: PlantView) -> None:
        return None

    def loop_faults(self) -> dict[str, str]:
        return {}

    @property
    def injecting(self) -> bool:
        return self.inj.injecting

    # ----------------------------------------------------------------- regulate
    def regulate(self, c: Cycle) -> Regulated:
        now, dt, view, targets = c.now, c.dt, c.view, c.targets
        mode, safe, il = c.mode, c.safe, c.interlocks
        s, t = self.settings, self.tuning
        dh_sp = self.dh_setpoint
        sp = dh_sp if dh_sp is not None else targets.dh_setpoint
        if mode is Mode.STARTUP:
            self.valve.loop.track(view.valve_pos if view.valve_pos is not None else 100.0, None)
            self.asc.request(view.hp_running, view.hp_running, now)
            reset = False
            enable = view.hp_running
            inj_speed = 0.0
        else:
            # FWS: valve PI, fans staged on the valve.
            self.valve.step(view.fws_supply, dt)
            if safe:  # valve pinned open; the PI restarts from there when SAFE ends
                self.valve.loop.track(100.0, self.valve.pv)
            valve = 100.0 if safe else self.valve.output
            self.fans.step(now, valve, view.fws_supply, s.setpoints.fws_supply_temp)
            # Heat pump.
            reset = self.trip_reset.step(view.hp_tripped, now)
            call = self.hp_call.update(now, view.fws_return, c.tank.temps, sp)
            available = view.hp_known and not view.hp_tripped and not il.active(Interlock.HP_TRIP)
            if safe or not available:
                self.asc.force_off(now)
                self.asc.request(False, view.hp_running, now)
                enable = False
            else:
                enable = self.asc.request(call, view.hp_running, now)
            # Injection.
            can_inject = (
                targets.injection_enabled
                and not il.active(Interlock.NETWORK_LOST)
                and mode is not Mode.SAFE
            )
            inj_speed = self.inj.step(
                now,
                dt,
                can_inject,
                targets.demand_kw,
                view.dh_power_kw,
                view.dh_supply,
                sp,
            )
        self.enable = enable
        return Regulated(
            valve=100.0 if safe else self.valve.output,  # the frame's output guard checks it
            fan=self.fans.speed,
            hp_enable=enable,
            hp_load=t.hp_load_pct if enable else 0.0,
            hp_setpoint=self.hp_setpoint or self.revert_setpoint,
            hp_reset=reset,
            dh_run=self.inj.injecting,
            dh_speed=inj_speed,
        )

    # ----------------------------------------------------------------- alarms, status
    def own_signals(self, view: PlantView, targets: Targets) -> dict[str, float | bool | None]:
        dh_sp = self.dh_setpoint
        err: float | None = 0.0
        if self.inj.injecting:
            err = (
                abs(view.dh_supply - dh_sp)
                if view.dh_supply is not None and dh_sp is not None
                else None
            )
        return {
            "dh_supply_error": err,
            "hx_ua_ratio": None,  # no heat-exchanger monitor on the PLC
            "hp_reset_exhausted": self.trip_reset.exhausted,
        }

    def fill_status(self, st: StatusDraft, view: PlantView, targets: Targets) -> None:
        dh_sp = self.dh_setpoint
        st.dh_setpoint = dh_sp if dh_sp is not None else st.dh_setpoint
        st.loops["valve"] = self.valve.output
        st.loops["fan"] = self.fans.speed
        st.loops["injection_speed"] = self.inj.speed


class BaselineCore(SafetyFrame):
    """Same interface as ``ControlCore``: construct once, ``step`` every scan cycle."""

    strategy: BaselineStrategy

    def new_strategy(
        self, settings: SiteSettings, reverts: Mapping[str, float], now: float
    ) -> BaselineStrategy:
        return BaselineStrategy(settings, reverts, BaselineTuning.for_site(settings))
