"""Setpoint ramp: limits how fast a setpoint may move, separately up and down.

A heat pump's condenser setpoint or a district-heating supply setpoint must not jump:
a step of 10 K makes the compressor hunt and thermally shocks the network, and
raising and lowering are not symmetric hazards (operators often allow a faster
fall than rise). The ramp is the rate limiter between the setpoint source (SCADA,
weather curve) and the loop that uses it.

``track()`` is the bumpless hand-over: when a loop switches from manual, from a
safe state or from a controller restart, the ramp starts from the value the plant
actually has, not from a stale or default number.
"""

from __future__ import annotations

from math import isnan
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class RampConfig(BaseModel):
    """Rates in engineering units per minute (K/min for temperatures); inf = no limit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    up_per_min: Annotated[float, Field(gt=0)]
    down_per_min: Annotated[float, Field(gt=0)]


class Ramp:
    """Rate limiter driven by explicit time, so it behaves the same at 100 ms or 1 s scans."""

    __slots__ = ("_down", "_last", "_up", "_value")

    def __init__(self, config: RampConfig, initial: float | None = None) -> None:
        # Per-second rates: the hot path then needs one multiply per step.
        self._up = config.up_per_min / 60.0
        self._down = config.down_per_min / 60.0
        self._value: float | None = initial
        self._last: float | None = None

    @property
    def value(self) -> float | None:
        """The ramped output; None until the first ``step`` or ``track``."""
        return self._value

    def track(self, value: float, now: float | None = None) -> None:
        """Make the output equal ``value`` now, without a ramp (bumpless initialisation).

        Without ``now`` the next ``step`` only takes its time as the reference and
        moves nothing, so the hand-over never produces a jump either way.
        """
        self._value = value
        self._last = now

    def step(self, target: float, now: float) -> float:
        """Move the output towards ``target`` by at most rate x elapsed time.

        An uninitialised ramp starts at the target: there is no earlier value to
        protect, and inventing one (say 0 °C) would make a slow ramp from nonsense.
        A NaN target holds the output, so a bad input cannot poison the setpoint.
        Time that stands still or runs backwards moves nothing.
        """
        value = self._value
        last = self._last
        # The reference always advances, also while holding: otherwise a long hold
        # would be followed by a catch-up jump of rate x hold time.
        self._last = now
        if isnan(target):  # hold
            return value if value is not None else target
        if value is None:
            self._value = target
            return target
        if last is None or now <= last:
            return value
        dt = now - last
        if target > value:
            value = min(target, value + self._up * dt)
        elif target < value:
            value = max(target, value - self._down * dt)
        self._value = value
        return value
