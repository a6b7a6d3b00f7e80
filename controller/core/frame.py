"""The safety frame every control strategy runs in: one scan cycle, written once.

The project's controller and the conventional baseline it is benchmarked against
must stand on the same safety sequence, or the comparison says nothing. The frame
holds it, in priority order: conditioning (voted, validated signals), targets,
interlocks, supervisory mode, pump lead/lag, the start-up hand-over, MANUAL, SAFE and
device-loss overrides, the output guard, alarms and status. A strategy plugs in
with one ``regulate`` step (its loops: what the valve, fans, heat pump and DH
pumps should do) and a few hooks for what only it knows. Overrides are applied
after ``regulate``, so nothing a strategy does can undo them. The frame is pure:
no clock, no I/O, time enters as arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from controller.config.settings import SiteSettings
from controller.core.alarms import AlarmDef, AlarmEngine, AlarmEvent
from controller.core.conditioning import Conditioner, PlantReadings, PlantView
from controller.core.image import ProcessImage
from controller.core.interlocks import Interlocks
from controller.core.modes import Mode, ModeSelector
from controller.core.outputs import CoreEvent, CoreOutput, StatusDraft
from controller.core.pumps import PumpGroup, PumpGroupOutput
from controller.core.safety import (
    AlarmSignals,
    CommandKeys,
    DeviceLoss,
    InterlockCauses,
    OutputGuard,
    SafeOutputs,
    alarm_devices,
    full_cooling_needed,
    interlock_state,
    pump_commands,
    pump_config,
    startup_commands,
)
from controller.core.setpointsource import Targets, select_targets
from controller.core.tankstate import TankState


@dataclass(slots=True)
class Cycle:
    """What the frame has decided before the strategy regulates, for this cycle."""

    now: float
    dt: float
    view: PlantView
    targets: Targets
    mode: Mode
    safe: bool
    interlocks: Interlocks
    settings: SiteSettings
    tank: TankState


@dataclass(slots=True)
class Regulated:
    """A strategy's answer for one cycle; the frame turns it into commands."""

    valve: float
    fan: float
    hp_enable: bool
    hp_load: float
    hp_setpoint: float
    hp_reset: bool
    dh_run: bool
    """Whether the DH (injection) pumps should run, and at which speed."""
    dh_speed: float


class Strategy(Protocol):
    """What a control strategy gives the frame. Everything else is the frame's."""

    live_reload: bool
    """Whether a new site file reaches the strategy while running (a PLC's does not)."""
    manual: bool
    """Whether the site file's MANUAL mode is honoured."""

    def tank_reference(self, last: Targets | None, s: SiteSettings) -> float:
        """The DH setpoint the tank's state of charge is judged against this cycle."""
        ...

    def observe(self, targets: Targets, commissioned: bool, now: float) -> list[CoreEvent]:
        """See the targets before the interlocks; ``commissioned``: start-up time passed."""
        ...

    @property
    def ready(self) -> bool:
        """False keeps the plant in STARTUP (the strategy lacks something it needs)."""
        ...

    def apply_settings(self, new: SiteSettings, view: PlantView) -> None: ...

    def force_full(self, view: PlantView, now: float) -> None:
        """An interlock that forces full cooling has just tripped."""
        ...

    def hp_in_service(self, view: PlantView) -> bool: ...

    def mode_changed(self, before: Mode, mode: Mode, safe: bool, view: PlantView) -> None: ...

    def regulate(self, c: Cycle) -> Regulated: ...

    def loop_faults(self) -> dict[str, str]:
        """Faults the strategy found in its own loops (name -> why)."""
        ...

    def own_signals(self, view: PlantView, targets: Targets) -> dict[str, float | bool | None]:
        """The alarm signals only the strategy knows (``safety.STRATEGY_SIGNALS``)."""
        ...

    @property
    def injecting(self) -> bool: ...

    def fill_status(self, st: StatusDraft, view: PlantView, targets: Targets) -> None: ...


