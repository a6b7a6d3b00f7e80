"""The fleet historian in PostgreSQL: time series, replicated ledger, fleet views.

Tables (all in one schema, ``[database] schema_name``):

- ``sites``: one row per edge node, its liveness and counters (upserted).
- ``metrics``: one row per (site, metric name): id, device, data type, unit. Samples
  refer to the id, which keeps a sample row at 4 + 8 + 8 + 2 bytes of data.
- ``samples``: the time series, ``PARTITION BY RANGE (ts)`` with one partition per
  UTC day (created as data arrives) and a BRIN index on ``ts`` (samples arrive in
  time order, so a block range summary is small and selective). When the server
  has TimescaleDB and ``timescaledb = "auto"``, a hypertable with one-day chunks
  instead.
- ``ledger``: the sites' 15-minute ledger rows, every column of the site ledger,
  primary key (site, start); inserts are ``ON CONFLICT DO NOTHING``, so a row sent
  twice is stored once and the first copy is never overwritten.

Views: ``site_days`` (per site and day), ``site_totals``, ``fleet_days`` and
``fleet_totals``. They are plain sums over ``ledger``, so the fleet's figures are
by construction the sums of the sites' own ledger rows.

The writer thread owns one connection: it collects what the host hands over for
``flush_interval_s``, writes it in one transaction (samples with COPY), and only
after the commit reports the stored ledger starts, which the host confirms to
the sites. If the database is unreachable it keeps the batch and retries; ledger
rows are never dropped (the sites resend them until confirmed anyway).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import structlog
from psycopg import sql

from controller.accounting.rows import INTERVAL_COLUMNS
from fleet.settings import DatabaseSettings
from fleet.state import NUMERIC, Sample

log = structlog.get_logger("fleet")

_INT_COLS = frozenset({"start", "end"})
_TEXT_COLS = frozenset({"day", "kind", "flags"})
_BOOL_COLS = frozenset({"mismatch"})
_NOT_NULL = frozenset(
    {
        "covered_s",
        "uncovered_s",
        "bad_data_s",
        "requested_s",
        "available_s",
        "network_unavailable_s",
        "unknown_s",
        "negative_dt_s",
        "meter_error_s",
    }
)
SAMPLE_WINDOW = (timedelta(days=400), timedelta(days=1))
"""Samples stamped further in the past or future than this are refused (a broken
clock would otherwise create partitions for 1970)."""


def _col_type(c: str) -> str:
    if c in _INT_COLS:
        return "bigint NOT NULL"
    if c in _TEXT_COLS:
        return "text NOT NULL"
    if c in _BOOL_COLS:
        return "boolean NOT NULL"
    return "double precision NOT NULL" if c in _NOT_NULL else "double precision"


def _ledger_ddl() -> str:
    cols = ",\n    ".join(f'"{c}" {_col_type(c)}' for c in INTERVAL_COLUMNS)
    return (
        "CREATE TABLE IF NOT EXISTS {s}.ledger (\n    site text NOT NULL,\n    "
        + cols
        + ",\n    received_at timestamptz NOT NULL DEFAULT now(),\n"
        "    PRIMARY KEY (site, start)\n)"
    )


_SUMS = """
    count(*) AS intervals,
    count(*) FILTER (WHERE kind = 'missing') AS missing,
    sum(coalesce(meter_kwh, 0) + coalesce(gap_meter_kwh, 0)) AS delivered_kwh,
    sum(check_kwh) AS check_kwh,
    sum(hp_heat_kwh) AS hp_heat_kwh,
    sum(coalesce(hp_elec_kwh, 0) + coalesce(aux_elec_kwh, 0)) AS electricity_kwh,
    sum(recovered_kwh) AS recovered_kwh,
    sum(it_heat_kwh) AS it_heat_kwh,
    sum(rejected_kwh) AS rejected_kwh,
    sum(demand_kwh) AS demand_kwh,
    sum(requested_s) AS requested_s,
    sum(available_s) AS available_s"""

SCHEMA_SQL: tuple[str, ...] = (
    "CREATE SCHEMA IF NOT EXISTS {s}",
    """CREATE TABLE IF NOT EXISTS {s}.sites (
    site text PRIMARY KEY,
    grp text NOT NULL,
    online boolean NOT NULL,
    bdseq integer,
    births integer NOT NULL DEFAULT 0,
    seq_gaps integer NOT NULL DEFAULT 0,
    last_birth timestamptz,
    last_death timestamptz,
    updated timestamptz NOT NULL DEFAULT now()
)""",
    """CREATE TABLE IF NOT EXISTS {s}.metrics (
    id serial PRIMARY KEY,
    site text NOT NULL,
    name text NOT NULL,
    device text,
    datatype integer NOT NULL,
    unit text,
    UNIQUE (site, name)
)""",
    _ledger_ddl(),
    """CREATE OR REPLACE VIEW {s}.site_days AS
