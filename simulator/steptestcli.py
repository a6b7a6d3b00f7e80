"""``heatrecovery steptest``: open-loop step tests on the simulated plant, with PI gains."""

from __future__ import annotations

import argparse

from controller.config.sitefolder import add_site_argument
from controller.config.tomlfile import ConfigError


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from simulator.runner import load_sim_site
    from simulator.steptest import reference_cases, run_step

    console = Console()
    try:
        cfg = load_sim_site(args.site).plant
    except ConfigError as exc:
        console.print(exc.render())
        return 2
    table = Table(title=f"Step tests on {cfg.name} (SIMC PI gains, output units per PV unit)")
    for col in ("loop", "K", "tau s", "theta s", "kp", "ki 1/s", "Ti s"):
        table.add_column(col, justify="left" if col == "loop" else "right")
    notes = []
    for case in reference_cases(args.split):
        r = run_step(cfg, case)
        notes.append(f"{r.loop}: {r.description}")
        table.add_row(
            r.loop,
            f"{r.gain:+.4g}",
            f"{r.tau_s:.0f}",
            f"{r.dead_time_s:.0f}",
            f"{r.kp:.4g}",
            f"{r.ki:.4g}",
            f"{r.kp / r.ki:.0f}" if r.ki else "-",
        )
    console.print(table)
    for note in notes:
        console.print(f"  {note}")
    return 0


def register_steptest(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("steptest", help="open-loop step tests on the simulated plant and PI gains")
    add_site_argument(p, "--config")
    p.add_argument(
        "--split", type=float, default=30.0, help="valve share of the FWS split range, %%"
    )
    p.set_defaults(func=_run)
