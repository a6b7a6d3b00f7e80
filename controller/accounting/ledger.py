"""The energy ledger: one SQLite file that survives the gateway losing power.

Durability comes from SQLite, not from us: WAL journal, ``synchronous=FULL`` (every
commit is fsynced before it returns) and one transaction per interval close holding
the interval row, its day row and any meter events. A kill -9 or power cut at any
moment therefore leaves either the state before the close or the state after it,
never half a row; the open interval, which lives only in memory, is what is lost.

Closed rows are never rewritten (INSERT, not REPLACE): a duplicate is a bug and
rolls the whole close back. Day rows are derived from the interval rows inside the
same transaction, so they can never disagree with them.

Schema changes are migrations: numbered, applied once each in their own
transaction, recorded in ``schema_migrations``. A migration's SQL is history and
is never edited; a new need gets a new migration.

The calls are synchronous (standard ``sqlite3``). An interval close costs one
fsync, a few ms on an SSD; the daemon may run the cycle that closes an interval in
a worker thread (``EnergyAccounting.closes_interval`` tells which), so the
connection is opened with ``check_same_thread=False``: access is serialised by the
scan loop, never concurrent.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.accounting.meter import RegisterMark
from controller.accounting.rows import INTERVAL_COLUMNS, ClosedInterval, MeterEvent

_V1 = """
CREATE TABLE intervals (
    start INTEGER PRIMARY KEY,
    "end" INTEGER NOT NULL,
    day TEXT NOT NULL,
    kind TEXT NOT NULL,
    covered_s REAL NOT NULL,
    uncovered_s REAL NOT NULL,
    bad_data_s REAL NOT NULL,
    meter_kwh REAL,
    gap_meter_kwh REAL,
    check_kwh REAL,
    diff_pct REAL,
    hp_heat_kwh REAL,
    hp_elec_kwh REAL,
    aux_elec_kwh REAL,
    recovered_kwh REAL,
    it_heat_kwh REAL,
    rejected_kwh REAL,
    demand_kwh REAL,
    requested_s REAL NOT NULL,
    available_s REAL NOT NULL,
    network_unavailable_s REAL NOT NULL,
    unknown_s REAL NOT NULL,
    negative_dt_s REAL NOT NULL,
    meter_error_s REAL NOT NULL,
    register_kwh REAL,
    register_time REAL,
    mismatch INTEGER NOT NULL,
    flags TEXT NOT NULL,
    written_at REAL NOT NULL
);
CREATE INDEX intervals_day ON intervals(day);
CREATE TABLE days (
    day TEXT PRIMARY KEY,
    intervals INTEGER NOT NULL,
    missing INTEGER NOT NULL,
    flagged INTEGER NOT NULL,
    mismatches INTEGER NOT NULL,
    meter_kwh REAL, gap_meter_kwh REAL, check_kwh REAL,
    hp_heat_kwh REAL, hp_elec_kwh REAL, aux_elec_kwh REAL,
    recovered_kwh REAL, it_heat_kwh REAL, rejected_kwh REAL, demand_kwh REAL,
    requested_s REAL, available_s REAL, network_unavailable_s REAL, unknown_s REAL
);
"""

_V2 = """
ALTER TABLE intervals ADD COLUMN meter_volume_m3 REAL;
ALTER TABLE intervals ADD COLUMN gap_volume_m3 REAL;
ALTER TABLE intervals ADD COLUMN check_volume_m3 REAL;
ALTER TABLE intervals ADD COLUMN volume_register_m3 REAL;
ALTER TABLE intervals ADD COLUMN volume_register_time REAL;
CREATE TABLE meter_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    register_before REAL,
    register_after REAL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX meter_events_time ON meter_events(time);
DROP TABLE days;
CREATE TABLE days (
    day TEXT PRIMARY KEY,
    intervals INTEGER NOT NULL,
    missing INTEGER NOT NULL,
    flagged INTEGER NOT NULL,
    mismatches INTEGER NOT NULL,
    meter_kwh REAL, gap_meter_kwh REAL, check_kwh REAL,
    meter_volume_m3 REAL, check_volume_m3 REAL,
    hp_heat_kwh REAL, hp_elec_kwh REAL, aux_elec_kwh REAL,
    recovered_kwh REAL, it_heat_kwh REAL, rejected_kwh REAL, demand_kwh REAL,
    requested_s REAL, available_s REAL, network_unavailable_s REAL, unknown_s REAL
);
INSERT INTO days SELECT day, count(*), sum(kind = 'missing'), sum(flags != ''), sum(mismatch),
    sum(meter_kwh), sum(gap_meter_kwh), sum(check_kwh), sum(meter_volume_m3),
    sum(check_volume_m3), sum(hp_heat_kwh), sum(hp_elec_kwh), sum(aux_elec_kwh),
    sum(recovered_kwh), sum(it_heat_kwh), sum(rejected_kwh), sum(demand_kwh),
    sum(requested_s), sum(available_s), sum(network_unavailable_s), sum(unknown_s)
    FROM intervals GROUP BY day;