SELECT site, day,"""
    + _SUMS
    + """
FROM {s}.ledger GROUP BY site, day""",
    """CREATE OR REPLACE VIEW {s}.site_totals AS
SELECT site,"""
    + _SUMS
    + """,
    to_timestamp(min(start)) AS first_interval, to_timestamp(max("end")) AS last_interval
FROM {s}.ledger GROUP BY site""",
    """CREATE OR REPLACE VIEW {s}.fleet_days AS
SELECT day, count(DISTINCT site) AS sites,"""
    + _SUMS
    + """
FROM {s}.ledger GROUP BY day""",
    """CREATE OR REPLACE VIEW {s}.fleet_totals AS
SELECT count(DISTINCT site) AS sites,"""
    + _SUMS
    + """
FROM {s}.ledger""",
    """CREATE OR REPLACE VIEW {s}.ledger_intervals AS
SELECT to_timestamp(start) AS interval_start, to_timestamp("end") AS interval_end, *
FROM {s}.ledger""",
)

_SAMPLES_PARTITIONED = (
    """CREATE TABLE IF NOT EXISTS {s}.samples (
    metric_id integer NOT NULL,
    ts timestamptz NOT NULL,
    value double precision,
    quality smallint NOT NULL
) PARTITION BY RANGE (ts)""",
    "CREATE INDEX IF NOT EXISTS samples_ts_brin ON {s}.samples USING brin (ts)",
)
_SAMPLES_TIMESCALE = (
    "CREATE EXTENSION IF NOT EXISTS timescaledb",
    """CREATE TABLE IF NOT EXISTS {s}.samples (
    metric_id integer NOT NULL,
    ts timestamptz NOT NULL,
    value double precision,
    quality smallint NOT NULL
)""",
    "SELECT create_hypertable('{s}.samples', 'ts', chunk_time_interval => interval '1 day', "
    "if_not_exists => true, create_default_indexes => false)",
    "CREATE INDEX IF NOT EXISTS samples_ts_brin ON {s}.samples USING brin (ts)",
)
_SAMPLES_VIEW = """CREATE OR REPLACE VIEW {s}.series AS
SELECT m.site, m.device, m.name AS metric, m.unit, s.ts, s.value, s.quality
FROM {s}.samples s JOIN {s}.metrics m ON m.id = s.metric_id"""

QUALITY_CODE = {"GOOD": 192, "UNCERTAIN": 64, "BAD": 0}
APP_NAME = "heatrecovery-fleet"
"""The writer's ``application_name``: its backend is easy to find in pg_stat_activity."""


def _fmt(stmt: str, schema: str) -> sql.Composed | sql.SQL:
    return sql.SQL(stmt.replace("{s}", "{schema}")).format(schema=sql.Identifier(schema))


@dataclass(frozen=True, slots=True)
class SiteUpdate:
    site: str
    group: str
    online: bool
    bdseq: int | None
    births: int
    seq_gaps: int
    last_birth: float | None
    last_death: float | None


@dataclass(slots=True)
class Batch:
    samples: list[Sample] = field(default_factory=list)
    ledger: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sites: dict[str, SiteUpdate] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.samples or self.ledger or self.sites)


@dataclass(slots=True)
class StoreStats:
    commits: int = 0
    samples: int = 0
    ledger_rows: int = 0
    ledger_new: int = 0
    refused_samples: int = 0
    dropped_samples: int = 0
    failures: int = 0
    last_commit_ms: float = 0.0
    latencies: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=500_000))
    """(commit time, snapshot-to-commit latency in ms) of live samples."""


