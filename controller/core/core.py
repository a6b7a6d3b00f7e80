"""ControlCore: the project's heat-recovery strategy in the safety frame.

``step(image, settings, now, dt)`` is the whole controller (DESIGN section 4): the
frame (``frame.py``) conditions the signals, picks the targets, runs the interlocks,
the mode, the pumps and every override; this module is the strategy it calls with
one ``regulate`` step: the facility-water split range, the heat-pump sequencer and
load low-select, the injection with its temperature guard, the heat-exchanger
monitor. It reads no clock and does no I/O: the daemon, the simulator and the tests
all call the same code with their own time, and the same inputs always give the
same outputs.
"""

from __future__ import annotations

from collections.abc import Mapping

from controller.config.settings import SiteSettings
from controller.core.conditioning import PlantView
from controller.core.frame import Cycle, Regulated, SafetyFrame
from controller.core.fwsloop import FwsLoop
from controller.core.heatpumpctl import HeatPumpControl
from controller.core.hxmonitor import HxMonitor
from controller.core.injection import InjectionControl
from controller.core.interlocks import Interlock
from controller.core.modes import Mode
from controller.core.outputs import CoreEvent, CoreOutput, CoreStatus, StatusDraft
from controller.core.setpointsource import Targets

__all__ = ["ControlCore", "CoreEvent", "CoreOutput", "CoreStatus", "RecoveryStrategy"]


