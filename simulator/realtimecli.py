"""``heatrecovery bench --realtime``: the whole stack over real Modbus and OPC UA."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def run_realtime_bench(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from simulator.realtime import RealtimeResult, run_realtime_scada

    console = Console() if sys.stdout.isatty() else Console(width=160)
    rows: list[tuple[str, RealtimeResult]] = []
    for period in args.period:
        console.print(
            f"[bold]period {period:g} s[/]: {args.duration:g} s without SCADA load, then "
            f"{args.duration:g} s with {args.opcua_clients} OPC UA sessions ({args.security})"
        )
        idle, loaded = run_realtime_scada(period, args.duration, args.opcua_clients, args.security)
        rows += [(f"{period:g} s, no SCADA load", idle), (f"{period:g} s, SCADA load", loaded)]
    table = Table(title="Controller against the simulator over Modbus TCP, OPC UA served")
    for col in ("run", "cycles", "overruns", "cycle p50/p99/max ms", "jitter p50/p99/max ms",
                "CPU % core", "OPC UA read p50/p99 ms"):  # fmt: skip
        table.add_column(col, justify="left" if col == "run" else "right")
    for name, r in rows:
        clients: dict[str, Any] | None = r.extra.get("clients")
        rtt = f"{clients['rtt_ms']['p50']:.1f} / {clients['rtt_ms']['p99']:.1f}" if clients else "-"
        table.add_row(
            name,
            str(r.cycles),
            str(r.overruns),
            f"{r.duration_p50_ms:.1f} / {r.duration_p99_ms:.1f} / {r.duration_max_ms:.1f}",
            f"{r.jitter_p50_ms:.2f} / {r.jitter_p99_ms:.2f} / {r.jitter_max_ms:.2f}",
            f"{r.cpu_pct_of_core:.1f}",
            rtt,
        )
    console.print(table)
    console.print(
        "CPU is the controller process, OPC UA server thread included; the SCADA clients run "
        "in their own process, as they would on the utility's side."
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps([{"run": n, **r.as_dict()} for n, r in rows], indent=1) + "\n", "utf-8"
        )
        console.print(f"wrote {args.json}")
    return 0


def add_realtime_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("--realtime: the stack over real Modbus and OPC UA on loopback")
    g.add_argument("--realtime", action="store_true", help="run the real-time benchmark instead")
    g.add_argument(
        "--period",
        type=float,
        action="append",
        help="scan period (s), repeatable; default 1 and 0.1",
    )
    g.add_argument("--duration", type=float, default=60.0, help="seconds per measurement window")
    g.add_argument("--opcua-clients", type=int, default=20, help="concurrent SCADA sessions")
    g.add_argument("--security", choices=["none", "sign", "sign-encrypt"], default="sign-encrypt")


def add_soak_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("--soak: the daemon under hostile traffic and edits, accelerated")
    g.add_argument("--soak", action="store_true", help="run the soak benchmark instead")
    g.add_argument("--plant-minutes", type=float, default=15.0, help="soak length, plant time")
    g.add_argument("--speed", type=float, default=10.0, help="plant time / wall time")
    g.add_argument(
        "--restart-pause", type=float, default=0.0, help="stop half-way, restart after this (s)"
    )
