"""What one scan cycle of the core gives the daemon: commands, status, events, alarms.

The output is immutable and built new every cycle, with the plant readings and
the alarm list it carries: the metrics thread, the status view, the OPC UA feed
and the fleet read only ``CoreOutput``, never the core's live objects, so nobody
needs to copy it and nobody can see half of one cycle and half of the next.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from controller.core.alarms import AlarmEvent, AlarmSummary
from controller.core.conditioning import PlantReadings
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
    interlocks: tuple[str, ...] = ()
    degraded_reasons: tuple[str, ...] = ()
    hx_ua_ratio: float | None = None
    loops: dict[str, float] = field(default_factory=dict)

    def freeze(self) -> CoreStatus:
        return tuple.__new__(  # in field order; NamedTuple's own __new__ is slower
            CoreStatus,
            (
                self.mode,
                self.healthy,
                self.dh_setpoint,
                self.demand_kw,
                self.deliver_kw,
                self.injection_enabled,
                self.injecting,
                self.setpoint_source,
                self.demand_source,
                self.soc,
                self.stored_kwh,
                tuple(self.tank_temps),
                self.fws_supply,
                self.dh_supply,
                self.it_heat_kw,
                self.interlocks,
                self.degraded_reasons,
                self.hx_ua_ratio,
                dict(self.loops),
            ),
        )


class CoreStatus(NamedTuple):
    """Derived values for SCADA, metrics and the status view, as of one cycle
    (immutable; a NamedTuple because it is built every scan, see ``PlantView``)."""

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
    interlocks: tuple[str, ...] = ()
    degraded_reasons: tuple[str, ...] = ()
    hx_ua_ratio: float | None = None
    loops: Mapping[str, float] = {}


class CoreOutput(NamedTuple):
    """One cycle's result. ``commands``, ``events`` and ``alarm_events`` are new each
    cycle and nobody changes them after ``step`` returns."""

    commands: dict[str, float]
    status: CoreStatus
    events: list[CoreEvent]
    alarm_events: list[AlarmEvent]
    plant: PlantReadings = PlantReadings()
    alarms: AlarmSummary = AlarmSummary()
    mode_since: float = 0.0
    """Control time the mode in force was entered."""
