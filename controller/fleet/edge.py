"""The Sparkplug B 3.0 edge node: births, data by exception, death, commands, spool.

Threads: the scan cycle only calls ``offer`` (append to a bounded deque, set an
event: microseconds) and ``take_setpoints``. Everything else happens in the edge
thread, which alone builds payloads and publishes, so sequence numbers are in
publish order; paho's network thread only turns broker events into queued
events. A broker that is down, slow or unreachable therefore costs the scan cycle
nothing: data goes to the disk spool and is replayed, in order, after the next
birth.

Session rules followed (Sparkplug 3.0, chapter 7): the MQTT will is the NDEATH with
this session's ``bdSeq``; NBIRTH carries the same ``bdSeq`` and ``seq`` 0; every
later message of the session takes the next ``seq`` modulo 256; a rebirth
(``Node Control/Rebirth`` NCMD, or the primary host coming back online) resends
NBIRTH and every DBIRTH in the same session; a clean stop publishes the NDEATH
itself before disconnecting (a DISCONNECT makes the broker drop the will).

Ledger rows are read from the ledger file (read-only; SQLite WAL lets the
accounting keep writing), sent in an NDATA DataSet, and resent until the host
confirms them with a ``Ledger/Stored`` NCMD. The confirmed position is kept on
disk, so a restarted node resumes after what the host has, and the host's
``ON CONFLICT DO NOTHING`` absorbs a row sent twice: each interval is stored once.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from controller.accounting.rows import INTERVAL_COLUMNS
from controller.fieldbus.signals import Quality
from controller.fleet import sparkplug as sp
from controller.fleet.catalogue import (
    LEDGER_ACK_METRIC,
    LEDGER_METRIC,
    Catalogue,
    MetricDef,
    ledger_columns,
)
from controller.fleet.mqtt import make_client
from controller.fleet.settings import FleetSettings
from controller.fleet.spool import Spool
from controller.opcua.model import SETPOINT_NAMES, Reading, SetpointWrite
from controller.opcua.points import Kind

log = structlog.get_logger("fleet")

QUALITY_CODE = {Quality.GOOD: 192, Quality.UNCERTAIN: 64, Quality.BAD: 0}
"""The ``Quality`` metric property (OPC DA codes, as Sparkplug hosts commonly use);
absent means good."""
REPLAY_BATCH = 500
LEDGER_KEY = "ledger_acked_through"
BDSEQ_KEY = "bdseq_next"
MT = sp.MessageType


@dataclass(frozen=True, slots=True)
class CycleSample:
    """One scan cycle's values for the fleet: section 5 paths and node metrics."""

    time: float  # epoch s
    readings: Mapping[str, Reading]


@dataclass(slots=True)
class EdgeStats:
    births: int = 0
    published: int = 0
    spooled: int = 0
    replayed: int = 0
    dropped_samples: int = 0
    bad_commands: int = 0
    rebirth_requests: int = 0
    ledger_sent: int = 0
    ledger_acked: int = 0
    connects: int = 0


def _as_list(v: object) -> list[object]:
    """An array reading for comparison; a missing one is empty."""
    if isinstance(v, list | tuple):
        return list(v)
    return [] if v is None else [v]


def _same(a: Any, b: Any) -> bool:
    return a == b or (
        isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    )