class SafetyFrame:
    """Construct once with a strategy; call ``step`` every scan cycle."""

    def __init__(
        self,
        settings: SiteSettings,
        reverts: Mapping[str, float],
        alarms: Iterable[AlarmDef] = (),
        now: float = 0.0,
        strategy: Strategy | None = None,
    ) -> None:
        self.settings = settings
        self.reverts = dict(reverts)
        self.strategy = strategy or self.new_strategy(settings, self.reverts, now)
        self.cond = Conditioner(settings)
        self.interlocks = Interlocks(settings.interlocks.dwell_s)
        self.modes = ModeSelector(now)
        self.fws_pumps = PumpGroup(pump_config("fws", settings.pumps.fws, 1))
        self.dh_pumps = PumpGroup(pump_config("dh", settings.pumps.dh, 0))
        self.started = now
        self.heartbeat = 0
        self.causes = InterlockCauses()
        self.device_loss = DeviceLoss(self.reverts)
        self.keys = CommandKeys.of(settings)
        self.safe_outputs = SafeOutputs(self.keys, self.reverts)
        self.output_guard = OutputGuard(self.keys, self.reverts)
        self.alarm_signals = AlarmSignals(self.cond, alarm_devices(settings, self.reverts))
        self.alarm_engine = AlarmEngine(list(alarms), known_signals=self.signal_names())
        self.status = StatusDraft()
        self._last_targets: Targets | None = None

    def new_strategy(
        self, settings: SiteSettings, reverts: Mapping[str, float], now: float
    ) -> Strategy:
        """The strategy a frame of this kind runs when none is given."""
        raise TypeError(f"{type(self).__name__} needs a strategy")

    def signal_names(self) -> set[str]:
        """Every name an alarm definition may use as its source."""
        return self.alarm_signals.names()

    # ----------------------------------------------------------------- operations
    def acknowledge(self, alarm_id: str, user: str, now: float) -> AlarmEvent | None:
        return self.alarm_engine.acknowledge(alarm_id, user, now)

    def _apply_settings(self, new: SiteSettings, view: PlantView, now: float) -> list[CoreEvent]:
        old = self.settings
        self.settings = new
        events = []
        for section in ("setpoints", "limits", "tuning"):
            a, b = getattr(old, section).model_dump(), getattr(new, section).model_dump()
            for key in sorted(a):
                if a[key] != b[key]:
                    events.append(
                        CoreEvent(
                            now,
                            "setpoint",
                            f"{section}.{key} changed",
                            {"old": a[key], "new": b[key], "source": "site file"},
                        )
                    )
        self.strategy.apply_settings(new, view)
        self.interlocks.dwell_s = new.interlocks.dwell_s
        return events

    # ----------------------------------------------------------------- step
    def step(
        self, image: ProcessImage, settings: SiteSettings, now: float, dt: float
    ) -> CoreOutput:
        st = self.strategy
        events: list[CoreEvent] = []
        if settings is not self.settings and st.live_reload:
            events += self._apply_settings(settings, self.cond.view, now)
        s = self.settings
        # 1. Signals and targets.
        view = self.cond.update(image, now, st.tank_reference(self._last_targets, s))
        targets = select_targets(image.values, view, s)
        last = self._last_targets
        if last and (
            targets.setpoint_source != last.setpoint_source
            or targets.demand_source != last.demand_source
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
        events += st.observe(targets, now - self.started >= s.scan.startup_s, now)
        # 2. Interlocks.
        il = self.interlocks
        il.update(self.causes.evaluate(view, s, now), now)
        for trip in il.tripped_now:
            events.append(
                CoreEvent(now, "interlock", f"interlock {trip} tripped", {"interlock": str(trip)})
            )
        force_full, safe = interlock_state(il, s)
        if force_full:
            st.force_full(view, now)
        # 3. Mode.
        starting = (
            (now - self.started < s.scan.startup_s) or view.fws_supply is None or not st.ready
        ) and self.modes.mode is Mode.STARTUP
        degraded = self._degraded_reasons(view)
        mode_before = self.modes.mode
        changed = self.modes.update(
            now,
            safe=safe,
            manual=st.manual and s.manual.enabled,
            starting=starting,
            degraded=bool(degraded),
            hp_in_service=st.hp_in_service(view),
        )
        mode = self.modes.mode
        if changed is not None:
            st.mode_changed(mode_before, mode, safe, view)
            cause = ", ".join(sorted(il.latched)) or ", ".join(degraded) or "sequencing"
            events.append(
                CoreEvent(
                    now,
                    "mode",
                    f"mode {mode_before} -> {mode}",
                    {"from": str(mode_before), "to": str(mode), "cause": cause},
                )
            )
        # 4. The strategy's loops.
        reg = st.regulate(Cycle(now, dt, view, targets, mode, safe, il, s, self.cond.tank))
        # 5. Pumps.
        fws_out = self.fws_pumps.step(
            True, s.pumps.fws.speed_pct, view.pumps_available, view.pumps_running, now
        )
        dh_out = self.dh_pumps.step(
            reg.dh_run and mode is not Mode.STARTUP,
            reg.dh_speed,
            view.pumps_available,
            view.pumps_running,
            now,
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
        # 6. Commands, then the overrides that nothing may undo.
        self.heartbeat = (self.heartbeat + 1) & 0xFFFF
        commands = self._commands(mode, view, reg, fws_out, dh_out, safe)
        guard = self.output_guard
        faults = st.loop_faults()
        for key in guard.apply(commands, tuple(faults)):
            detail = faults.get(key) or f"{key} = {guard.bad.get(key)!r}"
            events.append(
                CoreEvent(
                    now, "fault", f"loop output fault: {detail}", {"output": key, "safe": True}
                )
            )
        transitions: list[tuple[str, str]] = []
        self.device_loss.apply(
            commands, image.comms_lost, now, s.interlocks.device_loss_grace_s, transitions
        )
        for what, dev in transitions:
            events.append(CoreEvent(now, "comms", f"data from {dev} {what}", {"device": dev}))
        # 7. Alarms and status.
        alarm_events = self.alarm_engine.update(
            self.alarm_signals.update(
                view,
                il,
                mode is Mode.SAFE,
                (self.fws_pumps, self.dh_pumps),
                (fws_out, dh_out),
                s,
                image,
                st.own_signals(view, targets),
                guard.faults,
            ),
            now,
        )
        self._update_status(mode, view, targets, degraded)
        # tuple.__new__: the NamedTuple's own __new__ is a Python function, and this
        # runs every scan.
        return tuple.__new__(
            CoreOutput,
            (
                commands,
                self.status.freeze(),
                events,
                alarm_events,
                PlantReadings.of(view),
                self.alarm_engine.summary(),
                self.modes.since,
            ),
        )

    # ----------------------------------------------------------------- parts
    def _pumps_healthy(self) -> bool:
        # Plain loops, not all() over generators: this runs every scan.
        s = self.settings.pumps
        fws, dh = self.fws_pumps.healthy, self.dh_pumps.healthy
        for p in s.fws.pumps:
            if not fws(p):
                return False
        for p in s.dh.pumps:  # noqa: SIM110 - see above
            if not dh(p):
                return False
        return True

    def _degraded_reasons(self, view: PlantView) -> list[str]:
        groups = self.cond.groups
        sound = not view.comms_lost and not view.cdu_estimated and not self.cond.tank.bad_sensors
        if sound:
            for g in groups:  # a loop, not any() over a generator: this runs every scan
                if g.degraded:
                    sound = False
                    break
        if sound and self._pumps_healthy():
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
        reg: Regulated,
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
            # Hand-over: keep the plant as found until the controller has seen it whole.
            startup_commands(c, k, view, self.reverts, s.pumps.fws.speed_pct)
            return c
        # Raw loop outputs: the output guard clamps them, or catches what is not a number.
        c[k.valve] = reg.valve
        c[k.fan] = reg.fan
        c[k.hp_enable] = 1.0 if reg.hp_enable else 0.0
        c[k.hp_load] = reg.hp_load
        c[k.hp_setpoint] = reg.hp_setpoint
        c[k.hp_reset] = 1.0 if reg.hp_reset else 0.0
        pump_commands(c, k, fws_out, dh_out)
        if safe:
            full = full_cooling_needed(self.interlocks, view.fws_supply, s)
            self.safe_outputs.apply(c, reg.hp_reset, full)
        return c

    def _update_status(
        self, mode: Mode, view: PlantView, targets: Targets, degraded: list[str]
    ) -> None:
        st = self.status
        tank = self.cond.tank
        st.mode = mode
        st.healthy = mode in (Mode.RECOVERY, Mode.BYPASS)
        st.demand_kw = targets.demand_kw
        st.injecting = self.strategy.injecting
        st.soc = tank.soc
        st.stored_kwh = tank.stored_kwh
        st.tank_temps = tank.temps
        st.fws_supply = view.fws_supply
        st.dh_supply = view.dh_supply
        st.it_heat_kw = view.it_heat_kw
        st.interlocks = tuple(sorted(str(i) for i in self.interlocks.latched))
        st.degraded_reasons = tuple(degraded)
        self.strategy.fill_status(st, view, targets)
