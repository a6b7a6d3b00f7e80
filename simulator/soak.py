"""Soak benchmark (issue 14), not a test: the daemon under a hostile day, accelerated.

The controller daemon runs in this process against the simulator process (plant
time ``--speed`` times faster than wall time) with its OPC UA server, while a
separate chaos process (remote, as an attacker and the utility are):

* edits the site file every few seconds: good edits (setpoint, write limit, users)
  that must be applied, and bad ones (a wrong type, an unknown key, a changed OPC UA
  port) that must be refused, each bad one put right again after a while;
* sends garbage to the OPC UA port and to the plant's Modbus port, and holds
  bursts of half-open sockets;
* floods OPC UA: sessions sending back-to-back Reads of 1000 nodes (the most a
  request may hold) and Reads of 100,000 nodes (refused);
* plays the utility's SCADA: one session reading the heartbeat every second.

Reported, and judged: scan overruns (must be 0); the utility's reads (every one
served, none more than a few seconds apart); ledger energy against the meter's
register (the rows must hold the register's increase to the kWh). With
``--restart-pause`` the daemon is also stopped cleanly half-way and restarted
after that many seconds, which checks the energy delivered while it was down.

    heatrecovery bench --soak                          # 15 plant minutes at 10x
    heatrecovery bench --soak --plant-minutes 30 --restart-pause 4
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import logging
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from asyncua import Client, ua
from asyncua.client.ua_client import UaClientState

from controller.config.settings import load_site
from controller.daemon import Daemon, Extension
from controller.incidents import INCIDENTS
from controller.logs import configure_logging
from controller.opcua.addressspace import NAMESPACE_URI
from controller.opcua.feed import attach_scada_background
from controller.opcua.passwords import hash_password
from controller.opcua.uatyped import node_id
from simulator.realtime import Window, bench_site, free_port, start_simulator

ROOT = Path(__file__).resolve().parent.parent
PASSWORDS = {"utility": "soak-utility", "operator": "soak-operator"}
READ_EVERY_S = 1.0
ATTACKER = "127.0.0.2"
"""Where the hostile traffic comes from (any 127.x is local on Linux); the utility
reads from 127.0.0.1, as it would from another host than an attacker."""
MAX_READ_GAP_S = 5.0


# ---------------------------------------------------------------------------------------
# Site file
# ---------------------------------------------------------------------------------------


def set_key(text: str, section: str, key: str, value: str) -> str:
    """``key = value`` in ``[section]``, adding the section or the key if missing."""
    header = re.search(rf"^\[{re.escape(section)}\][^\n]*$", text, re.M)
    if header is None:
        return text.rstrip("\n") + f"\n[{section}]\n{key} = {value}\n"
    rest = re.search(r"^\[", text[header.end() :], re.M)
    stop = header.end() + (rest.start() if rest else len(text) - header.end())
    body = text[header.end() : stop]
    line = re.compile(rf"^{re.escape(key)}\s*=[^\n]*$", re.M)
    body = line.sub(f"{key} = {value}", body) if line.search(body) else f"\n{key} = {value}" + body
    return text[: header.end()] + body + text[stop:]


def users_toml(names: list[str], hashes: dict[str, str]) -> str:
    rows = [f'{{ name = "{n}", password_hash = "{hashes[n]}", role = "{n}" }}' for n in names]
    return f"users = [{', '.join(rows)}]"


def make_site(tmp: Path, modbus_port: int, opc_port: int, period: float, speed: float) -> Path:
    hashes = {u: hash_password(p) for u, p in PASSWORDS.items()}
    path = bench_site(tmp, modbus_port, period)
    text = path.read_text()
    text = set_key(text, "scan", "time_scale", f"{speed:g}")
    text = set_key(text, "accounting", "interval_s", "60")  # wall seconds: rows close often
    text = set_key(text, "accounting", "mismatch_max_missing_s", "20.0")
    # The ledger runs on wall time while the plant runs ``speed`` times faster: the
    # register rises ``speed`` times faster than a real meter could, and would be
    # judged an impossible jump (not billed) without this.
    text = set_key(text, "accounting", "meter_max_power_kw", f"{2000.0 * speed:g}")
    for key, value in (
        ("enabled", "true"),
        ("host", '"127.0.0.1"'),
        ("port", str(opc_port)),
        ("allow_none_security", "true"),
        ("data_dir", f'"{tmp / "opcua"}"'),
    ):
        text = set_key(text, "opcua", key, value)
    text = text.rstrip("\n") + "\n" + users_toml(["utility", "operator"], hashes) + "\n"
    path.write_text(text)
    path.with_suffix(".good").write_text(text)
    (tmp / "hashes.json").write_text(json.dumps(hashes))
    return path


# ---------------------------------------------------------------------------------------
# Chaos process
# ---------------------------------------------------------------------------------------


def from_address(client: Client, source_ip: str) -> None:
    """Make an asyncua client connect from ``source_ip``."""
    uac = client.uaclient

    async def connect_socket(host: str, port: int) -> None:
        uac._set_state(UaClientState.CONNECTING)
        await asyncio.wait_for(
            asyncio.get_running_loop().create_connection(
                uac._make_protocol, host, port, local_addr=(source_ip, 0)
            ),
            uac._timeout,
        )
        uac._set_state(UaClientState.SOCKET_OPEN)

    uac.connect_socket = connect_socket  # type: ignore[method-assign]


class Chaos:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.url = args.opcua
        self.site = Path(args.site)
        self.hashes: dict[str, str] = json.loads((self.site.parent / "hashes.json").read_text())
        self.stop = asyncio.Event()
        self.n: dict[str, int] = {
            "reads_ok": 0,
            "reads_failed": 0,
            "good_edits": 0,
            "bad_edits": 0,
            "garbage_opcua": 0,
            "garbage_modbus": 0,
            "half_open": 0,
            "flood_reads": 0,
            "flood_refused": 0,
            "flood_dropped": 0,
        }
        self.read_ms: list[float] = []
        self.ok_times: list[float] = []  # wall epoch of each served read
        self.failures: dict[str, int] = {}  # why the utility's reads failed
        self.rng = random.Random(14)

    async def run(self) -> dict[str, Any]:
        tasks = [
            asyncio.create_task(self.utility()),
            asyncio.create_task(self.edits()),
            asyncio.create_task(self.garbage()),
            asyncio.create_task(self.flood(1000)),
            asyncio.create_task(self.flood(1000)),
            asyncio.create_task(self.flood(100_000)),
        ]
        await asyncio.sleep(self.args.duration)
        self.stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        reads = sorted(self.read_ms)
        return {
            **self.n,
            "read_p50_ms": round(reads[len(reads) // 2], 1) if reads else None,
            "read_p99_ms": round(reads[int(0.99 * (len(reads) - 1))], 1) if reads else None,
            "read_max_ms": round(reads[-1], 1) if reads else None,
            "ok_times": self.ok_times,
            "read_failures": self.failures,
        }

    async def utility(self) -> None:
        client: Client | None = None
        while not self.stop.is_set():
            t0 = time.perf_counter()
            stage = "connect"
            try:
                if client is None:
                    client = Client(self.url, timeout=4)
                    client.set_user("utility")
                    client.set_password(PASSWORDS["utility"])
                    await client.connect()
                stage = "read"
                ns = await client.get_namespace_index(NAMESPACE_URI)
                beat = client.get_node(node_id("Plant/Status/Heartbeat", ns))
                await beat.read_value()
                self.n["reads_ok"] += 1
                self.read_ms.append((time.perf_counter() - t0) * 1e3)
                self.ok_times.append(time.time())
            except Exception as exc:
                self.n["reads_failed"] += 1
                why = f"{stage}: {type(exc).__name__}"
                self.failures[why] = self.failures.get(why, 0) + 1
                if client is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(client.disconnect(), 2.0)
                client = None
            await asyncio.sleep(READ_EVERY_S)
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 2.0)

    async def edits(self) -> None:
        good = self.site.read_text()
        both, util = (users_toml(n, self.hashes) for n in (["utility", "operator"], ["utility"]))
        i = 0
        while not self.stop.is_set():
            await asyncio.sleep(3.0)
            i += 1
            text = good
            if i % 2:  # a good edit: the daemon must apply it
                text = set_key(
                    text, "setpoints", "fws_supply_temp", "34.5" if i % 4 == 1 else "35.0"
                )
                text = set_key(text, "limits", "dh_supply_max", "88.0" if i % 4 == 1 else "90.0")
                text = text.replace(both, util) if i % 4 == 1 else text.replace(util, both)
                good = text
                self.site.with_suffix(".good").write_text(good)  # for a restart
                self.n["good_edits"] += 1
            else:  # a bad one: refused, then put right
                bad = i // 2 % 3
                if bad == 0:
                    text = set_key(text, "setpoints", "fws_supply_temp", '"warm"')
                elif bad == 1:
                    text = set_key(text, "setpoints", "no_such_setting", "1")
                else:
                    text = set_key(text, "opcua", "port", str(free_port()))
                self.n["bad_edits"] += 1
            self.site.write_text(text)
            if not i % 2:
                await asyncio.sleep(2.5)
                self.site.write_text(good)

    async def garbage(self) -> None:
        host, port = self.url.removeprefix("opc.tcp://").rsplit(":", 1)
        targets = [("opcua", (host, int(port))), ("modbus", ("127.0.0.1", self.args.modbus_port))]
        k = 0
        while not self.stop.is_set():
            k += 1
            for name, addr in targets:
                await asyncio.to_thread(
                    self._send, addr, self.rng.randbytes(self.rng.randint(8, 4096))
                )
                self.n[f"garbage_{name}"] += 1
            if k % 20 == 0:  # a burst of half-open sockets, held for 4 s
                socks = await asyncio.to_thread(self._half_open, targets[0][1], 30)
                self.n["half_open"] += len(socks)
                await asyncio.sleep(4.0)
                for s in socks:
                    s.close()
            await asyncio.sleep(0.5)

    @staticmethod
    def _send(addr: tuple[str, int], payload: bytes) -> None:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(addr, timeout=1.0, source_address=(ATTACKER, 0)) as s,
        ):
            s.sendall(payload)
            s.settimeout(0.5)
            with contextlib.suppress(OSError):
                s.recv(1024)

    @staticmethod
    def _half_open(addr: tuple[str, int], n: int) -> list[socket.socket]:
        out = []
        for _ in range(n):
            s = socket.socket()
            with contextlib.suppress(OSError):
                s.bind((ATTACKER, 0))
                s.connect(addr)
                out.append(s)
        return out

    async def flood(self, nodes: int) -> None:
        while not self.stop.is_set():
            client = Client(self.url, timeout=10)
            from_address(client, ATTACKER)
            client.set_user("operator")
            client.set_password(PASSWORDS["operator"])
            try:
                await client.connect()
                ns = await client.get_namespace_index(NAMESPACE_URI)
                base = client.get_node(node_id("Plant/HeatPump/COP", ns))
                while not self.stop.is_set():
                    try:
                        await client.read_values([base] * nodes)
                        self.n["flood_reads"] += 1
                    except ua.UaStatusCodeError:
                        self.n["flood_refused"] += 1
            except Exception:
                self.n["flood_dropped"] += 1
                await asyncio.sleep(0.2)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.disconnect(), 2.0)


# ---------------------------------------------------------------------------------------
# Daemon side
# ---------------------------------------------------------------------------------------


class FirstRegister:
    """The first meter register reading the accounting took (its baseline).

    Any usable reading, GOOD or UNCERTAIN (recent, not refreshed this cycle), as the
    accounting takes it: waiting for GOOD took a later reading and called the kWh
    in between a ledger error (a restart soak failed by exactly 1.0 kWh).
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self.value: float | None = None

    def on_cycle(self, daemon: Daemon, image: Any, out: Any) -> None:
        v = image.get(self.key)  # None when BAD or missing
        if self.value is None and v is not None:
            self.value = float(v)


