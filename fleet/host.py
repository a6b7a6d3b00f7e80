"""The Sparkplug B host application: broker in, PostgreSQL and OPC UA out.

paho's network thread decodes each message and runs it through ``FleetState``
(microseconds); the results go to the store's writer thread and the OPC UA
server's thread as hand-overs, so a slow database or a busy OPC UA client never
stalls the MQTT connection. Commands go back to the sites from here: rebirth
requests, ledger confirmations (only after the rows are committed) and the
utility's setpoint writes.

STATE (spec 7.2): the will is ``{"online": false, "timestamp": T}`` on
``spBv1.0/STATE/<host_id>``, retained, QoS 1; after subscribing, the host
publishes ``{"online": true, "timestamp": T}`` with the same T, retained, QoS 1;
a clean stop publishes the offline message itself.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import structlog

from controller.accounting.rows import INTERVAL_COLUMNS
from controller.fleet import sparkplug as sp
from controller.fleet.catalogue import LEDGER_ACK_METRIC, device_of
from controller.fleet.mqtt import make_client
from controller.opcua.model import Reading, SetpointWrite
from controller.opcua.points import SETPOINTS_PATH
from fleet.opcserver import FleetOpcServer
from fleet.settings import FleetHostSettings
from fleet.state import FleetState, NodeState
from fleet.store import Batch, SiteUpdate, Store

log = structlog.get_logger("fleet")
MT = sp.MessageType
TREE_SETTLE_S = 0.3
"""A site's OPC UA subtree is (re)built this long after its last birth message, once
the NBIRTH and all DBIRTHs are in, instead of once per DBIRTH."""
ACK_CHUNK = 500

_NOT_NULL_FLOATS = (
    "covered_s",
    "uncovered_s",
    "bad_data_s",
    "requested_s",
    "available_s",
    "network_unavailable_s",
    "unknown_s",
    "negative_dt_s",
    "meter_error_s",
)


def ledger_row_problem(row: dict[str, Any]) -> str | None:
    """Why a received ledger row cannot be stored (None: it can)."""
    missing = [c for c in INTERVAL_COLUMNS if c not in row]
    if missing:
        return f"missing columns {missing[:3]}"
    if not all(isinstance(row[c], int) for c in ("start", "end")) or row["end"] <= row["start"]:
        return "start/end are not an interval"
    if not all(isinstance(row[c], str) for c in ("day", "kind", "flags")):
        return "day, kind and flags must be text"
    for c in _NOT_NULL_FLOATS:
        v = row[c]
        if not isinstance(v, float) or not math.isfinite(v):
            return f"{c} must be a finite number"
    return None


@dataclass(slots=True)
class HostStats:
    messages: int = 0
    bad_messages: int = 0
    rebirth_requests: int = 0
    ledger_refused: int = 0
    writes_routed: int = 0


class FleetHost:
    def __init__(self, settings: FleetHostSettings) -> None:
        self.settings = settings
        self.group = settings.group
        self.host_id = settings.host_id
        self.state = FleetState(settings.group, settings.rebirth_min_interval_s)
        self.stats = HostStats()
        self.store = Store(settings.database, self._on_committed)
        self.opc: FleetOpcServer | None = None
        if settings.opcua.enabled:
            self.opc = FleetOpcServer(settings.opcua, self._route_write, lambda: self.connected)
        self.connected = False
        self._client: Any = None
        self._state_ts = 0
        self._lock = threading.Lock()  # state is touched by paho's thread and the ticker
        self._reported: dict[str, tuple[int, int]] = {}  # births, gaps already stored
        self._latest: dict[str, dict[str, Reading]] = {}
        self._tree_due: dict[str, float] = {}
        self._online: dict[str, bool] = {}
        self._stopping = threading.Event()
        self._ticker: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.store.start()
        if self.opc is not None:
            self.opc.start()
        m = self.settings.mqtt
        self._client = make_client(m, f"hr-host-{self.host_id}")
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._arm_will()
        self._client.connect_async(m.host, m.port, m.keepalive_s)
        self._client.loop_start()
        self._ticker = threading.Thread(target=self._tick_loop, name="fleet-tick", daemon=True)
        self._ticker.start()
        log.info(
            "fleet.host_started",
            host_id=self.host_id,
            group=self.group,
            broker=f"{m.host}:{m.port}",
            opcua=self.opc.endpoint_url if self.opc else None,
        )

    def stop(self) -> None:
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.join(5.0)
        client = self._client
        if client is not None:
            if self.connected:
                info = client.publish(
                    sp.state_topic(self.host_id), self._state(False), qos=1, retain=True
                )
                with contextlib.suppress(Exception):
                    info.wait_for_publish(2.0)
            client.disconnect()
            client.loop_stop()
        self.store.stop()
        if self.opc is not None:
            self.opc.stop()
        log.info("fleet.host_stopped", **self.summary())

    def _tick_loop(self) -> None:
        while not self._stopping.wait(0.1):
            try:
                self.tick()
            except Exception:
                log.exception("fleet.tick_failed")

    def tick(self) -> None:
        """Periodic work: OPC UA subtrees whose births have settled."""
        now = time.monotonic()
        due = [s for s, t in list(self._tree_due.items()) if now - t >= TREE_SETTLE_S]
        for site in due:
            self._tree_due.pop(site, None)
            self._push_tree(site)

    # ------------------------------------------------------------ STATE
    def _state(self, online: bool) -> bytes:
        return json.dumps({"online": online, "timestamp": self._state_ts}).encode()

    def _arm_will(self) -> None:
        self._state_ts = int(time.time() * 1000)
        self._client.will_set(sp.state_topic(self.host_id), self._state(False), qos=1, retain=True)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            log.warning("fleet.broker_refused", reason=str(rc))
            return
        client.subscribe([(f"{sp.NAMESPACE}/{self.group}/#", 0), (sp.state_topic(self.host_id), 1)])
        client.publish(sp.state_topic(self.host_id), self._state(True), qos=1, retain=True)
        self.connected = True
        log.info("fleet.host_online", host_id=self.host_id)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if self.connected:
            log.warning("fleet.broker_lost", reason=str(rc))
        self.connected = False
        self._arm_will()

    # ------------------------------------------------------------ messages
    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        t = sp.parse_topic(msg.topic)
        if t is None or t.group != self.group:
            if msg.topic == sp.state_topic(self.host_id) and self.connected:
                self._own_state(bytes(msg.payload))
            return
        self.stats.messages += 1
        try:
            payload = sp.decode(bytes(msg.payload))
        except ValueError as exc:
            self.stats.bad_messages += 1
            log.warning("fleet.bad_payload", topic=msg.topic, error=str(exc))
            return
        try:
            with self._lock:
                self._handle(t, payload)
        except Exception:  # a malformed message must not take the host down
            self.stats.bad_messages += 1
            log.exception("fleet.message_failed", topic=msg.topic)

    def _own_state(self, data: bytes) -> None:
        """Another session (or a stale will) said we are offline: say otherwise (spec 7.2)."""
        with contextlib.suppress(ValueError, KeyError, TypeError):
            if not json.loads(data)["online"]:
                self._client.publish(
                    sp.state_topic(self.host_id), self._state(True), qos=1, retain=True
                )

    def _handle(self, t: sp.Topic, payload: Any) -> None:
        now = time.time()
        out = self.state.handle(t, payload, now)
        if out.problem:
            self.stats.bad_messages += 1
        node = self.state.nodes[t.node]
        if out.rebirth:
            self._send_rebirth(t.node)
        batch = Batch(samples=out.samples)
        for row in out.ledger_rows:
            problem = ledger_row_problem(row)
            if problem is None:
                batch.ledger.append((t.node, row))
            else:
                self.stats.ledger_refused += 1
                log.warning("fleet.ledger_row_refused", site=t.node, reason=problem)
        if out.birth or out.liveness or out.rebirth:
            batch.sites[t.node] = self._site_update(node)
        self.store.submit(batch)
        latest = self._latest.setdefault(t.node, {})
        fresh: dict[str, Reading] = {}
        for s in out.samples:
            p = s.metric.point
            if p is None or s.historical:
                continue
            r = Reading(s.value, s.quality, s.ts)
            latest[p.path] = r
            fresh[p.path] = r
        if out.birth:
            self._tree_due[t.node] = time.monotonic()
        if self.opc is None:
            return
        if fresh and t.node not in self._tree_due:
            self.opc.site_values(t.node, fresh)
        if self._online.get(t.node) != node.online:
            self._online[t.node] = node.online
            if not node.online:
                self.opc.site_online(t.node, False)

    def _push_tree(self, site: str) -> None:
        if self.opc is None:
            return
        with self._lock:
            node = self.state.nodes.get(site)
            if node is None:
                return
            points = [m.point for m in node.metrics.values() if m.point is not None]
            latest = dict(self._latest.get(site, {}))
            online = node.online
        self.opc.site_birth(site, points)
        self.opc.site_values(site, latest)
        if not online:
            self.opc.site_online(site, False)

    def _site_update(self, node: NodeState) -> SiteUpdate:
        births, gaps = self._reported.get(node.name, (0, 0))
        self._reported[node.name] = (node.births, node.seq_gaps)
        return SiteUpdate(
            node.name,
            self.group,
            node.online,
            node.bdseq,
            node.births - births,
            node.seq_gaps - gaps,
            node.birth_time,
            node.death_time,
        )

    # ------------------------------------------------------------ commands
    def _command(self, site: str, metrics: list[tuple[str, int, Any, dict[str, Any]]],
                 device: str | None = None) -> bool:  # fmt: skip
        p = sp.Payload()
        p.timestamp = int(time.time() * 1000)
        for name, datatype, value, props in metrics:
            m = p.metrics.add()
            m.name = name
            m.datatype = datatype
            m.timestamp = p.timestamp
            sp.set_value(m, datatype, value)
            if props:
                sp.set_properties(m, props)
        kind = MT.NCMD if device is None else MT.DCMD
        info = self._client.publish(
            sp.topic(self.group, kind, site, device), p.SerializeToString(), qos=0
        )
        return bool(info.rc == 0)

    def _send_rebirth(self, site: str) -> None:
        self.stats.rebirth_requests += 1
        self._command(site, [(sp.REBIRTH, sp.DataType.BOOLEAN, True, {})])

    def _on_committed(self, stored: dict[str, list[int]]) -> None:
        """Store thread, after the commit: confirm the ledger rows to their sites."""
        for site, starts in stored.items():
            for i in range(0, len(starts), ACK_CHUNK):
                chunk = starts[i : i + ACK_CHUNK]
                self._command(site, [(LEDGER_ACK_METRIC, sp.DataType.INT64_ARRAY, chunk, {})])

    def _route_write(self, site: str, w: SetpointWrite) -> None:
        """OPC UA thread: a write the guard accepted, to that one site."""
        path = f"{SETPOINTS_PATH}/{w.name}"
        with self._lock:
            node = self.state.nodes.get(site)
            info = node.metrics.get(path) if node is not None else None
        if info is None:
            log.warning("fleet.write_unroutable", site=site, node=path)
            return
        self.stats.writes_routed += 1
        self._command(
            site, [(path, info.datatype, w.value, {"user": w.user})], device=device_of(path)
        )
        log.info("fleet.write_routed", site=site, node=path, value=w.value, user=w.user)

    # ------------------------------------------------------------ reporting
    def summary(self, window_s: float | None = None) -> dict[str, Any]:
        """Counters since start; latency (snapshot time to committed) over the last
        ``window_s`` seconds, or everything kept when None."""
        st = self.store.stats
        since = -math.inf if window_s is None else time.time() - window_s
        lat = sorted(ms for t, ms in list(st.latencies) if t >= since)

        def pct(q: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else None

        with self._lock:
            nodes = list(self.state.nodes.values())
        return {
            "sites": len(nodes),
            "sites_online": sum(1 for n in nodes if n.online),
            "messages": self.stats.messages,
            "bad_messages": self.stats.bad_messages,
            "rebirth_requests": self.stats.rebirth_requests,
            "seq_gaps": sum(n.seq_gaps for n in nodes),
            "samples_stored": st.samples,
            "ledger_rows": st.ledger_rows,
            "ledger_new": st.ledger_new,
            "ledger_refused": self.stats.ledger_refused,
            "store_failures": st.failures,
            "latency_p50_ms": pct(0.50),
            "latency_p99_ms": pct(0.99),
            "writes_routed": self.stats.writes_routed,
        }