def create_schema(conn: psycopg.Connection[Any], settings: DatabaseSettings) -> bool:
    """Create (or keep) every table and view; True when the samples are a hypertable."""
    schema = settings.schema_name
    timescale = False
    with conn.transaction():
        for stmt in SCHEMA_SQL:
            conn.execute(_fmt(stmt, schema))
        exists = conn.execute(
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = 'samples'",
            (schema,),
        ).fetchone()
        if settings.timescaledb == "auto":
            have = conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
            ).fetchone()
            timescale = have is not None and exists is None
            if exists is not None:
                timescale = (
                    conn.execute(
                        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = %s AND c.relname = 'samples' AND c.relkind = 'r'",
                        (schema,),
                    ).fetchone()
                    is not None
                )
        for stmt in _SAMPLES_TIMESCALE if timescale else _SAMPLES_PARTITIONED:
            conn.execute(_fmt(stmt, schema))
        conn.execute(_fmt(_SAMPLES_VIEW, schema))
    return timescale


class Store:
    """The writer thread and its connection; ``submit`` never blocks the host."""

    def __init__(
        self,
        settings: DatabaseSettings,
        on_committed: Callable[[dict[str, list[int]]], None],
    ) -> None:
        self.settings = settings
        self.schema = settings.schema_name
        self.on_committed = on_committed
        self.stats = StoreStats()
        self.timescale = False
        self._queue: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self._metric_ids: dict[tuple[str, str], int] = {}
        self._partitions: set[str] = set()
        self._held = Batch()

    def start(self) -> None:
        """Connect and create the schema now, so a wrong DSN fails the start."""
        self._conn = self._connect()
        self.timescale = create_schema(self._conn, self.settings)
        self._thread = threading.Thread(target=self._run, name="fleet-store", daemon=True)
        self._thread.start()
        log.info("fleet.store_ready", schema=self.schema, timescaledb=self.timescale)

    def submit(self, batch: Batch) -> None:
        if batch:
            self._queue.put(batch)

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None
        if self._conn is not None:
            self._conn.close()

    # ------------------------------------------------------------- writer thread
    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            self.settings.dsn, autocommit=True, connect_timeout=5, application_name=APP_NAME
        )

    def _run(self) -> None:
        stopping = False
        while not stopping:
            deadline = time.monotonic() + self.settings.flush_interval_s
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    item = self._queue.get(timeout=left)
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                self._merge(item)
            if self._held:
                self._flush(retry=not stopping)

    def _merge(self, b: Batch) -> None:
        h = self._held
        h.samples.extend(b.samples)
        h.ledger.extend(b.ledger)
        h.sites.update(b.sites)
        excess = len(h.samples) - self.settings.max_pending_samples
        if excess > 0:
            del h.samples[:excess]
            self.stats.dropped_samples += excess

    def _flush(self, retry: bool = True) -> None:
        batch, self._held = self._held, Batch()
        t0 = time.monotonic()
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            stored = self._write(self._conn, batch)
        except psycopg.OperationalError as exc:
            self.stats.failures += 1
            log.warning("fleet.store_failed", error=str(exc).strip(), retry_s=self.settings.retry_s)
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            if retry:
                self._merge(batch)  # keep it; retry after a pause
                time.sleep(self.settings.retry_s)
            return
        except psycopg.Error as exc:  # the data, not the connection: do not retry it forever
            self.stats.failures += 1
            log.error(
                "fleet.store_refused_batch",
                error=str(exc).strip(),
                samples=len(batch.samples),
                ledger_rows=len(batch.ledger),
            )
            return
        now = time.time()
        self.stats.commits += 1
        self.stats.last_commit_ms = (time.monotonic() - t0) * 1000.0
        self.stats.latencies.extend(
            (now, (now - s.ts) * 1000.0) for s in batch.samples if not (s.historical or s.birth)
        )
        if stored:
            self.on_committed(stored)

    def _write(self, conn: psycopg.Connection[Any], batch: Batch) -> dict[str, list[int]]:
        stored: dict[str, list[int]] = {}
        with conn.transaction():
            self._write_sites(conn, batch.sites.values())
            self._write_samples(conn, batch.samples)
            if batch.ledger:
                new = self._write_ledger(conn, batch.ledger)
                self.stats.ledger_new += new
                for site, row in batch.ledger:
                    stored.setdefault(site, []).append(int(row["start"]))
        self.stats.samples += len(batch.samples)
        self.stats.ledger_rows += len(batch.ledger)
        return stored

    def _write_sites(self, conn: psycopg.Connection[Any], sites: Any) -> None:
        q = _fmt(
            "INSERT INTO {s}.sites (site, grp, online, bdseq, births, seq_gaps, last_birth, "
            "last_death, updated) VALUES (%s, %s, %s, %s, %s, %s, to_timestamp(%s), "
            "to_timestamp(%s), now()) ON CONFLICT (site) DO UPDATE SET grp = excluded.grp, "
            "online = excluded.online, bdseq = excluded.bdseq, "
            "births = {s}.sites.births + excluded.births, "
            "seq_gaps = {s}.sites.seq_gaps + excluded.seq_gaps, "
            "last_birth = coalesce(excluded.last_birth, {s}.sites.last_birth), "
            "last_death = coalesce(excluded.last_death, {s}.sites.last_death), updated = now()",
            self.schema,
        )
        rows = [
            (u.site, u.group, u.online, u.bdseq, u.births, u.seq_gaps, u.last_birth, u.last_death)
            for u in sites
        ]
        if rows:
            with conn.cursor() as cur:
                cur.executemany(q, rows)

    def _metric_id(self, conn: psycopg.Connection[Any], s: Sample) -> int:
        key = (s.site, s.metric.name)
        mid = self._metric_ids.get(key)
        if mid is None:
            unit = s.metric.point.unit if s.metric.point is not None else None
            row = conn.execute(
                _fmt(
                    "INSERT INTO {s}.metrics (site, name, device, datatype, unit) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (site, name) DO UPDATE "
                    "SET device = excluded.device, datatype = excluded.datatype, "
                    "unit = excluded.unit RETURNING id",
                    self.schema,
                ),
                (s.site, s.metric.name, s.metric.device, s.metric.datatype, unit),
            ).fetchone()
            assert row is not None
            mid = self._metric_ids[key] = int(row[0])
        return mid

    def _partition(self, conn: psycopg.Connection[Any], day: datetime) -> None:
        name = f"samples_{day:%Y%m%d}"
        if name in self._partitions or self.timescale:
            return
        nxt = day + timedelta(days=1)
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{name} PARTITION OF {schema}.samples "
                "FOR VALUES FROM ({lo}) TO ({hi})"
            ).format(
                schema=sql.Identifier(self.schema),
                name=sql.Identifier(name),
                lo=sql.Literal(day),
                hi=sql.Literal(nxt),
            )
        )
        self._partitions.add(name)

    def _write_samples(self, conn: psycopg.Connection[Any], samples: Sequence[Sample]) -> None:
        if not samples:
            return
        now = datetime.now(UTC)
        lo, hi = now - SAMPLE_WINDOW[0], now + SAMPLE_WINDOW[1]
        rows = []
        for s in samples:
            if s.metric.datatype not in NUMERIC:
                continue
            ts = datetime.fromtimestamp(s.ts, UTC)
            if not lo <= ts <= hi:
                self.stats.refused_samples += 1
                continue
            v = s.value
            value = None if v is None else float(v)
            if value is not None and not math.isfinite(value):
                value = None
            rows.append((self._metric_id(conn, s), ts, value, QUALITY_CODE[s.quality.name]))
        for day in {ts.replace(hour=0, minute=0, second=0, microsecond=0) for _, ts, _, _ in rows}:
            self._partition(conn, day)
        with conn.cursor() as cur:
            copy_sql = _fmt(
                "COPY {s}.samples (metric_id, ts, value, quality) FROM STDIN", self.schema
            )
            with cur.copy(copy_sql) as cp:
                for r in rows:
                    cp.write_row(r)

    def _write_ledger(
        self, conn: psycopg.Connection[Any], rows: Sequence[tuple[str, dict[str, Any]]]
    ) -> int:
        cols = ["site", *INTERVAL_COLUMNS]
        q = sql.SQL(
            "INSERT INTO {schema}.ledger ({cols}) VALUES ({vals}) "
            "ON CONFLICT (site, start) DO NOTHING"
        ).format(
            schema=sql.Identifier(self.schema),
            cols=sql.SQL(", ").join(sql.Identifier(c) for c in cols),
            vals=sql.SQL(", ").join(sql.Placeholder() for _ in cols),
        )
        new = 0
        with conn.cursor() as cur:
            for site, row in rows:
                cur.execute(q, [site, *(row.get(c) for c in INTERVAL_COLUMNS)])
                new += cur.rowcount
        return new
