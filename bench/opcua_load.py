"""Load benchmark of the OPC UA server (not a test): what SCADA load costs the scan cycle.

Setup: a ScadaServer in this process (its own thread, as in the daemon) fed by a
scan-like thread on monotonic deadlines, which each cycle burns a fixed slice of
CPU (standing in for the control core), builds a snapshot of every key and calls
``publish()``. The SCADA clients run in a separate process (they are remote in
reality): N sessions, each subscribed to 100 values at 1 s and reading the same
100 values at 5 Hz.

Two phases of equal length: idle (server running, no clients), then loaded.
Reported per phase: the scan thread's wake-up lateness, the duration of its fixed
CPU slice (inflation = GIL contention with the server thread), and the duration of
``publish()`` itself; under load also the clients' read round trip p50/p99.

    .venv/bin/python bench/opcua_load.py                      # 20 sessions, 1 s cycle
    .venv/bin/python bench/opcua_load.py --period 0.1 --duration 30

``--flood N`` replaces the SCADA load with a hostile one (issue 14): 4 anonymous
sessions without security, each sending Reads of N nodes back to back (100,000
in the attack that stalled the scan), reconnecting whenever the server drops
them. Reported as for the SCADA load, plus how many Reads were answered, refused
(BadTooManyOperations) or cut (connection closed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import Client, ua
from asyncua.crypto import cert_gen
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import UniformResourceIdentifier
from cryptography.x509.oid import ExtendedKeyUsageOID

from controller.fieldbus.signals import Quality
from controller.logs import configure_logging
from controller.opcua import (
    NAMESPACE_URI,
    PlantShape,
    Reading,
    ScadaProcess,
    ScadaServer,
    create_scada_server,
)
from controller.opcua.addressspace import Kind, PointDef, plant_points
from controller.opcua.passwords import hash_password
from controller.opcua.settings import OpcUaSettings, OpcUaUser

USER, PASSWORD = "utility", "bench-password"
CLIENT_URI = "urn:bench:scada"


# ---------------------------------------------------------------------------------------
# Server side: the scan-like publisher
# ---------------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q / 100 * (len(s) - 1)))]


def _calibrate(work_ms: float) -> int:
    """Loop count that takes ``work_ms`` of pure-Python CPU on an idle interpreter."""
    n = 10_000
    while True:
        t0 = time.perf_counter()
        _burn(n)
        dt = time.perf_counter() - t0
        if dt > 0.05:
            return max(1, int(n * work_ms / 1000 / dt))
        n *= 2


def _burn(n: int) -> int:
    acc = 0
    for i in range(n):
        acc += i * i % 7
    return acc


def _value(p: PointDef, i: int) -> Any:
    if p.kind is Kind.ANALOG:
        lo, hi = p.eu_range or (0.0, 100.0)
        return lo + (hi - lo) * ((i % 50) / 50.0) + 0.001 * (hash(p.path) % 100)
    if p.kind is Kind.ANALOG_ARRAY:
        return [60.0 - j + 0.01 * (i % 10) for j in range(p.length)]
    if p.kind is Kind.TWO_STATE:
        return i % 2 == 0
    if p.kind is Kind.MULTI_STATE:
        return i % len(p.states)
    if p.kind is Kind.STRING:
        return "RECOVERY" if i % 2 else "BYPASS"
    return i


@dataclass
class Phase:
    name: str
    lateness: list[float] = field(default_factory=list)
    work: list[float] = field(default_factory=list)
    publish: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    wall_s: float = 0.0


class ScanLoop(threading.Thread):
    def __init__(self, server: ScadaServer | ScadaProcess, period: float, loops: int) -> None:
        super().__init__(name="scan", daemon=True)
        self.server = server
        self.period = period
        self.loops = loops
        self.points = [p for p in plant_points(PlantShape()) if not p.path.startswith("Alarms/")]
        self.phase: Phase | None = None
        self.stop_flag = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic()
        i = 0
        while not self.stop_flag.is_set():
            deadline += self.period
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            late = time.monotonic() - deadline
            t0 = time.perf_counter()
            _burn(self.loops)
            t1 = time.perf_counter()
            now = time.time()
            snap = {p.path: Reading(_value(p, i), Quality.GOOD, now) for p in self.points}
            t2 = time.perf_counter()
            self.server.publish(snap)
            t3 = time.perf_counter()
            phase = self.phase
            if phase is not None:
                phase.lateness.append(late)
                phase.work.append(t1 - t0)
                phase.publish.append(t3 - t2)
            i += 1


def _measure(loop: ScanLoop, name: str, duration: float) -> Phase:
    phase = Phase(name)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    loop.phase = phase
    time.sleep(duration)
    loop.phase = None
    phase.cpu_s = time.process_time() - cpu0
    phase.wall_s = time.perf_counter() - wall0
    return phase


def _row(label: str, values: list[float], scale: float, unit: str) -> str:
    p50, p99, mx = (_pct(values, 50) * scale, _pct(values, 99) * scale, max(values) * scale)
    return f"  {label:<28} p50 {p50:9.3f}  p99 {p99:9.3f}  max {mx:9.3f} {unit}"


def _report_phase(ph: Phase) -> None:
    print(f"{ph.name}: {len(ph.publish)} cycles, controller process CPU {ph.cpu_s / ph.wall_s:.0%}")
    print(_row("scan wake-up lateness", ph.lateness, 1e3, "ms"))
    print(_row("scan fixed CPU slice", ph.work, 1e3, "ms"))
    print(_row("publish() call", ph.publish, 1e6, "µs"))


def run_bench(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="opcua-bench-"))
    settings = OpcUaSettings(
        host="127.0.0.1",
        port=args.port,
        allow_none_security=True,
        allow_anonymous=bool(args.flood),
        data_dir=tmp / "data",
        users=[OpcUaUser(name=USER, password_hash=hash_password(PASSWORD), role="utility")],
        max_sessions=max(50, args.sessions + 5),
        isolation=args.isolation,
    )
    loops = _calibrate(args.work_ms)
    server = create_scada_server(settings, PlantShape())
    server.start()
    scan = ScanLoop(server, args.period, loops)
    scan.start()
    try:
        time.sleep(min(3.0, args.duration / 5))
        idle = _measure(scan, "idle (no clients)", args.duration)
        cert_dir = tmp / "client"
        cmd = [
            sys.executable,
            __file__,
            "--client-process",
            server.endpoint_url,
            "--sessions",
            str(args.sessions),
            "--security",
            args.security,
            "--cert-dir",
            str(cert_dir),
            "--server-cert",
            str(server.certificate.cert_path if server.certificate else ""),
            "--flood",
            str(args.flood),
        ]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdin is not None and proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line != "READY":
            raise SystemExit(f"client process failed: {line!r}")
        time.sleep(2.0)  # subscriptions settle
        load = f"flood of {args.flood}-node Reads" if args.flood else "sessions"
        loaded = _measure(scan, f"loaded ({args.sessions} {load})", args.duration)
        proc.stdin.write("STOP\n")
        proc.stdin.flush()
        clients = json.loads(proc.stdout.readline())
        proc.wait(30)
    finally:
        scan.stop_flag.set()
        scan.join(5)
        stats = server.stats()
        server.stop()

    what = (
        f"{args.sessions} anonymous sessions x back-to-back Reads of {args.flood} nodes"
        if args.flood
        else f"{args.sessions} sessions x (100 values subscribed at 1 s + read at 5 Hz)"
    )
    print(
        f"OPC UA load: {what}, security {args.security}, server in a {args.isolation}, "
        f"switch interval {sys.getswitchinterval() * 1e3:g} ms, scan period "
        f"{args.period:g} s, fixed CPU slice "
        f"{args.work_ms:g} ms, {os.cpu_count()} CPUs"
    )
    _report_phase(idle)
    _report_phase(loaded)
    rtt = clients["rtt_ms"]
    print(
        f"clients: {clients['reads']} reads ({clients['reads_per_s']:.0f}/s), refused "
        f"{clients['refused']}, errors {clients['errors']}, read RTT p50 {rtt['p50']:.2f} ms "
        f"p99 {rtt['p99']:.2f} ms max "
        f"{rtt['max']:.2f} ms; {clients['notifications_per_s']:.0f} notifications/s; client "
        f"process CPU {clients['cpu']:.0%}"
    )
    print(
        f"server: {stats.applied}/{stats.published} snapshots applied, last apply "
        f"{stats.last_apply_ms:.2f} ms, sessions at end {stats.sessions}"
    )


# ---------------------------------------------------------------------------------------
# Client process
# ---------------------------------------------------------------------------------------


async def _flood_session(
    args: argparse.Namespace, paths: list[str], shared: dict[str, Any]
) -> None:
    """Back-to-back Reads of ``args.flood`` nodes; reconnect when dropped."""
    shared["ready"] += 1
    await shared["go"].wait()
    while not shared["stop"].is_set():
        client = Client(args.url, timeout=10)
        try:
            await client.connect()
            ns = await client.get_namespace_index(NAMESPACE_URI)
            base = [client.get_node(ua.NodeId(f"Plant/{p}", ns)) for p in paths]
            nodes = (base * (args.flood // len(base) + 1))[: args.flood]
            while not shared["stop"].is_set():
                t0 = time.perf_counter()
                try:
                    await client.read_values(nodes)
                    shared["rtt"].append(time.perf_counter() - t0)
                except ua.UaStatusCodeError:
                    shared["refused"] += 1
        except Exception:
            shared["errors"] += 1
            await asyncio.sleep(0.05)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 2.0)


async def _session(args: argparse.Namespace, paths: list[str], shared: dict[str, Any]) -> None:
    client = Client(args.url, timeout=10)
    client.set_user(USER)
    client.set_password(PASSWORD)
    if args.security != "none":
        client.application_uri = CLIENT_URI
        await client.set_security(
            SecurityPolicyBasic256Sha256,
            certificate=str(Path(args.cert_dir) / "cert.der"),
            private_key=str(Path(args.cert_dir) / "key.pem"),
            server_certificate=args.server_cert,
            mode=ua.MessageSecurityMode.SignAndEncrypt
            if args.security == "sign-encrypt"
            else ua.MessageSecurityMode.Sign,
        )
    await client.connect()

    class Handler:
        def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
            shared["notifications"] += 1

    try:
        ns = await client.get_namespace_index(NAMESPACE_URI)
        nodes = [client.get_node(ua.NodeId(f"Plant/{p}", ns)) for p in paths]
        sub = await client.create_subscription(1000, Handler())
        await sub.subscribe_data_change(nodes)
        shared["ready"] += 1
        await shared["go"].wait()
        tick = time.monotonic()
        while not shared["stop"].is_set():
            t0 = time.perf_counter()
            try:
                await client.read_values(nodes)
                shared["rtt"].append(time.perf_counter() - t0)
            except Exception:
                shared["errors"] += 1
            tick += 0.2
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
    finally:
        await client.disconnect()


def _make_client_cert(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    key = cert_gen.generate_private_key()
    cert = cert_gen.generate_self_signed_app_certificate(
        key,
        "bench",
        {"organizationName": "bench"},
        [UniformResourceIdentifier(CLIENT_URI)],
        extended=[ExtendedKeyUsageOID.CLIENT_AUTH],
        days=2,
    )
    (folder / "cert.der").write_bytes(cert.public_bytes(serialization.Encoding.DER))
    (folder / "key.pem").write_bytes(cert_gen.dump_private_key_as_pem(key))


async def _clients_main(args: argparse.Namespace) -> None:
    if args.security != "none" and not args.flood:
        _make_client_cert(Path(args.cert_dir))
    analog = [p.path for p in plant_points(PlantShape()) if p.kind is Kind.ANALOG]
    paths = analog[:100]
    shared: dict[str, Any] = {
        "ready": 0,
        "notifications": 0,
        "errors": 0,
        "refused": 0,
        "rtt": [],
        "go": asyncio.Event(),
        "stop": asyncio.Event(),
    }
    worker = _flood_session if args.flood else _session
    tasks = [asyncio.create_task(worker(args, paths, shared)) for _ in range(args.sessions)]
    while shared["ready"] < args.sessions:
        if any(t.done() for t in tasks):
            for t in tasks:
                if t.done() and t.exception():
                    print(f"ERROR {t.exception()!r}", flush=True)
                    return
        await asyncio.sleep(0.05)
    print("READY", flush=True)
    shared["go"].set()
    cpu0, t0, n0 = time.process_time(), time.perf_counter(), shared["notifications"]
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    notifications = shared["notifications"] - n0
    shared["stop"].set()
    await asyncio.gather(*tasks, return_exceptions=True)
    rtt = shared["rtt"]
    result = {
        "reads": len(rtt),
        "reads_per_s": len(rtt) / wall,
        "errors": shared["errors"],
        "refused": shared["refused"],
        "notifications_per_s": notifications / wall,
        "cpu": cpu / wall,
        "rtt_ms": {
            "p50": _pct(rtt, 50) * 1e3,
            "p99": _pct(rtt, 99) * 1e3,
            "max": max(rtt) * 1e3 if rtt else float("nan"),
            "mean": statistics.fmean(rtt) * 1e3 if rtt else float("nan"),
        },
    }
    print(json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per phase")
    parser.add_argument("--period", type=float, default=1.0, help="scan period (s)")
    parser.add_argument("--work-ms", type=float, default=5.0, help="scan CPU slice (ms)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--isolation", choices=["thread", "process"], default="thread")
    parser.add_argument(
        "--switch-interval", type=float, default=None, help="sys.setswitchinterval (s)"
    )
    parser.add_argument(
        "--security", choices=["none", "sign", "sign-encrypt"], default="sign-encrypt"
    )
    parser.add_argument(
        "--flood", type=int, default=0, help="hostile load: Reads of this many nodes"
    )
    parser.add_argument("--client-process", dest="url", help=argparse.SUPPRESS)
    parser.add_argument("--cert-dir", help=argparse.SUPPRESS)
    parser.add_argument("--server-cert", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.url:
        asyncio.run(_clients_main(args))
    else:
        configure_logging(json=False, level="ERROR", stream=sys.stderr)
        if args.switch_interval:
            sys.setswitchinterval(args.switch_interval)
        run_bench(args)


if __name__ == "__main__":
    main()
