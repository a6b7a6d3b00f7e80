"""Monthly statement and reconciliation CSV, checked against a hand calculation."""

from __future__ import annotations

import csv
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from accounting_helpers import sample_row

from controller.accounting.accounting import EnergyAccounting
from controller.accounting.contract import (
    ContractSettings,
    GasIndexSettings,
    compute_statement,
    energy_price,
    load_gas_prices,
    month_bounds,
    month_figures,
)
from controller.accounting.ledger import Ledger
from controller.accounting.rows import ClosedInterval
from controller.accounting.settings import AccountingConfig, AccountingSettings
from controller.cli import main

NOV2 = 1_793_613_600  # 2026-11-02 10:00:00 UTC
NOV3 = 1_793_664_000  # 2026-11-03 00:00:00 UTC
OCT31 = 1_793_490_300  # 2026-10-31 23:45:00 UTC
DEC1 = 1_796_083_200  # 2026-12-01 00:00:00 UTC


def _missing(start: int, day: str) -> ClosedInterval:
    return replace(
        sample_row(start, day=day),
        kind="missing",
        covered_s=0.0,
        uncovered_s=900.0,
        meter_kwh=None,
        check_kwh=None,
        diff_pct=None,
        demand_kwh=None,
        hp_heat_kwh=None,
        hp_elec_kwh=None,
        recovered_kwh=None,
        it_heat_kwh=None,
        rejected_kwh=None,
        requested_s=0.0,
        available_s=0.0,
        register_kwh=None,
        register_time=None,
        flags="missing",
    )


def fixture_rows() -> list[ClosedInterval]:
    d2, d3 = "2026-11-02", "2026-11-03"
    return [
        replace(sample_row(OCT31, 999.0, day="2026-10-31")),  # October: not in the statement
        replace(sample_row(NOV2, 300.0, d2), check_kwh=301.2, demand_kwh=310.0),
        replace(
            sample_row(NOV2 + 900, 250.5, d2),
            check_kwh=249.9,
            demand_kwh=260.0,
            available_s=810.0,
            flags="not_available",
        ),
        _missing(NOV2 + 1800, d2),
        replace(
            sample_row(NOV2 + 2700, 120.25, d2),
            gap_meter_kwh=180.25,
            check_kwh=119.8,
            demand_kwh=130.0,
            flags="gap_energy",
        ),
        replace(
            sample_row(NOV3, 0.0, d3),
            check_kwh=0.0,
            demand_kwh=0.0,
            requested_s=0.0,
            available_s=0.0,
            network_unavailable_s=900.0,
        ),
        replace(sample_row(DEC1, 888.0, day="2026-12-01")),  # December: not in the statement
    ]


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        ledger.write_closed(fixture_rows())
    return path


FIXED = ContractSettings(
    name="HPA-7",
    buyer="Fjernvarme A/S",
    pricing="fixed",
    fixed_price_eur_per_mwh=45.5,
    contracted_capacity_mw=1.2,
    capacity_price_eur_per_mw_month=2500.0,
    penalty_pct_per_point=10.0,
    take_or_pay_min_mwh_per_month=10.0,
)


