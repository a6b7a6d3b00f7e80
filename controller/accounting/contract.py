"""``[contract]``: the heat purchase agreement, and the month's statement it yields.

Money is computed in ``Decimal`` with rounding written down, so that the utility's
spreadsheet and this statement agree to the cent:

- billed energy is the meter register's increment over the month (interval energy
  plus gap energy), rounded to 1 kWh (0.001 MWh), the register's resolution;
- the energy price is rounded to 0.01 EUR/MWh (gas-indexed: multiplier x the gas
  price of the month ``lag_months`` earlier + adder, then floor and cap);
- availability is rounded to 0.01 % before the penalty is computed from it;
- each amount is rounded half-up to 0.01 EUR; the total is the sum of the rounded
  amounts.

The availability target is the one in ``[accounting]``; the contract says what
missing it costs.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from controller.accounting.rows import ClosedInterval
from controller.config.strictmodel import StrictModel

NonNeg = Annotated[float, Field(ge=0)]
Pct = Annotated[float, Field(ge=0, le=100)]

CENT = Decimal("0.01")
KWH_IN_MWH = Decimal("0.001")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class _Section(StrictModel):
    """A table of ``[contract]``."""


class GasIndexSettings(_Section):
    series_csv: str
    """CSV ``month,eur_per_mwh`` (``2026-11,38.20``); relative to the site file."""
    multiplier: Annotated[float, Field(gt=0)] = 1.0
    adder_eur_per_mwh: float = 0.0
    floor_eur_per_mwh: NonNeg = 0.0
    cap_eur_per_mwh: NonNeg | None = None
    lag_months: Annotated[int, Field(ge=0, le=12)] = 0
    """Use the gas price of this many months before the billed month (0 = same month)."""


class ContractSettings(_Section):
    name: str = "Heat purchase agreement"
    buyer: str = ""
    currency: str = "EUR"
    pricing: Literal["fixed", "gas_indexed"] = "fixed"
    fixed_price_eur_per_mwh: NonNeg | None = None
    gas_index: GasIndexSettings | None = None
    contracted_capacity_mw: NonNeg = 0.0
    capacity_price_eur_per_mw_month: NonNeg = 0.0
    penalty_pct_per_point: NonNeg = 10.0
    """Capacity payment reduced by this % per percentage point of availability below target."""
    penalty_cap_pct: Pct = 100.0
    take_or_pay_min_mwh_per_month: NonNeg = 0.0
    """The buyer pays for at least this much heat a month."""
    shortfall_price_eur_per_mwh: NonNeg | None = None
    """Price of the shortfall below the minimum; None = the month's energy price."""

    @model_validator(mode="after")
    def _priced(self) -> Self:
        if self.pricing == "fixed" and self.fixed_price_eur_per_mwh is None:
            raise ValueError('pricing "fixed" needs fixed_price_eur_per_mwh')
        if self.pricing == "gas_indexed" and self.gas_index is None:
            raise ValueError('pricing "gas_indexed" needs a [contract.gas_index] table')
        return self


def load_gas_prices(path: Path) -> dict[str, Decimal]:
    """Month -> EUR/MWh. Rejects a malformed file whole rather than bill on part of it."""
    prices: dict[str, Decimal] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for n, rec in enumerate(csv.reader(fh), start=1):
            if not rec or rec[0].strip().startswith("#"):
                continue
            if n == 1 and not _MONTH.match(rec[0].strip()):
                continue  # header
            if len(rec) < 2 or not _MONTH.match(rec[0].strip()):
                raise ValueError(f"{path}:{n}: expected 'YYYY-MM,price', got {rec!r}")
            month = rec[0].strip()
            if month in prices:
                raise ValueError(f"{path}:{n}: month {month} given twice")
            try:
                price = Decimal(rec[1].strip())
            except ArithmeticError:
                raise ValueError(f"{path}:{n}: {rec[1]!r} is not a number") from None
            if not price.is_finite():  # Decimal reads NaN and Infinity
                raise ValueError(f"{path}:{n}: {rec[1]!r} is not a finite number")
            prices[month] = price
    return prices


