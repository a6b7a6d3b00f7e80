"""What one scan cycle of the core gives the daemon: commands, status, events, alarms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controller.core.alarms import AlarmEvent
from controller.core.modes import Mode


@dataclass(slots=True)
class CoreEvent:
    """Something an operator should find in the log: what happened and why."""

    time: float
    kind: str  # mode | interlock | pump | heatpump | setpoint | comms | fault
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
    interlocks: tuple[str, ...] = ()
    degraded_reasons: tuple[str, ...] = ()
    hx_ua_ratio: float | None = None
    loops: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class CoreOutput:
    commands: dict[str, float]
    status: CoreStatus
    events: list[CoreEvent]
    alarm_events: list[AlarmEvent]