def test_statement_reproduces_the_hand_calculation(ledger_path: Path) -> None:
    with Ledger(ledger_path) as ledger:
        rows = ledger.intervals_of_days("2026-11")
    fig = month_figures("2026-11", rows, 900, "UTC")
    stmt = compute_statement(fig, FIXED, target_pct=99.5)

    # Energy: meter register, interval parts plus gap energy, kWh
    #   300.0 + 250.5 + 120.25 + 0.0 = 670.75; gap 180.25; billed 851.0 kWh = 0.851 MWh
    assert fig.meter_mwh == pytest.approx(0.67075)
    assert fig.gap_mwh == pytest.approx(0.18025)
    assert fig.billed_mwh == Decimal("0.851")
    # Check energy 301.2 + 249.9 + 119.8 + 0 = 670.9 kWh: +0.0224 % against 670.75.
    assert fig.check_mwh == pytest.approx(0.6709)
    assert fig.check_diff_pct == pytest.approx(100 * (670.9 - 670.75) / 670.75)
    assert fig.demand_mwh == pytest.approx(0.7)  # 310 + 260 + 130 + 0
    # Availability: requested 3 x 900 = 2700 s (the network-down interval excluded),
    # delivered as requested 900 + 810 + 900 = 2610 s -> 96.666..% -> 96.67 %.
    assert fig.requested_h == pytest.approx(0.75)
    assert fig.network_unavailable_h == pytest.approx(0.25)
    assert stmt.availability_pct == Decimal("96.67")
    # Energy: 0.851 MWh x 45.50 EUR/MWh = 38.7205 -> 38.72 EUR
    assert stmt.price == Decimal("45.50")
    assert stmt.energy_amount == Decimal("38.72")
    # Capacity: 1.2 MW x 2500 EUR/MW-month = 3000.00 EUR; 99.5 - 96.67 = 2.83 points
    # below target x 10 %/point = 28.30 % penalty -> 3000.00 x 0.7170 = 2151.00 EUR
    assert stmt.capacity_base == Decimal("3000.00")
    assert stmt.penalty_pct == Decimal("28.30")
    assert stmt.capacity_amount == Decimal("2151.00")
    # Take-or-pay: min 10 MWh - 0.851 = 9.149 MWh x 45.50 = 416.2795 -> 416.28 EUR
    assert stmt.shortfall_mwh == Decimal("9.149")
    assert stmt.shortfall_amount == Decimal("416.28")
    # Total 38.72 + 2151.00 + 416.28 = 2606.00 EUR
    assert stmt.total == Decimal("2606.00")
    # Intervals: November (UTC) has 30 x 96 = 2880; 5 recorded, 1 missing, 3 flagged.
    assert fig.expected_intervals == 2880
    assert (len(fig.rows), fig.missing_intervals, len(fig.flagged)) == (5, 1, 3)


def test_gas_indexed_price(tmp_path: Path) -> None:
    series = tmp_path / "gas.csv"
    series.write_text("month,eur_per_mwh\n2026-09,20.00\n2026-10,38.27\n2026-11,41.00\n")
    gas = load_gas_prices(series)
    idx = GasIndexSettings(
        series_csv="gas.csv",
        multiplier=1.1,
        adder_eur_per_mwh=5.0,
        floor_eur_per_mwh=40.0,
        lag_months=1,
    )
    contract = FIXED.model_copy(update={"pricing": "gas_indexed", "gas_index": idx})
    # November uses October's 38.27: 1.1 x 38.27 + 5.00 = 47.097 -> 47.10 EUR/MWh
    assert energy_price(contract, "2026-11", gas) == Decimal("47.10")
    # October uses September's 20.00: 1.1 x 20 + 5 = 27.00, below the floor -> 40.00
    assert energy_price(contract, "2026-10", gas) == Decimal("40.00")
    with pytest.raises(KeyError):
        energy_price(contract, "2026-09", gas)  # needs August, which the series lacks


def test_gas_series_rejects_a_malformed_file(tmp_path: Path) -> None:
    bad = tmp_path / "gas.csv"
    bad.write_text("month,eur_per_mwh\n2026-10,38.27\n2026-10,39.00\n")
    with pytest.raises(ValueError, match="twice"):
        load_gas_prices(bad)
    bad.write_text("2026-10,abc\n")
    with pytest.raises(ValueError, match="not a number"):
        load_gas_prices(bad)
    for word in ("NaN", "Infinity", "-inf", "sNaN"):
        bad.write_text(f"month,eur_per_mwh\n2026-10,38.27\n2026-11,{word}\n")
        with pytest.raises(ValueError, match=r"gas.csv:3: .* is not a finite number"):
            load_gas_prices(bad)


def test_contract_needs_its_price() -> None:
    with pytest.raises(ValueError, match="fixed_price"):
        ContractSettings(pricing="fixed")
    with pytest.raises(ValueError, match="gas_index"):
        ContractSettings(pricing="gas_indexed")


def test_local_months_and_days() -> None:
    # October 2026 in Copenhagen has 31 days and one 25-hour day (DST ends Oct 25).
    lo, hi = month_bounds("2026-10", "Europe/Copenhagen")
    assert (hi - lo) // 900 == 31 * 96 + 4
    lo, hi = month_bounds("2026-11", "Europe/Copenhagen")
    assert lo == 1_793_487_600  # 2026-10-31 23:00 UTC is midnight local
    assert (hi - lo) // 900 == 2880


