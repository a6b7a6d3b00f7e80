"""PID loops on simple-pid, driven by the scan cycle's dt and never by the wall clock.

simple-pid reads ``time.monotonic`` in ``reset()`` and in every call unless given
another clock, and clamps its integral to the output limits (its only anti-windup).
This wrapper gives it a constant clock (dt is always passed explicitly), sets
``sample_time=None`` so no call is silently skipped, and adds the two things the
plant needs that simple-pid leaves out:

* bumpless hand-over: ``track(u, pv)`` sets the integral so the next output is
  exactly ``u`` with P-on-error, for manual -> auto and mode changes;
* external-reset feedback for override (min/max-selected) loops:
  ``reset_feedback(u_selected)`` puts the selected output in the integral;
* reverse action: ``direct=False`` flips the sign of the gains for loops where a
  rising measurement needs a rising output (cooling).

``reset_feedback`` writes simple-pid's ``_integral`` directly (the public route,
``set_auto_mode``, resets the whole loop); simple-pid is pinned below 3 and
tests/test_pid.py pins the behaviour this relies on.
"""

from __future__ import annotations

from typing import Protocol, cast

from simple_pid import PID


class _Integral(Protocol):
    """The private part of simple-pid's ``PID`` that ``reset_feedback`` writes."""

    _integral: float


def _constant_clock() -> float:
    return 0.0


class Loop:
    __slots__ = ("_limits", "_pid", "direct", "kp", "last_output", "name")

    def __init__(
        self,
        name: str,
        kp: float,
        ki: float,
        kd: float,
        setpoint: float,
        limits: tuple[float, float],
        *,
        direct: bool = True,
        initial: float | None = None,
    ) -> None:
        self.name = name
        self.direct = direct
        sign = 1.0 if direct else -1.0
        self.kp = sign * kp
        lo, hi = limits
        # simple-pid types its limits as optional; ours are always both set.
        self._limits = (lo, hi)
        start = lo if initial is None else min(hi, max(lo, initial))
        self._pid = PID(
            Kp=sign * kp,
            Ki=sign * ki,
            Kd=sign * kd,
            setpoint=setpoint,
            sample_time=None,
            output_limits=limits,
            time_fn=_constant_clock,
            starting_output=start,
        )
        self.last_output = start

    # ----------------------------------------------------------------- settings
    @property
    def setpoint(self) -> float:
        return self._pid.setpoint

    @setpoint.setter
    def setpoint(self, value: float) -> None:
        self._pid.setpoint = value

    @property
    def limits(self) -> tuple[float, float]:
        return self._limits

    def set_limits(self, lo: float, hi: float) -> None:
        if (lo, hi) != self._limits:
            self._limits = (lo, hi)
            self._pid.output_limits = (lo, hi)
            self.last_output = min(hi, max(lo, self.last_output))

    def retune(self, kp: float, ki: float, kd: float, pv: float | None) -> None:
        """New gains without a bump: the integral absorbs the change of the P term."""
        sign = 1.0 if self.direct else -1.0
        self._pid.tunings = (sign * kp, sign * ki, sign * kd)
        self.kp = sign * kp
        if pv is not None:
            self.track(self.last_output, pv)

    # ----------------------------------------------------------------- operation
    def update(self, pv: float, dt: float) -> float:
        out = self._pid(pv, dt=dt)
        if out is None:  # only in manual mode, which this wrapper never leaves
            return self.last_output
        self.last_output = out
        return out

    def track(self, output: float, pv: float | None) -> None:
        """Make the loop's output ``output`` now (bumpless), given the measurement."""
        pid = self._pid
        lo, hi = self._limits
        out = min(hi, max(lo, output))
        p_term = self.kp * (pid.setpoint - pv) if pv is not None else 0.0
        pid.set_auto_mode(False)
        pid.set_auto_mode(True, last_output=out - p_term)
        self.last_output = out

    def reset_feedback(self, selected: float) -> None:
        """External-reset feedback for override (min/max-selected) loops.

        The loop that is not selected gets the selected output as its integral, so
        its own P term decides, step by step, whether it would take over: above the
        selected value it stays out, below it it wins the low select at once. (A
        bumpless ``track`` here would cancel the P term every step and the override
        could never act.)
        """
        lo, hi = self._limits
        # Set the integral directly: set_auto_mode() would reset the whole loop (and
        # its derivative memory) twice per scan for every override pair.
        cast(_Integral, self._pid)._integral = min(hi, max(lo, selected))

    @property
    def components(self) -> tuple[float, float, float]:
        return self._pid.components
