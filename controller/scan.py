"""Scan-cycle timing on monotonic deadlines, as a PLC's cyclic interrupt does it.

Cycle k is due at ``t0 + k * period`` whatever the previous cycles cost, so a slow
cycle never shifts every later one (the drift of ``sleep(period)``). A cycle that
ends after the next deadline is an overrun: counted, and the deadlines it missed
are skipped rather than run back to back. Jitter is how late a cycle started
against its deadline; both are kept over a window for p50/p99/max.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    xs = sorted(values)
    k = (len(xs) - 1) * pct / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] if lo == hi else xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


@dataclass(frozen=True)
class ScanStats:
    cycles: int
    overruns: int
    skipped_deadlines: int
    duration_p50_ms: float
    duration_p99_ms: float
    duration_max_ms: float
    jitter_p50_ms: float
    jitter_p99_ms: float
    jitter_max_ms: float
    recent_overruns: int


class ScanClock:
    def __init__(
        self,
        period_s: float,
        window: int = 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.period = period_s
        self.clock = clock
        self.t0 = clock()
        self.k = 0
        self.overruns = 0
        self.skipped = 0
        self.cycle_started = self.t0
        self.durations: deque[float] = deque(maxlen=window)
        self.jitters: deque[float] = deque(maxlen=window)
        self._overrun_times: deque[float] = deque(maxlen=1000)

    def deadline(self, k: int | None = None) -> float:
        return self.t0 + (self.k if k is None else k) * self.period

    async def wait(self) -> float:
        """Sleep until this cycle's deadline; return the start time."""
        due = self.deadline()
        now = self.clock()
        if due > now:
            await asyncio.sleep(due - now)
            now = self.clock()
        self.jitters.append(max(0.0, now - due))
        self.cycle_started = now
        return now

    def done(self) -> float:
        """Close the cycle; return its duration. Overruns skip the deadlines they missed."""
        end = self.clock()
        duration = end - self.cycle_started
        self.durations.append(duration)
        self.k += 1
        if end > self.deadline():
            self.overruns += 1
            self._overrun_times.append(end)
            missed = math.floor((end - self.t0) / self.period) + 1 - self.k
            if missed > 0:
                self.skipped += missed
                self.k += missed
        return duration

    def recent_overruns(self, window_s: float = 60.0) -> int:
        now = self.clock()
        return sum(1 for t in self._overrun_times if now - t <= window_s)

    def stats(self) -> ScanStats:
        d = [x * 1000.0 for x in self.durations]
        j = [x * 1000.0 for x in self.jitters]
        return ScanStats(
            cycles=self.k - self.skipped,
            overruns=self.overruns,
            skipped_deadlines=self.skipped,
            duration_p50_ms=percentile(d, 50),
            duration_p99_ms=percentile(d, 99),
            duration_max_ms=max(d, default=0.0),
            jitter_p50_ms=percentile(j, 50),
            jitter_p99_ms=percentile(j, 99),
            jitter_max_ms=max(j, default=0.0),
            recent_overruns=self.recent_overruns(),
        )
