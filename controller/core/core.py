"""ControlCore: one pure step from a process image to the commands of this cycle.

``step(image, settings, now, dt)`` is the whole control strategy (DESIGN section 4)
in priority order: conditioning (voted, validated signals), safety interlocks,
supervisory mode, the regulating loops, pump lead/lag, then the commands - safety
and data-loss overrides applied last so nothing downstream can undo them. It reads
no clock and does no I/O: the daemon, the simulator and the tests all call the same
code with their own time, and the same inputs always give the same outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.config.settings import SiteSettings
from controller.core.alarms import AlarmDef, AlarmEngine, AlarmEvent
from controller.core.conditioning import Conditioner, PlantView
from controller.core.fwsloop import FwsLoop
from controller.core.heatpumpctl import HeatPumpControl, HpCommand
from controller.core.hxmonitor import HxMonitor
from controller.core.image import ProcessImage
from controller.core.injection import InjectionControl
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
    interlock_state,
    pct,
    pump_commands,
    pump_config,
    startup_commands,
)
from controller.core.setpointsource import Targets, select_targets


@dataclass(slots=True)
class CoreEvent:
    """Something an operator should find in the log: what happened and why."""

    time: float
    kind: str  # mode | interlock | pump | heatpump | setpoint | alarm
    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class CoreStatus:
    """Derived values for SCADA, metrics and the status view."""

    mode: Mode = Mode.STARTUP
    healthy: bool = False
    dh_setpoint: float = 70.0
    demand_kw: float = 0.0
    deliver_kw: float = 0.0
    injection_enabled: bool = False
    injecting: bool = False
    setpoint_source: str = "fixed"
    demand_source: str = "fixed"
    soc: float | None = None
    stored_kwh: float | None = None
    tank_temps: list[float] = field(default_factory=list)
    fws_supply: float | None = None
    dh_supply: float | None = None
    it_heat_kw: float | None = None
    hp_wanted: bool = False
    hp_limited_by_source: bool = False
    interlocks: tuple[str, ...] = ()
    degraded_reasons: tuple[str, ...] = ()
    hx_ua: float | None = None
    hx_ua_ratio: float | None = None
    hx_approach_k: float | None = None
    loops: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class CoreOutput:
    commands: dict[str, float]
    status: CoreStatus
    events: list[CoreEvent]
    alarm_events: list[AlarmEvent]


class ControlCore:
    """The control strategy. Construct once; call ``step`` every scan cycle."""

    def __init__(
        self,
        settings: SiteSettings,
        reverts: Mapping[str, float],
        alarms: Iterable[AlarmDef] = (),
        now: float = 0.0,
    ) -> None:
        self.settings = settings
        self.reverts = dict(reverts)
        r = settings.roles
        self.k = r
        self.cond = Conditioner(settings)
        self.interlocks = Interlocks(settings.interlocks.dwell_s)
        self.modes = ModeSelector(now)
        self.fws = FwsLoop(settings)
        self.hp = HeatPumpControl(settings, now)
        self.inj = InjectionControl(settings)
        self.fws_pumps = PumpGroup(pump_config("fws", settings.pumps.fws, 1))
        self.dh_pumps = PumpGroup(pump_config("dh", settings.pumps.dh, 0))
        hx = settings.hx_monitor
        self.hx = HxMonitor(hx.clean_ua_kw_per_k, hx.learn_h, hx.filter_h, hx.min_load_pct)
        self.started = now
        self.heartbeat = 0
        self.causes = InterlockCauses()
        self.device_loss = DeviceLoss(self.reverts)
        self._last_targets: Targets | None = None
        self.status = CoreStatus()
        self.keys = CommandKeys.of(settings)
        self.safe_outputs = SafeOutputs(self.keys, self.reverts)
        self.alarm_signals = AlarmSignals(self.cond, alarm_devices(settings, self.reverts))
        self.alarm_engine = AlarmEngine(list(alarms), known_signals=self.signal_names())

    def signal_names(self) -> set[str]:
        """Every name an alarm definition may use as its source."""
        return self.alarm_signals.names()

    # ----------------------------------------------------------------- operations
    def acknowledge(self, alarm_id: str, user: str, now: float) -> AlarmEvent | None:
        return self.alarm_engine.acknowledge(alarm_id, user, now)

    def _apply_settings(self, new: SiteSettings, view: PlantView) -> list[CoreEvent]:
        old = self.settings
        self.settings = new
        events = []
        for section in ("setpoints", "limits", "tuning"):
            a, b = getattr(old, section).model_dump(), getattr(new, section).model_dump()
            for key in sorted(a):
                if a[key] != b[key]:
                    events.append(
                        CoreEvent(
                            0.0,
                            "setpoint",
                            f"{section}.{key} changed",
                            {"old": a[key], "new": b[key], "source": "site file"},
                        )
                    )
        t = new.tuning
        self.fws.loop.setpoint = new.setpoints.fws_supply_temp
        self.fws.loop.retune(t.fws.kp, t.fws.ki, t.fws.kd, view.fws_supply)
        self.fws.split = t.fws_split_pct
        self.hp.apply_settings(new, view)
        self.inj.apply_settings(new, view)
        self.interlocks.dwell_s = new.interlocks.dwell_s
        return events

    # ----------------------------------------------------------------- step
    def step(
        self, image: ProcessImage, settings: SiteSettings, now: float, dt: float
    ) -> CoreOutput:
        events: list[CoreEvent] = []
        view0 = self.cond.view
        if settings is not self.settings:
            for e in self._apply_settings(settings, view0):
                e.time = now
                events.append(e)
        s = self.settings
        lim = s.limits
        # 1. Signals. The tank's SOC is judged against the setpoint in force last step.
        prev_sp = (
            self._last_targets.dh_setpoint if self._last_targets else s.setpoints.dh_supply_temp
        )
        view = self.cond.update(image, now, prev_sp)
        targets = select_targets(image.values, view, s)
        if self._last_targets and (
            targets.setpoint_source != self._last_targets.setpoint_source
            or targets.demand_source != self._last_targets.demand_source
        ):
            events.append(
                CoreEvent(
                    now,
                    "setpoint",
                    f"setpoint source {targets.setpoint_source}, "
                    f"demand source {targets.demand_source}",
                    {"setpoint": targets.dh_setpoint, "demand": targets.demand_kw},
                )
            )
        self._last_targets = targets
        tank = self.cond.tank
        soc = tank.soc
        # 2. Interlocks.
        causes = self.causes.evaluate(view, s, now)
        il = self.interlocks
        il.update(causes, now)
        for trip in il.tripped_now:
            events.append(
                CoreEvent(now, "interlock", f"interlock {trip} tripped", {"interlock": str(trip)})
            )
        force_full, safe = interlock_state(il, s)
        if force_full:
            self.fws.force_full(view.fws_supply)
        # 3. Mode.
        starting = (now - self.started < s.scan.startup_s) or view.fws_supply is None
        starting = starting and self.modes.mode is Mode.STARTUP
        degraded = self._degraded_reasons(view)
        mode_before = self.modes.mode
        changed = self.modes.update(
            now,
            safe=safe,
            manual=s.manual.enabled,
            starting=starting,
            degraded=bool(degraded),
            hp_in_service=self.hp.cmd.enable or view.hp_running,
        )
        mode = self.modes.mode
        if changed is not None and mode_before in (Mode.STARTUP, Mode.SAFE) and not safe:
            self.fws.take_over(view, s.setpoints.fws_supply_temp)
        if changed is not None:
            cause = ", ".join(sorted(il.latched)) or ", ".join(degraded) or "sequencing"
            events.append(
                CoreEvent(
                    now,
                    "mode",
                    f"mode {mode_before} -> {mode}",
                    {"from": str(mode_before), "to": str(mode), "cause": cause},
                )
            )
        # 4. Loops.
        can_inject = (
            targets.injection_enabled
            and not il.active(Interlock.NETWORK_LOST)
            and mode not in (Mode.SAFE, Mode.STARTUP, Mode.MANUAL)
        )
        deliver = (
            self.inj.deliverable(targets.demand_kw, soc, view.hp_heat_kw) if can_inject else 0.0
        )
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
            and (s.heatpump.source_min_kw <= 0 or view.fws_supply is not None)
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
            can_inject and (view.hp_running or (soc is not None and soc > lim.tank_soc_min)),
            targets.dh_setpoint,
            deliver,
            view.hp_running,
        )
        # 5. Pumps.
        fws_out = self.fws_pumps.step(
            True, s.pumps.fws.speed_pct, view.pumps_available, view.pumps_running, now
        )
        dh_out = self.dh_pumps.step(
            self.inj.injecting, speed, view.pumps_available, view.pumps_running, now
        )
        for out in (fws_out, dh_out):
            for ev in out.events:
                events.append(
                    CoreEvent(
                        now,
                        "pump",
                        f"{ev.group} {ev.kind}: {ev.pump}",
                        {"previous": ev.previous, "reason": ev.reason},
                    )
                )
        # 6. Monitoring.
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
        # 7. Commands, then the overrides that nothing may undo.
        self.heartbeat = (self.heartbeat + 1) & 0xFFFF
        commands = self._commands(mode, view, hp_cmd, fws_out, dh_out, safe)
        transitions: list[tuple[str, str]] = []
        self.device_loss.apply(
            commands, image.comms_lost, now, s.interlocks.device_loss_grace_s, transitions
        )
        for what, dev in transitions:
            events.append(CoreEvent(now, "comms", f"data from {dev} {what}", {"device": dev}))
        # 8. Alarms and status.
        alarm_events = self.alarm_engine.update(
            self.alarm_signals.update(
                view,
                il,
                mode is Mode.SAFE,
                (self.fws_pumps, self.dh_pumps),
                (fws_out, dh_out),
                s,
                image,
                self._own_signals(view, targets),
            ),
            now,
        )
        self._update_status(mode, view, targets, deliver, degraded)
        return CoreOutput(commands, self.status, events, alarm_events)

    # ----------------------------------------------------------------- parts
    def _pumps_healthy(self) -> bool:
        s = self.settings.pumps
        return all(self.fws_pumps.healthy(p) for p in s.fws.pumps) and all(
            self.dh_pumps.healthy(p) for p in s.dh.pumps
        )

    def _degraded_reasons(self, view: PlantView) -> list[str]:
        groups = self.cond.groups
        if (
            not view.comms_lost
            and not view.cdu_estimated
            and not self.cond.tank.bad_sensors
            and not any(g.degraded for g in groups)
            and self._pumps_healthy()
        ):
            return []
        reasons = [f"sensor group {g.name}" for g in groups if g.degraded]
        if self.cond.tank.bad_sensors:
            reasons.append(f"{self.cond.tank.bad_sensors} tank sensor(s)")
        reasons += [f"no data from {d}" for d in sorted(view.comms_lost)]
        reasons += [f"{c} heat estimated" for c in view.cdu_estimated if c not in view.comms_lost]
        for name, group in (("fws", self.fws_pumps), ("dh", self.dh_pumps)):
            if any(not group.healthy(p) for p in getattr(self.settings.pumps, name).pumps):
                reasons.append(f"{name} pump unavailable")
        return reasons

    def _commands(
        self,
        mode: Mode,
        view: PlantView,
        hp: HpCommand,
        fws_out: PumpGroupOutput,
        dh_out: PumpGroupOutput,
        safe: bool,
    ) -> dict[str, float]:
        s = self.settings
        k = self.keys
        c: dict[str, float] = {k.heartbeat: float(self.heartbeat)}
        if mode is Mode.MANUAL and not safe:
            m = s.manual
            c[k.valve] = m.bypass_valve_pct
            c[k.fan] = m.fan_speed_pct
            c[k.hp_enable] = 1.0 if m.hp_enable else 0.0
            c[k.hp_load] = m.hp_load_pct
            c[k.hp_setpoint] = m.hp_supply_setpoint
            c[k.hp_reset] = 0.0
            for p, k_run, k_speed in k.fws_pumps:
                c[k_run] = 1.0 if fws_out.run.get(p) else 0.0
                c[k_speed] = fws_out.speed.get(p, 0.0)
            for p, k_run, k_speed in k.dh_pumps:
                on = m.dh_pump_speed_pct > 0 and p == dh_out.duty
                c[k_run] = 1.0 if on else 0.0
                c[k_speed] = m.dh_pump_speed_pct if on else 0.0
            return c
        if mode is Mode.STARTUP and not safe:
            startup_commands(c, k, view, self.reverts, s.pumps.fws.speed_pct)
            return c
        c[k.valve] = pct(self.fws.valve)
        c[k.fan] = pct(self.fws.fan)
        c[k.hp_enable] = 1.0 if hp.enable else 0.0
        c[k.hp_load] = pct(hp.load_pct)
        c[k.hp_setpoint] = hp.setpoint
        c[k.hp_reset] = 1.0 if hp.trip_reset else 0.0
        pump_commands(c, k, fws_out, dh_out)
        if safe:
            self.safe_outputs.apply(c, hp.trip_reset)
        return c

    def _own_signals(self, view: PlantView, targets: Targets) -> dict[str, float | bool | None]:
        """The alarm signals only this strategy knows."""
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

    def _update_status(
        self, mode: Mode, view: PlantView, targets: Targets, deliver: float, degraded: list[str]
    ) -> None:
        st = self.status
        tank = self.cond.tank
        st.mode = mode
        st.healthy = mode in (Mode.RECOVERY, Mode.BYPASS)
        st.dh_setpoint = targets.dh_setpoint
        st.demand_kw = targets.demand_kw
        st.deliver_kw = deliver
        st.injection_enabled = targets.injection_enabled
        st.injecting = self.inj.injecting
        st.setpoint_source = targets.setpoint_source
        st.demand_source = targets.demand_source
        st.soc = tank.soc
        st.stored_kwh = tank.stored_kwh
        st.tank_temps = tank.temps
        st.fws_supply = view.fws_supply
        st.dh_supply = view.dh_supply
        st.it_heat_kw = view.it_heat_kw
        st.hp_wanted = self.hp.wanted
        st.hp_limited_by_source = self.hp.cmd.limited_by_source
        st.interlocks = tuple(sorted(str(i) for i in self.interlocks.latched))
        st.degraded_reasons = tuple(degraded)
        st.hx_ua = self.hx.ua
        st.hx_ua_ratio = self.hx.ratio
        st.hx_approach_k = self.hx.approach_k
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
