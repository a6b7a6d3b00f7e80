"""Automatic reset of a heat-pump trip: after a delay, a limited number a day.

A trip that clears by itself (a pressure transient) should not cost the heat of a
whole shift, but a unit that keeps tripping must wait for a person: each trip is
reset at most once, ``delay`` after it began (and after the previous pulse),
and only ``per_day`` trips in a rolling day; then ``exhausted`` says so until the
trip clears. Both strategies use this one rule.
"""

from __future__ import annotations

DAY_S = 86400.0


class TripReset:
    """Auto-reset of a heat-pump trip with the site file's delay and daily limit."""

    __slots__ = ("_handled", "_last", "_resets", "_since", "delay", "exhausted", "per_day")

    def __init__(self, delay_s: float, per_day: int) -> None:
        self.delay = delay_s
        self.per_day = per_day
        self._since: float | None = None
        self._last = -1e18
        self._handled = False
        self._resets: list[float] = []
        self.exhausted = False

    def step(self, tripped: bool, now: float) -> bool:
        if not tripped:
            self._since = None
            self._handled = False
            self.exhausted = False
            return False
        if self._since is None:
            self._since = now
        self._resets = [t for t in self._resets if now - t < DAY_S]
        if not self._handled and len(self._resets) >= self.per_day:
            self.exhausted = True
            return False
        if now - self._since >= self.delay and now - self._last >= self.delay:
            self._last = now
            if not self._handled:
                self._resets.append(now)
                self._handled = True
            return True
        return False
