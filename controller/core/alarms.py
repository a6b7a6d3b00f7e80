"""ISA-18.2 alarm engine: alarms are data (a TOML catalogue), evaluated every scan.

Why a catalogue: every alarm must be rationalised (ISA-18.2): it names what happened,
what the operator must do, its priority and its delays. Keeping that in a file the
site engineer reviews, instead of scattered ``if`` statements, makes the alarm
system auditable and lets one binary serve differently instrumented sites.

Why delays and deadbands are mandatory design, not tuning: a chattering alarm
(ISA-18.2 target: zero) trains operators to ignore the alarm list. An alarm cannot
change state faster than its delays: once raised it stays raised for at least
``off_delay_s``, once cleared it stays clear for at least ``on_delay_s``, and the
deadband keeps measurement noise smaller than the band from toggling it at all.

Why a missing value holds the alarm: a sensor that drops out is a comms/quality
problem with its own alarm; letting it clear a real high-temperature alarm, or raise
a fake one, would lie to the operator. Alarms on signals whose loss is itself
dangerous set ``on_bad = "raise"``.

Shelving (operator, time-limited) and suppression by design (by plant state, e.g.
comms alarms during STARTUP) take an alarm *out of the alarm list*: it is reset to
NORMAL while hidden, its condition is still tracked, and when it comes back it is
annunciated again if the condition is still present. Nothing that happened while it
was hidden waits for an acknowledgement the operator never had the chance to give.

The engine is pure: ``now`` is an argument, nothing is logged, transitions come
back as ``AlarmEvent`` objects for the shell to log, publish over OPC UA and store.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from controller.config.strictmodel import StrictModel
from controller.config.tomlfile import load_model

# ---------------------------------------------------------------------------------------
# Definitions (configuration)
# ---------------------------------------------------------------------------------------


class AlarmKind(StrEnum):
    HIGH = "high"  # value above limit; clears below limit - deadband
    LOW = "low"  # value below limit; clears above limit + deadband
    FLAG = "flag"  # boolean condition true (trip, fault, comms lost)


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


# OPC UA condition severity (1-1000) per priority.
SEVERITY: dict[Priority, int] = {
    Priority.LOW: 250,
    Priority.MEDIUM: 500,
    Priority.HIGH: 750,
    Priority.CRITICAL: 900,
}


class Category(StrEnum):
    PROCESS = "process"
    EQUIPMENT = "equipment"
    COMMS = "comms"
    SAFETY = "safety"
    MAINTENANCE = "maintenance"


class OnBad(StrEnum):
    HOLD = "hold"  # bad quality neither raises nor clears
    RAISE = "raise"  # bad quality counts as the alarm condition


def _field_error(field: str, message: str, value: Any) -> ValidationError:
    """An error located at one field, so the TOML loader can point at its line."""
    return ValidationError.from_exception_data(
        "AlarmDef",
        [InitErrorDetails(type=PydanticCustomError("alarm", message), loc=(field,), input=value)],
    )


class AlarmDef(StrictModel):
    """One rationalised alarm (ISA-18.2): condition, urgency, and the operator's response."""

    id: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=64)]
    kind: AlarmKind
    source: Annotated[str, Field(min_length=1)]
    limit: float | None = None
    limit_setting: str | None = None
    """The site setting ``limit`` was taken from (``limits.fws_supply_high``), so a
    reload of the site file moves the alarm with it (``AlarmEngine.set_limit``)."""
    deadband: Annotated[float, Field(ge=0)] = 0.0
    on_delay_s: Annotated[float, Field(ge=0)] = 0.0
    off_delay_s: Annotated[float, Field(ge=0)] = 0.0
    priority: Priority
    latch: bool = False
    message: Annotated[str, Field(min_length=1)]
    action: Annotated[str, Field(min_length=1)]
    category: Category
    on_bad: OnBad = OnBad.HOLD
    # Alarms protecting people or the IT load should not be hidden by an operator.
    shelvable: bool = True

    @field_validator("source")
    @classmethod
    def _known_source(cls, v: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get("known_signals")
        if known is not None and v not in known:
            raise PydanticCustomError(
                "alarm", "unknown signal '{source}': not in the process image", {"source": v}
            )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind is AlarmKind.FLAG:
            if self.limit is not None:
                raise _field_error("limit", "a flag alarm has no limit", self.limit)
            if self.deadband != 0:
                raise _field_error("deadband", "a flag alarm has no deadband", self.deadband)
            return self
        if self.limit is None:
            raise _field_error("limit", f"a {self.kind} alarm needs a limit", None)
        if not math.isfinite(self.limit):
            raise _field_error("limit", "limit must be a finite number", self.limit)
        if not (self.deadband > 0 and math.isfinite(self.deadband)):
            raise _field_error(
                "deadband",
                f"a {self.kind} alarm needs a deadband > 0 (hysteresis against chattering)",
                self.deadband,
            )
        return self

    @property
    def severity(self) -> int:
        return SEVERITY[self.priority]


class AlarmCatalogue(StrictModel):
    """The alarm file: ``[[alarm]]`` tables, one per alarm."""

    version: Annotated[int, Field(ge=1)] = 1
    alarm: list[AlarmDef] = Field(default_factory=list)

    @field_validator("alarm")
    @classmethod
    def _unique_ids(cls, v: list[AlarmDef]) -> list[AlarmDef]:
        first: dict[str, int] = {}
        errors: list[InitErrorDetails] = []
        for i, d in enumerate(v):
            if d.id in first:
                error = PydanticCustomError(
                    "alarm",
                    "alarm id '{id}' is already used by alarm[{first}]",
                    {"id": d.id, "first": first[d.id]},
                )
                errors.append(InitErrorDetails(type=error, loc=(i, "id"), input=d.id))
            else:
                first[d.id] = i
        if errors:
            raise ValidationError.from_exception_data("AlarmCatalogue", errors)
        return v


def load_alarm_catalogue(
    path: Path | str, known_signals: Collection[str] | None = None
) -> AlarmCatalogue:
    """Load an alarm file; ConfigError names field and line (including unknown sources)."""
    known = frozenset(known_signals) if known_signals is not None else None
    return load_model(AlarmCatalogue, path, known_signals=known)


# ---------------------------------------------------------------------------------------
# Runtime state and events
# ---------------------------------------------------------------------------------------


class AlarmStatus(StrEnum):
    NORMAL = "normal"
    ACTIVE_UNACKED = "active_unacked"
    ACTIVE_ACKED = "active_acked"
    RTN_UNACKED = "rtn_unacked"  # condition gone, operator has not acknowledged yet


class EventKind(StrEnum):
    RAISE = "raise"  # annunciated: the only kind that counts towards alarm rates
    CLEAR = "clear"  # condition gone after acknowledgement: back to NORMAL
    RTN_UNACK = "rtn_unack"  # condition gone before acknowledgement
    ACK = "ack"
    SHELVE = "shelve"
    UNSHELVE = "unshelve"  # by the operator, or the shelf time ran out (user "")
    SUPPRESS = "suppress"
    UNSUPPRESS = "unsuppress"


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    time: float
    alarm_id: str
    kind: EventKind
    status: AlarmStatus  # the alarm's status after the event
    priority: Priority
    severity: int
    value: float | bool | None  # None: the source had bad quality
    message: str
    user: str = ""


@dataclass(frozen=True, slots=True)
class AlarmState:
    """A snapshot of one alarm, safe to hand to another thread (OPC UA server)."""

    id: str
    status: AlarmStatus
    condition: bool  # the debounced process condition
    latched: bool  # held active by its latch although the condition is gone
    priority: Priority
    severity: int
    category: Category
    value: float | bool | None
    raised_at: float | None
    changed_at: float | None
    acked_by: str
    acked_at: float | None
    shelved_until: float | None
    suppressed: bool
    message: str
    action: str


@dataclass(frozen=True, slots=True)
class AlarmCounts:
    listed: int  # on the active-alarm list (not NORMAL)
    active: int  # condition active (acknowledged or not)
    unacked: int  # waiting for an operator
    shelved: int
    suppressed: int
    by_priority: dict[Priority, int]  # listed alarms per priority


@dataclass(frozen=True, slots=True)
class AlarmSummary:
    """The active-alarm list (most urgent first) and its counts after a scan.

    ``value`` of each listed alarm is as of its last change of condition or state:
    the list is rebuilt only then, so a quiet plant costs the scan nothing.
    """

    active: tuple[AlarmState, ...] = ()
    counts: AlarmCounts = field(default_factory=lambda: AlarmCounts(0, 0, 0, 0, 0, {}))


class AlarmConfigError(ValueError):
    """The alarm definitions do not fit the plant (unknown signals, duplicate ids)."""


class AlarmOperationError(ValueError):
    """An operator action that is not allowed (shelving a safety alarm, too long a shelf)."""


_HIGH, _LOW, _FLAG = 0, 1, 2
_KIND_CODE = {AlarmKind.HIGH: _HIGH, AlarmKind.LOW: _LOW, AlarmKind.FLAG: _FLAG}


class _Slot:
    """Per-alarm runtime state; plain slots because ``update`` touches it every scan."""

    __slots__ = (
        "acked_at",
        "acked_by",
        "changed_at",
        "clear",
        "cond",
        "d",
        "dirty",
        "id",
        "kind",
        "latch",
        "limit",
        "off_delay",
        "on_delay",
        "raise_on_bad",
        "raised_at",
        "shelved_until",
        "since",
        "src",
        "status",
        "suppressed",
        "value",
    )

    def __init__(self, d: AlarmDef) -> None:
        self.d = d
        self.id = d.id
        self.src = d.source
        self.kind = _KIND_CODE[d.kind]
        limit = d.limit if d.limit is not None else 0.0
        self.limit = limit
        self.clear = limit - d.deadband if d.kind is AlarmKind.HIGH else limit + d.deadband
        self.on_delay = d.on_delay_s
        self.off_delay = d.off_delay_s
        self.raise_on_bad = d.on_bad is OnBad.RAISE
        self.latch = d.latch
        self.cond = False
        self.since: float | None = None  # when the pending change was first seen
        self.status = AlarmStatus.NORMAL
        self.dirty = False  # re-run the state machine although the condition held
        self.value: float | bool | None = None
        self.raised_at: float | None = None
        self.changed_at: float | None = None
        self.acked_by = ""
        self.acked_at: float | None = None
        self.shelved_until: float | None = None
        self.suppressed = False


_ACTIVE = (AlarmStatus.ACTIVE_UNACKED, AlarmStatus.ACTIVE_ACKED)
_UNACKED = (AlarmStatus.ACTIVE_UNACKED, AlarmStatus.RTN_UNACKED)


class AlarmEngine:
    """Evaluates every alarm each scan and keeps the ISA-18.2 state of each."""

    def __init__(
        self,
        defs: Iterable[AlarmDef] | AlarmCatalogue,
        known_signals: Collection[str] | None = None,
        max_shelve_s: float = 8 * 3600.0,
    ) -> None:
        """``known_signals``: every signal the process image carries. Give it: an alarm
        on a misspelt signal otherwise never raises, the worst way an alarm can fail.
        """
        if isinstance(defs, AlarmCatalogue):
            defs = defs.alarm
        defs = list(defs)
        problems: list[str] = []
        seen: set[str] = set()
        for d in defs:
            if d.id in seen:
                problems.append(f"alarm id {d.id!r} is defined twice")
            seen.add(d.id)
            if known_signals is not None and d.source not in known_signals:
                problems.append(f"alarm {d.id}: source {d.source!r} is not a known signal")
        if problems:
            raise AlarmConfigError("; ".join(problems))
        self._slots = [_Slot(d) for d in defs]
        self._by_id = {s.id: s for s in self._slots}
        self._defs = {d.id: d for d in defs}
        self._max_shelve_s = max_shelve_s
        self._shelved = 0
        self._missing: set[str] = set()
        self._revision = 0  # bumped by every transition (``_emit``)
        self._summary: tuple[int, AlarmSummary] | None = None

    # -- evaluation ---------------------------------------------------------------------

    def update(self, signals: Mapping[str, float | bool | None], now: float) -> list[AlarmEvent]:
        """Evaluate every alarm against this scan's signals; return the transitions.

        ``None`` (or NaN) means bad quality. A source missing from ``signals`` is
        treated as bad quality and recorded in ``missing_signals``; it should have
        been caught at construction with ``known_signals``.
        """
        events: list[AlarmEvent] = []
        if self._shelved:
            self._expire_shelves(now, events)
        settle = self._settle
        for s in self._slots:
            try:
                v = signals[s.src]
            except KeyError:
                v = None
                self._missing.add(s.src)
            s.value = v
            cond = s.cond
            if v is None or v != v:  # noqa: PLR0124 - NaN check without a call per alarm
                if not s.raise_on_bad:
                    # Hold, and restart any pending delay: a delay needs the condition
                    # observed for its whole length, not bridged across a gap.
                    s.since = None
                    if s.dirty:
                        settle(s, now, events)
                    continue
                toward = not cond
            elif s.kind == _HIGH:
                toward = v < s.clear if cond else v > s.limit
            elif s.kind == _LOW:
                toward = v > s.clear if cond else v < s.limit
            else:
                toward = not v if cond else bool(v)
            if toward:
                since = s.since
                if since is None:
                    s.since = since = now
                if now - since >= (s.off_delay if cond else s.on_delay):
                    s.cond = not cond
                    s.since = None
                    self._revision += 1  # ``condition`` and ``latched`` of the list
                    settle(s, now, events)
                    continue
            elif s.since is not None:
                s.since = None
            if s.dirty:
                settle(s, now, events)
        return events

    def _settle(self, s: _Slot, now: float, events: list[AlarmEvent]) -> None:
        """The alarm state machine, run when the condition changed or a hide ended."""
        s.dirty = False
        if s.suppressed or s.shelved_until is not None:
            return
        st = s.status
        if s.cond:
            if st is AlarmStatus.NORMAL or st is AlarmStatus.RTN_UNACKED:
                s.status = AlarmStatus.ACTIVE_UNACKED
                s.raised_at = now
                s.acked_by = ""
                s.acked_at = None
                self._emit(s, EventKind.RAISE, now, events)
        elif st is AlarmStatus.ACTIVE_UNACKED:
            if not s.latch:  # a latched alarm waits for the operator
                s.status = AlarmStatus.RTN_UNACKED
                self._emit(s, EventKind.RTN_UNACK, now, events)
        elif st is AlarmStatus.ACTIVE_ACKED:
            s.status = AlarmStatus.NORMAL
            self._emit(s, EventKind.CLEAR, now, events)

    def _emit(
        self, s: _Slot, kind: EventKind, now: float, events: list[AlarmEvent], user: str = ""
    ) -> AlarmEvent:
        self._revision += 1
        s.changed_at = now
        d = s.d
        ev = AlarmEvent(now, s.id, kind, s.status, d.priority, d.severity, s.value, d.message, user)
        events.append(ev)
        return ev

    def _expire_shelves(self, now: float, events: list[AlarmEvent]) -> None:
        for s in self._slots:
            if s.shelved_until is not None and now >= s.shelved_until:
                self._unshelve(s, now, events, "")

    # -- operator actions ---------------------------------------------------------------

    def acknowledge(self, alarm_id: str, user: str, now: float) -> AlarmEvent | None:
        """Acknowledge one alarm; None when there was nothing to acknowledge."""
        s = self._by_id[alarm_id]
        st = s.status
        if st is AlarmStatus.ACTIVE_UNACKED:
            # A latched alarm whose condition has gone is reset by the acknowledgement.
            s.status = AlarmStatus.NORMAL if not s.cond else AlarmStatus.ACTIVE_ACKED
        elif st is AlarmStatus.RTN_UNACKED:
            s.status = AlarmStatus.NORMAL
        else:
            return None
        s.acked_by = user
        s.acked_at = now
        events: list[AlarmEvent] = []
        return self._emit(s, EventKind.ACK, now, events, user)

    def shelve(self, alarm_id: str, until: float, now: float, user: str = "") -> AlarmEvent:
        """Take an alarm off the list until ``until`` (ISA-18.2: always time-limited)."""
        s = self._by_id[alarm_id]
        if not s.d.shelvable:
            raise AlarmOperationError(f"alarm {alarm_id} may not be shelved")
        if until <= now:
            raise AlarmOperationError(f"shelve {alarm_id}: end time lies in the past")
        if until - now > self._max_shelve_s:
            raise AlarmOperationError(
                f"shelve {alarm_id}: at most {self._max_shelve_s / 3600:g} h at a time"
            )
        if s.shelved_until is None:
            self._shelved += 1
        s.shelved_until = until
        s.status = AlarmStatus.NORMAL
        events: list[AlarmEvent] = []
        return self._emit(s, EventKind.SHELVE, now, events, user)

    def unshelve(self, alarm_id: str, now: float, user: str = "") -> AlarmEvent | None:
        s = self._by_id[alarm_id]
        if s.shelved_until is None:
            return None
        events: list[AlarmEvent] = []
        self._unshelve(s, now, events, user)
        return events[0]

    def _unshelve(self, s: _Slot, now: float, events: list[AlarmEvent], user: str) -> None:
        s.shelved_until = None
        s.dirty = True  # annunciate at the next update if the condition is present
        self._shelved -= 1
        self._emit(s, EventKind.UNSHELVE, now, events, user)

    def suppress(self, alarm_ids: Iterable[str], now: float) -> list[AlarmEvent]:
        """Suppress by design (plant state): e.g. comms alarms while STARTUP connects."""
        events: list[AlarmEvent] = []
        for alarm_id in alarm_ids:
            s = self._by_id[alarm_id]
            if not s.suppressed:
                s.suppressed = True
                s.status = AlarmStatus.NORMAL
                self._emit(s, EventKind.SUPPRESS, now, events)
        return events

    def unsuppress(self, alarm_ids: Iterable[str], now: float) -> list[AlarmEvent]:
        events: list[AlarmEvent] = []
        for alarm_id in alarm_ids:
            s = self._by_id[alarm_id]
            if s.suppressed:
                s.suppressed = False
                s.dirty = True
                self._emit(s, EventKind.UNSUPPRESS, now, events)
        return events

    def set_limit(self, alarm_id: str, limit: float) -> None:
        """Move a high/low alarm's limit (its site setting was reloaded); the alarm's
        state is kept and judged against the new limit from the next update."""
        s = self._by_id[alarm_id]
        if s.d.kind is AlarmKind.FLAG or not math.isfinite(limit):
            raise AlarmOperationError(f"alarm {alarm_id}: no finite limit to set")
        s.limit = limit
        s.clear = limit - s.d.deadband if s.d.kind is AlarmKind.HIGH else limit + s.d.deadband

    # -- reporting ----------------------------------------------------------------------

    @property
    def definitions(self) -> Mapping[str, AlarmDef]:
        return self._defs

    @property
    def missing_signals(self) -> frozenset[str]:
        """Sources that were absent from ``signals`` at some update (a wiring bug)."""
        return frozenset(self._missing)

    def ids(self, category: Category | str | None = None) -> list[str]:
        """Alarm ids, optionally of one category (what ``suppress`` is usually given)."""
        return [s.id for s in self._slots if category is None or s.d.category == category]

    def state(self, alarm_id: str) -> AlarmState:
        return self._snapshot(self._by_id[alarm_id])

    def states(self) -> list[AlarmState]:
        """Every alarm in catalogue order (the OPC UA server creates a condition each)."""
        return [self._snapshot(s) for s in self._slots]

    def active(self) -> list[AlarmState]:
        """The active-alarm list: everything not NORMAL, most urgent first, then oldest
        first within a priority (the first-out alarm is usually the root cause).
        """
        listed = [s for s in self._slots if s.status is not AlarmStatus.NORMAL]
        listed.sort(key=lambda s: (-s.d.severity, s.raised_at or 0.0))
        return [self._snapshot(s) for s in listed]

    def summary(self) -> AlarmSummary:
        """The active list and counts, rebuilt only after a transition."""
        cached = self._summary
        if cached is not None and cached[0] == self._revision:
            return cached[1]
        summary = AlarmSummary(tuple(self.active()), self.counts())
        self._summary = (self._revision, summary)
        return summary

    def counts(self) -> AlarmCounts:
        by_priority = dict.fromkeys(Priority, 0)
        listed = active = unacked = shelved = suppressed = 0
        for s in self._slots:
            st = s.status
            if st is not AlarmStatus.NORMAL:
                listed += 1
                by_priority[s.d.priority] += 1
            active += st in _ACTIVE
            unacked += st in _UNACKED
            shelved += s.shelved_until is not None
            suppressed += s.suppressed
        return AlarmCounts(listed, active, unacked, shelved, suppressed, by_priority)

    @staticmethod
    def _snapshot(s: _Slot) -> AlarmState:
        d = s.d
        return AlarmState(
            id=s.id,
            status=s.status,
            condition=s.cond,
            latched=s.status in _ACTIVE and not s.cond,
            priority=d.priority,
            severity=d.severity,
            category=d.category,
            value=s.value,
            raised_at=s.raised_at,
            changed_at=s.changed_at,
            acked_by=s.acked_by,
            acked_at=s.acked_at,
            shelved_until=s.shelved_until,
            suppressed=s.suppressed,
            message=d.message,
            action=d.action,
        )


# ---------------------------------------------------------------------------------------
# Alarm-system performance metrics (ISA-18.2 / EEMUA 191), for scenario KPIs
# ---------------------------------------------------------------------------------------

ISA_FLOOD_WINDOW_S = 600.0
ISA_FLOOD_LIMIT = 10  # more than 10 annunciations in 10 min is a flood


@dataclass(frozen=True, slots=True)
class FloodStats:
    window_s: float
    limit: int
    periods: int  # consecutive fixed windows covering [start, end)
    annunciated: int
    max_in_window: int  # most annunciations in any sliding window
    max_in_period: int  # most annunciations in one fixed window
    periods_over: int  # fixed windows with more than ``limit``

    @property
    def mean_per_period(self) -> float:
        return self.annunciated / self.periods if self.periods else 0.0

    @property
    def percent_periods_over(self) -> float:
        """ISA-18.2 target: below 1 % of 10-minute periods."""
        return 100.0 * self.periods_over / self.periods if self.periods else 0.0

    @property
    def within_target(self) -> bool:
        """ISA-18.2: no more than ``limit`` annunciations in any window."""
        return self.max_in_window <= self.limit


def _raise_times(events: Iterable[AlarmEvent]) -> list[float]:
    return sorted(e.time for e in events if e.kind is EventKind.RAISE)


def flood_stats(
    events: Iterable[AlarmEvent],
    start: float | None = None,
    end: float | None = None,
    window_s: float = ISA_FLOOD_WINDOW_S,
    limit: int = ISA_FLOOD_LIMIT,
) -> FloodStats:
    """Annunciation rate from an event list: only RAISE events count (an operator sees
    a new alarm); acknowledgements, clears and shelving are not annunciations.

    Without ``start``/``end`` the span of the annunciations is used; for a scenario
    KPI pass the scenario's span so quiet periods count too.
    """
    if window_s <= 0:
        raise ValueError("window_s must be > 0")
    times = _raise_times(events)
    if start is None:
        start = times[0] if times else 0.0
    if end is None:
        end = times[-1] + window_s if times else start
    times = times[bisect.bisect_left(times, start) : bisect.bisect_left(times, end)]
    periods = max(1, math.ceil((end - start) / window_s)) if end > start else 0
    per_period: dict[int, int] = {}
    for t in times:
        k = int((t - start) // window_s)
        per_period[k] = per_period.get(k, 0) + 1
    max_in_window = 0
    lo = 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window_s:
            lo += 1
        max_in_window = max(max_in_window, hi - lo + 1)
    return FloodStats(
        window_s=window_s,
        limit=limit,
        periods=periods,
        annunciated=len(times),
        max_in_window=max_in_window,
        max_in_period=max(per_period.values(), default=0),
        periods_over=sum(1 for c in per_period.values() if c > limit),
    )


def chattering(
    events: Iterable[AlarmEvent], window_s: float = 60.0, count: int = 3
) -> dict[str, int]:
    """Alarms raised ``count`` or more times within ``window_s`` (a common chattering
    definition; ISA-18.2 target: none), with the most raises seen in one window.
    """
    per_alarm: dict[str, list[float]] = {}
    for e in events:
        if e.kind is EventKind.RAISE:
            per_alarm.setdefault(e.alarm_id, []).append(e.time)
    found: dict[str, int] = {}
    for alarm_id, times in per_alarm.items():
        times.sort()
        lo = best = 0
        for hi, t in enumerate(times):
            while times[lo] <= t - window_s:
                lo += 1
            best = max(best, hi - lo + 1)
        if best >= count:
            found[alarm_id] = best
    return found
