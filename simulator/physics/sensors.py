"""Measurement layer: first-order lag and seeded noise on every analog channel.

The noise is drawn once from a seeded generator into a table and read with a
stride, which keeps a 40-channel bank at a few microseconds per step while staying
deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

_TABLE = 1 << 14
_MASK = _TABLE - 1
_STRIDE = 7919


class SensorBank:
    def __init__(
        self,
        keys: Sequence[str],
        lags_s: Sequence[float],
        abs_noise: Sequence[float],
        rel_noise: Sequence[float],
        seed: int,
    ) -> None:
        if not len(keys) == len(lags_s) == len(abs_noise) == len(rel_noise):
            raise ValueError("sensor bank definitions must have equal lengths")
        self.keys = list(keys)
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.lags = list(lags_s)
        self.abs_noise = list(abs_noise)
        self.rel_noise = list(rel_noise)
        rng = random.Random(seed)
        self._noise = [rng.gauss(0.0, 1.0) for _ in range(_TABLE)]
        self._pos = 0
        self._filtered: list[float] = []
        self.readings: list[float] = []
        self._alpha_dt = -1.0
        self._alpha: list[float] = []

    def update(self, true_values: Sequence[float], dt: float) -> None:
        if not self._filtered:
            self._filtered = list(true_values)
            self.readings = list(true_values)
        if dt != self._alpha_dt:
            self._alpha = [1.0 if lag <= 0 else dt / (lag + dt) for lag in self.lags]
            self._alpha_dt = dt
        filt = self._filtered
        out = self.readings
        alpha = self._alpha
        an = self.abs_noise
        rn = self.rel_noise
        noise = self._noise
        p = self._pos
        for i, (v, a, n0, n1) in enumerate(zip(true_values, alpha, an, rn, strict=True)):
            fi = filt[i]
            f = fi + a * (v - fi)
            filt[i] = f
            out[i] = f + (n0 + n1 * (f if f >= 0.0 else -f)) * noise[(p + i) & _MASK]
        self._pos = (p + _STRIDE) & _MASK

    def reading(self, key: str) -> float:
        return self.readings[self.index[key]]
