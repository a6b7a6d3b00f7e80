"""``heatrecovery simulator`` and ``heatrecovery scenario``: the simulator's commands.

Registered into the controller's CLI through the ``heatrecovery.commands`` entry
points, so a gateway install without the simulator has no such commands.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from controller.config.sitefolder import add_site_argument
from controller.config.tomlfile import ConfigError


def _fail(exc: ConfigError) -> int:
    print(exc.render(), file=sys.stderr)
    return 2


# ---------------------------------------------------------------- simulator (Modbus)
async def _serve(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.live import Live

    from simulator.runner import load_sim_site
    from simulator.shell import SimulatorShell, register_map_for
    from simulator.view import plant_table

    try:
        sim = load_sim_site(args.site)
        cfg = sim.plant
        regmap = register_map_for(cfg, sim.folder.plant_file)
        scenario = sim.scenario(args.scenario)
    except ConfigError as exc:
        return _fail(exc)
    shell = SimulatorShell(cfg, regmap, scenario, speed=args.speed, host=args.host, port=args.port)
    try:
        await shell.start()
    except OSError as exc:
        print(
            f"cannot listen on {args.host or cfg.modbus.host}:"
            f"{args.port or cfg.modbus.port}: {exc}",
            file=sys.stderr,
        )
        return 1
    console = Console()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(shell.stop()))
    ports = sorted({port for _, port in shell.endpoints.values()})
    host = next(iter(shell.endpoints.values()))[0]
    console.print(
        f"[bold]Plant simulator[/]: {cfg.name}; "
        f"scenario [cyan]{scenario.name}[/] at {args.speed:g}x\n"
        f"Modbus TCP on {host}:{', '.join(map(str, ports))}; unit ids: "
        + ", ".join(f"{d}={regmap.devices[d].unit_id}" for d in regmap.devices)
    )
    runner = asyncio.create_task(shell.run(args.duration))
    try:
        if args.show:
            with Live(plant_table(shell), console=console, refresh_per_second=2) as live:
                while not runner.done():
                    live.update(plant_table(shell))
                    await asyncio.sleep(1.0)
        await runner
    finally:
        await shell.stop()
    console.print(
        f"stopped at plant time {shell.plant.time / 3600:.2f} h; {shell.stats.plant_steps} steps, "
        f"{shell.stats.late_ticks} late ticks"
    )
    return 0


def _run_serve(args: argparse.Namespace) -> int:
    return asyncio.run(_serve(args))


def register_simulator(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulator", help="serve the simulated plant over Modbus TCP")
    add_site_argument(p, "--config")
    p.add_argument("--scenario", default="winter-steady", help="scenario name or file")
    p.add_argument("--speed", type=float, default=1.0, help="plant seconds per wall second")
    p.add_argument("--host", default=None, help="listen address (default from the plant file)")
    p.add_argument(
        "--port", type=int, default=None, help="Modbus port (default from the plant file)"
    )
    p.add_argument("--duration", type=float, default=None, help="stop after this many wall seconds")
    p.add_argument("--show", action="store_true", help="live view of the plant in the terminal")
    p.set_defaults(func=_run_serve)


# ---------------------------------------------------------------- scenario (in-process)
def _summary_rows(result: Any) -> list[tuple[str, str]]:
    k, e = result.kpis, result.energy_kwh

    def f(v: Any, fmt: str = "{:.2f}") -> str:
        return "n/a" if v is None else fmt.format(v)

    bal = result.balance
    return [
        (
            "simulated / wall time",
            f"{result.duration_s / 3600:.1f} h in {result.wall_s:.2f} s ({result.speedup:,.0f}x)",
        ),
        (
            "max FWS supply",
            f(k["fws_supply_max_c"], "{:.2f} °C")
            + f"   ({k['seconds_above_fws_limit']:.0f} s above limit)",
        ),
        ("DH supply within band", f(k["dh_supply_in_band_pct"], "{:.2f} % of injecting time")),
        (
            "delivered / demand",
            f"{e['delivered'] / 1000:.2f} / {e['demand'] / 1000:.2f} MWh   ("
            + f(k["delivered_vs_demand_pct"], "{:.1f} %")
            + ")",
        ),
        (
            "heat from IT / recovered",
            f"{e['it_heat'] / 1000:.2f} / {e['recovered'] / 1000:.2f} MWh",
        ),
        ("dumped to dry coolers", f"{e['rejected'] / 1000:.2f} MWh"),
        (
            "heat-pump electricity",
            f"{e['hp_electricity'] / 1000:.2f} MWh, seasonal COP " + f(k["seasonal_cop"]),
        ),
        (
            "aux electricity (fans, pumps)",
            f"{(e['fan_electricity'] + e['pump_electricity']) / 1000:.3f} MWh",
        ),
        ("heat-pump starts", f"{result.hp_starts} ({k['hp_starts_per_hour']:.2f}/h)"),
        ("valve travel", f"{result.valve_travel_pct:.0f} % (stroke sum)"),
        ("meter register", f"{e['meter_register_delta'] / 1000:.2f} MWh"),
        (
            "energy balance",
            f"in {bal['heat_in']:.1f} kWh, out {bal['heat_out']:.1f}, "
            f"stored {bal['stored_change']:+.1f}, residual {bal['relative_error']:.1e}",
        ),
        ("modes", ", ".join(f"{m} {h:.2f} h" for m, h in k["mode_hours"].items())),
    ]


def _run_scenario(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from simulator.runner import ClosedLoop, load_sim_site

    console = Console(stderr=False)
    try:
        sim = load_sim_site(args.site)
        scenario = sim.scenario(args.name)
        loop = ClosedLoop(
            scenario,
            plant_cfg=sim.plant,
            site=sim.site,
            controller=args.controller,
            through_registers=args.through_registers,
        )
    except ConfigError as exc:
        return _fail(exc)
    if args.quiet:
        result = loop.run()
    else:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"{scenario.name} ({args.controller})", total=1.0)
            result = loop.run(lambda frac: progress.update(task, completed=frac))
    headline = scenario.description.splitlines()[0] if scenario.description else ""
    table = Table(
        title=f"{scenario.name}: {headline}",
        show_header=False,
    )
    table.add_column("figure", style="bold")
    table.add_column("value")
    for name, value in _summary_rows(result):
        table.add_row(name, value)
    console.print(table)
    if args.json:
        data = result.to_json()
        Path(args.json).write_text(json.dumps(data, indent=1), encoding="utf-8")
        console.print(f"wrote {args.json}")
    return 0


def register_scenario(sub: argparse._SubParsersAction) -> None:
    from simulator.scenario import list_scenarios

    p = sub.add_parser(
        "scenario",
        help="run a scenario in-process (plant + controller core), faster than real time",
        description="Shipped scenarios: " + ", ".join(list_scenarios()) + ". A site folder "
        "with its own scenarios/ looks names up there.",
    )
    p.add_argument("name", help="scenario name (see above) or path to a scenario file")
    add_site_argument(p)
    p.add_argument(
        "--controller",
        choices=["ours", "baseline", "none"],
        default="ours",
        help="controller in the loop (baseline: a conventional PLC strategy)",
    )
    p.add_argument("--json", type=Path, help="write time series summary, KPIs and energy totals")
    p.add_argument(
        "--through-registers",
        action="store_true",
        help="encode/decode every value with the register map",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_run_scenario)
