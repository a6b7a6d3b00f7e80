"""`heatrecovery meter-replaced`: a meter exchange recorded from the command line is billed.

The command writes to the same SQLite ledger file as a running accounting (a second
connection, as from another process); the accounting takes the record up at its next
cycle, or at its next start if it was stopped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from accounting_helpers import T0, FakeMeter, config, drive, open_accounting

from controller.accounting.accounting import EnergyAccounting
from controller.accounting.en1434 import check_power
from controller.accounting.ledger import Ledger
from controller.cli import main

SITE = Path(__file__).resolve().parent.parent / "config" / "site.toml"
P = check_power(40.0, 70.0, 40.0).power_kw or 0.0


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def secs(start: float, n: int) -> list[float]:
    return [start + i for i in range(1, n + 1)]


def replaced(path: Path, at: float, new_start: float, old_final: float | None) -> int:
    argv = ["meter-replaced", "--config", str(SITE), "--ledger", str(path), "--at", iso(at)]
    argv += ["--new-start-kwh", str(new_start), "--note", "serial 4711 -> 4712"]
    if old_final is not None:
        argv += ["--old-final-kwh", str(old_final)]
    return main(argv)


def billed(ledger: Ledger) -> float:
    return sum(r.delivered_kwh for r in ledger.intervals())


def test_running_accounting_bills_a_replacement_recorded_by_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite"
    acc, ledger = open_accounting(path, T0)
    m = FakeMeter(energy=500_000.0)
    first = m.register()
    drive(acc, m, secs(T0, 1000), T0)  # one row closed, 100 s into the second
    old_final = m.register()
    assert first is not None and old_final is not None

    assert replaced(path, T0 + 1000.5, 7.0, old_final) == 0
    assert "meter replacement recorded" in capsys.readouterr().out

    m.energy = 7.0  # the new meter from here on
    acc.update(T0 + 1001, 1.0, m.inputs())
    assert [(e.register_before, e.register_after) for e in acc.replacements] == [(old_final, 7.0)]
    rows = drive(acc, m, secs(T0 + 1001, 1699), T0 + 1001)  # closes T0+900 and T0+1800
    assert "meter_replaced" in rows[0].flag_set
    assert not any("counter_backward" in r.flag_set for r in rows)
    new_end = m.register()
    assert new_end is not None
    # Billed: the old meter up to its final reading, the new one from its start.
    assert billed(ledger) == pytest.approx((old_final - first) + (new_end - 7.0), abs=1.0)
    assert billed(ledger) == pytest.approx(P * 2700 / 3600, abs=3.0)
    (ev,) = [e for e in ledger.meter_events() if e.kind == "meter_replaced"]
    assert ev.note == "serial 4711 -> 4712"
    # Taken once: later cycles do not apply it again.
    assert acc.replacements == []


def test_stopped_accounting_applies_the_record_at_its_next_start(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    acc, ledger = open_accounting(path, T0)
    m = FakeMeter(energy=500_000.0)
    first = m.register()
    drive(acc, m, secs(T0, 1000), T0)
    old_final = m.register()
    assert first is not None and old_final is not None
    ledger.close()  # the daemon is stopped for the exchange

    m.advance(60)
    assert replaced(path, T0 + 1030, 0.0, old_final) == 0
    m.energy = 0.0
    acc2 = EnergyAccounting(config(), Ledger(path), T0 + 1060)
    rows = drive(acc2, m, secs(T0 + 1060, 740), T0 + 1060)
    assert "meter_replaced" in rows[0].flag_set
    new_end = m.register()
    assert new_end is not None
    assert billed(acc2.ledger) == pytest.approx((old_final - first) + new_end, abs=1.0)


def test_refused_records_store_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ledger.sqlite"
    acc, ledger = open_accounting(path, T0)
    m = FakeMeter()
    drive(acc, m, secs(T0, 1000), T0)
    capsys.readouterr()

    assert replaced(path, T0 + 100, 7.0, None) == 2  # inside a closed, final row
    assert "last closed ledger row" in capsys.readouterr().err
    assert replaced(path, datetime.now(UTC).timestamp() + 3600, 7.0, None) == 2
    assert "in the future" in capsys.readouterr().err
    assert replaced(path, T0 + 1000.5, -5.0, None) == 2
    assert "--new-start-kwh -5.0" in capsys.readouterr().err
    assert replaced(tmp_path / "nope.sqlite", T0 + 1000.5, 7.0, None) == 2
    assert "no ledger at" in capsys.readouterr().err
    assert not (tmp_path / "nope.sqlite").exists()
    assert [e.kind for e in ledger.meter_events()] == ["baseline"]
