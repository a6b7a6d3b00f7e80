"""A year of expected monthly statements, through the code ``heatrecovery report`` bills with.

The study's hourly year becomes twelve ``MonthFigures`` (meter energy = heat
delivered; availability = hours delivered within the contract's power tolerance of
what was asked), and ``controller.accounting.contract.compute_statement`` prices
each one under the site's ``[contract]``: energy price (fixed or gas-indexed),
capacity payment less the availability penalty, take-or-pay shortfall.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import numpy as np

from controller.accounting.contract import (
    ContractSettings,
    MonthFigures,
    Statement,
    compute_statement,
)
from feasibility.climate import DAYS_IN_MONTH, month_of_hour
from feasibility.engine import YearResult


def month_figures_of(year: YearResult, power_tolerance_pct: float) -> list[MonthFigures]:
    """Twelve months of figures, labelled ``0000-MM`` until a year is given to bill them."""
    months = month_of_hour()
    requested = year.demand > 1e-6
    ok = requested & (year.delivered >= year.demand * (1.0 - power_tolerance_pct / 100.0))
    out = []
    for m in range(12):
        sel = months == m
        req_h = float(np.sum(requested[sel]))
        avail_h = float(np.sum(ok[sel]))

        def mwh(a: np.ndarray, sel: np.ndarray = sel) -> float:
            return float(np.sum(a[sel])) / 1000.0

        out.append(
            MonthFigures(
                month=f"0000-{m + 1:02d}",
                expected_intervals=DAYS_IN_MONTH[m] * 96,
                rows=(),
                meter_mwh=mwh(year.delivered),
                gap_mwh=0.0,
                check_mwh=None,
                demand_mwh=mwh(year.demand),
                recovered_mwh=mwh(year.recovered),
                it_heat_mwh=mwh(year.it_heat),
                rejected_mwh=mwh(year.dumped),
                hp_heat_mwh=mwh(year.hp_heat),
                electricity_mwh=mwh(year.hp_elec + year.fan_elec + year.pump_elec),
                requested_h=req_h,
                available_h=avail_h,
                network_unavailable_h=0.0,
                unknown_h=0.0,
                availability_pct=None if req_h <= 0 else 100.0 * avail_h / req_h,
            )
        )
    return out


def year_statements(
    figures: list[MonthFigures],
    contract: ContractSettings,
    year: int,
    target_pct: float,
    gas: dict[str, Decimal] | None,
) -> list[Statement]:
    """The twelve statements of calendar year ``year`` (gas-indexed prices are looked up
    for that year's months)."""
    return [
        compute_statement(replace(f, month=f"{year:04d}{f.month[4:]}"), contract, target_pct, gas)
        for f in figures
    ]
