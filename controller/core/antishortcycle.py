"""Anti-short-cycle guard for on/off equipment (heat-pump compressor, pumps, fans).

Every compressor start costs wear and a burst of inrush current; starting again
before the refrigerant pressures have equalised can damage it. Manufacturers give a
minimum run time, a minimum off time and a maximum number of starts per hour; this
block turns a wish (``on``) into what is allowed, and says why when it refuses.

Times are measured from what the machine *did*, not from what we asked (the lesson
of OpenQuatt PR #58): a heat pump may take minutes between the enable signal and the
actual compressor start, so a minimum run counted from the command would expire
before the compressor has run at all. The ``running`` feedback is therefore an
argument of every ``request``.

Safety always wins: ``force_off`` is obeyed at once, whatever the timers say. The
guard only ever delays a *start* or a *normal stop*.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field

HOUR_S = 3600.0


class AntiShortCycleConfig(BaseModel):
    """Limits from the equipment's data sheet; all times in seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_run_s: Annotated[float, Field(ge=0)] = 600.0
    min_off_s: Annotated[float, Field(ge=0)] = 300.0
    # 0 disables the limit (pumps, fans); compressors typically allow 3-6.
    max_starts_per_hour: Annotated[int, Field(ge=0)] = 4
    # The controller cannot know what happened before it started (a restart may come
    # seconds after the machine stopped), so by default the first observation counts
    # as a fresh start or stop and the minimum times apply from there.
    assume_fresh_on_boot: bool = True

    @classmethod
    def of(cls, limits: _Limits) -> AntiShortCycleConfig:
        """From a settings section (the site file's ``[heatpump]``), as both strategies do."""
        return cls(
            min_run_s=limits.min_run_s,
            min_off_s=limits.min_off_s,
            max_starts_per_hour=limits.max_starts_per_hour,
        )


class _Limits(Protocol):
    min_run_s: float
    min_off_s: float
    max_starts_per_hour: int


class BlockReason(StrEnum):
    MIN_RUN = "min_run"  # a stop was asked before the minimum run time passed
    MIN_OFF = "min_off"  # a start was asked before the minimum off time passed
    MAX_STARTS = "max_starts"  # the rolling hour already holds the allowed starts


class AntiShortCycle:
    """One guard per machine; call ``request`` once per scan with the measured state."""

    __slots__ = (
        "_command",
        "_fresh_on_boot",
        "_max_starts",
        "_min_off",
        "_min_run",
        "_now",
        "_run_start",
        "_running",
        "_starts",
        "_stop_time",
        "blocked_reason",
        "forced_stops",
        "starts_total",
        "unexpected_stops",
    )

    def __init__(self, config: AntiShortCycleConfig) -> None:
        self._min_run = config.min_run_s
        self._min_off = config.min_off_s
        self._max_starts = config.max_starts_per_hour
        self._command = False
        # None = not observed yet; the first request decides what the history is.
        self._running: bool | None = None
        self._run_start: float | None = None
        self._stop_time: float | None = None
        self._starts: deque[float] = deque()
        self._now = 0.0
        self._fresh_on_boot = config.assume_fresh_on_boot
        self.blocked_reason: BlockReason | None = None
        self.starts_total = 0  # measured starts since construction
        self.forced_stops = 0  # force_off calls that withdrew a run command
        self.unexpected_stops = 0  # machine stopped while commanded on (trip, local stop)

    # -- reporting ----------------------------------------------------------------------

    @property
    def command(self) -> bool:
        """The permitted state last returned (what the shell writes to the machine)."""
        return self._command

    @property
    def running(self) -> bool:
        return bool(self._running)

    @property
    def min_run_remaining(self) -> float:
        """Seconds until a normal stop is allowed, at the time of the last request."""
        if not self._running or self._run_start is None:
            return 0.0
        return max(0.0, self._min_run - (self._now - self._run_start))

    @property
    def min_off_remaining(self) -> float:
        """Seconds until a start is allowed by the minimum off time."""
        if self._running or self._stop_time is None:
            return 0.0
        return max(0.0, self._min_off - (self._now - self._stop_time))

    @property
    def starts_last_hour(self) -> int:
        self._expire_starts(self._now)
        return len(self._starts)

    @property
    def next_start_allowed_in(self) -> float:
        """Seconds until min off and the start budget both allow a start (0 = now)."""
        wait = self.min_off_remaining
        self._expire_starts(self._now)
        if self._max_starts and len(self._starts) >= self._max_starts:
            oldest = self._starts[len(self._starts) - self._max_starts]
            wait = max(wait, oldest + HOUR_S - self._now)
        return wait

    # -- operation ----------------------------------------------------------------------

    def request(self, on: bool, running: bool, now: float) -> bool:
        """Return the permitted command for a wish ``on`` given the measured ``running``."""
        self._now = now
        self._observe(running, now)
        reason: BlockReason | None = None
        if self._command:
            if not on:
                # Stopping before the compressor actually started is no short cycle,
                # so only a *measured* run is held for its minimum time.
                run_start = self._run_start
                if running and run_start is not None and now - run_start < self._min_run:
                    reason = BlockReason.MIN_RUN
                else:
                    self._command = False
        elif on:
            if running:
                # Still running (run-on after a stop, or local start): carrying on is
                # not a new start, so neither min off nor the start budget applies.
                self._command = True
            elif self._stop_time is not None and now - self._stop_time < self._min_off:
                reason = BlockReason.MIN_OFF
            elif self._max_starts and self._count_starts(now) >= self._max_starts:
                reason = BlockReason.MAX_STARTS
            else:
                self._command = True
        self.blocked_reason = reason
        return self._command

    def force_off(self, now: float) -> bool:
        """Stop now, ignoring every timer (safety interlock, trip, emergency).

        Counted only when it withdraws a run command, so an interlock that calls this
        every scan while active counts once. The off timer starts from the *measured*
        stop, which the next ``request`` observes.
        """
        self._now = now
        if self._command:
            self.forced_stops += 1
        self._command = False
        self.blocked_reason = None
        return False

    # -- internals ----------------------------------------------------------------------

    def _observe(self, running: bool, now: float) -> None:
        was = self._running
        if was is None:
            # First observation: adopt the machine's state (no bump at a controller
            # restart). Its history is unknown; either it just happened (timers run
            # from now) or it is long past (timers already expired).
            self._running = running
            if running:
                self._command = True
                self._run_start = now if self._fresh_on_boot else now - self._min_run
            elif self._fresh_on_boot:
                self._stop_time = now
            return
        if running == was:
            return
        self._running = running
        if running:
            self._run_start = now
            self._starts.append(now)
            self.starts_total += 1
        else:
            self._run_start = None
            self._stop_time = now
            if self._command:
                # It stopped although we asked it to run: a trip or a local stop. Drop
                # our command so the machine is not restarted behind the min off time.
                self._command = False
                self.unexpected_stops += 1

    def _expire_starts(self, now: float) -> None:
        starts = self._starts
        limit = now - HOUR_S
        while starts and starts[0] <= limit:
            starts.popleft()

    def _count_starts(self, now: float) -> int:
        self._expire_starts(now)
        return len(self._starts)
