"""Reading a meter's cumulative register without believing every number it shows.

The energy register is the billing truth, so the only increments counted are those
a meter could physically have made: forward, at most ``max_rate x elapsed x margin``
(plus one register quantum, because a slowly polled integer register moves in
steps). Everything else is reported as an event and not summed:

- rollover: the register wrapped at its modulus (from the register map point's
  ``rollover`` times its scale) and the wrapped increment is plausible: counted;
- backward / jump: the register went down, or up by more than the meter could have
  measured: not counted, the old baseline is kept (a single bad read then costs
  nothing once the next good read arrives);
- a new value that persists for ``confirm_readings`` consistent readings is
  accepted as the new baseline without counting the step: a *reset* if it starts
  near zero (``reset_max_start``), a *resync* otherwise;
- replacement: the operator records the new meter's start value (and, if known, the
  old meter's final reading); the old meter's last increment is counted, the new
  meter counts from its start value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from controller.config.registermap import Point


class RegisterEvent(StrEnum):
    BASELINE = "baseline"
    ROLLOVER = "rollover"
    BACKWARD = "counter_backward"
    JUMP = "counter_jump"
    RESET = "meter_reset"
    RESYNC = "counter_resync"
    REPLACED = "meter_replaced"


@dataclass(frozen=True, slots=True)
class RegisterMark:
    """A register value and the time it applies to: the baseline a delta runs from."""

    value: float
    time: float


@dataclass(frozen=True, slots=True)
class RegisterStep:
    """What one reading contributed: ``delta`` over ``[since, time]`` and any events."""

    delta: float
    since: float | None
    time: float
    events: tuple[RegisterEvent, ...] = ()
    from_value: float | None = None
    """Register value at ``since`` (the delta runs from it)."""
    good: bool = True
    """False when the reading was missing or not accepted (no usable register value)."""


def register_modulus(point: Point) -> float | None:
    """The register's wrap in engineering units (``rollover`` counts raw units)."""
    if point.rollover is None:
        return None
    return point.rollover * abs(point.scale)


class MeterRegister:
    """One cumulative register (energy in kWh or volume in m³)."""

    def __init__(
        self,
        *,
        modulus: float | None,
        max_rate_per_h: float,
        margin: float = 1.5,
        quantum: float = 1.0,
        confirm_readings: int = 3,
        reset_max_start: float = 1000.0,
        baseline: RegisterMark | None = None,
    ) -> None:
        self.modulus = modulus
        self.max_rate_per_h = max_rate_per_h
        self.margin = margin
        self.quantum = quantum
        self.confirm_readings = confirm_readings
        self.reset_max_start = reset_max_start
        self._base = baseline
        self._last_change = baseline.time if baseline else None
        self._cand_first: RegisterMark | None = None
        self._cand_last: RegisterMark | None = None
        self._cand_count = 0

    @property
    def baseline(self) -> RegisterMark | None:
        return self._base

    def _plausible(self, delta: float, elapsed: float) -> bool:
        limit = self.max_rate_per_h * max(elapsed, 0.0) / 3600.0 * self.margin + self.quantum
        return 0.0 <= delta <= limit

    def _forward(self, frm: float, to: float, elapsed: float) -> tuple[float, bool] | None:
        """Plausible forward increment from ``frm`` to ``to`` and whether it wrapped."""
        d = to - frm
        if self._plausible(d, elapsed):
            return d, False
        if d < 0 and self.modulus is not None and self._plausible(d + self.modulus, elapsed):
            return d + self.modulus, True
        return None

    def update(self, value: float | None, now: float) -> RegisterStep:
        if value is None or not math.isfinite(value):
            return RegisterStep(0.0, None, now, good=False)
        if self._base is None:
            self._base = RegisterMark(value, now)
            self._last_change = now
            return RegisterStep(0.0, None, now, (RegisterEvent.BASELINE,))
        base = self._base
        assert self._last_change is not None
        fwd = self._forward(base.value, value, now - self._last_change)
        if fwd is not None:
            delta, wrapped = fwd
            self._accept(value, now, delta)
            events = (RegisterEvent.ROLLOVER,) if wrapped else ()
            return RegisterStep(delta, base.time, now, events, base.value)
        return self._discontinuity(value, now, base)

    def _accept(self, value: float, now: float, delta: float) -> None:
        self._base = RegisterMark(value, now)
        if delta > 0:
            self._last_change = now
        self._cand_first = self._cand_last = None
        self._cand_count = 0

    def _discontinuity(self, value: float, now: float, base: RegisterMark) -> RegisterStep:
        first, last = self._cand_first, self._cand_last
        follows = (
            first is not None
            and last is not None
            and self._forward(last.value, value, now - last.time) is not None
        )
        if not follows:
            self._cand_first = self._cand_last = RegisterMark(value, now)
            self._cand_count = 1
            kind = RegisterEvent.BACKWARD if value < base.value else RegisterEvent.JUMP
            return RegisterStep(0.0, None, now, (kind,), good=False)
        assert first is not None
        self._cand_last = RegisterMark(value, now)
        self._cand_count += 1
        if self._cand_count < self.confirm_readings:
            return RegisterStep(0.0, None, now, good=False)
        # Confirmed: the meter really shows a new series. Count what it measured since
        # it was first seen; the step itself is unknown energy and stays uncounted.
        fwd = self._forward(first.value, value, now - first.time)
        delta = fwd[0] if fwd else 0.0
        is_reset = value < base.value and first.value <= self.reset_max_start
        self._base = RegisterMark(value, now)
        self._last_change = now
        self._cand_first = self._cand_last = None
        self._cand_count = 0
        kind = RegisterEvent.RESET if is_reset else RegisterEvent.RESYNC
        return RegisterStep(delta, first.time, now, (kind,), first.value)

    def replace(self, new_start: float, now: float, old_final: float | None = None) -> RegisterStep:
        """The operator's record of a meter exchange; counts the old meter's last part."""
        delta, since, frm = 0.0, None, None
        events: tuple[RegisterEvent, ...] = (RegisterEvent.REPLACED,)
        if old_final is not None and self._base is not None and self._last_change is not None:
            fwd = self._forward(self._base.value, old_final, now - self._last_change)
            if fwd is not None:
                delta, since, frm = fwd[0], self._base.time, self._base.value
            else:
                kind = (
                    RegisterEvent.BACKWARD if old_final < self._base.value else RegisterEvent.JUMP
                )
                events = (RegisterEvent.REPLACED, kind)
        self._base = RegisterMark(new_start, now)
        self._last_change = now
        self._cand_first = self._cand_last = None
        self._cand_count = 0
        return RegisterStep(delta, since, now, events, frm)

    def forget(self) -> None:
        """Drop the baseline: the next reading starts a new series (a new meter)."""
        self._base = None
        self._last_change = None
        self._cand_first = self._cand_last = None
        self._cand_count = 0
