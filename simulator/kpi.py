"""Scenario KPIs (DESIGN section 8), accumulated step by step from the plant's truth.

Everything is measured on the physics, not on the controller's sensors: a
controller cannot improve its score by misreading a thermometer. The arithmetic is
kept free of the plant so tests can feed it hand-made series.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class KpiAccumulator:
    fws_limit: float = 40.0
    band_k: float = 1.0
    fws_max: float = -1e9
    seconds_above_limit: float = 0.0
    injecting_s: float = 0.0
    in_band_s: float = 0.0
    requested_s: float = 0.0
    available_s: float = 0.0
    # Heat delivered while asked for, never more than asked (kWh): the recovery
    # ratio's numerator, comparable with the bound, which cannot over-deliver.
    delivered_in_demand_kwh: float = 0.0
    time_s: float = 0.0
    mode_s: dict[str, float] = field(default_factory=dict)
    _last_mode: str = ""
    mode_changes: int = 0

    def step(
        self,
        dt: float,
        fws_supply: float,
        injecting: bool,
        dh_supply: float,
        dh_setpoint: float,
        requested: bool,
        delivered_kw: float,
        demand_kw: float,
        mode: str,
    ) -> None:
        """One plant step; ``requested`` means the utility asked for heat."""
        self.time_s += dt
        self.fws_max = max(self.fws_max, fws_supply)
        if fws_supply > self.fws_limit:
            self.seconds_above_limit += dt
        if injecting:
            self.injecting_s += dt
            if abs(dh_supply - dh_setpoint) <= self.band_k:
                self.in_band_s += dt
        if requested:
            self.requested_s += dt
            if injecting:
                self.delivered_in_demand_kwh += min(delivered_kw, demand_kw) * dt / 3600.0
            # Available: heat delivered at >= 95 % of what was asked and inside the band.
            if (
                injecting
                and delivered_kw >= 0.95 * demand_kw
                and abs(dh_supply - dh_setpoint) <= self.band_k
            ):
                self.available_s += dt
        self.mode_s[mode] = self.mode_s.get(mode, 0.0) + dt
        if mode != self._last_mode:
            if self._last_mode:
                self.mode_changes += 1
            self._last_mode = mode

    @property
    def in_band_pct(self) -> float | None:
        return 100.0 * self.in_band_s / self.injecting_s if self.injecting_s > 0 else None

    @property
    def availability_pct(self) -> float | None:
        return 100.0 * self.available_s / self.requested_s if self.requested_s > 0 else None

    def summary(self) -> dict[str, float | dict[str, float] | None]:
        return {
            "fws_supply_max_c": round(self.fws_max, 3),
            "seconds_above_fws_limit": self.seconds_above_limit,
            "injecting_h": self.injecting_s / 3600.0,
            "dh_supply_in_band_pct": None
            if self.in_band_pct is None
            else round(self.in_band_pct, 3),
            "thermal_availability_pct": None
            if self.availability_pct is None
            else round(self.availability_pct, 3),
            "mode_hours": {k: round(v / 3600.0, 4) for k, v in sorted(self.mode_s.items())},
            "mode_changes": self.mode_changes,
            "delivered_in_demand_kwh": round(self.delivered_in_demand_kwh, 3),
        }