class EdgeNode:
    def __init__(
        self,
        settings: FleetSettings,
        node_id: str,
        catalogue: Catalogue,
        *,
        spool_path: Path,
        ledger_path: Path | None = None,
        resolve: Callable[[str], Path] = Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.group = settings.group
        self.node = sp.check_id("fleet.edge_node", node_id)
        self.cat = catalogue
        self.spool_path = spool_path
        self.ledger_path = ledger_path
        self.clock = clock
        self.stats = EdgeStats()
        self._resolve = resolve
        self._samples: deque[CycleSample] = deque(maxlen=settings.max_queue)
        self._events: deque[tuple[Any, ...]] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._setpoints: dict[str, SetpointWrite] = {}
        # session state (edge thread)
        self._connected = False
        self._born = False
        self._host_online = settings.primary_host is None
        self._seq = 0
        self._bdseq = 0  # of the current MQTT session (set with the will)
        self._bdseq_next = 0
        self._current: dict[str, Reading] = {}
        self._sent: dict[str, tuple[Any, int]] = {}  # name -> (value, quality code)
        # ledger
        self._ledger_db: sqlite3.Connection | None = None
        self._ledger_pending: dict[int, tuple[Any, ...]] = {}
        self._ledger_sent_at: dict[int, float] = {}
        self._ledger_through = -1
        self._ledger_read_through = -1
        self._next_ledger_poll = 0.0
        self.spool: Spool | None = None
        self._client: Any = None

    # ------------------------------------------------------------ scan-thread API
    def offer(self, sample: CycleSample) -> None:
        """Hand over one cycle's values; never blocks (oldest dropped when full)."""
        if len(self._samples) == self._samples.maxlen:
            self.stats.dropped_samples += 1
        self._samples.append(sample)
        self._wake.set()

    def take_setpoints(self) -> dict[str, SetpointWrite]:
        """Setpoints the utility wrote through the fleet host since the last call."""
        with self._lock:
            taken, self._setpoints = self._setpoints, {}
        return taken

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.spool = Spool(self.spool_path, self.settings.spool_max_messages)
        self._bdseq_next = self.spool.get(BDSEQ_KEY, 0)
        self._ledger_through = self.spool.get(LEDGER_KEY, -1)
        self._ledger_read_through = self._ledger_through
        conn = self.settings.mqtt
        self._client = make_client(conn, f"hr-edge-{self.group}-{self.node}", self._resolve)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._arm_will()
        self._client.connect_async(conn.host, conn.port, conn.keepalive_s)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._run, name="fleet-edge", daemon=True)
        self._thread.start()
        log.info(
            "fleet.edge_started",
            broker=f"{conn.host}:{conn.port}",
            group=self.group,
            node=self.node,
            devices=len(self.cat.devices),
            metrics=len(self.cat.metrics),
            spooled=len(self.spool),
        )

    def stop(self, timeout: float = 5.0) -> None:
        """Publish NDEATH (when connected), disconnect, close the spool."""
        if self._thread is None:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self._thread = None

    # ------------------------------------------------------------ paho thread
    def _arm_will(self) -> None:
        """The NDEATH of the next session as the MQTT will (paho thread or before start)."""
        bd = self._bdseq_next
        self._bdseq_next = (bd + 1) % 256
        self._bdseq = bd
        self._client.will_set(
            sp.topic(self.group, MT.NDEATH, self.node), self._death_payload(bd), qos=1
        )

    def _death_payload(self, bdseq: int) -> bytes:
        p = sp.Payload()
        p.timestamp = int(self.clock() * 1000)
        m = p.metrics.add()
        m.name = sp.BDSEQ
        m.datatype = sp.DataType.INT64
        m.long_value = bdseq
        return p.SerializeToString()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            return
        client.subscribe(
            [
                (sp.topic(self.group, MT.NCMD, self.node), 0),
                (sp.topic(self.group, MT.DCMD, self.node, "+"), 0),
            ]
        )
        if self.settings.primary_host is not None:
            client.subscribe(sp.state_topic(self.settings.primary_host), 1)
        self._events.append(("connected", self._bdseq, self._bdseq_next))
        self._wake.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        # paho reconnects from this thread after we return: the will must be the
        # next session's NDEATH by then.
        self._arm_will()
        self._events.append(("disconnected", self._bdseq_next))
        self._wake.set()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        self._events.append(("message", msg.topic, bytes(msg.payload)))
        self._wake.set()

    # ------------------------------------------------------------ edge thread
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.wait(0.25)
                self._wake.clear()
                try:
                    self._step()
                except Exception:
                    log.exception("fleet.edge_step_failed")
            self._shutdown()
        finally:
            if self.spool is not None:
                self.spool.close()
            if self._ledger_db is not None:
                self._ledger_db.close()

    def _step(self) -> None:
        while self._events:
            self._handle_event(self._events.popleft())
        if self._connected and self._host_online and not self._born:
            self._publish_births()
        if self._born and self.spool is not None and len(self.spool):
            self._replay()
        while self._samples:
            self._data(self._samples.popleft())
        now = time.monotonic()
        if now >= self._next_ledger_poll:
            self._next_ledger_poll = now + self.settings.ledger_poll_s
            self._read_ledger()
        if self._born:
            self._send_ledger(now)

    def _handle_event(self, ev: tuple[Any, ...]) -> None:
        kind = ev[0]
        assert self.spool is not None
        if kind == "connected":
            self._connected, self._born = True, False
            self.stats.connects += 1
            self.spool.set(BDSEQ_KEY, ev[2])
            log.info("fleet.connected", bdseq=ev[1])
        elif kind == "disconnected":
            if self._connected:
                log.warning("fleet.disconnected", spooling=True)
            self._connected, self._born = False, False
            self.spool.set(BDSEQ_KEY, ev[1])
        elif kind == "message":
            self._command(ev[1], ev[2])

    # ------------------------------------------------------------ births
    def _next_seq(self) -> int:
        s = self._seq
        self._seq = (s + 1) % 256
        return s

    def _publish(self, topic: str, payload: Any) -> bool:
        payload.seq = self._next_seq()
        info = self._client.publish(topic, payload.SerializeToString(), qos=0)
        if info.rc != 0:
            return False
        self.stats.published += 1
        return True

    def _metric(self, p: Any, md: MetricDef, *, birth: bool) -> None:
        m = p.metrics.add()
        if birth:
            m.name = md.name
        m.alias = md.alias
        m.datatype = md.datatype
        if md.name == sp.BDSEQ:
            m.long_value = self._bdseq
            return
        if md.name == sp.REBIRTH:
            m.boolean_value = False
            return
        if md.datatype == sp.DataType.DATASET:
            sp.fill_dataset(m.dataset_value, ledger_columns(INTERVAL_COLUMNS), [])
            return
        r = self._current.get(md.name)
        props = md.properties() if birth else {}
        if r is None:
            m.is_null = True
            props["Quality"] = 0
            code = 0
        else:
            m.timestamp = int(r.timestamp * 1000)
            code = QUALITY_CODE[r.quality]
            sp.set_value(m, md.datatype, r.value if r.quality is not Quality.BAD else None)
            if code != 192:
                props["Quality"] = code
        if props:
            sp.set_properties(m, props)
        self._sent[md.name] = (None if r is None else r.value, code)

    def _publish_births(self) -> None:
        self._seq = 0
        now_ms = int(self.clock() * 1000)
        p = sp.Payload()
        p.timestamp = now_ms
        for md in self.cat.of_device(None):
            self._metric(p, md, birth=True)
        ok = self._publish(sp.topic(self.group, MT.NBIRTH, self.node), p)
        for dev in self.cat.devices:
            d = sp.Payload()
            d.timestamp = now_ms
            for md in self.cat.of_device(dev):
                self._metric(d, md, birth=True)
            ok = self._publish(sp.topic(self.group, MT.DBIRTH, self.node, dev), d) and ok
        if ok:
            self._born = True
            self.stats.births += 1
            self._ledger_sent_at.clear()  # the host may have missed them: send again
            log.info("fleet.born", bdseq=self._bdseq, devices=len(self.cat.devices))

    # ------------------------------------------------------------ data
    def _changed(self, md: MetricDef, r: Reading) -> bool:
        code = QUALITY_CODE[r.quality]
        last = self._sent.get(md.name)
        if last is None:
            return True
        value, q = last
        if q != code:
            return True
        if md.deadband > 0 and isinstance(r.value, float) and isinstance(value, float):
            return abs(r.value - value) > md.deadband
        if isinstance(r.value, list) or isinstance(value, list):
            return _as_list(r.value) != _as_list(value)
        return not _same(r.value, value)

    def _data(self, sample: CycleSample) -> None:
        by_device: dict[str | None, list[tuple[MetricDef, Reading]]] = {}
        for name, r in sample.readings.items():
            md = self.cat.by_name.get(name)
            if md is None:
                continue
            self._current[name] = r
            if self._changed(md, r):
                by_device.setdefault(md.device, []).append((md, r))
                self._sent[name] = (r.value, QUALITY_CODE[r.quality])
        if not by_device:
            return
        stamp = int(sample.time * 1000)
        live = self._born and self._connected and not (self.spool and len(self.spool))
        to_spool: list[tuple[str | None, bytes]] = []
        for dev, items in by_device.items():
            p = sp.Payload()
            p.timestamp = stamp
            for md, r in items:
                m = p.metrics.add()
                m.alias = md.alias
                m.datatype = md.datatype
                m.timestamp = int(r.timestamp * 1000)
                code = QUALITY_CODE[r.quality]
                sp.set_value(m, md.datatype, None if r.quality is Quality.BAD else r.value)
                if code != 192:
                    sp.set_properties(m, {"Quality": code})
            if live:
                kind = MT.NDATA if dev is None else MT.DDATA
                if self._publish(sp.topic(self.group, kind, self.node, dev), p):
                    continue
                live = False
            for m in p.metrics:
                m.is_historical = True
            to_spool.append((dev, p.SerializeToString()))
        if to_spool and self.spool is not None:
            self.spool.put_many(to_spool)
            self.stats.spooled += len(to_spool)

    def _replay(self) -> None:
        """Spooled messages, oldest first, after the birth; removed once on the wire."""
        assert self.spool is not None
        batch = self.spool.head(REPLAY_BATCH)
        last_info = None
        last_id = None
        for item in batch:
            p = sp.decode(item.payload)
            kind = MT.NDATA if item.device is None else MT.DDATA
            p.seq = self._next_seq()
            info = self._client.publish(
                sp.topic(self.group, kind, self.node, item.device), p.SerializeToString(), qos=0
            )
            if info.rc != 0:
                break
            last_info, last_id = info, item.id
        if last_info is None or last_id is None:
            return
        with contextlib.suppress(Exception):
            last_info.wait_for_publish(5.0)
        if last_info.is_published():
            self.spool.remove_through(last_id)
            n = sum(1 for i in batch if i.id <= last_id)
            self.stats.replayed += n
            self.stats.published += n
            if not len(self.spool):
                log.info("fleet.spool_replayed", total=self.stats.replayed)
        else:  # the connection went while replaying: the birth after reconnect resends
            self._born = False
        self._wake.set()

    # ------------------------------------------------------------ ledger
    def _read_ledger(self) -> None:
        path = self.ledger_path
        if path is None:
            return
        if self._ledger_db is None:
            if not path.exists():
                return
            self._ledger_db = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=2.0
            )
        cols = ", ".join('"end"' if c == "end" else c for c in INTERVAL_COLUMNS)
        try:
            rows = self._ledger_db.execute(
                f"SELECT {cols} FROM intervals WHERE start > ? ORDER BY start LIMIT 5000",
                (self._ledger_read_through,),
            ).fetchall()
        except sqlite3.Error as exc:
            log.warning("fleet.ledger_unreadable", path=str(path), error=str(exc))
            return
        for row in rows:
            self._ledger_pending[int(row[0])] = tuple(row)
            self._ledger_read_through = max(self._ledger_read_through, int(row[0]))

    def _send_ledger(self, now: float) -> None:
        due = [
            start
            for start in self._ledger_pending
            if now - self._ledger_sent_at.get(start, -math.inf) >= self.settings.ledger_resend_s
        ]
        if not due:
            return
        md = self.cat.by_name[LEDGER_METRIC]
        columns = ledger_columns(INTERVAL_COLUMNS)
        size = self.settings.ledger_batch
        for i in range(0, len(due), size):
            chunk = sorted(due)[i : i + size]
            p = sp.Payload()
            p.timestamp = int(self.clock() * 1000)
            m = p.metrics.add()
            m.alias = md.alias
            m.datatype = md.datatype
            sp.fill_dataset(m.dataset_value, columns, [self._ledger_pending[s] for s in chunk])
            if not self._publish(sp.topic(self.group, MT.NDATA, self.node), p):
                return
            for s in chunk:
                self._ledger_sent_at[s] = now
            self.stats.ledger_sent += len(chunk)

    def _ledger_acked(self, starts: list[int]) -> None:
        assert self.spool is not None
        n = 0
        for s in starts:
            if self._ledger_pending.pop(s, None) is not None:
                self._ledger_sent_at.pop(s, None)
                n += 1
        self.stats.ledger_acked += n
        through = (
            min(self._ledger_pending) - 1 if self._ledger_pending else self._ledger_read_through
        )
        if through > self._ledger_through:
            self._ledger_through = through
            self.spool.set(LEDGER_KEY, through)

    # ------------------------------------------------------------ commands
    def _command(self, topic: str, data: bytes) -> None:
        if self.settings.primary_host is not None and topic == sp.state_topic(
            self.settings.primary_host
        ):
            self._host_state(data)
            return
        t = sp.parse_topic(topic)
        if t is None or t.node != self.node or t.kind not in (MT.NCMD, MT.DCMD):
            return
        try:
            p = sp.decode(data)
        except ValueError as exc:
            self.stats.bad_commands += 1
            log.warning("fleet.bad_command", topic=topic, error=str(exc))
            return
        by_alias = {m.alias: m for m in self.cat.metrics}
        for m in p.metrics:
            if m.name == LEDGER_ACK_METRIC and t.kind is MT.NCMD:
                if m.datatype == sp.DataType.INT64_ARRAY:
                    self._ledger_acked(sp.get_value(m, sp.DataType.INT64_ARRAY))
                continue
            md = self.cat.by_name.get(m.name) if m.name else by_alias.get(m.alias)
            if md is None or (t.kind is MT.DCMD and md.device != t.device):
                self.stats.bad_commands += 1
                log.warning("fleet.unknown_command_metric", topic=topic, metric=m.name or m.alias)
                continue
            if md.name == sp.REBIRTH and m.boolean_value:
                self.stats.rebirth_requests += 1
                log.info("fleet.rebirth_requested")
                self._born = False
            elif md.point is not None and md.point.writable:
                self._setpoint_command(md, m, topic)
            else:
                self.stats.bad_commands += 1
                log.warning("fleet.command_refused", metric=md.name, reason="not writable")

    def _setpoint_command(self, md: MetricDef, m: Any, topic: str) -> None:
        point = md.point
        assert point is not None
        props = sp.get_properties(m)
        user = str(props.get("user") or "fleet")
        reason = None
        value: Any = None
        if m.datatype and m.datatype != md.datatype:
            reason = "type mismatch"
        else:
            try:
                value = sp.get_value(m, md.datatype)
            except ValueError:
                reason = "type mismatch"
        if reason is None:
            if value is None or isinstance(value, list):
                reason = "type mismatch"
            elif point.kind is Kind.ANALOG and point.eu_range is not None:
                lo, hi = point.eu_range
                if not (math.isfinite(value) and lo <= value <= hi):
                    reason = "out of range"
        if reason is not None or point.name not in SETPOINT_NAMES:
            self.stats.bad_commands += 1
            log.warning("fleet.write", result=reason or "not a setpoint", user=user, node=md.name)
            return
        with self._lock:
            self._setpoints[point.name] = SetpointWrite(point.name, value, user, self.clock())
        log.info("fleet.write", result="accepted", user=user, node=md.name, value=value)

    def _host_state(self, data: bytes) -> None:
        try:
            online = bool(json.loads(data.decode())["online"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            log.warning("fleet.bad_state_message", payload=data[:80])
            return
        if online and not self._host_online:
            log.info("fleet.primary_host_online", host=self.settings.primary_host)
            self._born = False  # rebirth, then the spool
        elif not online and self._host_online:
            log.warning("fleet.primary_host_offline", host=self.settings.primary_host)
        self._host_online = online
        if not online:
            self._born = False

    # ------------------------------------------------------------ stop
    def _shutdown(self) -> None:
        client = self._client
        if self._connected:
            info = client.publish(
                sp.topic(self.group, MT.NDEATH, self.node), self._death_payload(self._bdseq), qos=1
            )
            with contextlib.suppress(Exception):
                info.wait_for_publish(2.0)
        if self._samples and self.spool is not None:  # not yet published: keep them
            self._connected = False
            while self._samples:
                self._data(self._samples.popleft())
        client.disconnect()
        client.loop_stop()
        log.info("fleet.edge_stopped", **{k: getattr(self.stats, k) for k in EdgeStats.__slots__})
