"""Is the controller fit to be left in charge? The answer behind ``/healthz``.

A service manager or a container runtime can only act on a yes/no, so this is kept
to the two conditions under which the controller is not doing its job and someone
must look: the scan cycle has stopped (nothing is being controlled), or the plant's
safety picture is gone (no trustworthy facility-water temperature, the PLC has
taken over locally, or the PLC cannot be heard). A DEGRADED plant, an alarm or a
lost heat meter is for the operator's alarm list, not for a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.core.interlocks import Interlock
from controller.snapshot import Snapshot

MIN_STALL_S = 1.0
"""Never call the cycle stalled sooner than this: at 100 ms a single garbage
collection or a slow disk write would otherwise flap the health check."""

SAFETY_INTERLOCKS = (str(Interlock.SAFETY_SIGNAL_BAD), str(Interlock.PLC_LOCAL_SAFE))


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    reasons: tuple[str, ...]
    last_cycle_age_s: float | None
    mode: str | None
    cycle: int | None

    def body(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "unhealthy",
            "reasons": list(self.reasons),
            "mode": self.mode,
            "cycle": self.cycle,
            "last_cycle_age_s": None
            if self.last_cycle_age_s is None
            else round(self.last_cycle_age_s, 3),
        }


def stall_after_s(period_s: float, stall_periods: float) -> float:
    return max(MIN_STALL_S, stall_periods * period_s)


def assess(
    snap: Snapshot | None,
    now_mono: float,
    started_mono: float,
    period_s: float,
    stall_periods: float = 3.0,
) -> Health:
    limit = stall_after_s(period_s, stall_periods)
    if snap is None:
        waited = now_mono - started_mono
        why = (
            f"no scan cycle completed in {waited:.1f} s since start"
            if waited > limit
            else "starting: no scan cycle completed yet"
        )
        return Health(False, (why,), None, None, None)
    reasons: list[str] = []
    age = now_mono - snap.mono
    if age > limit:
        reasons.append(f"scan cycle stalled: last cycle {age:.1f} s ago (limit {limit:.1f} s)")
    if snap.values.get("fws_supply") is None:
        reasons.append("facility-water supply temperature unknown")
    for il in SAFETY_INTERLOCKS:
        if il in snap.interlocks:
            reasons.append(f"interlock {il} latched")
    if snap.plc in snap.comms_lost:
        reasons.append(f"no data from the PLC ({snap.plc})")
    return Health(not reasons, tuple(reasons), age, snap.mode, snap.cycle)
