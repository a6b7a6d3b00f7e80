# ruff: noqa: PLC0415  (each process imports only what its role needs)
"""Load benchmark of the fleet (not a test): many sites, one broker, one fleet host.

Three phases:

1. Record: the simulator and a real controller (``heatrecovery run`` with
   ``[fleet]`` on) run the closed loop for ``--record`` seconds; a plain MQTT
   subscriber records the controller's Sparkplug births and data and rebuilds the
   per-cycle section 5 snapshots from them (cached in var/bench/).
2. Load: ``--sites`` edge nodes (``controller.fleet.edge.EdgeNode``, the daemon's
   own code) in ``--workers`` processes each replay the recording, one snapshot per
   second per site, staggered, stamped with the current time, into the local
   Mosquitto; ``heatrecovery fleet`` (a subprocess, OPC UA on) consumes them into
   PostgreSQL. Reported: end-to-end latency (snapshot time to committed in
   PostgreSQL) p50/p99 from the host's counters, messages/s through the host, CPU
   of the host, the edge processes, Mosquitto and the host's PostgreSQL backend,
   and the database size per site-day.
3. Outage: a controller against the simulator with its broker port closed (nothing
   listens) runs ``--outage`` seconds at a 100 ms scan: overruns and spooled
   messages from its stop record.

    .venv/bin/python bench/fleet_load.py                      # 50 sites, 60 s
    .venv/bin/python bench/fleet_load.py --sites 10 --duration 20 --outage 10
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent / "heatrecovery"
DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
CACHE = ROOT / "var" / "bench" / "fleet-recording.json"
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (children not included)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def pid_of(name: str) -> int | None:
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if (p / "comm").read_text().strip() == name:
                    return int(p.name)
            except OSError:
                continue
    return None


# ------------------------------------------------------------------------- recording
def site_file(tmp: Path, port: int, period: float, fleet: str) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from e2e import write_site

    path = write_site(tmp, port, period_s=period, time_scale=10.0)
    with path.open("a") as f:
        f.write("[fleet]\n" + fleet)
    return path


def record(seconds: float) -> list[dict[str, list[Any]]]:
    """Per-cycle section 5 snapshots of a real closed loop, rebuilt from its Sparkplug."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from controller.fleet import sparkplug as sp

    group = f"benchrec_{secrets.token_hex(3)}"
    msgs: list[tuple[str, Any]] = []
    c = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    c.on_message = lambda cl, u, m: msgs.append((m.topic, sp.decode(m.payload)))
    c.connect("127.0.0.1", 1883)
    c.subscribe(f"spBv1.0/{group}/#")
    c.loop_start()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        site = site_file(
            Path(tmp), port, 1.0,
            f'enabled = true\ngroup = "{group}"\nedge_node = "rec"\n'
            f'spool_path = "{tmp}/s.sqlite"\n',
        )  # fmt: skip
        sim = subprocess.Popen([str(BIN), "simulator", "--port", str(port), "--speed", "10"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(2.0)
        ctl = subprocess.Popen([str(BIN), "run", "--config", str(site), "--json"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(seconds)
        ctl.send_signal(signal.SIGTERM)
        ctl.wait(30)
        sim.send_signal(signal.SIGTERM)
        sim.wait(30)
    c.loop_stop()
    names: dict[int, tuple[str, int]] = {}
    state: dict[str, list[Any]] = {}
    frames: dict[int, dict[str, list[Any]]] = {}
    for topic, p in msgs:
        kind = topic.split("/")[2]
        for m in p.metrics:
            if "BIRTH" in kind:
                names[m.alias] = (m.name, m.datatype)
            name, dt = names.get(m.alias, (m.name, m.datatype))
            if not name or dt == sp.DataType.DATASET or "/" not in name:
                continue
            if name.startswith(("Node Control/", "Scan/", "Ledger/")):
                continue
            q = sp.get_properties(m).get("Quality", 192) if m.HasField("properties") else 192
            value = sp.get_value(m, dt)
            state[name] = [value, "BAD" if value is None else {64: "UNCERTAIN"}.get(q, "GOOD")]
        if kind in ("DDATA", "NDATA"):
            frames[p.timestamp] = dict(state)
    return [frames[t] for t in sorted(frames)]


# ------------------------------------------------------------------------- load
def worker(args: argparse.Namespace) -> None:
    """One process of edge nodes replaying the recording at 1 snapshot/s/site."""
    from controller.fieldbus.signals import Quality
    from controller.fleet.catalogue import build_catalogue
    from controller.fleet.edge import CycleSample, EdgeNode
    from controller.fleet.settings import FleetSettings
    from controller.logs import configure_logging
    from controller.opcua.model import Reading
    from controller.opcua.points import PlantShape

    configure_logging(level="WARNING")
    frames = json.loads(Path(args.recording).read_text())
    settings = FleetSettings(enabled=True, group=args.group)
    cat = build_catalogue(PlantShape(), settings.deadband_pct)
    sites = [f"site{i:03d}" for i in range(args.first, args.first + args.count)]
    edges = [
        EdgeNode(settings, s, cat, spool_path=Path(args.tmp) / s / "spool.sqlite") for s in sites
    ]
    for e in edges:
        e.start()
    t0 = time.monotonic()
    k = 0
    end = t0 + args.duration
    while time.monotonic() < end:
        # every site once a second, spread over the second
        for i, e in enumerate(edges):
            target = t0 + k + i / len(edges)
            time.sleep(max(0.0, target - time.monotonic()))
            now = time.time()
            frame = frames[(k + i * 7) % len(frames)]
            e.offer(CycleSample(now, {
                path: Reading(v, Quality[q], now) for path, (v, q) in frame.items()
            }))  # fmt: skip
        k += 1
    for e in edges:
        e.stop()
    print(json.dumps({"published": sum(e.stats.published for e in edges)}), flush=True)


def load(args: argparse.Namespace, frames_path: Path) -> dict[str, Any]:
    import psycopg

    group = f"bench_{secrets.token_hex(3)}"
    schema = f"bench_{secrets.token_hex(3)}"
    tmp = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    cfg = tmp / "fleet.toml"
    stats = tmp / "stats.json"
    cfg.write_text(
        f'host_id = "{group}-host"\ngroup = "{group}"\nstats_interval_s = 5.0\n'
        f'[database]\ndsn = "{DSN}"\nschema_name = "{schema}"\n'
        f'[opcua]\nhost = "127.0.0.1"\nport = {free_port()}\nallow_none_security = true\n'
        f'allow_anonymous = true\ndata_dir = "{tmp / "opcua"}"\n'
    )
    host_log = (tmp / "host.log").open("w")
    host = subprocess.Popen(
        [
            str(BIN),
            "fleet",
            "--config",
            str(cfg),
            "--stats-file",
            str(stats),
            "--json",
            "--stats-window",
            str(args.duration),
        ],
        stdout=host_log,
        stderr=subprocess.STDOUT,
    )
    end = time.monotonic() + 60
    while "fleet.host_online" not in (tmp / "host.log").read_text():
        if time.monotonic() > end or host.poll() is not None:
            raise SystemExit("the fleet host did not come online; see " + str(tmp / "host.log"))
        time.sleep(0.2)
    per = -(-args.sites // args.workers)
    workers = []
    for w in range(args.workers):
        first, count = w * per, min(per, args.sites - w * per)
        if count <= 0:
            break
        workers.append(subprocess.Popen(
            [sys.executable, __file__, "--worker", "--group", group,
             "--recording", str(frames_path), "--first", str(first), "--count", str(count),
             "--duration", str(args.duration + args.warmup + 5), "--tmp", str(tmp)],
            stdout=subprocess.PIPE, text=True,
        ))  # fmt: skip
    mosq = pid_of("mosquitto")
    time.sleep(args.warmup)  # births, site trees, metric ids
    with psycopg.connect(DSN, autocommit=True) as conn:
        backends = [
            int(r[0])
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'heatrecovery-fleet'"
            )
        ]
    s0 = json.loads(stats.read_text()) if stats.exists() else {"messages": 0, "samples_stored": 0}
    c0 = {
        "host": cpu_s(host.pid),
        "edges": sum(cpu_s(w.pid) for w in workers),
        "mosquitto": cpu_s(mosq) if mosq else 0.0,
        "postgres": sum(cpu_s(p) for p in backends),
    }
    t0 = time.monotonic()
    time.sleep(args.duration)
    dt = time.monotonic() - t0
    c1 = {
        "host": cpu_s(host.pid),
        "edges": sum(cpu_s(w.pid) for w in workers),
        "mosquitto": cpu_s(mosq) if mosq else 0.0,
        "postgres": sum(cpu_s(p) for p in backends),
    }
    time.sleep(6.0)  # the last stats interval
    s1 = json.loads(stats.read_text())
    for w in workers:
        w.wait(60)
    host.send_signal(signal.SIGTERM)
    host.wait(30)
    final = json.loads(stats.read_text())
    with psycopg.connect(DSN, autocommit=True) as conn:
        size = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
            "AND c.relkind IN ('r', 'p')",
            (schema,),
        ).fetchone()[0]
        span = conn.execute(
            f'SELECT extract(epoch FROM max(ts) - min(ts)), count(*) FROM "{schema}".samples'
        ).fetchone()
        if not args.keep:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    seconds = float(span[0] or 1.0)
    size = int(size)
    return {
        "sites": args.sites,
        "duration_s": round(dt, 1),
        "messages_per_s": round((s1["messages"] - s0["messages"]) / dt, 1),
        "samples_per_s": round((s1["samples_stored"] - s0["samples_stored"]) / dt, 1),
        "latency_p50_ms": s1["latency_p50_ms"],
        "latency_p99_ms": s1["latency_p99_ms"],
        "cpu_pct_of_one_core": {k: round(100 * (c1[k] - c0[k]) / dt, 1) for k in c0},
        "db_bytes": int(size),
        "db_rows": int(span[1]),
        "db_mb_per_site_day": round(size / args.sites / seconds * 86400 / 1e6, 1),
        "seq_gaps": final["seq_gaps"],
        "bad_messages": final["bad_messages"],
        "sites_online_at_end": s1["sites_online"],
        "host_log": str(tmp / "host.log"),
    }


# ------------------------------------------------------------------------- outage
def outage(seconds: float, period: float, fleet_on: bool = True) -> dict[str, Any]:
    """A real controller whose broker is unreachable: does the scan cycle notice?
    (``fleet_on=False``: the same run without the edge node, for comparison.)"""
    with tempfile.TemporaryDirectory() as tmp:
        port, dead = free_port(), free_port()
        site = site_file(
            Path(tmp), port, period,
            f'enabled = {str(fleet_on).lower()}\nedge_node = "cut-off"\n'
            f'spool_path = "{tmp}/s.sqlite"\n[fleet.mqtt]\nport = {dead}\n',
        )  # fmt: skip
        sim = subprocess.Popen([str(BIN), "simulator", "--port", str(port), "--speed", "10"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(2.0)
        ctl = subprocess.Popen(
            [str(BIN), "run", "--config", str(site), "--json", "--duration", str(seconds)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        out, _ = ctl.communicate(timeout=seconds + 60)
        sim.send_signal(signal.SIGTERM)
        sim.wait(30)
    recs = []
    for line in out.splitlines():
        try:
            recs.append(json.loads(line))
        except ValueError:
            continue
    stopped = next(r for r in recs if r.get("event") == "controller stopped")
    edge = next((r for r in recs if r.get("event") == "fleet.edge_stopped"), {})
    return {
        "scan_period_s": period,
        "cycles": stopped.get("cycles"),
        "overruns": stopped.get("overruns"),
        "jitter_p99_ms": stopped.get("jitter_p99_ms"),
        "duration_p99_ms": stopped.get("duration_p99_ms"),
        "spooled_messages": edge.get("spooled"),
        "connects": edge.get("connects"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sites", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=20.0, help="seconds before measuring")
    ap.add_argument("--record", type=float, default=90.0, help="seconds of closed loop to record")
    ap.add_argument("--outage", type=float, default=60.0, help="seconds with the broker gone")
    ap.add_argument(
        "--outage-periods",
        type=float,
        nargs="+",
        default=[1.0, 0.1],
        help="scan periods of the outage runs (each also run with [fleet] off)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the benchmark's database schema")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for a in ("--group", "--recording", "--tmp"):
        ap.add_argument(a, help=argparse.SUPPRESS)
    ap.add_argument("--first", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    if not CACHE.exists():
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        frames = record(args.record)
        CACHE.write_text(json.dumps(frames))
    print(f"recording: {len(json.loads(CACHE.read_text()))} snapshots ({CACHE})", flush=True)
    result: dict[str, Any] = {}
    if args.duration > 0:
        result["load"] = load(args, CACHE)
        print(json.dumps(result, indent=1), flush=True)
    if args.outage > 0:
        for period in args.outage_periods:
            result[f"broker_down_{period:g}s"] = outage(args.outage, period)
            result[f"fleet_off_{period:g}s"] = outage(args.outage, period, fleet_on=False)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
