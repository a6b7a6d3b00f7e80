"""What one scan cycle of the core gives the daemon: commands, status, events, alarms.

The output is frozen and built new every cycle, together with the plant view and
the alarm list it carries: the metrics thread, the status view, the OPC UA feed
and the fleet read only ``CoreOutput``, never the core's live objects, so nobody
needs to copy it and nobody can see half of one cycle and half of the next.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controller.core.alarms import AlarmEvent, AlarmSummary
from controller.core.conditioning import PlantView
from controller.core.modes import Mode


@dataclass(slots=True)
class CoreEvent:
    """Something an operator should find in the log: what happened and why."""

    time: float
    kind: str  # mode | interlock | pump | heatpump | setpoint | comms | fault
    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class StatusDraft:
    """The status as the frame and the strategy fill it during a cycle (kept between
    cycles: a strategy may leave a field as it was); frozen into ``CoreStatus``."""

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

    def freeze(self) -> CoreStatus:
        return CoreStatus(
            mode=self.mode,
            healthy=self.healthy,
            dh_setpoint=self.dh_setpoint,
            demand_kw=self.demand_kw,
            deliver_kw=self.deliver_kw,
            injection_enabled=self.injection_enabled,
            injecting=self.injecting,
            setpoint_source=self.setpoint_source,
            demand_source=self.demand_source,
            soc=self.soc,
            stored_kwh=self.stored_kwh,
            tank_temps=tuple(self.tank_temps),
            fws_supply=self.fws_supply,
            dh_supply=self.dh_supply,
            it_heat_kw=self.it_heat_kw,
            hp_wanted=self.hp_wanted,
            hp_limited_by_source=self.hp_limited_by_source,
            interlocks=self.interlocks,
            degraded_reasons=self.degraded_reasons,
            hx_ua=self.hx_ua,
            hx_ua_ratio=self.hx_ua_ratio,
            hx_approach_k=self.hx_approach_k,
            loops=dict(self.loops),
        )


@dataclass(frozen=True, slots=True)
class CoreStatus:
    """Derived values for SCADA, metrics and the status view, as of one cycle."""

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
    tank_temps: tuple[float, ...] = ()
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
    loops: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CoreOutput:
    """One cycle's result. ``commands``, ``events`` and ``alarm_events`` are new each
    cycle and nobody changes them after ``step`` returns."""

    commands: dict[str, float]
    status: CoreStatus
    events: list[CoreEvent]
    alarm_events: list[AlarmEvent]
    plant: PlantView = field(default_factory=PlantView)
    alarms: AlarmSummary = field(default_factory=AlarmSummary)
    mode_since: float = 0.0
    """Control time the mode in force was entered."""
