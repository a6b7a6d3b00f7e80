"""On-disk history of the key values (HistoryRead), built on asyncua's HistorySQLite.

What is changed, and why:
- Table names: HistorySQLite names a table ``<ns>_<repr(identifier)>``, which for a
  string NodeId contains quotes and is refused as SQL injection (libraries.md). The
  readable string NodeIds are part of the SCADA contract, so the table name is
  derived from them safely instead of switching the historized nodes to numbers.
- Retention: the stock backend deletes old rows after every insert, a full scan of
  an unindexed table (a week at 1 Hz is 600 000 rows per node). Here the table gets
  an index on SourceTimestamp and the expiry runs at most every ten minutes.
- Reads: a request for "everything" would decode every row before truncating; the
  query is limited to one page (continuation points page through the rest), which
  bounds the CPU one HistoryRead can take from the server thread.
- The database runs in WAL mode with synchronous=NORMAL: history survives a crash
  of the process; a power cut may lose the last second or so, which is acceptable
  for trends (the billing record is the energy ledger, not this file).
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from asyncua import ua
from asyncua.server.history_sql import HistorySQLite

_SAFE = re.compile(r"^[A-Za-z0-9_./:-]{1,120}$")
PAGE_SIZE = 2000
EXPIRE_EVERY_S = 600.0


class PlantHistory(HistorySQLite):
    def __init__(self, path: str) -> None:
        super().__init__(path, max_history_data_response_size=PAGE_SIZE)
        self._last_expiry: dict[ua.NodeId, float] = {}

    async def init(self) -> None:
        await super().init()
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.commit()

    def _get_table_name(self, node_id: ua.NodeId) -> str:
        ident = str(node_id.Identifier)
        if not _SAFE.match(ident):
            ident = hashlib.sha1(ident.encode("utf-8")).hexdigest()
        return f"{node_id.NamespaceIndex}_{ident}"

    async def new_historized_node(
        self, node_id: ua.NodeId, period: timedelta | None, count: int = 0
    ) -> None:
        await super().new_historized_node(node_id, period, count)
        table = self._get_table_name(node_id)
        await self._db.execute(
            f'CREATE INDEX IF NOT EXISTS "{table}_ts" ON "{table}" (SourceTimestamp)'
        )
        await self._db.commit()

    async def save_node_value(self, node_id: ua.NodeId, datavalue: ua.DataValue) -> None:
        table = self._get_table_name(node_id)
        value = datavalue.Value or ua.Variant()
        source = datavalue.SourceTimestamp or datavalue.ServerTimestamp or datetime.now(UTC)
        await self._db.execute(
            f'INSERT INTO "{table}" VALUES (NULL, ?, ?, ?, ?, ?, ?)',
            (
                datavalue.ServerTimestamp,
                source,
                datavalue.StatusCode.value if datavalue.StatusCode else 0,
                str(value.Value),
                value.VariantType.name,
                ua.ua_binary.variant_to_binary(value),
            ),
        )
        await self._db.commit()
        period, _count = self._datachanges_period[node_id]
        now = time.monotonic()
        if period and now - self._last_expiry.get(node_id, 0.0) >= EXPIRE_EVERY_S:
            self._last_expiry[node_id] = now
            limit = datetime.now(UTC) - period
            await self.execute_sql_delete("SourceTimestamp < ?", (limit,), table, node_id)

    async def read_node_history(
        self, node_id: ua.NodeId, start: datetime | None, end: datetime | None, nb_values: int
    ) -> tuple[list[ua.DataValue], Any]:
        page = self.max_history_data_response_size
        if not nb_values or nb_values > page:
            nb_values = page + 1  # one more tells the base class to hand out a continuation
        return await super().read_node_history(node_id, start, end, nb_values)
