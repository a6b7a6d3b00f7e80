"""The SQLite ledger: pragmas, migrations, atomic closes, and surviving kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
from accounting_helpers import T0, FakeMeter, config, drive, sample_row

from controller.accounting.accounting import EnergyAccounting
from controller.accounting.ledger import SCHEMA_VERSION, Ledger, LedgerError

ROOT = Path(__file__).resolve().parent.parent


def test_pragmas_and_schema(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as ledger:
        assert ledger.schema_version() == SCHEMA_VERSION
        db = ledger._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        versions = [r[0] for r in db.execute("SELECT version FROM schema_migrations")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))


def test_rows_round_trip_and_days_are_derived(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as ledger:
        rows = [
            sample_row(T0),
            sample_row(T0 + 900, 120.0),
            replace(sample_row(T0 + 1800), flags="partial"),
        ]
        ledger.write_closed(rows[:2])
        ledger.write_closed(rows[2:])
        assert ledger.intervals() == rows
        (day,) = ledger.days()
        assert day["intervals"] == 3 and day["flagged"] == 1
        assert day["meter_kwh"] == pytest.approx(320.0)
        assert day["aux_elec_kwh"] is None  # never measured stays NULL
        assert ledger.sums().delivered_kwh == pytest.approx(320.0)


def test_a_close_is_all_or_nothing(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as ledger:
        ledger.write_closed([sample_row(T0)])
        with pytest.raises(sqlite3.IntegrityError):
            ledger.write_closed([sample_row(T0 + 900), sample_row(T0)])  # T0 again: a bug
        assert [r.start for r in ledger.intervals()] == [T0]
        assert ledger.days()[0]["intervals"] == 1


def test_migration_from_version_1(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = Ledger(path, migrate=False)
    assert old.migrate(target=1) == 1
    old._db.execute(
        'INSERT INTO intervals (start, "end", day, kind, covered_s, uncovered_s, bad_data_s, '
        "meter_kwh, requested_s, available_s, network_unavailable_s, unknown_s, negative_dt_s, "
        "meter_error_s, register_kwh, register_time, mismatch, flags, written_at) "
        "VALUES (?, ?, '2026-11-06', 'measured', 900, 0, 0, 250.5, 900, 880, 0, 0, 0, 0, "
        "1250.5, ?, 0, 'not_available', 0)",
        (T0, T0 + 900, T0 + 900.0),
    )
    old._db.execute(
        "INSERT INTO days (day, intervals, missing, flagged, mismatches) "
        "VALUES ('2026-11-06', 1, 0, 1, 0)"
    )
    old.close()

    with Ledger(path) as ledger:
        assert ledger.schema_version() == SCHEMA_VERSION
        (r,) = ledger.intervals()
        assert r.meter_kwh == 250.5 and r.available_s == 880
        assert r.meter_volume_m3 is None  # added column, no value invented
        (day,) = ledger.days()
        assert day["meter_kwh"] == 250.5  # days rebuilt from the intervals
        assert ledger.resume().energy_mark is not None
        ledger.write_closed([sample_row(T0 + 900)])  # and the new schema takes new rows
        assert len(ledger.intervals()) == 2


def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger(path) as ledger:
        ledger._db.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)")
    with pytest.raises(LedgerError):
        Ledger(path)


# ---------------------------------------------------------------------- kill -9

CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from accounting_helpers import FakeMeter, config
    from controller.accounting.accounting import EnergyAccounting
    from controller.accounting.ledger import Ledger

    path, t0 = sys.argv[1], float(sys.argv[2])
    ledger = Ledger(path)
    last = ledger.resume().last_end
    start = float(last) if last is not None else t0
    acc = EnergyAccounting(config(interval_s=60), ledger, start)
    meter = FakeMeter()
    meter.energy = 1_234_567.0 + (start - t0) * meter.power_kw / 3600.0
    print("ready", flush=True)
    t = start
    while True:  # simulated seconds as fast as it goes: a close every 60 updates
        t += 1.0
        meter.advance(1.0)
        acc.update(t, 1.0, meter.inputs())
    """
)


def _count(path: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(db.execute("SELECT count(*) FROM intervals").fetchone()[0])
        finally:
            db.close()
    except sqlite3.OperationalError:
        return 0


def test_sigkill_during_a_burst_of_writes_leaves_a_consistent_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(tests=str(Path(__file__).parent)), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    kills = 0
    for target in (15, 40, 70, 110):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(path), str(T0)],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + 60
        while _count(path) < target and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)  # mid-burst: the child writes a close ~every ms
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        kills += 1

    with Ledger(path) as ledger:
        assert ledger.integrity_check() == "ok"
        rows = ledger.intervals()
        assert len(rows) >= 110
        # Closed intervals are contiguous and intact: each one is a full minute of the
        # same steady heat, whatever moment the kills landed on.
        assert [r.start for r in rows] == [T0 + 60 * i for i in range(len(rows))]
        expected = FakeMeter().check_kw * 60 / 3600
        for r in rows:
            assert r.kind == "measured"
            assert r.check_kwh == pytest.approx(expected, rel=1e-9)
            assert r.covered_s == pytest.approx(60.0)
        # The register is billed exactly once across all restarts.
        billed = sum(r.delivered_kwh for r in rows)
        assert rows[-1].register_kwh is not None
        assert billed == pytest.approx(rows[-1].register_kwh - 1_234_567.0, abs=1e-6)
        assert billed == pytest.approx(expected * len(rows), abs=2.0)
        (day,) = ledger.days()
        assert day["intervals"] == len(rows)
        assert day["meter_kwh"] == pytest.approx(sum(r.meter_kwh or 0 for r in rows))
    assert kills == 4


def test_restarted_accounting_after_sigkill_continues_the_ledger(tmp_path: Path) -> None:
    """The in-process view of the same guarantee: resume, then write on."""
    path = tmp_path / "l.sqlite"
    ledger = Ledger(path)
    acc = EnergyAccounting(config(interval_s=60), ledger, T0)
    m = FakeMeter()
    drive(acc, m, [T0 + i for i in range(1, 131)], T0)
    ledger.close()
    ledger = Ledger(path)
    last = ledger.resume().last_end
    assert last == T0 + 120
    acc = EnergyAccounting(config(interval_s=60), ledger, T0 + 130)
    drive(acc, m, [T0 + 130 + i for i in range(1, 51)], T0 + 130)
    assert [r.start for r in ledger.intervals()] == [T0 + 60 * i for i in range(3)]
    assert ledger.integrity_check() == "ok"
