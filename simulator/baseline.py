"""A conventional PLC strategy for the same plant: the yardstick for the project's controller.

Numbers only mean something beside an alternative, so every scenario also runs with
this: what a competent plant integrator commissions on a PLC, tuned honestly, with
the same safety layer as the project's controller (``controller.core``'s signal
conditioning and sensor voting, interlocks with their dwell, N+1 pump groups,
anti-short-cycle guard, trip auto-reset limits, alarm catalogue, SAFE overrides and
device-loss reverts). Only the regulating strategy differs. Its rules:

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

from collections.abc import Iterable, Mapping

from controller.config.settings import SiteSettings
from controller.core.alarms import AlarmDef, AlarmEngine
from controller.core.antishortcycle import AntiShortCycle, AntiShortCycleConfig
from controller.core.conditioning import Conditioner, PlantView
from controller.core.core import CoreEvent, CoreOutput, CoreStatus
from controller.core.image import ProcessImage
from controller.core.interlocks import Interlock, Interlocks
from controller.core.modes import Mode, ModeSelector
from controller.core.pumps import PumpGroup, PumpGroupOutput
from controller.core.safety import (
    AlarmSignals,
    CommandKeys,
    DeviceLoss,
    InterlockCauses,
    SafeOutputs,
    alarm_devices,
    clip,
    interlock_state,
    pump_commands,
    pump_config,
    startup_commands,
)
from controller.core.setpointsource import select_targets
from simulator.baseline_rules import (
    BaselineTuning,
    FanStager,
    HeatPumpCall,
    InjectionPi,
    ValvePi,
)

DAY_S = 86400.0


class TripReset:
    """Auto-reset of a heat-pump trip with the site file's delay and daily limit."""

    __slots__ = ("_handled", "_last", "_resets", "_since", "delay", "exhausted", "per_day")

    def __init__(self, delay_s: float, per_day: int) -> None:
        self.delay = delay_s
        self.per_day = per_day
        self._since: float | None = None
        self._last = -1e18
        self._handled = False
        self._resets: list[float] = []
        self.exhausted = False

    def step(self, tripped: bool, now: float) -> bool:
        if not tripped:
            self._since = None
            self._handled = False
            self.exhausted = False
            return False
        if self._since is None:
            self._since = now
        self._resets = [t for t in self._resets if now - t < DAY_S]
        if not self._handled and len(self._resets) >= self.per_day:
            self.exhausted = True
            return False
        if now - self._since >= self.delay and now - self._last >= self.delay:
            self._last = now
            if not self._handled:
                self._resets.append(now)
                self._handled = True
            return True
        return False


