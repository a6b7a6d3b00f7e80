"""Heat-exchanger performance: approach temperature and UA of the heat pump's evaporator.

Fouling is the commonest way these plants lose heat: the evaporator's UA falls, the
refrigerant has to evaporate colder to take the same heat, COP drops and the
low-pressure margin shrinks. UA is estimated from the unit's own data (evaporator
heat = heat output - electric power; log-mean temperature difference between the
water and the saturation temperature) while the machine runs steadily, filtered over
an hour, and compared with its clean value (from commissioning, or learned from the
first hours of steady running).
"""

from __future__ import annotations

import math


class HxMonitor:
    __slots__ = (
        "_alpha_tau",
        "_learn_n",
        "_learn_s",
        "_learn_sum",
        "approach_k",
        "clean_ua",
        "min_load",
        "ratio",
        "ua",
    )

    def __init__(
        self, clean_ua: float, learn_h: float, filter_h: float, min_load_pct: float
    ) -> None:
        self.clean_ua = clean_ua if clean_ua > 0 else None
        self._learn_s = learn_h * 3600.0
        self._learn_sum = 0.0
        self._learn_n = 0.0
        self._alpha_tau = filter_h * 3600.0
        self.min_load = min_load_pct
        self.ua: float | None = None
        self.ratio: float | None = None
        self.approach_k: float | None = None

    def update(
        self,
        dt: float,
        running: bool,
        load_pct: float | None,
        heat_kw: float | None,
        power_kw: float | None,
        t_in: float | None,
        t_out: float | None,
        t_sat: float | None,
    ) -> None:
        if (
            load_pct is None
            or heat_kw is None
            or power_kw is None
            or t_in is None
            or t_out is None
            or t_sat is None
        ):
            return
        self.approach_k = t_out - t_sat
        if not running or load_pct < self.min_load:
            return
        d1 = t_in - t_sat
        d2 = t_out - t_sat
        q = heat_kw - power_kw
        if d1 <= 0.2 or d2 <= 0.2 or q <= 0:
            return
        lmtd = (d1 - d2) / math.log(d1 / d2) if abs(d1 - d2) > 1e-6 else d1
        ua = q / lmtd
        a = dt / (self._alpha_tau + dt)
        self.ua = ua if self.ua is None else self.ua + a * (ua - self.ua)
        if self.clean_ua is None:
            self._learn_sum += ua * dt
            self._learn_n += dt
            if self._learn_n >= self._learn_s:
                self.clean_ua = self._learn_sum / self._learn_n
        if self.clean_ua:
            self.ratio = self.ua / self.clean_ua