class GcPauses:
    """Garbage-collection pauses in this process, by generation (for overrun causes)."""

    def __init__(self) -> None:
        self._t0 = 0.0
        self.count = [0, 0, 0]
        self.max_ms = [0.0, 0.0, 0.0]
        self.total_ms = [0.0, 0.0, 0.0]

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
            return
        gen = info["generation"]
        ms = (time.perf_counter() - self._t0) * 1000.0
        self.count[gen] += 1
        self.total_ms[gen] += ms
        self.max_ms[gen] = max(self.max_ms[gen], ms)

    def summary(self) -> dict[str, Any]:
        return {
            f"gen{g}": {
                "collections": self.count[g],
                "max_ms": round(self.max_ms[g], 1),
                "total_ms": round(self.total_ms[g], 1),
            }
            for g in range(3)
        }


class Run:
    """One daemon run in this process, with the OPC UA server it serves."""

    def __init__(self, site: Path) -> None:
        loaded = load_site(site)
        self.daemon = Daemon(loaded)
        self.mark = FirstRegister(f"{loaded.settings.roles.heatmeter}.energy")
        self.daemon.extensions.append(Extension("soak-register", on_cycle=self.mark.on_cycle))
        attach_scada_background(self.daemon)  # as `heatrecovery run`: beside the scan
        self.gc = GcPauses()
        gc.callbacks.append(self.gc)
        self.started = time.time()  # serving from here
        self.task = asyncio.create_task(self.daemon.run())
        self.window = Window(self.daemon)

    async def stop(self) -> dict[str, Any]:
        result = self.window.close()
        self.daemon.request_stop()
        await self.task
        self.stopped = time.time()
        gc.callbacks.remove(self.gc)
        out = self.daemon.last_output
        return {
            "cycles": result.cycles,
            "overruns": result.overruns,
            "cycle_p99_ms": round(result.duration_p99_ms, 2),
            "jitter_p99_ms": round(result.jitter_p99_ms, 2),
            "jitter_max_ms": round(result.jitter_max_ms, 2),
            "cpu_pct_of_core": round(result.cpu_pct_of_core, 1),
            "mode_at_end": str(out.status.mode) if out else None,
            "gc_pauses": self.gc.summary(),
        }


