"""What the host knows of each edge node, and what each message means for it.

Pure bookkeeping (no I/O, time as an argument), so the Sparkplug host rules can be
read in one place and tested without a broker: a node is online from its NBIRTH to
its NDEATH (the NDEATH counts only with the bdSeq of the birth it ends, so a late
will of an older session cannot kill a newer one); every message after the birth
must carry the next ``seq`` modulo 256, and a gap, an unknown alias or data from a
node without a birth asks the node for a rebirth (at most once per
``rebirth_min_interval_s``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog

from controller.fieldbus.signals import Quality
from controller.fleet import sparkplug as sp
from controller.fleet.catalogue import LEDGER_METRIC, point_from_birth
from controller.opcua.points import PointDef

log = structlog.get_logger("fleet")
MT = sp.MessageType

QUALITY_OF_CODE = {192: Quality.GOOD, 64: Quality.UNCERTAIN, 0: Quality.BAD}
NUMERIC = frozenset(
    {
        sp.DataType.DOUBLE,
        sp.DataType.BOOLEAN,
        sp.DataType.INT32,
        sp.DataType.INT64,
        sp.DataType.UINT16,
        sp.DataType.UINT32,
        sp.DataType.UINT64,
    }
)


@dataclass(slots=True)
class MetricInfo:
    name: str
    alias: int | None
    datatype: int
    device: str | None
    point: PointDef | None


@dataclass(slots=True)
class NodeState:
    name: str
    online: bool = False
    bdseq: int | None = None
    seq: int | None = None
    birth_time: float | None = None
    death_time: float | None = None
    births: int = 0
    seq_gaps: int = 0
    last_rebirth_request: float = -1e18
    aliases: dict[int, MetricInfo] = field(default_factory=dict)
    metrics: dict[str, MetricInfo] = field(default_factory=dict)
    devices: dict[str, bool] = field(default_factory=dict)  # device -> online


@dataclass(frozen=True, slots=True)
class Sample:
    site: str
    metric: MetricInfo
    ts: float  # epoch s
    value: Any
    quality: Quality
    historical: bool
    birth: bool = False  # restated by a birth certificate, not a new reading


@dataclass(slots=True)
class Outcome:
    """What one message asks of the host."""

    samples: list[Sample] = field(default_factory=list)
    ledger_rows: list[dict[str, Any]] = field(default_factory=list)
    rebirth: bool = False
    birth: bool = False  # the node's (or a device's) metric set changed
    liveness: bool = False  # the node or a device went online or offline
    problem: str | None = None  # the message was malformed
    rebirth_reason: str | None = None  # why the node's state is unknown (not an error)


class FleetState:
    def __init__(self, group: str, rebirth_min_interval_s: float) -> None:
        self.group = group
        self.rebirth_min_interval_s = rebirth_min_interval_s
        self.nodes: dict[str, NodeState] = {}
        self.bad_messages = 0

    def node(self, name: str) -> NodeState:
        n = self.nodes.get(name)
        if n is None:
            n = self.nodes[name] = NodeState(name)
        return n

    def handle(self, t: sp.Topic, payload: Any, now: float) -> Outcome:
        node = self.node(t.node)
        out = Outcome()
        kind = t.kind
        if kind is MT.NBIRTH:
            self._nbirth(node, payload, now, out)
        elif kind is MT.NDEATH:
            self._ndeath(node, payload, now, out)
        elif kind in (MT.NCMD, MT.DCMD):
            return out  # our own commands (and other hosts')
        else:
            if not node.online:
                return self._ask_rebirth(node, now, out, "message from a node without a birth")
            if not self._seq_ok(node, payload):
                node.seq_gaps += 1
                self._ask_rebirth(node, now, out, "sequence gap")
            if kind is MT.DBIRTH:
                self._dbirth(node, t.device, payload, now, out)
            elif kind is MT.DDEATH:
                if t.device in node.devices:
                    node.devices[t.device] = False
                    out.liveness = True
            else:
                self._data(node, t.device, payload, now, out)
        if out.problem:
            self.bad_messages += 1
        return out

    # -------------------------------------------------------------- node life
    def _seq_ok(self, node: NodeState, payload: Any) -> bool:
        if not payload.HasField("seq"):
            node.seq = None
            return False
        seq = int(payload.seq)
        expected = None if node.seq is None else (node.seq + 1) % 256
        node.seq = seq
        return expected is None or seq == expected

    def _ask_rebirth(self, node: NodeState, now: float, out: Outcome, why: str) -> Outcome:
        out.rebirth_reason = why
        if now - node.last_rebirth_request >= self.rebirth_min_interval_s:
            node.last_rebirth_request = now
            out.rebirth = True
            log.info("fleet.rebirth_request", site=node.name, reason=why)
        return out

    def _register(
        self, node: NodeState, device: str | None, payload: Any, now: float, out: Outcome
    ) -> None:
        for m in payload.metrics:
            if not m.name:
                out.problem = "birth metric without a name"
                continue
            point = None
            if m.name == LEDGER_METRIC or m.name.startswith(("Node Control/", "Scan/")):
                point = None
            elif m.HasField("properties"):
                props = sp.get_properties(m)
                if "kind" in props:
                    try:
                        point = point_from_birth(m.name, props)
                    except (ValueError, KeyError) as exc:
                        out.problem = f"metric {m.name}: {exc}"
            info = MetricInfo(
                m.name, m.alias if m.HasField("alias") else None, m.datatype, device, point
            )
            node.metrics[m.name] = info
            if info.alias is not None:
                node.aliases[info.alias] = info
            self._sample(node, info, m, payload, now, out, birth=True)

    def _nbirth(self, node: NodeState, payload: Any, now: float, out: Outcome) -> None:
        bd = next((m for m in payload.metrics if m.name == sp.BDSEQ), None)
        node.aliases.clear()
        node.metrics.clear()
        node.devices.clear()
        node.online = True
        node.bdseq = None if bd is None else int(bd.long_value)
        node.seq = int(payload.seq) if payload.HasField("seq") else None
        node.birth_time = now
        node.births += 1
        self._register(node, None, payload, now, out)
        out.birth = out.liveness = True
        if bd is None:
            out.problem = "NBIRTH without bdSeq"

    def _dbirth(
        self, node: NodeState, device: str | None, payload: Any, now: float, out: Outcome
    ) -> None:
        if device is None:
            out.problem = "DBIRTH without a device id"
            return
        for name in [n for n, i in node.metrics.items() if i.device == device]:
            info = node.metrics.pop(name)
            if info.alias is not None:
                node.aliases.pop(info.alias, None)
        node.devices[device] = True
        self._register(node, device, payload, now, out)
        out.birth = out.liveness = True

    def _ndeath(self, node: NodeState, payload: Any, now: float, out: Outcome) -> None:
        bd = next((m for m in payload.metrics if m.name == sp.BDSEQ), None)
        if bd is None or node.bdseq is None or int(bd.long_value) != node.bdseq:
            return  # the will of a session that is already over
        node.online = False
        node.death_time = now
        for d in node.devices:
            node.devices[d] = False
        out.liveness = True
        log.info("fleet.node_offline", site=node.name, bdseq=node.bdseq)

    # -------------------------------------------------------------- data
    def _data(
        self, node: NodeState, device: str | None, payload: Any, now: float, out: Outcome
    ) -> None:
        if device is not None and not node.devices.get(device, False):
            self._ask_rebirth(node, now, out, f"data from device {device} without a birth")
            return
        for m in payload.metrics:
            info = node.metrics.get(m.name) if m.name else node.aliases.get(m.alias)
            if info is None or info.device != device:
                self._ask_rebirth(node, now, out, f"unknown metric {m.name or m.alias}")
                continue
            if info.name == LEDGER_METRIC:
                try:
                    rows = sp.read_dataset(m.dataset_value)
                except ValueError as exc:
                    out.problem = str(exc)
                    continue
                out.ledger_rows.extend(rows)
                continue
            self._sample(node, info, m, payload, now, out)

    def _sample(
        self,
        node: NodeState,
        info: MetricInfo,
        m: Any,
        payload: Any,
        now: float,
        out: Outcome,
        *,
        birth: bool = False,
    ) -> None:
        if info.datatype == sp.DataType.DATASET:
            return
        try:
            value = sp.get_value(m, info.datatype)
        except ValueError as exc:
            out.problem = f"metric {info.name}: {exc}"
            return
        quality = Quality.BAD if m.is_null else Quality.GOOD
        if m.HasField("properties"):
            code = sp.get_properties(m).get("Quality")
            if isinstance(code, int) and not m.is_null:
                quality = QUALITY_OF_CODE.get(code, Quality.UNCERTAIN)
        ts_ms = m.timestamp if m.HasField("timestamp") else payload.timestamp
        ts = ts_ms / 1000.0 if ts_ms else now
        out.samples.append(
            Sample(node.name, info, ts, value, quality, bool(m.is_historical), birth)
        )