class BaselineCore:
    """Same interface as ``ControlCore``: construct once, ``step`` every scan cycle."""

    def __init__(
        self,
        settings: SiteSettings,
        reverts: Mapping[str, float],
        alarms: Iterable[AlarmDef] = (),
        now: float = 0.0,
        tuning: BaselineTuning | None = None,
    ) -> None:
        self.settings = settings
        self.tuning = t = tuning or BaselineTuning.for_site(settings)
        self.reverts = dict(reverts)
        self.cond = Conditioner(settings)
        self.interlocks = Interlocks(settings.interlocks.dwell_s)
        self.modes = ModeSelector(now)
        self.fws_pumps = PumpGroup(pump_config("fws", settings.pumps.fws, 1))
        self.dh_pumps = PumpGroup(pump_config("dh", settings.pumps.dh, 0))
        hs = settings.heatpump
        self.asc = AntiShortCycle(
            AntiShortCycleConfig(
                min_run_s=hs.min_run_s,
                min_off_s=hs.min_off_s,
                max_starts_per_hour=hs.max_starts_per_hour,
            )
        )
        self.trip_reset = TripReset(hs.trip_reset_delay_s, hs.auto_reset_trips_per_day)
        self.hp_call = HeatPumpCall(t, running=True)
        self.valve = ValvePi(t, settings.setpoints.fws_supply_temp)
        self.fans = FanStager(t, stage=len(t.fan_stages) - 1)
        self.inj = InjectionPi(t)
        self.hp_setpoint: float | None = None  # commissioned on the first good reading
        self.started = now
        self.heartbeat = 0
        self.causes = InterlockCauses()
        self.device_loss = DeviceLoss(self.reverts)
        self.keys = CommandKeys.of(settings)
        self.safe_outputs = SafeOutputs(self.keys, self.reverts)
        self.alarm_signals = AlarmSignals(self.cond, alarm_devices(settings, self.reverts))
        self.alarm_engine = AlarmEngine(list(alarms), known_signals=self.alarm_signals.names())
        self.status = CoreStatus()

    # ----------------------------------------------------------------- step
    def step(
        self, image: ProcessImage, settings: SiteSettings, now: float, dt: float
    ) -> CoreOutput:
        s = self.settings  # a PLC program is commissioned once: no live reload
        t = self.tuning
        events: list[CoreEvent] = []
        sp_guess = self.hp_setpoint - t.hp_setpoint_margin_k if self.hp_setpoint else 70.0
        view = self.cond.update(image, now, sp_guess)
        targets = select_targets(image.values, view, s)
        if self.hp_setpoint is None and (now - self.started >= s.scan.startup_s):
            self.hp_setpoint = targets.dh_setpoint + t.hp_setpoint_margin_k
            events.append(
                CoreEvent(
                    now,
                    "setpoint",
                    f"heat-pump setpoint commissioned at {self.hp_setpoint:.1f} °C",
                    {"dh_setpoint": targets.dh_setpoint},
                )
            )
        dh_sp = (self.hp_setpoint - t.hp_setpoint_margin_k) if self.hp_setpoint else None
        # Interlocks: the same causes, dwell and actions as the project's controller.
        il = self.interlocks
        il.update(self.causes.evaluate(view, s, now), now)
        for trip in il.tripped_now:
            events.append(
                CoreEvent(now, "interlock", f"interlock {trip} tripped", {"interlock": str(trip)})
            )
        force_full, safe = interlock_state(il, s)
        if force_full:
            self.valve.force_open()
            self.fans.full(now)
        starting = (
            (now - self.started < s.scan.startup_s) or view.fws_supply is None or dh_sp is None
        ) and self.modes.mode is Mode.STARTUP
        degraded = self._degraded(view)
        mode_before = self.modes.mode
        changed = self.modes.update(
            now,
            safe=safe,
            manual=False,
            starting=starting,
            degraded=degraded,
            hp_in_service=self.asc.command or view.hp_running,
        )
        mode = self.modes.mode
        if changed is not None:
            events.append(
                CoreEvent(now, "mode", f"mode {mode_before} -> {mode}", {"to": str(mode)})
            )
        fws_sp = s.setpoints.fws_supply_temp
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
            self.fans.step(now, valve, view.fws_supply, fws_sp)
            # Heat pump.
            reset = self.trip_reset.step(view.hp_tripped, now)
            call = self.hp_call.update(now, view.fws_return, self.cond.tank.temps, sp)
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
        fws_out = self.fws_pumps.step(
            True, s.pumps.fws.speed_pct, view.pumps_available, view.pumps_running, now
        )
        dh_out = self.dh_pumps.step(
            self.inj.injecting and mode is not Mode.STARTUP,
            inj_speed,
            view.pumps_available,
            view.pumps_running,
            now,
        )
        for out in (fws_out, dh_out):
            for ev in out.events:
                events.append(
                    CoreEvent(
                        now, "pump", f"{ev.group} {ev.kind}: {ev.pump}", {"reason": ev.reason}
                    )
                )
        self.heartbeat = (self.heartbeat + 1) & 0xFFFF
        commands = self._commands(mode, view, enable, reset, fws_out, dh_out, safe)
        self.device_loss.apply(commands, image.comms_lost, now, s.interlocks.device_loss_grace_s)
        alarm_events = self.alarm_engine.update(
            self.alarm_signals.update(
                view,
                il,
                mode is Mode.SAFE,
                (self.fws_pumps, self.dh_pumps),
                (fws_out, dh_out),
                s,
                image,
                self._own_signals(view, dh_sp),
            ),
            now,
        )
        self._update_status(mode, view, targets.demand_kw, dh_sp, call_wanted=enable)
        return CoreOutput(commands, self.status, events, alarm_events)

    # ----------------------------------------------------------------- parts
    def _degraded(self, view: PlantView) -> bool:
        pumps = self.settings.pumps
        return bool(
            view.comms_lost
            or view.cdu_estimated
            or self.cond.tank.bad_sensors
            or any(g.degraded for g in self.cond.groups)
            or not all(self.fws_pumps.healthy(p) for p in pumps.fws.pumps)
            or not all(self.dh_pumps.healthy(p) for p in pumps.dh.pumps)
        )

    def _commands(
        self,
        mode: Mode,
        view: PlantView,
        enable: bool,
        reset: bool,
        fws_out: PumpGroupOutput,
        dh_out: PumpGroupOutput,
        safe: bool,
    ) -> dict[str, float]:
        k = self.keys
        c: dict[str, float] = {k.heartbeat: float(self.heartbeat)}
        if mode is Mode.STARTUP and not safe:
            # Hand-over as the project's controller does it: keep the plant as found.
            startup_commands(c, k, view, self.reverts, self.settings.pumps.fws.speed_pct)
            return c
        c[k.valve] = 100.0 if safe else clip(self.valve.output, 100.0)
        c[k.fan] = self.fans.speed
        c[k.hp_enable] = 1.0 if enable else 0.0
        c[k.hp_load] = self.tuning.hp_load_pct if enable else 0.0
        c[k.hp_setpoint] = self.hp_setpoint or self.reverts.get(k.hp_setpoint, 65.0)
        c[k.hp_reset] = 1.0 if reset else 0.0
        pump_commands(c, k, fws_out, dh_out)
        if safe:
            self.safe_outputs.apply(c, reset)
        return c

    def _own_signals(self, view: PlantView, dh_sp: float | None) -> dict[str, float | bool | None]:
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

    def _update_status(
        self,
        mode: Mode,
        view: PlantView,
        demand_kw: float,
        dh_sp: float | None,
        call_wanted: bool,
    ) -> None:
        st = self.status
        tank = self.cond.tank
        st.mode = mode
        st.healthy = mode in (Mode.RECOVERY, Mode.BYPASS)
        st.dh_setpoint = dh_sp if dh_sp is not None else st.dh_setpoint
        st.demand_kw = demand_kw
        st.injecting = self.inj.injecting
        st.soc = tank.soc
        st.stored_kwh = tank.stored_kwh
        st.tank_temps = tank.temps
        st.fws_supply = view.fws_supply
        st.dh_supply = view.dh_supply
        st.it_heat_kw = view.it_heat_kw
        st.hp_wanted = call_wanted
        st.interlocks = tuple(sorted(str(i) for i in self.interlocks.latched))
        st.loops["valve"] = self.valve.output
        st.loops["fan"] = self.fans.speed
        st.loops["injection_speed"] = self.inj.speed
