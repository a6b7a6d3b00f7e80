"""Bad input is flagged in the ledger and never silently summed; availability per the SLA."""

from __future__ import annotations

from pathlib import Path

import pytest
from accounting_helpers import T0, FakeMeter, drive, open_accounting

from controller.accounting.en1434 import check_power

P = check_power(40.0, 70.0, 40.0).power_kw or 0.0


def secs(start: float, n: int) -> list[float]:
    return [start + i for i in range(1, n + 1)]


def test_negative_temperature_difference_is_flagged_not_summed(tmp_path: Path) -> None:
    acc, _ = open_accounting(tmp_path / "l.sqlite", T0)
    m = FakeMeter()
    drive(acc, m, secs(T0, 600), T0)
    m.t_supply, m.t_return = 40.0, 41.0  # reversed pair while water flows, for 60 s
    drive(acc, m, secs(T0 + 600, 60), T0 + 600)
    m.t_supply, m.t_return = 70.0, 40.0
    (r,) = drive(acc, m, secs(T0 + 660, 240), T0 + 660)
    assert r.negative_dt_s == pytest.approx(60.0)
    assert "negative_dt" in r.flag_set
    assert r.check_kwh == pytest.approx(P * 840 / 3600.0, rel=1e-9)


def test_mismatch_beyond_tolerance_raises_the_alarm_signal(tmp_path: Path) -> None:
    acc, _ = open_accounting(tmp_path / "l.sqlite", T0)
    m = FakeMeter(bias=0.05)  # meter reads 5 % more than the check
    (r,) = drive(acc, m, secs(T0, 900), T0)
    assert r.mismatch and "meter_mismatch" in r.flag_set
    assert r.diff_pct == pytest.approx(-100 * 0.05 / 1.05, abs=0.5)
    assert acc.alarm_signals() == {"meter_mismatch": True}
    m.bias = 0.01  # within 3 %: the next interval clears it
    (r2,) = drive(acc, m, secs(T0 + 900, 900), T0 + 900)
    assert not r2.mismatch and acc.alarm_signals() == {"meter_mismatch": False}


def test_counter_jump_is_flagged_not_summed_and_kept_as_event(tmp_path: Path) -> None:
    acc, ledger = open_accounting(tmp_path / "l.sqlite", T0)
    m = FakeMeter()
    drive(acc, m, secs(T0, 400), T0)
    m.register_override = 90_000_000.0  # one absurd read for 2 s
    drive(acc, m, secs(T0 + 400, 2), T0 + 400)
    m.register_override = None
    (r,) = drive(acc, m, secs(T0 + 402, 498), T0 + 402)
    assert "counter_jump" in r.flag_set
    assert not r.mismatch  # not compared: the register misbehaved in it
    assert r.meter_kwh == pytest.approx(P * 900 / 3600.0, abs=2.0)
    events = ledger.meter_events()
    # The first reading is recorded too: a restart before the first close resumes from it.
    assert [e.kind for e in events] == ["baseline", "counter_jump"]
    assert events[1].register_after == 90_000_000.0


def test_backward_counter_is_flagged(tmp_path: Path) -> None:
    acc, _ = open_accounting(tmp_path / "l.sqlite", T0)
    m = FakeMeter()
    drive(acc, m, secs(T0, 300), T0)
    m.register_override = 1_000.0
    drive(acc, m, secs(T0 + 300, 1), T0 + 300)
    m.register_override = None
    (r,) = drive(acc, m, secs(T0 + 301, 599), T0 + 301)
    assert "counter_backward" in r.flag_set
    assert r.meter_kwh == pytest.approx(P * 900 / 3600.0, abs=2.0)


def test_bad_quality_seconds_are_counted(tmp_path: Path) -> None:
    acc, _ = open_accounting(tmp_path / "l.sqlite", T0)
    m = FakeMeter()
    drive(acc, m, secs(T0, 500), T0)
    m.register_ok = False
    drive(acc, m, secs(T0 + 500, 45), T0 + 500)
    m.register_ok = True
    (r,) = drive(acc, m, secs(T0 + 545, 355), T0 + 545)
    assert r.bad_data_s == pytest.approx(45.0)
    assert "bad_data" in r.flag_set
    # The register's energy over the bad stretch arrives with the next good read.
    assert r.meter_kwh == pytest.approx(P * 900 / 3600.0, abs=2.0)
    assert not r.mismatch  # 45 s > mismatch_max_missing_s: not compared


