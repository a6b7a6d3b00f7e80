"""``[accounting]`` of the site file: how heat is counted, compared and judged.

Defaults are for the reference site (a 1.2 MW heat pump, a MID class 2 meter with
its flow sensor in the return). Every tolerance here is one a reconciliation
meeting may ask about, so each says what it is for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from controller.accounting.meter import register_modulus
from controller.config.registermap import RegisterMap
from controller.config.strictmodel import StrictModel

Pos = Annotated[float, Field(gt=0)]
NonNeg = Annotated[float, Field(ge=0)]
Pct = Annotated[float, Field(ge=0, le=100)]


class AccountingSettings(StrictModel):
    enabled: bool = True
    interval_s: Annotated[int, Field(ge=60, le=3600)] = 900
    """Ledger interval; intervals start at UTC epoch multiples of it (15 min by default)."""
    ledger_path: str = "energy-ledger.sqlite"
    """SQLite file; relative to the site file. Put it on persistent storage."""
    timezone: str | None = None
    """Time zone of daily rows and billing months; None = ``[site] timezone``."""
    flow_sensor: Literal["return", "supply"] = "return"
    """Where the meter's flow sensor sits; selects the density in the EN 1434 k."""
    mismatch_tolerance_pct: Pos = 3.0
    """Meter vs check energy over an interval beyond this raises ``meter_mismatch``."""
    mismatch_min_kwh: NonNeg = 5.0
    """...and beyond this absolute difference: a 1 kWh register step is no mismatch."""
    mismatch_max_missing_s: NonNeg = 30.0
    """An interval with more uncovered or bad-data seconds than this is not compared."""
    availability_target_pct: Pct = 99.5
    power_tolerance_pct: Pct = 5.0
    """Delivered power counts as 'as requested' within this band around the demand."""
    power_band: Literal["both", "below_only"] = "both"
    """"both": more than demand + tolerance also fails; "below_only": only a shortfall
    fails (over-delivery is the utility's to refuse). The contract decides."""
    power_tolerance_min_kw: NonNeg = 0.0
    """Lower bound of that band in kW, so a small demand is not judged to the watt."""
    temperature_tolerance_k: Pos = 1.0
    """DH supply counts as 'as requested' within this band around its setpoint."""
    availability_unknown: Literal["unavailable", "excluded"] = "unavailable"
    """Requested time that bad data leaves unjudged: counted against us, or left out."""
    meter_max_power_kw: Pos | None = None
    """Largest power the meter can register; bounds a plausible register increment.
    Unset: sized from the nameplate (``METER_POWER_PER_HP_KW`` x heat-pump capacity)."""
    meter_max_flow_m3h: Pos | None = None
    """Same for the volume register. Unset: ``METER_FLOW_PER_PUMP`` x DH pump flow."""
    jump_margin: Annotated[float, Field(ge=1)] = 1.5
    confirm_readings: Annotated[int, Field(ge=2, le=100)] = 3
    """Consistent readings needed before a register discontinuity becomes the baseline."""
    reset_max_start: NonNeg = 1000.0
    """A discontinuity to a value this small (kWh, or m³ for volume) is a detected reset."""
    max_hold_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    """A scan cycle longer than this counts only this long; the rest is uncovered."""
    seasonal_window_days: Annotated[int, Field(ge=1, le=3660)] = 365

    @field_validator("interval_s")
    @classmethod
    def _divides_day(cls, v: int) -> int:
        if 86400 % v:
            raise ValueError("interval_s must divide a day (86400 s) exactly")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @model_validator(mode="after")
    def _sane(self) -> Self:
        if self.mismatch_max_missing_s >= self.interval_s:
            raise ValueError("mismatch_max_missing_s must be shorter than interval_s")
        return self


METER_POWER_PER_HP_KW = 5.0 / 3.0
"""The meter sees the heat pump at full output plus up to two-thirds of it again from
the tank (reference site: 1,200 kW -> 2,000 kW, its value before sizing by nameplate)."""
METER_FLOW_PER_PUMP = 2.5
"""Both DH pumps of the N+1 pair during a changeover overlap, with margin."""


@dataclass(frozen=True, slots=True)
class AccountingConfig:
    """Settings plus what comes from elsewhere: the zone and the meter's registers."""

    settings: AccountingSettings
    timezone: str = "UTC"
    energy_modulus: float | None = 100_000_000.0
    energy_quantum: float = 1.0
    volume_modulus: float | None = 1_000_000.0
    volume_quantum: float = 0.01
    max_power_kw: float = 2000.0
    max_flow_m3h: float = 100.0

    @classmethod
    def from_register_map(
        cls,
        settings: AccountingSettings,
        regmap: RegisterMap,
        *,
        heatmeter: str = "heatmeter",
        site_timezone: str = "UTC",
        hp_capacity_kw: float | None = None,
        dh_pump_nominal_m3h: float | None = None,
    ) -> AccountingConfig:
        """``hp_capacity_kw`` and ``dh_pump_nominal_m3h`` from the nameplate size the
        meter's plausible rates the settings leave unset."""
        energy = regmap.point(heatmeter, "energy")
        volume = regmap.point(heatmeter, "volume")
        return cls(
            settings=settings,
            timezone=settings.timezone or site_timezone,
            energy_modulus=register_modulus(energy),
            energy_quantum=abs(energy.scale),
            volume_modulus=register_modulus(volume),
            volume_quantum=abs(volume.scale),
            max_power_kw=settings.meter_max_power_kw
            or (METER_POWER_PER_HP_KW * hp_capacity_kw if hp_capacity_kw else 2000.0),
            max_flow_m3h=settings.meter_max_flow_m3h
            or (METER_FLOW_PER_PUMP * dh_pump_nominal_m3h if dh_pump_nominal_m3h else 100.0),
        )
