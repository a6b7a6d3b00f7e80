"""Store-and-forward on disk: data messages kept while they cannot be published.

One SQLite file (WAL, ``synchronous=NORMAL``: a power cut may lose the last
spooled second, never the file) with the spooled messages in arrival order and
the edge node's own small state: the bdSeq of the next MQTT session and how far
the host has confirmed the ledger. Only the edge thread uses it.

A spooled message is the serialized payload without ``seq`` (a sequence number
belongs to the MQTT session that sends it) and with every metric marked
``is_historical`` (spec 6.4.18: the host stores it, but does not show it as the
current value).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Spooled:
    id: int
    device: str | None
    payload: bytes


class Spool:
    def __init__(self, path: Path, max_messages: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_messages = max_messages
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self.dropped = 0
        self._count = int(self._db.execute("SELECT count(*) FROM spool").fetchone()[0])

    def __len__(self) -> int:
        return self._count

    def put_many(self, items: list[tuple[str | None, bytes]]) -> None:
        if not items:
            return
        db = self._db
        db.execute("BEGIN")
        db.executemany("INSERT INTO spool (device, payload) VALUES (?, ?)", items)
        self._count += len(items)
        excess = self._count - self.max_messages
        if excess > 0:
            db.execute(
                "DELETE FROM spool WHERE id IN (SELECT id FROM spool ORDER BY id LIMIT ?)",
                (excess,),
            )
            self._count -= excess
            self.dropped += excess
        db.execute("COMMIT")

    def head(self, limit: int) -> list[Spooled]:
        rows = self._db.execute(
            "SELECT id, device, payload FROM spool ORDER BY id LIMIT ?", (limit,)
        ).fetchall()
        return [Spooled(int(i), d, bytes(p)) for i, d, p in rows]

    def remove_through(self, last_id: int) -> None:
        cur = self._db.execute("DELETE FROM spool WHERE id <= ?", (last_id,))
        self._count = max(0, self._count - cur.rowcount)

    def get(self, key: str, default: int) -> int:
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return default if row is None else int(row[0])

    def set(self, key: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO state (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def close(self) -> None:
        self._db.close()