"""

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (1, "intervals and days", _V1),
    (2, "meter volume, meter events; days rebuilt", _V2),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

DAY_SUMS: tuple[str, ...] = (
    "meter_kwh",
    "gap_meter_kwh",
    "check_kwh",
    "meter_volume_m3",
    "check_volume_m3",
    "hp_heat_kwh",
    "hp_elec_kwh",
    "aux_elec_kwh",
    "recovered_kwh",
    "it_heat_kwh",
    "rejected_kwh",
    "demand_kwh",
    "requested_s",
    "available_s",
    "network_unavailable_s",
    "unknown_s",
)

_DAY_SQL = (
    "INSERT OR REPLACE INTO days (day, intervals, missing, flagged, mismatches, "
    + ", ".join(DAY_SUMS)
    + ") SELECT day, count(*), sum(kind = 'missing'), sum(flags != ''), sum(mismatch), "
    + ", ".join(f"sum({c})" for c in DAY_SUMS)
    + " FROM intervals WHERE day = ? GROUP BY day"
)


def _q(col: str) -> str:
    return '"end"' if col == "end" else col


_INSERT_SQL = (
    "INSERT INTO intervals ("
    + ", ".join(_q(c) for c in INTERVAL_COLUMNS)
    + ", written_at) VALUES ("
    + ", ".join("?" for _ in INTERVAL_COLUMNS)
    + ", ?)"
)
_SELECT_COLS = ", ".join(_q(c) for c in INTERVAL_COLUMNS)


@dataclass(frozen=True, slots=True)
class ResumeState:
    """Where a restarted accounting picks up."""

    last_end: int | None
    energy_mark: RegisterMark | None
    volume_mark: RegisterMark | None
    last_interval_kwh: float | None


@dataclass(frozen=True, slots=True)
class Sums:
    delivered_kwh: float
    check_kwh: float
    hp_heat_kwh: float
    hp_elec_kwh: float
    electricity_kwh: float
    requested_s: float
    available_s: float
    unknown_s: float


class LedgerError(Exception):
    """The ledger file cannot be used (newer schema than this code, not a ledger)."""


class Ledger:
    """The SQLite ledger file. Open once; every method is one short transaction."""

    def __init__(self, path: Path | str, *, migrate: bool = True) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=10.0
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=10000")
        if migrate:
            self.migrate()

    # ------------------------------------------------------------------ schema
    def schema_version(self) -> int:
        db = self._db
        has = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
        ).fetchone()
        if not has:
            return 0
        row = db.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return int(row[0] or 0)

    def migrate(self, target: int = SCHEMA_VERSION) -> int:
        """Apply the migrations the file lacks, each in its own transaction."""
        db = self._db
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise LedgerError(
                f"{self.path}: schema version {current} is newer than this software "
                f"({SCHEMA_VERSION}); refusing to write to it"
            )
        for version, description, sql in MIGRATIONS:
            if current < version <= target:
                self._apply(version, description, sql)
                current = version
        return current

    def _apply(self, version: int, description: str, sql: str) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for stmt in (s.strip() for s in sql.split(";")):
                if stmt:
                    db.execute(stmt)
            db.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                (version, description, time.time()),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------------ writes
    def write_closed(
        self, rows: Sequence[ClosedInterval], events: Iterable[MeterEvent] = ()
    ) -> None:
        """Store closed intervals, their day rows and meter events: all or nothing."""
        db = self._db
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            for r in rows:
                vals = [getattr(r, c) for c in INTERVAL_COLUMNS]
                db.execute(_INSERT_SQL, (*vals, now))
            for e in events:
                self._insert_event(e)
            for d in sorted({r.day for r in rows}):
                db.execute(_DAY_SQL, (d,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def record_meter_event(self, event: MeterEvent) -> int:
        """Store one event at once (an operator's record must not wait for the close).

        Returns the event's id: a running accounting that stores its own record
        must not take it again for one another process wrote.
        """
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            event_id = self._insert_event(event)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return event_id

    def _insert_event(self, e: MeterEvent) -> int:
        cur = self._db.execute(
            "INSERT INTO meter_events (time, kind, register_before, register_after, note) "
            "VALUES (?, ?, ?, ?, ?)",
            (e.time, e.kind, e.register_before, e.register_after, e.note),
        )
        return int(cur.lastrowid or 0)

    # ------------------------------------------------------------------ reads
    def resume(self) -> ResumeState:
        db = self._db
        last = db.execute('SELECT max("end") FROM intervals').fetchone()[0]
        e = db.execute(
            "SELECT register_kwh, register_time FROM intervals WHERE register_kwh IS NOT NULL "
            "ORDER BY start DESC LIMIT 1"
        ).fetchone()
        v = db.execute(
            "SELECT volume_register_m3, volume_register_time FROM intervals "
            "WHERE volume_register_m3 IS NOT NULL ORDER BY start DESC LIMIT 1"
        ).fetchone()
        li = db.execute(
            "SELECT meter_kwh, gap_meter_kwh FROM intervals ORDER BY start DESC LIMIT 1"
        ).fetchone()
        last_kwh = None if li is None or li[0] is None else li[0] + (li[1] or 0.0)
        return ResumeState(
            last_end=None if last is None else int(last),
            energy_mark=RegisterMark(e[0], e[1]) if e else None,
            volume_mark=RegisterMark(v[0], v[1]) if v else None,
            last_interval_kwh=last_kwh,
        )

    def sums(self, start: float | None = None, end: float | None = None) -> Sums:
        """Totals over intervals starting in ``[start, end)`` (open ends: all)."""
        row = self._db.execute(
            "SELECT total(meter_kwh) + total(gap_meter_kwh), total(check_kwh), "
            "total(hp_heat_kwh), total(hp_elec_kwh), total(hp_elec_kwh) + total(aux_elec_kwh), "
            "total(requested_s), total(available_s), total(unknown_s) FROM intervals "
            "WHERE start >= ? AND start < ?",
            (-1 if start is None else start, 2**62 if end is None else end),
        ).fetchone()
        return Sums(*(float(x) for x in row))

    def heat_pump_sums(self, first_day: str) -> tuple[float, float]:
        """Heat-pump heat and electricity (kWh) over the day rows from ``first_day`` on."""
        row = self._db.execute(
            "SELECT total(hp_heat_kwh), total(hp_elec_kwh) FROM days WHERE day >= ?",
            (first_day,),
        ).fetchone()
        return float(row[0]), float(row[1])

    def intervals(
        self, start: float | None = None, end: float | None = None
    ) -> list[ClosedInterval]:
        rows = self._db.execute(
            f"SELECT {_SELECT_COLS} FROM intervals WHERE start >= ? AND start < ? ORDER BY start",
            (-1 if start is None else start, 2**62 if end is None else end),
        ).fetchall()
        return [_row(r) for r in rows]

    def intervals_of_days(self, day_prefix: str) -> list[ClosedInterval]:
        """Rows whose local day starts with ``day_prefix`` ("2026-11" for a month)."""
        rows = self._db.execute(
            f"SELECT {_SELECT_COLS} FROM intervals WHERE day LIKE ? ORDER BY start",
            (day_prefix + "%",),
        ).fetchall()
        return [_row(r) for r in rows]

    def days(self, day_prefix: str = "") -> list[dict[str, object]]:
        cur = self._db.execute(
            "SELECT * FROM days WHERE day LIKE ? ORDER BY day", (day_prefix + "%",)
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def meter_events(
        self, start: float | None = None, end: float | None = None
    ) -> list[MeterEvent]:
        rows = self._db.execute(
            "SELECT time, kind, register_before, register_after, note FROM meter_events "
            "WHERE time >= ? AND time < ? ORDER BY time, id",
            (-1 if start is None else start, 2**62 if end is None else end),
        ).fetchall()
        return [MeterEvent(*r) for r in rows]

    def last_meter_event_id(self) -> int:
        """The newest event's id (0 on an empty table): where polling for new ones starts."""
        row = self._db.execute("SELECT max(id) FROM meter_events").fetchone()
        return int(row[0] or 0)

    def meter_events_after(self, event_id: int, kind: str) -> list[tuple[int, MeterEvent]]:
        """Events of ``kind`` stored after ``event_id``, oldest first, with their ids.

        Another process (``heatrecovery meter-replaced``) may have written them: the
        ledger is in WAL mode, so its committed rows are visible here at once.
        """
        rows = self._db.execute(
            "SELECT id, time, kind, register_before, register_after, note FROM meter_events "
            "WHERE id > ? AND kind = ? ORDER BY id",
            (event_id, kind),
        ).fetchall()
        return [(int(r[0]), MeterEvent(*r[1:])) for r in rows]

    def integrity_check(self) -> str:
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _row(r: tuple[object, ...]) -> ClosedInterval:
    d: dict[str, Any] = dict(zip(INTERVAL_COLUMNS, r, strict=True))  # SQLite: untyped
    d["mismatch"] = bool(d["mismatch"])
    return ClosedInterval(**d)
