"""``heatrecovery bench``: every scenario, the project's controller against the baseline.

Registered through the ``heatrecovery.commands`` entry points like ``scenario``.
``--json``, ``--plots`` and ``--markdown`` write the figures, the PNGs and
docs/results.md; ``make results`` runs all three so the documentation is one
command from the code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from controller.config.sitefolder import add_site_argument
from controller.config.tomlfile import ConfigError

# The scenarios whose plots docs/results.md shows inline (all are written to --plots).
KEY_PLOTS = ("winter-steady", "ai-training", "summer-low-demand", "hp-trip", "dh-outage")


def _limits(site_path: Path | None) -> dict[str, float]:
    from simulator.runner import load_sim_site

    s = load_sim_site(site_path).site.settings
    return {
        "fws_setpoint": s.setpoints.fws_supply_temp,
        "fws_high": s.limits.fws_supply_high,
        "fws_limit": s.limits.fws_supply_high_high,
        "dh_band_k": s.limits.dh_supply_tolerance_k,
    }


def _run_bench(args: argparse.Namespace) -> int:
    if args.soak:
        from simulator.soak import run_soak_bench

        return run_soak_bench(args)
    if args.realtime:
        from simulator.realtimecli import run_realtime_bench

        args.period = args.period or [1.0, 0.1]
        return run_realtime_bench(args)
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from simulator.bench import run_bench, strip_series
    from simulator.benchreport import rich_table, rich_targets

    # Piped output (make results, CI logs) gets the whole table, not an 80-column squeeze.
    console = Console() if sys.stdout.isatty() else Console(width=220)
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()] if args.scenarios else None
    names = (names or []) + [str(f) for f in args.files] or None
    workers = args.workers if args.workers is not None else min(2, os.cpu_count() or 1)
    site = str(args.site) if args.site is not None else None
    try:
        if args.quiet:
            results = run_bench(names, workers, site=site)
        else:
            columns = (
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console, transient=True) as progress:
                n = len(names) if names else 0
                task = progress.add_task(
                    f"{n or 'all'} scenarios x 2 controllers, {workers} worker(s)", total=1.0
                )
                results = run_bench(
                    names, workers, lambda f: progress.update(task, completed=f), site=site
                )
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    console.print(rich_table(results))
    console.print(rich_targets(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(strip_series(results), indent=1) + "\n", encoding="utf-8")
        console.print(f"wrote {args.json}")
    plots: list[Path] = []
    if args.plots:
        from simulator.benchplots import plot_all

        plots = plot_all(results, args.plots, _limits(args.site))
        console.print(f"wrote {len(plots)} plots to {args.plots}/")
    if args.markdown:
        from simulator.benchdoc import results_markdown

        rel = os.path.relpath(args.plots, args.markdown.parent) if args.plots else None
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        previous = None
        if args.compare:
            try:
                previous = json.loads(args.compare.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                print(f"--compare {args.compare}: cannot read it ({exc})", file=sys.stderr)
                return 2
        page = results_markdown(results, rel, KEY_PLOTS, previous=previous)
        args.markdown.write_text(page, encoding="utf-8")
        console.print(f"wrote {args.markdown}")
    if args.readme:
        from simulator.benchdoc import update_headline

        new = update_headline(args.readme.read_text(encoding="utf-8"), results)
        if new is None:
            console.print(f"[yellow]{args.readme}: no bench headline markers; not updated[/]")
        else:
            args.readme.write_text(new, encoding="utf-8")
            console.print(f"updated the headline table in {args.readme}")
    return 0


def register_bench(sub: Any) -> None:
    from simulator.realtimecli import add_realtime_arguments, add_soak_arguments

    p = sub.add_parser(
        "bench",
        help="run every scenario with our controller and the baseline; KPI table, JSON, plots",
        description="Runs each scenario of the site (--site; default the reference) "
        "in-process (simulated time) with the project's controller and a conventional PLC "
        "baseline, computes the physical bound, and prints one KPI table with the target check.",
    )
    p.add_argument(
        "--scenarios", help="comma-separated scenario names or files (default: all of the site)"
    )
    p.add_argument(
        "files", nargs="*", type=Path, help="scenario files to run (besides --scenarios)"
    )
    add_site_argument(p)
    p.add_argument(
        "--workers", type=int, default=None, help="parallel processes (default: up to 2 cores)"
    )
    p.add_argument("--json", type=Path, help="write every figure (no time series) as JSON")
    p.add_argument("--plots", type=Path, help="write one PNG per scenario into this directory")
    p.add_argument("--markdown", type=Path, help="write the results page (e.g. docs/results.md)")
    p.add_argument("--readme", type=Path, help="regenerate the headline table between its markers")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--compare",
        type=Path,
        help="an earlier --json (e.g. the previous plant model) shown side by side in --markdown",
    )
    add_realtime_arguments(p)
    add_soak_arguments(p)
    p.set_defaults(func=_run_bench)
