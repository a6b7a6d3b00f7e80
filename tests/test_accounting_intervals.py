"""Interval integration: boundaries exact whatever the scan period, register shares exact."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from accounting_helpers import T0, FakeMeter, drive, open_accounting

from controller.accounting.en1434 import check_power

P = check_power(40.0, 70.0, 40.0).power_kw or 0.0
PER_INTERVAL = P * 900 / 3600.0


def _times(kind: str, start: float, end: float) -> list[float]:
    if kind == "1s":
        return [start + i for i in range(1, int(end - start) + 1)]
    if kind == "100ms":
        return [start + i / 10 for i in range(1, int((end - start) * 10) + 1)]
    rng = random.Random(1434)
    out, t = [], start
    while True:
        t += rng.uniform(0.05, 2.5)
        if t >= end:
            break
        out.append(t)
    return [*out, end]


@pytest.mark.parametrize("kind", ["1s", "100ms", "irregular"])
def test_boundaries_exact_for_any_scan_period(tmp_path: Path, kind: str) -> None:
    acc, ledger = open_accounting(tmp_path / "l.sqlite", T0)
    closed = drive(acc, FakeMeter(), _times(kind, T0, T0 + 3 * 900), T0)
    assert [r.start for r in closed] == [T0, T0 + 900, T0 + 1800]
    for r in closed:
        assert r.end - r.start == 900
        assert r.covered_s == pytest.approx(900.0, abs=1e-6)
        assert r.uncovered_s == 0.0
        assert r.check_kwh == pytest.approx(PER_INTERVAL, rel=1e-9)
        assert r.requested_s == pytest.approx(900.0, abs=1e-6)
        assert r.flags == ""
    assert ledger.intervals() == closed


def test_period_changed_mid_run(tmp_path: Path) -> None:
    """1 s, then 100 ms, then irregular cycles: every interval still gets exactly 900 s."""
    acc, _ = open_accounting(tmp_path / "l.sqlite", T0)
    times = (
        _times("1s", T0, T0 + 1000.5)
        + _times("100ms", T0 + 1000.5, T0 + 2000)
        + _times("irregular", T0 + 2000, T0 + 3600)
    )
    closed = drive(acc, FakeMeter(), times, T0)
    assert len(closed) == 4
    for r in closed:
        assert r.covered_s == pytest.approx(900.0, abs=1e-6)
        assert r.check_kwh == pytest.approx(PER_INTERVAL, rel=1e-9)


def test_cycle_straddling_a_boundary_is_split_at_it(tmp_path: Path) -> None:
    acc, _ = open_accounting(tmp_path / "l.sqlite", T0)
    m = FakeMeter()
    drive(acc, m, [T0 + 899.25], T0)  # first cycle: dt bounds it, 899.25 s is within hold
    # One 1.5 s cycle ending 0.75 s after the boundary: 0.75 s on each side.
    closed = drive(acc, m, [T0 + 900.75], T0 + 899.25)
    assert len(closed) == 1
    first = closed[0]
    assert first.covered_s == pytest.approx(30.0 + 0.75)  # max_hold_s 30 s of the first cycle
    acc_open = acc._open
    assert acc_open.covered_s == pytest.approx(0.75)


def test_meter_register_shares_sum_to_the_register_delta(tmp_path: Path) -> None:
    """Interval meter energies telescope exactly to the register's total increment."""
    acc, _ = open_accounting(tmp_path / "l.sqlite", T0)
    m = FakeMeter(bias=0.004)
    first = m.register()
    closed = drive(acc, m, _times("irregular", T0, T0 + 4 * 900), T0)
    last = m.register()
    assert first is not None and last is not None
    total = sum(r.meter_kwh or 0.0 for r in closed)
    assert total == pytest.approx(last - first, abs=1e-6)
    # Each interval within two register steps of the true (biased) energy.
    for r in closed:
        assert r.meter_kwh == pytest.approx(PER_INTERVAL * 1.004, abs=2.0)
        assert r.register_kwh is not None and r.register_time == r.end
        assert not r.mismatch


def test_rollover_inside_the_ledger(tmp_path: Path) -> None:
    acc, _ = open_accounting(tmp_path / "l.sqlite", T0)
    m = FakeMeter(energy=99_999_900.0)  # 100 kWh before the wrap: about 260 s at 1383 kW
    closed = drive(acc, m, _times("1s", T0, T0 + 1800), T0)
    assert "rollover" in closed[0].flags
    total = sum(r.meter_kwh or 0.0 for r in closed)
    assert total == pytest.approx(P * 1800 / 3600.0, abs=2.0)
    assert closed[0].register_kwh is not None and closed[0].register_kwh < 1000


def test_quantities_integrated(tmp_path: Path) -> None:
    acc, _ = open_accounting(tmp_path / "l.sqlite", T0)
    (r,) = drive(acc, FakeMeter(), _times("1s", T0, T0 + 900), T0)
    assert r.hp_heat_kwh == pytest.approx(250.0)  # 1000 kW x 0.25 h
    assert r.hp_elec_kwh == pytest.approx(62.5)
    assert r.recovered_kwh == pytest.approx(187.5)  # evaporator: heat - electricity
    assert r.it_heat_kwh == pytest.approx(200.0)
    assert r.rejected_kwh == pytest.approx(12.5)
    assert r.aux_elec_kwh is None  # no readings: None, never 0
    assert r.demand_kwh == pytest.approx(PER_INTERVAL)
    assert r.day == "2026-11-06"


def test_totals_for_opcua(tmp_path: Path) -> None:
    acc, _ = open_accounting(tmp_path / "l.sqlite", T0)
    drive(acc, FakeMeter(), _times("1s", T0, T0 + 1800 + 450), T0)
    t = acc.totals()
    assert t.delivered_total_mwh == pytest.approx(P * 2250 / 3600 / 1000, abs=0.003)
    assert t.delivered_today_mwh == pytest.approx(t.delivered_total_mwh)
    assert t.last_interval_mwh == pytest.approx(PER_INTERVAL / 1000, abs=0.002)
    assert t.electricity_total_mwh == pytest.approx(0.250 * 2250 / 3600)
    assert t.seasonal_cop == pytest.approx(4.0)
    assert t.thermal_availability_pct == pytest.approx(100.0)
    assert set(t.opcua()) == {
        "DeliveredTotal",
        "DeliveredToday",
        "LastIntervalEnergy",
        "ElectricityTotal",
        "SeasonalCOP",
        "ThermalAvailability",
    }


def test_closes_interval_tells_the_daemon_when_it_writes(tmp_path: Path) -> None:
    acc, _ = open_accounting(tmp_path / "l.sqlite", T0 + 10)
    assert acc.open_interval == (T0, T0 + 900)
    assert not acc.closes_interval(T0 + 899.9)
    assert acc.closes_interval(T0 + 900)
