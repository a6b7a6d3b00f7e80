"""``heatrecovery demo``: the simulated plant and the controller on localhost, one command.

The same stack as docker-compose.yml, without containers: the simulator runs as a
child process serving Modbus TCP on the site file's field-bus port, and the
controller runs here exactly as ``heatrecovery run`` would, with metrics, the live
status view and the OPC UA server (the None security policy allowed, two users with
passwords made up for the run and printed). Everything binds 127.0.0.1 only.

Why the simulator is in its own session: Ctrl-C in the terminal must stop the
controller first, so that it can write its revert values to a plant that still
answers; the simulator is stopped afterwards. If this process dies without that
chance, the kernel's parent-death signal stops the simulator too (Linux).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from controller.config.sitefolder import add_site_argument, site_folder
from controller.config.tomlfile import ConfigError

METRICS = ("127.0.0.1", 9464)
OPCUA = ("127.0.0.1", 4840)
LOG_DIR = Path("var/log")
DEMO_LEDGER = Path("var/demo/energy-ledger.sqlite")
DEMO_OPCUA_DIR = Path("var/demo/opcua")
DEMO_USERS = (
    ("utility", "utility", "may write the DH setpoints and acknowledge alarms"),
    ("operator", "operator", "read, subscribe, history"),
)
PR_SET_PDEATHSIG = 1


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def wait_listening(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), 0.2):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_simulator(
    site: Path, host: str, port: int, speed: float, scenario: str, log_path: Path
) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out = log_path.open("ab")
    args = [
        sys.executable,
        "-m",
        "controller.cli",
        "simulator",
        "--site",
        str(site),
        "--host",
        host,
        "--port",
        str(port),
        "--speed",
        f"{speed:g}",
        "--scenario",
        scenario,
    ]
    try:
        return subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
    finally:
        out.close()


def stop_simulator(proc: subprocess.Popen[bytes]) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def demo_opcua_env() -> tuple[dict[str, str], list[tuple[str, str, str, str]]]:
    """OPC UA for the demo: loopback, the None policy allowed (so any client can try it
    without certificates), and two users with passwords made up for this run; only
    their hashes reach the settings, as in a real site file."""
    from controller.opcua.settings import hash_password

    users, entries = [], []
    for name, role, rights in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        users.append((name, password, role, rights))
        entries.append({"name": name, "role": role, "password_hash": hash_password(password)})
    env = {
        "HRC_OPCUA__ENABLED": "true",
        "HRC_OPCUA__HOST": OPCUA[0],
        "HRC_OPCUA__PORT": str(OPCUA[1]),
        "HRC_OPCUA__ALLOW_NONE_SECURITY": "true",
        "HRC_OPCUA__USERS": json.dumps(entries),
    }
    return env, users


def _demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    from controller.config.settings import load_site
    from controller.runtime import RunOptions, StartupError, serve, setup_logging

    console = Console()
    # The demo's plant runs at --speed; the controller's clock must run with it, and
    # its ledger must not mix accelerated demo energy into the site's real one.
    os.environ["HRC_SCAN__TIME_SCALE"] = f"{args.speed:g}"
    os.environ.setdefault("HRC_ACCOUNTING__LEDGER_PATH", str(DEMO_LEDGER.resolve()))
    os.environ.setdefault("HRC_OPCUA__DATA_DIR", str(DEMO_OPCUA_DIR.resolve()))
    opcua_env, users = demo_opcua_env()
    os.environ.update(opcua_env)
    try:
        folder = site_folder(args.site)
        site = load_site(folder.site_file)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    links = site.settings.fieldbus.links
    if len(links) != 1:
        print("the demo expects one field-bus link (the simulator's port)", file=sys.stderr)
        return 2
    mb_host, mb_port = links[0].host, links[0].port
    for what, host, port in (
        ("Modbus", mb_host, mb_port),
        ("metrics", *METRICS),
        ("OPC UA", *OPCUA),
    ):
        if not port_free(host, port):
            print(
                f"port {host}:{port} ({what}) is already in use: is another demo, "
                "simulator or controller running? Stop it and try again.",
                file=sys.stderr,
            )
            return 1
    sim_log = LOG_DIR / "simulator.log"
    console.print(f"starting the simulated plant ({args.scenario}, {args.speed:g}x) ...")
    sim = start_simulator(folder.root, mb_host, mb_port, args.speed, args.scenario, sim_log)
    try:
        if not wait_listening(mb_host, mb_port, sim, 20.0):
            tail = sim_log.read_text(errors="replace").splitlines()[-10:]
            print("the simulator did not start:\n" + "\n".join(tail), file=sys.stderr)
            return 1
        opts = RunOptions(
            duration_s=args.duration,
            metrics=METRICS,
            status=True,
            log_file=LOG_DIR / "controller.log",
            log_level=args.log_level,
            endpoints=[("plant simulator", f"Modbus TCP {mb_host}:{mb_port} (log {sim_log})")],
            opcua_notes=[
                (f"  user {name}", f"password {pw}  ({role}: {rights})")
                for name, pw, role, rights in users
            ],
        )
        setup_logging(opts)
        console.print(
            f"controller starting: OPC UA opc.tcp://{OPCUA[0]}:{OPCUA[1]}, metrics "
            f"http://{METRICS[0]}:{METRICS[1]}/metrics, Modbus {mb_host}:{mb_port}"
        )
        for name, pw, role, _ in users:
            console.print(f"  demo OPC UA user [bold]{name}[/] password [bold]{pw}[/] ({role})")
        try:
            daemon = asyncio.run(serve(site, opts, console))
        except StartupError as exc:
            print(f"cannot start: {exc}", file=sys.stderr)
            return 1
    finally:
        code = stop_simulator(sim)
    clean = daemon.stopped_cleanly
    console.print(
        (
            "[green]controller stopped cleanly[/]: outputs left at their revert values"
            if clean
            else "[red]controller did not stop cleanly[/]: see the log"
        )
        + f"; simulator exit code {code}. Logs in {LOG_DIR}/."
    )
    return 0 if clean else 1


def register_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the simulated plant and the controller on localhost with a live view",
        description="Starts `heatrecovery simulator` as a child process and the controller "
        "with metrics on http://127.0.0.1:9464 and the live status view. Ctrl-C stops both.",
    )
    add_site_argument(p, "--config")
    p.add_argument("--scenario", default="winter-steady", help="simulator scenario")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="plant seconds per wall second, for plant and controller (default 1: real time)",
    )
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--log-level", default="INFO")
    p.set_defaults(func=_demo)
