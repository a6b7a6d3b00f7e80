"""``heatrecovery report --month 2026-11``: the monthly statement and reconciliation CSV.

The statement is what goes to the buyer; the CSV is what both sides put side by
side in the reconciliation meeting: one row per interval with the meter's energy,
the controller's check energy, their difference, the demand and the availability
seconds and flags, so any disputed number can be traced to the interval it came
from.

The command reads ``[accounting]`` and ``[contract]`` straight from the site file,
so it works on a copy of the ledger on any machine, without the plant.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from controller.accounting.contract import (
    ContractSettings,
    MonthFigures,
    Statement,
    compute_statement,
    load_gas_prices,
    month_bounds,
    month_figures,
)
from controller.accounting.ledger import Ledger
from controller.accounting.rows import ClosedInterval
from controller.accounting.settings import AccountingSettings
from controller.config.tomlfile import (
    ConfigError,
    ConfigProblem,
    locate_lines,
    problems_from_validation,
    read_toml,
)

CSV_COLUMNS: tuple[str, ...] = (
    "start_utc",
    "start_local",
    "kind",
    "meter_kwh",
    "gap_meter_kwh",
    "check_kwh",
    "diff_kwh",
    "diff_pct",
    "demand_kwh",
    "requested_s",
    "available_s",
    "network_unavailable_s",
    "unknown_s",
    "uncovered_s",
    "bad_data_s",
    "mismatch",
    "flags",
)


@dataclass(frozen=True, slots=True)
class ReportConfig:
    """What the report needs from the site file."""

    site_path: Path
    accounting: AccountingSettings
    contract: ContractSettings | None
    timezone: str
    site_name: str

    def resolve(self, relative: str) -> Path:
        p = Path(relative)
        return p if p.is_absolute() else self.site_path.parent / p


def load_report_config(path: Path) -> ReportConfig:
    """Read ``[site]``, ``[accounting]`` and ``[contract]``; other sections are not judged."""
    data, text = read_toml(path)
    index = locate_lines(text)
    problems: list[ConfigProblem] = []

    def section(name: str, model: type[BaseModel]) -> Any:
        try:
            return model.model_validate(data.get(name, {}))
        except ValidationError as exc:
            problems.extend(problems_from_validation(exc, index, (name,)))
            return None

    accounting = section("accounting", AccountingSettings)
    contract = section("contract", ContractSettings) if "contract" in data else None
    if problems:
        raise ConfigError(path, problems)
    site = data.get("site", {})
    return ReportConfig(
        site_path=path,
        accounting=accounting,
        contract=contract,
        timezone=accounting.timezone or site.get("timezone", "UTC"),
        site_name=site.get("name", ""),
    )


def _f(v: float | None, nd: int = 3) -> str:
    return "" if v is None else f"{v:.{nd}f}"


def write_csv(rows: list[ClosedInterval], out: TextIO, tz: str) -> int:
    zone = ZoneInfo(tz)
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        diff = None if r.meter_kwh is None or r.check_kwh is None else r.check_kwh - r.meter_kwh
        w.writerow(
            [
                datetime.fromtimestamp(r.start, UTC).isoformat().replace("+00:00", "Z"),
                datetime.fromtimestamp(r.start, zone).isoformat(),
                r.kind,
                _f(r.meter_kwh),
                _f(r.gap_meter_kwh),
                _f(r.check_kwh),
                _f(diff),
                _f(r.diff_pct, 2),
                _f(r.demand_kwh),
                _f(r.requested_s, 1),
                _f(r.available_s, 1),
                _f(r.network_unavailable_s, 1),
                _f(r.unknown_s, 1),
                _f(r.uncovered_s, 1),
                _f(r.bad_data_s, 1),
                int(r.mismatch),
                r.flags,
            ]
        )
    return len(rows)


def _na(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def _money(d: Decimal) -> str:
    return f"{d:,.2f}"


def render(
    fig: MonthFigures,
    stmt: Statement | None,
    cfg: ReportConfig,
    ledger_path: Path,
    max_flagged: int = 50,
) -> str:
    """The statement as text: figures first, then the money, then what is in doubt."""
    acc = cfg.accounting
    zone = ZoneInfo(cfg.timezone)
    out: list[str] = []

    def add(label: str, value: str = "", note: str = "") -> None:
        out.append(f"  {label:<38}{value:>16}{'  ' + note if note else ''}".rstrip())

    title = f"Heat delivery statement {fig.month}"
    if stmt is not None:
        c = stmt.contract
        title += f" - {c.name}" + (f" ({c.buyer})" if c.buyer else "")
    out += [title, "=" * len(title)]
    out.append(f"Site: {cfg.site_name}   time zone: {cfg.timezone}   ledger: {ledger_path}")
    out.append(
        f"Intervals: {len(fig.rows)} of {fig.expected_intervals} recorded "
        f"({acc.interval_s // 60} min), {fig.missing_intervals} missing, "
        f"{fig.absent_intervals} not in the ledger, {len(fig.flagged)} flagged"
    )
    out += ["", "Energy"]
    add("Heat delivered (meter register)", f"{fig.meter_mwh + fig.gap_mwh:.3f}", "MWh")
    if fig.gap_mwh:
        add("  of which across gaps (flagged)", f"{fig.gap_mwh:.3f}", "MWh")
    diff = fig.check_diff_pct
    add(
        "Check energy (EN 1434)",
        _na(fig.check_mwh),
        "MWh" + ("" if diff is None else f"  ({diff:+.2f} % vs meter)"),
    )
    add("Heat demand asked", _na(fig.demand_mwh), "MWh")
    add("Heat from the IT loop (CDUs)", _na(fig.it_heat_mwh), "MWh")
    add("Heat recovered by the heat pump", _na(fig.recovered_mwh), "MWh")
    add("Heat rejected (dry coolers)", _na(fig.rejected_mwh), "MWh")
    add("Electricity (heat pump + auxiliary)", _na(fig.electricity_mwh), "MWh")
    if fig.cop is not None:
        add("COP (heat-pump heat / electricity)", f"{fig.cop:.2f}")
    out += ["", "Availability"]
    add("Requested (network available)", f"{fig.requested_h:.2f}", "h")
    add("Delivered as requested", f"{fig.available_h:.2f}", "h")
    add(
        "Not judged (bad data)",
        f"{fig.unknown_h:.2f}",
        f"h  (counted as {acc.availability_unknown})",
    )
    add("Network unavailable (excluded)", f"{fig.network_unavailable_h:.2f}", "h")
    av = "n/a" if fig.availability_pct is None else f"{fig.availability_pct:.2f}"
    add("Thermal availability", av, f"%  (target {acc.availability_target_pct:g} %)")
    if stmt is not None:
        c = stmt.contract
        cur = c.currency
        out += ["", f"Amounts ({cur})"]
        add(
            "Energy",
            _money(stmt.energy_amount),
            f"{stmt.figures.billed_mwh} MWh x {stmt.price} {cur}/MWh",
        )
        add(
            "Capacity",
            _money(stmt.capacity_amount),
            f"{c.contracted_capacity_mw:g} MW x {c.capacity_price_eur_per_mw_month:g} "
            f"{cur}/MW-month = {_money(stmt.capacity_base)}, less {stmt.penalty_pct} % "
            f"availability penalty ({c.penalty_pct_per_point:g} % per point below "
            f"{stmt.target_pct:g} %)",
        )
        add(
            "Take-or-pay shortfall",
            _money(stmt.shortfall_amount),
            f"min {c.take_or_pay_min_mwh_per_month:g} MWh: {stmt.shortfall_mwh} MWh x "
            f"{stmt.shortfall_price} {cur}/MWh",
        )
        add("Total", _money(stmt.total), cur)
    flagged = fig.flagged
    out += ["", f"Flagged intervals ({len(flagged)})"]
    for r in flagged[:max_flagged]:
        t = datetime.fromtimestamp(r.start, zone).strftime("%Y-%m-%d %H:%M")
        meter = _f(r.meter_kwh, 1) or "-"
        check = _f(r.check_kwh, 1) or "-"
        out.append(f"  {t}  meter {meter:>8}  check {check:>8}  {r.flags}")
    if len(flagged) > max_flagged:
        out.append(f"  ... {len(flagged) - max_flagged} more in the CSV")
    return "\n".join(out) + "\n"


def run_report(
    month: str,
    cfg: ReportConfig,
    ledger_path: Path,
    csv_path: Path | None = None,
    out: TextIO | None = None,
) -> tuple[MonthFigures, Statement | None]:
    """Print the statement to ``out`` (the current stdout when None: a default bound at
    import would keep writing to whatever stdout was then)."""
    month_bounds(month, cfg.timezone)  # validates the month
    if not ledger_path.exists():
        raise FileNotFoundError(f"no ledger at {ledger_path}")
    with Ledger(ledger_path) as ledger:
        rows = ledger.intervals_of_days(month)
    acc = cfg.accounting
    fig = month_figures(month, rows, acc.interval_s, cfg.timezone, acc.availability_unknown)
    stmt = None
    if cfg.contract is not None:
        gas = None
        if cfg.contract.gas_index is not None:
            gas = load_gas_prices(cfg.resolve(cfg.contract.gas_index.series_csv))
        stmt = compute_statement(fig, cfg.contract, acc.availability_target_pct, gas)
    out = out or sys.stdout
    out.write(render(fig, stmt, cfg, ledger_path))
    if csv_path is not None:
        with csv_path.open("w", newline="", encoding="utf-8") as fh:
            n = write_csv(list(rows), fh, cfg.timezone)
        out.write(f"Reconciliation CSV: {csv_path} ({n} interval rows)\n")
    return fig, stmt
