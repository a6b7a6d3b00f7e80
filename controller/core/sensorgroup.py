"""Redundant measurements of one quantity, voted so one bad sensor cannot steer a loop.

Facility-water supply temperature is measured four times on the reference site (two
header sensors and each CDU's inlet); a median of the healthy ones rides through a
stuck or drifting sensor without the loop ever seeing it. Each member is also judged
on its own so the operator learns which one to replace:

* bad: no usable value (comms, sentinel, out of plausible range - decided upstream);
* frozen: not one change for ``frozen_s`` while the rest of the group moved (by
  0.3 K, or - in groups of 3 or more - by flickering: every other member changed its
  reading at least ``FROZEN_FLICKERS`` times, as live sensors do through noise);
* deviant: further than ``tol`` from the others for ``disagree_s`` (needs 3 members
  to know which one is wrong; with 2, the group reports a disagreement instead).

A frozen or deviant member is left out of the vote until it behaves again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

FROZEN_MOVE_K = 0.3  # the rest of the group must move this much to call a sensor frozen
FROZEN_FLICKERS = 3  # ... or every other member must have changed its reading this often


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    n = len(xs)
    mid = n // 2
    return xs[mid] if n % 2 else 0.5 * (xs[mid - 1] + xs[mid])


class SensorGroup:
    __slots__ = (
        "_changes",
        "_changes_at",
        "_degraded",
        "_dev_since",
        "_good_since",
        "_last",
        "_last_change",
        "_ref_at_change",
        "bad",
        "deviant",
        "disagree_s",
        "disagreement",
        "frozen",
        "frozen_s",
        "keys",
        "n",
        "name",
        "tol",
        "value",
    )

    def __init__(
        self, name: str, keys: Sequence[str], tol: float, disagree_s: float, frozen_s: float
    ) -> None:
        self.name = name
        self.keys = tuple(keys)
        self.n = len(self.keys)
        self.tol = tol
        self.disagree_s = disagree_s
        self.frozen_s = frozen_s
        n = self.n
        self.bad = [False] * n
        self.frozen = [False] * n
        self.deviant = [False] * n
        self.disagreement = False
        self._degraded = False
        self.value: float | None = None
        self._last: list[float | None] = [None] * n
        self._last_change = [0.0] * n
        self._changes = [0] * n  # readings changed, per member
        self._changes_at: list[list[int]] = [[0] * n for _ in range(n)]
        self._ref_at_change: list[float | None] = [None] * n
        self._dev_since: list[float | None] = [None] * n
        self._good_since: list[float | None] = [None] * n

    def faulty(self, i: int) -> bool:
        return self.bad[i] or self.frozen[i] or self.deviant[i]

    @property
    def degraded(self) -> bool:
        """Fewer healthy members than installed: redundancy is reduced."""
        return self._degraded

    def update(self, values: Mapping[str, float | None], now: float) -> float | None:
        if self.n == 2:
            return self._update_pair(values, now)
        raw = [values.get(k) for k in self.keys]
        n = self.n
        bad, frozen, deviant = self.bad, self.frozen, self.deviant
        last, last_change, ref_at = self._last, self._last_change, self._ref_at_change
        # The vote of members not already known to be wrong is what each one is judged by.
        healthy = [
            v
            for v, f, d in zip(raw, frozen, deviant, strict=True)
            if v is not None and not f and not d
        ]
        nh = len(healthy)
        ref = _median(healthy) if nh else None
        voting = n >= 3
        changed_state = False
        for i in range(n):
            v = raw[i]
            if v is None:
                if not bad[i]:
                    bad[i] = True
                    changed_state = True
                last[i] = None
                self._dev_since[i] = None
                continue
            bad[i] = False
            # Frozen: exactly the same reading while the group moved.
            if v != last[i]:
                last[i] = v
                last_change[i] = now
                ref_at[i] = ref if ref is not None else v
                if frozen[i]:
                    frozen[i] = False
                    changed_state = True
                self._changes[i] += 1
                if voting:
                    self._changes_at[i] = list(self._changes)
            elif not frozen[i] and ref is not None and now - last_change[i] >= self.frozen_s:
                at_change = ref_at[i]  # set with last[i], which this reading equals
                moved = at_change is not None and abs(ref - at_change) > FROZEN_MOVE_K
                # Flicker is judged only with 3+ members: with two, an ADC step that
                # happens to sit still is indistinguishable from a stuck sensor.
                flickered = voting and all(
                    self._changes[j] - self._changes_at[i][j] >= FROZEN_FLICKERS
                    for j in range(n)
                    if j != i and raw[j] is not None
                )
                if moved or flickered:
                    frozen[i] = True
                    changed_state = True
            if not voting or ref is None:
                continue
            # Deviant: judged against at least two other healthy members.
            if nh - (0 if frozen[i] or deviant[i] else 1) < 2:
                continue
            if abs(v - ref) > self.tol:
                self._good_since[i] = None
                since = self._dev_since[i]
                if since is None:
                    self._dev_since[i] = now
                elif now - since >= self.disagree_s and not deviant[i]:
                    deviant[i] = True
                    changed_state = True
            else:
                self._dev_since[i] = None
                if deviant[i]:
                    since = self._good_since[i]
                    if since is None:
                        self._good_since[i] = now
                    elif now - since >= self.disagree_s:
                        deviant[i] = False
                        changed_state = True
        usable = (
            [
                v
                for v, f, d in zip(raw, frozen, deviant, strict=True)
                if v is not None and not f and not d
            ]
            if changed_state
            else healthy
        )
        faulty = len(usable) < n
        if n == 2:
            r0, r1 = raw[0], raw[1]
            self.disagreement = (
                not faulty and r0 is not None and r1 is not None and abs(r0 - r1) > self.tol
            )
            self._degraded = faulty or self.disagreement
            if self.disagreement:
                # Two sensors that disagree: trust the control sensor, and say so.
                self.value = raw[0]
                return self.value
        else:
            self._degraded = faulty
        if not usable:
            self.value = None
        elif len(usable) == 1:
            self.value = usable[0]
        else:
            self.value = _median(usable)
        return self.value

    def _update_pair(self, values: Mapping[str, float | None], now: float) -> float | None:
        """Two sensors of one quantity: no vote, so each is judged only for being frozen."""
        k0, k1 = self.keys
        raw = (values.get(k0), values.get(k1))
        bad, frozen = self.bad, self.frozen
        last, last_change, ref_at = self._last, self._last_change, self._ref_at_change
        for i in (0, 1):
            v = raw[i]
            other = raw[1 - i]
            if v is None:
                bad[i] = True
                last[i] = None
                continue
            bad[i] = False
            if v != last[i]:
                last[i] = v
                last_change[i] = now
                ref_at[i] = other if other is not None else v
                frozen[i] = False
            elif (
                not frozen[i]
                and other is not None
                and now - last_change[i] >= self.frozen_s
                and (at_change := ref_at[i]) is not None
                and abs(other - at_change) > FROZEN_MOVE_K
            ):
                frozen[i] = True
        a = raw[0] if not bad[0] and not frozen[0] else None
        b = raw[1] if not bad[1] and not frozen[1] else None
        if a is not None and b is not None:
            self.disagreement = abs(a - b) > self.tol
            self._degraded = self.disagreement
            # Two sensors that disagree: trust the control sensor, and say so.
            self.value = a if self.disagreement else 0.5 * (a + b)
        else:
            self.disagreement = False
            self._degraded = True
            self.value = a if a is not None else b
        return self.value
