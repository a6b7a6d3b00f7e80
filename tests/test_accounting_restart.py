"""Restart: totals resume, downtime becomes flagged missing rows, nothing is counted twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from accounting_helpers import T0, FakeMeter, config, drive, open_accounting

from controller.accounting.accounting import EnergyAccounting
from controller.accounting.en1434 import check_power
from controller.accounting.ledger import Ledger

P = check_power(40.0, 70.0, 40.0).power_kw or 0.0
PER_INTERVAL = P * 900 / 3600.0


def secs(start: float, n: int) -> list[float]:
    return [start + i for i in range(1, n + 1)]


def test_restart_resumes_totals(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    acc, ledger = open_accounting(path, T0)
    m = FakeMeter()
    drive(acc, m, secs(T0, 1800 + 300), T0)  # two closed, 300 s of the third open
    before = acc.totals()
    ledger.close()  # the process dies: the open interval is lost

    acc2 = EnergyAccounting(config(), Ledger(path), T0 + 2100)
    after = acc2.totals()
    closed_mwh = 2 * PER_INTERVAL / 1000
    assert after.delivered_total_mwh == pytest.approx(closed_mwh, abs=0.002)
    assert before.delivered_total_mwh > after.delivered_total_mwh  # the open part is gone
    assert after.electricity_total_mwh == pytest.approx(2 * 62.5 / 1000)
    assert after.last_interval_mwh == pytest.approx(PER_INTERVAL / 1000, abs=0.002)
    assert after.delivered_today_mwh == pytest.approx(after.delivered_total_mwh)
    assert after.seasonal_cop == pytest.approx(4.0)
    assert acc2.startup_rows == []  # restarted inside the interval that was open


def test_restart_in_the_same_interval_counts_its_whole_register_energy(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    acc, ledger = open_accounting(path, T0)
    m = FakeMeter()
    drive(acc, m, secs(T0, 900 + 300), T0)
    ledger.close()
    acc2 = EnergyAccounting(config(), Ledger(path), T0 + 1260)
    m.advance(60)  # 60 s down
    (r,) = drive(acc2, m, secs(T0 + 1260, 540), T0 + 1260)
    # The register increment since the last close is all this interval's own energy.
    assert r.meter_kwh == pytest.approx(PER_INTERVAL, abs=2.0)
    assert r.gap_meter_kwh is None
    assert r.uncovered_s == pytest.approx(360.0)  # 300 s lost with the crash + 60 s down
    assert "partial" in r.flag_set and not r.mismatch  # too much uncovered to compare


def test_downtime_gives_missing_rows_and_flagged_gap_energy(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    acc, ledger = open_accounting(path, T0)
    m = FakeMeter()
    start_register = m.register()
    drive(acc, m, secs(T0, 900 + 100), T0)
    ledger.close()

    # Down from T0+1000 to T0+3700: intervals 900, 1800 and 2700 are never seen.
    m.advance(2700)
    ledger2 = Ledger(path)
    acc2 = EnergyAccounting(config(), ledger2, T0 + 3700)
    assert [r.start for r in acc2.startup_rows] == [T0 + 900, T0 + 1800, T0 + 2700]
    assert all(r.kind == "missing" and r.flags == "missing" for r in acc2.startup_rows)
    assert all(r.meter_kwh is None and r.check_kwh is None for r in acc2.startup_rows)
    (r,) = drive(acc2, m, secs(T0 + 3700, 800), T0 + 3700)
    assert "gap_energy" in r.flag_set and not r.mismatch
    # The register energy from the last close (T0+900) to the first reading (T0+3701)
    # is billed: the part before this interval as gap energy, the rest as its own.
    assert r.gap_meter_kwh == pytest.approx(P * 2700 / 3600, abs=2.0)
    assert r.meter_kwh == pytest.approx(P * 900 / 3600, abs=2.0)
    rows = ledger2.intervals()
    assert [x.start for x in rows] == [T0 + i * 900 for i in range(5)]
    billed = sum(x.delivered_kwh for x in rows)
    end_register = m.register()
    assert start_register is not None and end_register is not None
    assert billed == pytest.approx(end_register - start_register, abs=1.0)
    days = ledger2.days()
    assert days[0]["missing"] == 3 and days[0]["intervals"] == 5


def test_replacement_is_durable_before_the_interval_closes(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    acc, ledger = open_accounting(path, T0)
    m = FakeMeter(energy=500_000.0)
    drive(acc, m, secs(T0, 1000), T0)
    old_final = m.register()
    assert old_final is not None
    acc.record_meter_replacement(T0 + 1000.5, new_start_kwh=7.0, old_final_kwh=old_final)
    ledger.close()  # crash right after the operator's record

    m.energy = 7.0  # the new meter
    acc2 = EnergyAccounting(config(), Ledger(path), T0 + 1001)
    (r,) = drive(acc2, m, secs(T0 + 1001, 799), T0 + 1001)
    assert "meter_replaced" in r.flag_set
    assert "counter_backward" not in r.flag_set  # the new meter's low value is expected
    total = (r.meter_kwh or 0) + (r.gap_meter_kwh or 0)
    assert total == pytest.approx(P * 900 / 3600, abs=3.0)