def test_stall_leaves_uncovered_time_and_a_missing_interval(tmp_path: Path) -> None:
    acc, _ = open_accounting(tmp_path / "l.sqlite", T0)
    m = FakeMeter()
    drive(acc, m, secs(T0, 800), T0)
    # The scan loop stalls for 20 min: the next cycle holds its reading 30 s only.
    m.advance(1200.0 - 1)
    closed = acc.update(T0 + 2000, 1200.0, m.inputs())
    closed += drive(acc, m, secs(T0 + 2000, 700), T0 + 2000)
    assert [r.kind for r in closed] == ["measured", "missing", "measured"]
    first, missing, third = closed
    assert first.uncovered_s == pytest.approx(100.0) and "partial" in first.flag_set
    assert missing.flags == "missing" and missing.meter_kwh is None
    # The register energy over the stall lands where cycles were, split by time;
    # what fell in the missing interval is carried, flagged, to the next covered one.
    assert third.gap_meter_kwh == pytest.approx(P * 900 / 3600.0, abs=2.0)
    assert "gap_energy" in third.flag_set
    total = sum(r.delivered_kwh for r in closed)
    assert total == pytest.approx(P * 2700 / 3600.0, abs=2.0)


def test_clock_stepping_back_is_ignored_and_flagged(tmp_path: Path) -> None:
    acc, _ = open_accounting(tmp_path / "l.sqlite", T0)
    m = FakeMeter()
    drive(acc, m, secs(T0, 500), T0)
    assert acc.update(T0 + 400, 1.0, m.inputs()) == []
    (r,) = drive(acc, m, secs(T0 + 500, 400), T0 + 500)
    assert "clock_step" in r.flag_set
    assert r.covered_s == pytest.approx(900.0)


class TestAvailability:
    def test_delivered_as_requested(self, tmp_path: Path) -> None:
        acc, _ = open_accounting(tmp_path / "l.sqlite", T0)
        m = FakeMeter()
        drive(acc, m, secs(T0, 300), T0)
        m.demand_kw = P * 1.10  # 10 % short of demand: outside the 5 % band
        drive(acc, m, secs(T0 + 300, 300), T0 + 300)
        m.demand_kw = None
        m.network = False  # the utility's outage: excluded
        drive(acc, m, secs(T0 + 600, 120), T0 + 600)
        m.network = True
        m.dh_setpoint = 72.0  # 2 K under setpoint: outside the 1 K band
        (r,) = drive(acc, m, secs(T0 + 720, 180), T0 + 720)
        assert r.network_unavailable_s == pytest.approx(120.0)
        assert r.requested_s == pytest.approx(780.0)
        assert r.available_s == pytest.approx(300.0)
        assert "not_available" in r.flag_set
        assert acc.availability_pct(r.requested_s, r.available_s, r.unknown_s) == pytest.approx(
            100 * 300 / 780
        )

    def test_unknown_time_counts_per_setting(self, tmp_path: Path) -> None:
        for policy, expected in (("unavailable", 50.0), ("excluded", 100.0)):
            acc, _ = open_accounting(tmp_path / f"{policy}.sqlite", T0, availability_unknown=policy)
            m = FakeMeter()
            drive(acc, m, secs(T0, 450), T0)
            prev = T0 + 450
            for t in secs(prev, 450):
                m.advance(t - prev)
                x = m.inputs(meter_power_kw=None, meter_flow_m3h=None, dh_supply_temp=None)
                acc.update(t, 1.0, x)
                prev = t
            assert acc.totals().thermal_availability_pct == pytest.approx(expected)

    def test_no_demand_is_not_requested(self, tmp_path: Path) -> None:
        acc, _ = open_accounting(tmp_path / "l.sqlite", T0)
        m = FakeMeter(demand_kw=0.0)
        (r,) = drive(acc, m, secs(T0, 900), T0)
        assert r.requested_s == 0 and r.demand_kwh == 0
        assert acc.totals().thermal_availability_pct is None