class RecoveryStrategy:
    """Recover as much IT heat as the network takes; the tank buffers the rest."""

    live_reload = True
    manual = True
    ready = True

    def __init__(self, settings: SiteSettings, now: float) -> None:
        self.fws = FwsLoop(settings)
        self.hp = HeatPumpControl(settings, now)
        self.inj = InjectionControl(settings)
        hx = settings.hx_monitor
        self.hx = HxMonitor(hx.clean_ua_kw_per_k, hx.learn_h, hx.filter_h, hx.min_load_pct)
        self.deliver = 0.0

    # ----------------------------------------------------------------- frame hooks
    def tank_reference(self, last: Targets | None, s: SiteSettings) -> float:
        # The tank's SOC is judged against the setpoint in force last step.
        return last.dh_setpoint if last else s.setpoints.dh_supply_temp

    def observe(self, targets: Targets, commissioned: bool, now: float) -> list[CoreEvent]:
        return []

    def apply_settings(self, new: SiteSettings, view: PlantView) -> None:
        t = new.tuning
        self.fws.loop.setpoint = new.setpoints.fws_supply_temp
        self.fws.loop.retune(t.fws.kp, t.fws.ki, t.fws.kd, view.fws_supply)
        self.fws.split = t.fws_split_pct
        self.hp.apply_settings(new, view)
        self.inj.apply_settings(new, view)

    def force_full(self, view: PlantView, now: float) -> None:
        self.fws.force_full(view.fws_supply)

    def hp_in_service(self, view: PlantView) -> bool:
        return self.hp.cmd.enable or view.hp_running

    def mode_changed(self, before: Mode, mode: Mode, safe: bool, view: PlantView) -> None:
        if before in (Mode.STARTUP, Mode.SAFE) and not safe:
            self.fws.take_over(view, self.fws.loop.setpoint)

    def loop_faults(self) -> dict[str, str]:
        return {"fws_loop": self.fws.fault} if self.fws.fault else {}

    @property
    def injecting(self) -> bool:
        return self.inj.injecting

    # ----------------------------------------------------------------- regulate
    def regulate(self, c: Cycle) -> Regulated:
        now, dt, view, targets = c.now, c.dt, c.view, c.targets
        mode, safe, il, s = c.mode, c.safe, c.interlocks, c.settings
        soc = c.tank.soc
        can_inject = (
            targets.injection_enabled
            and not il.active(Interlock.NETWORK_LOST)
            and mode not in (Mode.SAFE, Mode.STARTUP, Mode.MANUAL)
        )
        deliver = (
            self.inj.deliverable(targets.demand_kw, soc, view.hp_heat_kw) if can_inject else 0.0
        )
        self.deliver = deliver
        if mode in (Mode.STARTUP, Mode.MANUAL):
            self.fws.track_actuators(view.valve_pos, view.fan_speed, view.fws_supply)
            self.fws.valve = view.valve_pos if view.valve_pos is not None else self.fws.valve
            self.fws.fan = view.fan_speed if view.fan_speed is not None else self.fws.fan
            self.hp.hand_over(view, now)
        else:
            self.fws.step(
                view.fws_supply,
                dt,
                valve_pinned_open=safe,
                glycol=view.dc_glycol_temp,
                frost_limit=s.limits.drycooler_frost,
            )
        hp_available = (
            view.hp_known
            and not view.hp_tripped
            and not il.active(Interlock.HP_TRIP)
            and (s.heatpump.source_min_pct <= 0 or view.fws_supply is not None)
        )
        if mode in (Mode.STARTUP, Mode.MANUAL) and not safe:
            # Hand-over: the sequencer adopts the heat pump as found and decides
            # nothing; a running unit then keeps running under control.
            hp_cmd = self.hp.cmd
        else:
            # The sequencer asks whether the network is physically there to take heat
            # (not whether the interlock's release dwell has passed): a heat pump should
            # not stop on a full tank in the two minutes before injection resumes.
            network_up = (
                targets.injection_enabled
                and view.network_available is True
                and mode is not Mode.MANUAL
            )
            hp_cmd = self.hp.step(
                now,
                dt,
                view,
                soc,
                targets.dh_setpoint,
                deliver,
                can_inject,
                self.inj.injecting,
                hp_available,
                force_off=safe,
                network_up=network_up,
                demand_kw=targets.demand_kw,
            )
        speed = self.inj.step(
            now,
            dt,
            view,
            can_inject and (view.hp_running or (soc is not None and soc > s.limits.tank_soc_min)),
            targets.dh_setpoint,
            deliver,
            view.hp_running,
        )
        self.hx.update(
            dt,
            view.hp_running,
            view.hp_load,
            view.hp_heat_kw,
            view.hp_power_kw,
            view.hp_evap_in,
            view.hp_evap_out,
            view.hp_evap_sat,
        )
        return Regulated(
            valve=self.fws.valve,
            fan=self.fws.fan,
            hp_enable=hp_cmd.enable,
            hp_load=hp_cmd.load_pct,
            hp_setpoint=hp_cmd.setpoint,
            hp_reset=hp_cmd.trip_reset,
            dh_run=self.inj.injecting,
            dh_speed=speed,
        )

    # ----------------------------------------------------------------- alarms, status
    def own_signals(self, view: PlantView, targets: Targets) -> dict[str, float | bool | None]:
        injecting = self.inj.injecting
        if not injecting:
            err: float | None = 0.0
        elif view.dh_supply is None:
            err = None
        else:
            err = abs(view.dh_supply - targets.dh_setpoint)
        return {
            "dh_supply_error": err,
            "hx_ua_ratio": self.hx.ratio,
            "hp_reset_exhausted": self.hp.reset_exhausted,
        }

    def fill_status(self, st: StatusDraft, view: PlantView, targets: Targets) -> None:
        st.dh_setpoint = targets.dh_setpoint
        st.deliver_kw = self.deliver
        st.injection_enabled = targets.injection_enabled
        st.setpoint_source = targets.setpoint_source
        st.demand_source = targets.demand_source
        st.hx_ua_ratio = self.hx.ratio
        loops = st.loops
        loops["fws_output"] = self.fws.loop.last_output
        loops["valve"] = self.fws.valve
        loops["fan"] = self.fws.fan
        loops["hp_load_pct"] = self.hp.cmd.load_pct
        loops["hp_setpoint"] = self.hp.cmd.setpoint
        loops["hp_q_target_kw"] = self.hp.cmd.q_target_kw
        loops["hp_q_source_kw"] = self.hp.cmd.q_source_kw
        loops["hp_trim_k"] = self.hp.trim_loop.last_output
        loops["soc_kw"] = self.hp.soc_loop.last_output
        loops["injection_speed"] = self.inj.speed
        loops["injection_target_kw"] = self.inj.target_kw


class ControlCore(SafetyFrame):
    """The project's controller: ``RecoveryStrategy`` in the safety frame."""

    strategy: RecoveryStrategy

    def new_strategy(
        self, settings: SiteSettings, reverts: Mapping[str, float], now: float
    ) -> RecoveryStrategy:
        return RecoveryStrategy(settings, now)
