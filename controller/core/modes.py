"""Supervisory modes: what the plant is doing, with the rules for moving between them.

The effect of each mode on each output is documented in docs/operations.md; in short:

* STARTUP - the controller picks the plant up as it finds it (commands mirror the
  measured state) until every safety signal has been good for ``startup_s``.
* RECOVERY - the heat pump is in service: heat goes to the network and the tank.
* BYPASS - the heat pump is out of service (not needed, not possible, or held off);
  the dry coolers take the IT heat, the tank may still serve the network.
* DEGRADED - as RECOVERY/BYPASS, but running on a fallback (a sensor voted out, a
  device's data lost, a pump without standby); the operator has alarms to act on.
* SAFE - a safety interlock holds: bypass fully open, dry coolers from full fan
  speed down only as far as the facility water allows, heat pump off, no injection.
* MANUAL - the operator's fixed outputs from the site file (SAFE still overrides).

Moves into SAFE are immediate; moves between RECOVERY and BYPASS (and out of SAFE
or MANUAL) need their condition to hold for ``DWELL_S``. DEGRADED has its own
timers instead: entered ``DEGRADED_ENTER_S`` after the fallback is seen, left only
after the plant has been whole for ``DEGRADED_LEAVE_S``. The general dwell is not
added on top: DEGRADED changes no output, it tells the operator the plant runs on a
fallback, and 15 s of RECOVERY shown over a lost device misinforms more than a
5 s debounce protects.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    STARTUP = "STARTUP"
    BYPASS = "BYPASS"
    RECOVERY = "RECOVERY"
    DEGRADED = "DEGRADED"
    SAFE = "SAFE"
    MANUAL = "MANUAL"

    @property
    def code(self) -> int:
        return _CODES[self]


_CODES = {
    Mode.STARTUP: 0,
    Mode.BYPASS: 1,
    Mode.RECOVERY: 2,
    Mode.DEGRADED: 3,
    Mode.SAFE: 4,
    Mode.MANUAL: 5,
}

_IN_SERVICE = frozenset({Mode.RECOVERY, Mode.BYPASS})

DEGRADED_ENTER_S = 5.0
DEGRADED_LEAVE_S = 60.0
DWELL_S = 10.0


class ModeSelector:
    __slots__ = ("_candidate", "_candidate_since", "_deg_since", "_degraded", "mode", "since")

    def __init__(self, now: float) -> None:
        self.mode = Mode.STARTUP
        self.since = now
        self._candidate = Mode.STARTUP
        self._candidate_since = now
        self._degraded = False
        self._deg_since: float | None = None

    def update(
        self,
        now: float,
        *,
        safe: bool,
        manual: bool,
        starting: bool,
        degraded: bool,
        hp_in_service: bool,
    ) -> Mode | None:
        """Return the new mode if it changed on this step, else None."""
        # Degraded has its own hysteresis: quick to enter, slow to leave.
        if degraded != self._degraded:
            if self._deg_since is None:
                self._deg_since = now
            wait = DEGRADED_ENTER_S if degraded else DEGRADED_LEAVE_S
            if now - self._deg_since >= wait:
                self._degraded = degraded
                self._deg_since = None
        else:
            self._deg_since = None
        if safe:
            want = Mode.SAFE
        elif manual:
            want = Mode.MANUAL
        elif starting:
            want = Mode.STARTUP
        elif self._degraded:
            want = Mode.DEGRADED
        else:
            want = Mode.RECOVERY if hp_in_service else Mode.BYPASS
        if want != self._candidate:
            self._candidate = want
            self._candidate_since = now
        if want == self.mode:
            return None
        # A move made because the degraded flag flipped has already served its timer.
        degraded_move = (want is Mode.DEGRADED and self.mode in _IN_SERVICE) or (
            self.mode is Mode.DEGRADED and want in _IN_SERVICE
        )
        if (
            want is Mode.SAFE
            or self.mode is Mode.STARTUP
            or degraded_move
            or now - self._candidate_since >= DWELL_S
        ):
            self.mode = want
            self.since = now
            return want
        return None
