"""Safety interlocks: plain conditions, not PID, that latch until the cause has gone.

Each interlock trips at once on its cause and releases only after the cause has
been clear for its dwell time, so a condition hovering at its limit cannot make the
plant toggle. ``tripped_now`` lists the ones that latched on this step: the core
uses that edge to push the dry coolers to full at once.
"""

from __future__ import annotations

from enum import StrEnum


class Interlock(StrEnum):
    FWS_HIGH_HIGH = "fws_high_high"  # facility water above its hard limit: IT at risk
    FWS_PUMPS_LOST = "fws_pumps_lost"  # no facility-water pump running
    SAFETY_SIGNAL_BAD = "safety_signal_bad"  # no trustworthy facility-water supply temperature
    PLC_LOCAL_SAFE = "plc_local_safe"  # the plant PLC has taken over (watchdog)
    HP_TRIP = "hp_trip"  # heat pump tripped: its heat must go to the dry coolers now
    NETWORK_LOST = "network_lost"  # DH network cannot take heat: stop injecting

    @property
    def safe_mode(self) -> bool:
        """Whether this interlock puts the whole plant in SAFE."""
        return self in _SAFE


_SAFE = frozenset(
    {
        Interlock.FWS_HIGH_HIGH,
        Interlock.FWS_PUMPS_LOST,
        Interlock.SAFETY_SIGNAL_BAD,
        Interlock.PLC_LOCAL_SAFE,
    }
)


class Interlocks:
    __slots__ = ("_clear_since", "dwell_s", "latched", "tripped_now")

    def __init__(self, dwell_s: float) -> None:
        self.dwell_s = dwell_s
        self.latched: set[Interlock] = set()
        self._clear_since: dict[Interlock, float] = {}
        self.tripped_now: list[Interlock] = []

    def update(self, causes: dict[Interlock, bool], now: float) -> None:
        tripped: list[Interlock] = []
        for il, active in causes.items():
            if active:
                self._clear_since.pop(il, None)
                if il not in self.latched:
                    self.latched.add(il)
                    tripped.append(il)
            elif il in self.latched:
                since = self._clear_since.setdefault(il, now)
                if now - since >= self.dwell_s:
                    self.latched.discard(il)
                    del self._clear_since[il]
        self.tripped_now = tripped

    def active(self, il: Interlock) -> bool:
        return il in self.latched

    @property
    def safe(self) -> bool:
        return any(il.safe_mode for il in self.latched)