def shift_month(month: str, delta: int) -> str:
    y, m = int(month[:4]), int(month[5:7])
    idx = y * 12 + (m - 1) + delta
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def month_bounds(month: str, tz: str) -> tuple[int, int]:
    """UTC epoch seconds of the local month's first and next month's first midnight."""
    if not _MONTH.match(month):
        raise ValueError(f"month must be YYYY-MM, got {month!r}")
    zone = ZoneInfo(tz)
    first = datetime.fromisoformat(f"{month}-01").replace(tzinfo=zone)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return int(first.astimezone(UTC).timestamp()), int(nxt.astimezone(UTC).timestamp())


def energy_price(contract: ContractSettings, month: str, gas: dict[str, Decimal] | None) -> Decimal:
    if contract.pricing == "fixed":
        assert contract.fixed_price_eur_per_mwh is not None
        return _dec(contract.fixed_price_eur_per_mwh).quantize(CENT, ROUND_HALF_UP)
    g = contract.gas_index
    assert g is not None
    src = shift_month(month, -g.lag_months)
    if gas is None or src not in gas:
        raise KeyError(f"no gas price for {src} in the index series")
    p = _dec(g.multiplier) * gas[src] + _dec(g.adder_eur_per_mwh)
    p = max(p, _dec(g.floor_eur_per_mwh))
    if g.cap_eur_per_mwh is not None:
        p = min(p, _dec(g.cap_eur_per_mwh))
    return p.quantize(CENT, ROUND_HALF_UP)


def _dec(x: float) -> Decimal:
    return Decimal(repr(x))


@dataclass(frozen=True, slots=True)
class MonthFigures:
    """What the ledger says about one month (energies in MWh, times in hours)."""

    month: str
    expected_intervals: int
    rows: tuple[ClosedInterval, ...]
    meter_mwh: float
    gap_mwh: float
    check_mwh: float | None
    demand_mwh: float | None
    recovered_mwh: float | None
    it_heat_mwh: float | None
    rejected_mwh: float | None
    hp_heat_mwh: float | None
    electricity_mwh: float | None
    """None: not measured in any interval of the month (never shown as zero)."""
    requested_h: float
    available_h: float
    network_unavailable_h: float
    unknown_h: float
    availability_pct: float | None

    @property
    def billed_mwh(self) -> Decimal:
        return Decimal(repr(self.meter_mwh + self.gap_mwh)).quantize(KWH_IN_MWH, ROUND_HALF_UP)

    @property
    def missing_intervals(self) -> int:
        return sum(1 for r in self.rows if r.kind == "missing")

    @property
    def absent_intervals(self) -> int:
        """Intervals of the month with no row at all (before the ledger began, or open)."""
        return self.expected_intervals - len(self.rows)

    @property
    def flagged(self) -> list[ClosedInterval]:
        return [r for r in self.rows if r.flags]

    @property
    def check_diff_pct(self) -> float | None:
        """Over the intervals both were measured in (gap energy has no check part)."""
        m = self.meter_mwh
        if m <= 0 or self.check_mwh is None:
            return None
        return 100.0 * (self.check_mwh - m) / m

    @property
    def cop(self) -> float | None:
        e, h = self.electricity_mwh, self.hp_heat_mwh
        return None if not e or h is None else h / e