def ledger_check(path: Path, first_register: float | None, last_start: float) -> dict[str, Any]:
    """Rows against the register, up to the last closed interval. ``last_start``: when
    the last run started; an interval must have closed after it, or a restart's
    energy would go unchecked."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        rows = db.execute(
            'SELECT start, meter_kwh, gap_meter_kwh, register_kwh, flags, "end" FROM intervals'
            " ORDER BY start"
        ).fetchall()
    placed = sum((r[1] or 0.0) + (r[2] or 0.0) for r in rows)
    marks = [r[3] for r in rows if r[3] is not None]
    if not marks or first_register is None:
        return {"rows": len(rows), "ok": False, "why": "no closed interval with a register mark"}
    if not any(r[5] > last_start and r[3] is not None for r in rows):
        return {"rows": len(rows), "ok": False, "why": "no interval closed in the last run"}
    delta = marks[-1] - first_register
    return {
        "rows": len(rows),
        "register_first_kwh": first_register,
        "register_last_mark_kwh": marks[-1],
        "register_delta_kwh": round(delta, 3),
        "ledger_kwh": round(placed, 3),
        "difference_kwh": round(placed - delta, 3),
        "gap_rows": sum(1 for r in rows if (r[2] or 0.0) != 0.0),
        "ok": abs(placed - delta) < 1.0,
    }


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    modbus_port, opc_port = free_port(), free_port()
    sim = start_simulator(modbus_port, speed=args.speed)
    site = make_site(tmp, modbus_port, opc_port, args.period, args.speed)
    wall = args.plant_minutes * 60.0 / args.speed
    chaos_cmd = [
        sys.executable,
        "-m",
        "simulator.soak",
        "--chaos",
        "--opcua",
        f"opc.tcp://127.0.0.1:{opc_port}",
        "--modbus-port",
        str(modbus_port),
        "--site",
        str(site),
        "--duration",
        str(wall + (args.restart_pause or 0.0)),
    ]
    runs: list[dict[str, Any]] = []
    up: list[tuple[float, float]] = []  # wall windows the daemon served
    first: float | None = None
    chaos: subprocess.Popen[str] | None = None
    try:
        run = Run(site)
        first_run = run
        chaos = subprocess.Popen(chaos_cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)  # noqa: ASYNC220
        halves = [wall / 2, wall / 2] if args.restart_pause else [wall]
        for k, span in enumerate(halves):
            if k:
                await asyncio.sleep(args.restart_pause)
                # A restart reads the file as it is: not half-way through a bad edit
                # (a changed port would be taken, and the utility would look elsewhere).
                good = site.with_suffix(".good")
                if good.exists():
                    site.write_text(good.read_text())
                run = Run(site)
            await asyncio.sleep(span)
            runs.append(await run.stop())
            up.append((run.started, run.stopped))
            runs[-1]["incidents"] = {
                f"{s}: {c}": n for (s, c), n in sorted(INCIDENTS.counts().items())
            }
            INCIDENTS.clear()
        first = first_run.mark.value
        out, _ = await asyncio.to_thread(chaos.communicate, timeout=120)
        chaos_result = json.loads(out.strip().splitlines()[-1])
    finally:
        if chaos is not None and chaos.poll() is None:
            chaos.kill()
        if sim.poll() is None:
            sim.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                sim.wait(10)
    chaos_result["longest_gap_s"] = longest_gap(chaos_result.pop("ok_times"), up)
    ledger = ledger_check(tmp / "ledger.sqlite", first, up[-1][0])
    return {
        "plant_minutes": args.plant_minutes,
        "speed": args.speed,
        "period_s": args.period,
        "restart_pause_s": args.restart_pause,
        "runs": runs,
        "chaos": chaos_result,
        "ledger": ledger,
    }


def longest_gap(ok_times: list[float], up: list[tuple[float, float]]) -> float | None:
    """Longest wait between served reads while the daemon was up, from its first read
    (the server is a few seconds starting; a restart's downtime is not the server's)."""
    worst = 0.0
    for start, stop in up:
        served = [t for t in ok_times if start <= t <= stop]
        if not served:
            return None
        edges = [*served, stop - READ_EVERY_S]
        worst = max(worst, *(b - a for a, b in itertools.pairwise(edges)))
    return round(worst, 2)


def verdict(r: dict[str, Any]) -> list[str]:
    c = r["chaos"]
    problems = []
    overruns = sum(run["overruns"] for run in r["runs"])
    if overruns:
        problems.append(f"{overruns} scan overruns")
    gap = c["longest_gap_s"]
    if gap is None or gap > MAX_READ_GAP_S:
        problems.append(
            f"SCADA not served throughout: longest wait between served reads {gap} s "
            f"(limit {MAX_READ_GAP_S:g} s), {c['reads_failed']} failed reads"
        )
    if not r["ledger"]["ok"]:
        problems.append(f"ledger does not match the register: {r['ledger']}")
    return problems


def run_soak_bench(args: argparse.Namespace) -> int:
    """``heatrecovery bench --soak``: run, print the figures and the verdict."""
    args.period = args.period[0] if args.period else 0.1
    log_path = Path(tempfile.gettempdir()) / f"soak-{os.getpid()}.log"
    with log_path.open("a", buffering=1) as log_file:
        configure_logging(json=True, level="INFO", stream=log_file)
        result = asyncio.run(soak(args))
    result["daemon_log"] = str(log_path)
    with log_path.open() as f:
        result["daemon_log_lines"] = sum(1 for _ in f)
    print(json.dumps(result, indent=1))
    problems = verdict(result)
    print("PASS" if not problems else "FAIL: " + "; ".join(problems))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0 if not problems else 1


def _chaos_main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chaos", action="store_true")
    parser.add_argument("--opcua", required=True)
    parser.add_argument("--modbus-port", type=int, required=True)
    parser.add_argument("--site", required=True)
    parser.add_argument("--duration", type=float, required=True)
    args = parser.parse_args()
    with contextlib.suppress(OSError):
        os.nice(5)
    # The attackers' own client errors (refused, cut) are expected: not shown.
    configure_logging(json=True, level="CRITICAL", stream=sys.stderr)
    logging.getLogger("asyncua").setLevel(logging.CRITICAL + 10)
    print(json.dumps(asyncio.run(Chaos(args).run())), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_chaos_main())
