"""The fleet host against the real broker and PostgreSQL: nothing lost, nothing twice.

Sites are edge nodes reading real ledger files; the faults are real: a TCP proxy
in front of Mosquitto is stopped and started (a broker outage for the sites
behind it), the host and a site's gateway are separate processes killed with
SIGKILL. The checks read PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fleet_support import (
    BROKER,
    DSN,
    RawSubscriber,
    TcpProxy,
    unique,
    wait_until,
    write_ledger,
)

from controller.accounting.ledger import Ledger
from controller.fieldbus.signals import Quality
from controller.fleet import sparkplug as sp
from controller.fleet.catalogue import build_catalogue
from controller.fleet.edge import CycleSample, EdgeNode
from controller.fleet.settings import FleetSettings, MqttConnection
from controller.opcua.model import Reading
from controller.opcua.points import PlantShape
from controller.opcua.settings import OpcUaSettings
from fleet.host import FleetHost
from fleet.settings import DatabaseSettings, FleetHostSettings

pytestmark = pytest.mark.usefixtures("fleet_services")
ROOT = Path(__file__).resolve().parent.parent
T0 = 1_790_000_100 - 1_790_000_100 % 900  # a quarter-hour in 2026


@pytest.fixture
def names() -> dict[str, str]:
    return {"group": unique("hrtest"), "host": unique("hrhost"), "schema": unique("fleet_t")}


@pytest.fixture
def db(names: dict[str, str]) -> Iterator[psycopg.Connection[Any]]:
    conn = psycopg.connect(DSN, autocommit=True)
    yield conn
    conn.execute(f'DROP SCHEMA IF EXISTS "{names["schema"]}" CASCADE')
    conn.close()


def host_settings(names: dict[str, str], dsn: str = DSN, **kw: Any) -> FleetHostSettings:
    return FleetHostSettings(
        host_id=names["host"],
        group=names["group"],
        database=DatabaseSettings(
            dsn=dsn, schema_name=names["schema"], flush_interval_s=0.1, retry_s=0.3
        ),
        opcua=OpcUaSettings(enabled=False),
        rebirth_min_interval_s=0.5,
        **kw,
    )


@pytest.fixture
def start_host(names: dict[str, str]) -> Iterator[Callable[..., FleetHost]]:
    hosts: list[FleetHost] = []

    def start(**kw: Any) -> FleetHost:
        h = FleetHost(host_settings(names, **kw))
        h.start()
        hosts.append(h)
        return h

    yield start
    for h in hosts:
        h.stop()


@pytest.fixture
def start_edge(names: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., EdgeNode]]:
    edges: list[EdgeNode] = []

    def start(node: str, ledger: Path | None, port: int = BROKER[1], **kw: Any) -> EdgeNode:
        s = FleetSettings(
            enabled=True,
            group=names["group"],
            mqtt=MqttConnection(port=port, keepalive_s=5, reconnect_max_s=1.0),
            ledger_poll_s=0.2,
            ledger_resend_s=1.0,
            **kw,
        )
        e = EdgeNode(
            s,
            node,
            build_catalogue(PlantShape(), s.deadband_pct),
            spool_path=tmp_path / node / "spool.sqlite",
            ledger_path=ledger,
        )
        e.start()
        edges.append(e)
        return e

    yield start
    for e in edges:
        e.stop()


def ledger_count(db: psycopg.Connection[Any], schema: str, site: str | None = None) -> int:
    q = f'SELECT count(*) FROM "{schema}".ledger' + (" WHERE site = %s" if site else "")
    try:
        return int(db.execute(q, (site,) if site else ()).fetchone()[0])  # type: ignore[index]
    except psycopg.errors.UndefinedTable:
        return 0


def site_sums(path: Path) -> float:
    with Ledger(path) as led:
        return led.sums().delivered_kwh


def test_every_ledger_row_once_and_fleet_totals_equal_site_ledgers(
    names, db, start_host, start_edge, tmp_path
):
    schema = names["schema"]
    host = start_host()
    ledgers = {}
    for k, site in enumerate(("north", "south", "east")):
        path = tmp_path / f"{site}.sqlite"
        write_ledger(path, T0, 30 + 10 * k, seed=k)
        ledgers[site] = path
        start_edge(site, path)
    total_rows = 30 + 40 + 50
    wait_until(lambda: ledger_count(db, schema) >= total_rows, 20, "all ledger rows stored")
    # More rows close while everything runs: they follow, once each.
    write_ledger(ledgers["north"], T0 + 900 * 30, 4, seed=9)
    wait_until(lambda: ledger_count(db, schema) >= total_rows + 4, 10, "new rows stored")
    time.sleep(1.5)  # a resend period: nothing may be stored twice
    assert ledger_count(db, schema) == total_rows + 4
    assert host.store.stats.ledger_new == total_rows + 4
    for site, path in ledgers.items():
        with Ledger(path) as led:
            n = len(led.intervals())
        assert ledger_count(db, schema, site) == n
    fleet = db.execute(f'SELECT sites, delivered_kwh FROM "{schema}".fleet_totals').fetchone()
    per_site = dict(db.execute(f'SELECT site, delivered_kwh FROM "{schema}".site_totals'))
    assert fleet[0] == 3
    expected = sum(site_sums(p) for p in ledgers.values())
    assert round(fleet[1]) == round(expected) and abs(fleet[1] - expected) < 1e-6
    for site, path in ledgers.items():
        assert abs(per_site[site] - site_sums(path)) < 1e-6
    days = db.execute(f'SELECT sum(delivered_kwh) FROM "{schema}".fleet_days').fetchone()[0]
    assert abs(days - expected) < 1e-6
    # The sites confirmed what they sent: nothing left pending.
    assert host.summary()["ledger_refused"] == 0


def test_rows_sent_before_the_host_existed_are_sent_again(
    names, db, start_host, start_edge, tmp_path
):
    """No primary host configured, no data changing: the rows went out while no host
    listened (QoS 0, lost). The timed resend brings them; nothing else would."""
    ledger = tmp_path / "site.sqlite"
    write_ledger(ledger, T0, 5)
    edge = start_edge("early", ledger)
    wait_until(lambda: edge.stats.ledger_sent >= 5, 10, "rows sent into the void")
    start_host()
    wait_until(lambda: ledger_count(db, names["schema"]) == 5, 10, "rows after the resend")
    # The host acknowledges after its commit: the ack may land just after the rows do.
    wait_until(lambda: edge.stats.ledger_acked == 5, 10, "acknowledgements of the rows")


def test_broker_outage_spools_and_replays_in_order(names, db, start_host, start_edge, tmp_path):
    schema = names["schema"]
    start_host()
    sub = RawSubscriber(f"spBv1.0/{names['group']}/DDATA/#")
    proxy = TcpProxy()
    proxy.start()
    ledger = tmp_path / "site.sqlite"
    write_ledger(ledger, T0, 8)
    edge = start_edge("behind-proxy", ledger, port=proxy.port)
    try:
        wait_until(lambda: ledger_count(db, schema) == 8, 15, "rows before the outage")
        proxy.stop()  # the broker is gone for this site
        wait_until(lambda: not edge._connected, 10, "edge notices the outage")
        t = time.time()
        cops = [round(2.0 + 0.5 * i, 1) for i in range(10)]
        for i, cop in enumerate(cops):
            edge.offer(CycleSample(t + i, {"HeatPump/COP": Reading(cop, Quality.GOOD, t + i)}))
        write_ledger(ledger, T0 + 8 * 900, 6, seed=3)
        wait_until(lambda: edge.spool is not None and len(edge.spool) >= 10, 5, "spooled")
        time.sleep(1.0)
        assert ledger_count(db, schema) == 8  # nothing got through meanwhile
        proxy.start()
        wait_until(lambda: ledger_count(db, schema) == 14, 20, "rows after the outage")
        wait_until(lambda: edge.spool is not None and len(edge.spool) == 0, 10, "spool drained")
        wait_until(lambda: len(sub.of("DDATA")) >= 10, 10, "replayed data")
    finally:
        proxy.stop()
        sub.close()
    replayed = [
        round(m.double_value, 1)
        for msg in sub.of("DDATA")
        for m in msg.payload.metrics
        if m.is_historical
    ]
    assert replayed == cops  # every one, in order, marked historical
    got = db.execute(
        f'SELECT value FROM "{schema}".series WHERE site = %s AND metric = %s AND ts >= '
        "to_timestamp(%s) ORDER BY ts",
        ("behind-proxy", "HeatPump/COP", t - 0.001),
    ).fetchall()
    values = [round(v, 1) for (v,) in got]
    # the spooled values in order; the rebirth restates the current value (same stamp)
    assert values[:10] == cops and set(values[10:]) <= {cops[-1]}
    time.sleep(1.2)
    assert ledger_count(db, schema) == 14


def test_database_outage_keeps_the_rows(names, db, start_host, start_edge, tmp_path):
    """PostgreSQL unreachable for the host (a proxy in front of it, stopped): the host
    keeps what it has, confirms nothing, and stores it all once the database is back."""
    schema = names["schema"]
    pg = psycopg.conninfo.conninfo_to_dict(DSN)
    proxy = TcpProxy((str(pg.get("host", "127.0.0.1")), int(pg.get("port", 5432))))
    proxy.start()
    pg["port"], pg["host"] = proxy.port, "127.0.0.1"
    host = start_host(dsn=psycopg.conninfo.make_conninfo(**pg))
    ledger = tmp_path / "site.sqlite"
    write_ledger(ledger, T0, 6)
    edge = start_edge("db-cut", ledger)
    try:
        wait_until(lambda: ledger_count(db, schema) == 6, 15, "rows before the outage")
        proxy.stop()
        write_ledger(ledger, T0 + 6 * 900, 5, seed=4)
        wait_until(lambda: host.store.stats.failures > 0, 10, "the host notices")
        time.sleep(1.5)  # resends arrive meanwhile; none may be confirmed
        assert edge.stats.ledger_acked == 6
        proxy.start()
        wait_until(lambda: ledger_count(db, schema) == 11, 20, "rows after the outage")
        wait_until(lambda: edge.stats.ledger_acked >= 11, 10, "confirmed after the commit")
    finally:
        proxy.stop()
    assert ledger_count(db, schema) == 11


def _start_host_proc(names: dict[str, str], tmp: Path) -> subprocess.Popen[str]:
    cfg = tmp / "fleet.toml"
    cfg.write_text(
        f'host_id = "{names["host"]}"\ngroup = "{names["group"]}"\nrebirth_min_interval_s = 0.5\n'
        f'[database]\ndsn = "{DSN}"\nschema_name = "{names["schema"]}"\nflush_interval_s = 0.1\n'
        "[opcua]\nenabled = false\n"
    )
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "heatrecovery"), "fleet", "--config", str(cfg)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_fleet_host_killed_and_restarted(names, db, start_edge, tmp_path):
    schema = names["schema"]
    state = RawSubscriber(sp.state_topic(names["host"]))
    ledger = tmp_path / "site.sqlite"
    write_ledger(ledger, T0, 10)
    host = _start_host_proc(names, tmp_path)
    try:
        edge = start_edge("gw1", ledger, primary_host=names["host"])
        wait_until(lambda: ledger_count(db, schema) == 10, 20, "rows stored by the first host")
        host.send_signal(signal.SIGKILL)
        host.wait(5)
        # The broker delivers the host's will: STATE offline, retained.
        wait_until(
            lambda: any(b'"online": false' in m.raw for m in state.snapshot()), 10, "STATE offline"
        )
        # (data published before the node hears of it is lost, as Sparkplug allows: QoS 0)
        wait_until(lambda: not edge._host_online, 5, "the node knows its host is gone")
        for i in range(20):
            now = time.time()
            edge.offer(CycleSample(now, {"HeatPump/COP": Reading(1.0 + i, Quality.GOOD, now)}))
        write_ledger(ledger, T0 + 10 * 900, 7, seed=5)
        wait_until(lambda: edge.spool is not None and len(edge.spool) > 0, 5, "spooling")
        time.sleep(1.5)
        assert ledger_count(db, schema) == 10
        host = _start_host_proc(names, tmp_path)
        wait_until(lambda: ledger_count(db, schema) == 17, 30, "rows after the restart")
        wait_until(lambda: edge.spool is not None and len(edge.spool) == 0, 10, "spool drained")
        time.sleep(1.5)
        assert ledger_count(db, schema) == 17
        stored = db.execute(
            f'SELECT count(DISTINCT (ts, value)) FROM "{schema}".series WHERE site = %s '
            "AND metric = %s AND value >= 1 AND value <= 20 AND value = round(value)",
            ("gw1", "HeatPump/COP"),
        ).fetchone()[0]
        # the data published while the host was down, from the spool (the rebirth
        # restates the last value with its own stamp: counted once)
        assert stored == 20
    finally:
        host.send_signal(signal.SIGTERM)
        host.wait(15)
        state.close()
    assert host.returncode == 0


def test_site_gateway_killed(names, db, start_host, tmp_path):
    schema = names["schema"]
    host = start_host()
    ledger = tmp_path / "site.sqlite"
    spool = tmp_path / "spool.sqlite"
    write_ledger(ledger, T0, 12)
    args = [sys.executable, str(ROOT / "tests" / "fleet_edge_proc.py"), names["group"], "gw2",
            str(spool), str(ledger), str(BROKER[1])]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: ledger_count(db, schema) == 12, 20, "rows from the gateway")
        wait_until(lambda: host.state.nodes["gw2"].online, 5, "site online")
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        wait_until(lambda: not host.state.nodes["gw2"].online, 10, "NDEATH from the will")
        online = db.execute(f'SELECT online FROM "{schema}".sites WHERE site = %s', ("gw2",))
        wait_until(lambda: db.execute(
            f'SELECT NOT online FROM "{schema}".sites WHERE site = %s', ("gw2",)
        ).fetchone()[0], 5, "offline in the database")  # fmt: skip
        del online
        write_ledger(ledger, T0 + 12 * 900, 5, seed=2)  # the accounting kept going
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
        wait_until(lambda: ledger_count(db, schema) == 17, 20, "rows after the restart")
        wait_until(lambda: host.state.nodes["gw2"].online, 5, "site online again")
        time.sleep(1.5)
        assert ledger_count(db, schema) == 17
        assert host.state.nodes["gw2"].births == 2
    finally:
        proc.kill()
        proc.wait(5)


def test_sequence_gap_asks_for_rebirth_and_bad_traffic_is_survived(names, db, start_host):
    host = start_host()
    g = names["group"]
    sub = RawSubscriber(f"spBv1.0/{g}/NCMD/#")
    try:
        birth = sp.Payload(seq=0, timestamp=int(time.time() * 1000))
        m = birth.metrics.add()
        m.name, m.datatype, m.long_value = sp.BDSEQ, sp.DataType.INT64, 7
        m = birth.metrics.add()
        m.name, m.alias, m.datatype, m.double_value = "Scan/Cycles", 3, sp.DataType.UINT64, 0
        m.ClearField("double_value")
        m.long_value = 1
        sub.publish(f"spBv1.0/{g}/NBIRTH/fake", birth.SerializeToString())
        sub.publish(f"spBv1.0/{g}/NDATA/fake", b"\x08\xff\xff garbage")
        data = sp.Payload(seq=1)
        m = data.metrics.add()
        m.alias, m.datatype, m.long_value = 3, sp.DataType.UINT64, 2
        sub.publish(f"spBv1.0/{g}/NDATA/fake", data.SerializeToString())
        assert not sub.of("NCMD")
        data.seq = 5  # 2, 3, 4 lost
        sub.publish(f"spBv1.0/{g}/NDATA/fake", data.SerializeToString())
        wait_until(lambda: sub.of("NCMD"), 5, "rebirth request")
        cmd = sub.of("NCMD")[0].payload.metrics[0]
        assert cmd.name == "Node Control/Rebirth" and cmd.boolean_value
        # A will from an older session (other bdSeq) does not take the node offline.
        death = sp.Payload()
        m = death.metrics.add()
        m.name, m.datatype, m.long_value = sp.BDSEQ, sp.DataType.INT64, 6
        sub.publish(f"spBv1.0/{g}/NDEATH/fake", death.SerializeToString())
        time.sleep(0.3)
        assert host.state.nodes["fake"].online
        death.metrics[0].long_value = 7
        sub.publish(f"spBv1.0/{g}/NDEATH/fake", death.SerializeToString())
        wait_until(lambda: not host.state.nodes["fake"].online, 5, "offline")
        assert host.state.nodes["fake"].seq_gaps == 1
        assert host.stats.bad_messages >= 1
    finally:
        sub.close()
