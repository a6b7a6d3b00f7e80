"""Timed events of a scenario: faults and outages the plant applies as time passes.

Events are a discriminated union on ``kind`` so a scenario file states each fault
with exactly the fields it needs and a misspelt field is an error, not a silent
default. Whether an event's device and point exist is checked by the scenario
loader against the register map; here they are only shapes and timing.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import Field, StrictInt

from controller.config.strictmodel import StrictModel
from simulator.pointio import CommsFault
from simulator.timeparse import Seconds

INF = math.inf
PositiveSeconds = Annotated[Seconds, Field(gt=0)]


class _EventBase(StrictModel):
    at: Seconds
    duration: PositiveSeconds | None = None  # None: until the end of the run

    @property
    def end(self) -> float | None:
        return None if self.duration is None else self.at + self.duration

    def active(self, t: float) -> bool:
        return self.at <= t and (self.duration is None or t < self.at + self.duration)


class NetworkOutage(_EventBase):
    """The DH network cannot take heat; forces ``Boundary.network_available`` off."""

    kind: Literal["network_outage"]


class HpTrip(_EventBase):
    """The heat pump trips; the cause persists for ``duration``, then a reset can succeed."""

    kind: Literal["hp_trip"]
    fault_code: Annotated[StrictInt, Field(ge=1, le=0xFFFE)] = 9


class PumpFailure(_EventBase):
    kind: Literal["pump_failure"]
    pump: Literal["p1a", "p1b", "p2a", "p2b"]


class SensorStuck(_EventBase):
    """The reading freezes at its value at ``at`` while the process moves on."""

    kind: Literal["sensor_stuck"]
    device: str
    point: str


class SensorOutOfRange(_EventBase):
    """The reading jumps to ``value`` (850.0: open-circuit PT1000; -50: short)."""

    kind: Literal["sensor_out_of_range"]
    device: str
    point: str
    value: float


class CommsLoss(_EventBase):
    kind: Literal["comms_loss"]
    device: str
    mode: CommsFault


class HxFouling(_EventBase):
    """UA falls linearly to ``ua_factor`` of clean over ``duration`` and stays there.

    Unlike other events its "end" does not undo it: it only marks the ramp complete.
    Without a duration the drop is immediate.
    """

    kind: Literal["hx_fouling"]
    exchanger: Literal["evaporator", "condenser"]
    ua_factor: Annotated[float, Field(gt=0, le=1)]

    def ua_factor_at(self, t: float) -> float:
        if t < self.at:
            return 1.0
        if self.duration is None or t >= self.at + self.duration:
            return self.ua_factor
        return 1.0 + (self.ua_factor - 1.0) * (t - self.at) / self.duration


class ControllerStop(_EventBase):
    """The controller process stops; in-process runs skip calling the control core."""

    kind: Literal["controller_stop"]


Event = Annotated[
    NetworkOutage
    | HpTrip
    | PumpFailure
    | SensorStuck
    | SensorOutOfRange
    | CommsLoss
    | HxFouling
    | ControllerStop,
    Field(discriminator="kind"),
]


class EventTimeline:
    """Reports each event's start and end exactly once as simulated time passes them.

    ``due(t)`` returns the transitions with time <= t not reported before, in time
    order, ends before starts at the same instant (so a fault handed from one event to
    the next is released before it is re-applied). Open-ended events and hx_fouling
    (whose end only completes its ramp) never undo themselves: the plant applies an
    "end" as "the cause is gone", nothing more.
    """

    __slots__ = ("_active", "_items", "_last", "_next", "_times")

    def __init__(self, events: Sequence[Event]) -> None:
        rows: list[tuple[float, int, int, Event, Literal["start", "end"]]] = []
        for seq, event in enumerate(events):
            rows.append((event.at, 1, seq, event, "start"))
            if event.end is not None:
                rows.append((event.end, 0, seq, event, "end"))
        rows.sort(key=lambda r: r[:3])
        self._times = [r[0] for r in rows]
        self._items: list[tuple[Event, Literal["start", "end"]]] = [(r[3], r[4]) for r in rows]
        self._next = 0
        self._last = -INF
        self._active: dict[int, Event] = {}

    def due(self, t: float) -> list[tuple[Event, Literal["start", "end"]]]:
        if t < self._last:
            raise ValueError(f"time went backwards ({t} after {self._last}); make a new timeline")
        self._last = t
        start = self._next
        if start >= len(self._times) or t < self._times[start]:
            return []
        self._next = bisect_right(self._times, t, start)
        crossed = self._items[start : self._next]
        for event, edge in crossed:
            if edge == "start":
                self._active[id(event)] = event
            else:
                self._active.pop(id(event), None)
        return crossed

    @property
    def active(self) -> list[Event]:
        """Events started and not yet ended, in start order."""
        return list(self._active.values())
