"""The host's Sparkplug bookkeeping without a broker: liveness, sequence, aliases."""

from __future__ import annotations

from controller.fleet import sparkplug as sp
from fleet.state import FleetState

G, N = "g", "site"


def topic(kind: str, device: str | None = None) -> sp.Topic:
    return sp.Topic(G, sp.MessageType(kind), N, device)


def nbirth(bdseq: int) -> sp.Payload:
    p = sp.Payload(seq=0, timestamp=1_000)
    m = p.metrics.add()
    m.name, m.datatype, m.long_value = sp.BDSEQ, sp.DataType.INT64, bdseq
    m = p.metrics.add()
    m.name, m.alias, m.datatype, m.double_value = (
        "Energy/DeliveredTotal",
        9,
        sp.DataType.DOUBLE,
        1.5,
    )
    sp.set_properties(m, {"kind": "analog", "engUnit": "MWH", "engLow": 0.0, "engHigh": 1e6})
    return p


def data(seq: int, alias: int = 9, value: float = 2.0) -> sp.Payload:
    p = sp.Payload(seq=seq, timestamp=2_000)
    m = p.metrics.add()
    m.alias, m.datatype, m.double_value = alias, sp.DataType.DOUBLE, value
    return p


def test_sequence_wraps_without_a_gap_and_gaps_ask_for_rebirth():
    st = FleetState(G, rebirth_min_interval_s=10.0)
    out = st.handle(topic("NBIRTH"), nbirth(3), now=0.0)
    assert out.birth and st.nodes[N].online
    point = st.nodes[N].metrics["Energy/DeliveredTotal"].point
    assert point is not None and point.unit == "MWH" and point.eu_range == (0.0, 1e6)
    for seq in [*range(1, 256), 0, 1]:
        out = st.handle(topic("NDATA"), data(seq), now=1.0)
        assert not out.rebirth and out.rebirth_reason is None and out.problem is None, seq
    assert out.samples[0].value == 2.0 and out.samples[0].metric.name == "Energy/DeliveredTotal"
    out = st.handle(topic("NDATA"), data(5), now=2.0)
    assert out.rebirth and st.nodes[N].seq_gaps == 1
    out = st.handle(topic("NDATA"), data(9), now=3.0)  # rate-limited: no second request yet
    assert not out.rebirth and st.nodes[N].seq_gaps == 2
    out = st.handle(topic("NDATA"), data(10, alias=77), now=20.0)
    assert out.rebirth and out.rebirth_reason == "unknown metric 77"


def test_death_counts_only_for_the_current_session():
    st = FleetState(G, rebirth_min_interval_s=1.0)
    st.handle(topic("NBIRTH"), nbirth(4), now=0.0)
    old = sp.Payload()
    m = old.metrics.add()
    m.name, m.datatype, m.long_value = sp.BDSEQ, sp.DataType.INT64, 3
    assert not st.handle(topic("NDEATH"), old, now=1.0).liveness
    assert st.nodes[N].online
    m.long_value = 4
    assert st.handle(topic("NDEATH"), old, now=2.0).liveness
    assert not st.nodes[N].online
    out = st.handle(topic("NDATA"), data(1), now=3.0)  # data after death: ask for a birth
    assert out.rebirth and not out.samples


def test_device_data_needs_its_birth():
    st = FleetState(G, rebirth_min_interval_s=1.0)
    st.handle(topic("NBIRTH"), nbirth(0), now=0.0)
    out = st.handle(topic("DDATA", "HeatPump"), data(1), now=1.0)
    assert out.rebirth and not out.samples