def month_figures(
    month: str,
    rows: Sequence[ClosedInterval],
    interval_s: int,
    tz: str,
    unknown_counts_as: Literal["unavailable", "excluded"] = "unavailable",
) -> MonthFigures:
    lo, hi = month_bounds(month, tz)

    def tot(attr: str) -> float:
        return sum(getattr(r, attr) or 0.0 for r in rows)

    def mwh(attr: str) -> float | None:
        vals = [getattr(r, attr) for r in rows if getattr(r, attr) is not None]
        return sum(vals) / 1000.0 if vals else None

    elec = [r for r in rows if r.hp_elec_kwh is not None or r.aux_elec_kwh is not None]

    req, avail, unk = tot("requested_s"), tot("available_s"), tot("unknown_s")
    denom = req - unk if unknown_counts_as == "excluded" else req
    return MonthFigures(
        month=month,
        expected_intervals=(hi - lo) // interval_s,
        rows=tuple(rows),
        meter_mwh=tot("meter_kwh") / 1000.0,
        gap_mwh=tot("gap_meter_kwh") / 1000.0,
        check_mwh=mwh("check_kwh"),
        demand_mwh=mwh("demand_kwh"),
        recovered_mwh=mwh("recovered_kwh"),
        it_heat_mwh=mwh("it_heat_kwh"),
        rejected_mwh=mwh("rejected_kwh"),
        hp_heat_mwh=mwh("hp_heat_kwh"),
        electricity_mwh=sum(r.electricity_kwh for r in elec) / 1000.0 if elec else None,
        requested_h=req / 3600.0,
        available_h=avail / 3600.0,
        network_unavailable_h=tot("network_unavailable_s") / 3600.0,
        unknown_h=unk / 3600.0,
        availability_pct=None if denom <= 0 else 100.0 * avail / denom,
    )


@dataclass(frozen=True, slots=True)
class Statement:
    figures: MonthFigures
    contract: ContractSettings
    target_pct: float
    price: Decimal
    energy_amount: Decimal
    availability_pct: Decimal | None
    penalty_pct: Decimal
    capacity_base: Decimal
    capacity_amount: Decimal
    shortfall_mwh: Decimal
    shortfall_price: Decimal
    shortfall_amount: Decimal

    @property
    def total(self) -> Decimal:
        return self.energy_amount + self.capacity_amount + self.shortfall_amount


def compute_statement(
    figures: MonthFigures,
    contract: ContractSettings,
    target_pct: float,
    gas: dict[str, Decimal] | None = None,
) -> Statement:
    price = energy_price(contract, figures.month, gas)
    billed = figures.billed_mwh
    energy_amount = (billed * price).quantize(CENT, ROUND_HALF_UP)
    avail = (
        None
        if figures.availability_pct is None
        else Decimal(repr(figures.availability_pct)).quantize(CENT, ROUND_HALF_UP)
    )
    shortfall_pts = max(Decimal(0), _dec(target_pct) - avail) if avail is not None else Decimal(0)
    penalty = min(
        _dec(contract.penalty_cap_pct), shortfall_pts * _dec(contract.penalty_pct_per_point)
    )
    penalty = penalty.quantize(CENT, ROUND_HALF_UP)
    base = (
        _dec(contract.contracted_capacity_mw) * _dec(contract.capacity_price_eur_per_mw_month)
    ).quantize(CENT, ROUND_HALF_UP)
    capacity = (base * (Decimal(100) - penalty) / Decimal(100)).quantize(CENT, ROUND_HALF_UP)
    minimum = _dec(contract.take_or_pay_min_mwh_per_month).quantize(KWH_IN_MWH, ROUND_HALF_UP)
    short_mwh = max(Decimal(0), minimum - billed)
    short_price = (
        price
        if contract.shortfall_price_eur_per_mwh is None
        else _dec(contract.shortfall_price_eur_per_mwh).quantize(CENT, ROUND_HALF_UP)
    )
    return Statement(
        figures=figures,
        contract=contract,
        target_pct=target_pct,
        price=price,
        energy_amount=energy_amount,
        availability_pct=avail,
        penalty_pct=penalty,
        capacity_base=base,
        capacity_amount=capacity,
        shortfall_mwh=short_mwh,
        shortfall_price=short_price,
        shortfall_amount=(short_mwh * short_price).quantize(CENT, ROUND_HALF_UP),
    )