def test_interval_days_follow_the_site_time_zone(tmp_path: Path) -> None:
    cfg = AccountingConfig(AccountingSettings(), timezone="Europe/Copenhagen")
    acc = EnergyAccounting(cfg, Ledger(tmp_path / "l.sqlite"), 1_793_487_600 + 10)
    assert acc._day_of(acc.open_interval[0]) == "2026-11-01"


SITE = """
[site]
name = "Test site"
timezone = "UTC"

[accounting]
ledger_path = "ledger.sqlite"
availability_target_pct = 99.5

[contract]
name = "HPA-7"
buyer = "Fjernvarme A/S"
pricing = "fixed"
fixed_price_eur_per_mwh = 45.5
contracted_capacity_mw = 1.2
capacity_price_eur_per_mw_month = 2500.0
penalty_pct_per_point = 10.0
take_or_pay_min_mwh_per_month = 10.0
"""


def test_cli_prints_statement_and_writes_csv(
    ledger_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site.toml"
    site.write_text(SITE)
    out_csv = tmp_path / "recon.csv"
    rc = main(["report", "--month", "2026-11", "--config", str(site), "--csv", str(out_csv)])
    text = capsys.readouterr().out
    assert rc == 0
    assert "Heat delivery statement 2026-11 - HPA-7 (Fjernvarme A/S)" in text
    assert "0.851 MWh x 45.50 EUR/MWh" in text
    total = next(line for line in text.splitlines() if line.strip().startswith("Total"))
    assert "2,606.00" in total
    assert "96.67" in text and "28.30 %" in text
    assert "2026-11-02 10:30" in text and "missing" in text

    with out_csv.open(newline="") as fh:
        recs = list(csv.DictReader(fh))
    assert [r["start_utc"] for r in recs] == [
        "2026-11-02T10:00:00Z",
        "2026-11-02T10:15:00Z",
        "2026-11-02T10:30:00Z",
        "2026-11-02T10:45:00Z",
        "2026-11-03T00:00:00Z",
    ]
    second = recs[1]
    assert (second["meter_kwh"], second["check_kwh"], second["diff_kwh"]) == (
        "250.500",
        "249.900",
        "-0.600",
    )
    assert (second["demand_kwh"], second["requested_s"], second["available_s"]) == (
        "260.000",
        "900.0",
        "810.0",
    )
    assert second["flags"] == "not_available"
    assert recs[2]["kind"] == "missing" and recs[2]["meter_kwh"] == ""
    assert recs[3]["gap_meter_kwh"] == "180.250"
    assert recs[4]["network_unavailable_s"] == "900.0"


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site.toml"
    site.write_text(SITE)
    assert main(["report", "--month", "2026-11", "--config", str(site)]) == 2  # no ledger yet
    assert "no ledger" in capsys.readouterr().err
    Ledger(tmp_path / "ledger.sqlite").close()
    assert main(["report", "--month", "2026-13", "--config", str(site)]) == 2
    site.write_text(SITE.replace("fixed_price_eur_per_mwh = 45.5\n", ""))
    assert main(["report", "--month", "2026-11", "--config", str(site)]) == 2
    err = capsys.readouterr().err
    assert "contract" in err and "line" in err


def test_report_reads_the_ledger_the_daemon_writes_when_a_variable_moves_it(
    ledger_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The container and the systemd unit set HRC_ACCOUNTING__LEDGER_PATH; the report
    must bill from that ledger, not from the (absent) one the file names."""
    other = tmp_path / "etc"
    other.mkdir()
    site = other / "site.toml"
    site.write_text(SITE)
    assert main(["report", "--month", "2026-11", "--config", str(site)]) == 2
    assert "no ledger" in capsys.readouterr().err
    monkeypatch.setenv("HRC_ACCOUNTING__LEDGER_PATH", str(ledger_path))
    assert main(["report", "--month", "2026-11", "--config", str(site)]) == 0
    assert "0.851 MWh x 45.50 EUR/MWh" in capsys.readouterr().out


def test_report_config_is_as_strict_as_the_daemons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site.toml"
    site.write_text(
        SITE.replace("fixed_price_eur_per_mwh = 45.5", 'fixed_price_eur_per_mwh = "45.5"')
    )
    assert main(["report", "--month", "2026-11", "--config", str(site)]) == 2
    err = capsys.readouterr().err
    assert "contract.fixed_price_eur_per_mwh: Input should be a valid number" in err
    assert "line 14" in err
