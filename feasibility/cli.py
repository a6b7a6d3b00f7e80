"""``heatrecovery feasibility --site DIR [--study FILE]``: will heat recovery pay off here?"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register_feasibility(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "feasibility",
        help="technical and economic feasibility study of a site (a year, hourly)",
        description="A year of the plant at hourly resolution on the simulator's component "
        "models and the controller's dispatch, priced with the shipped cost catalogue and "
        "the site's [contract], for each party under each partnership model; sensitivities, "
        "break-even and a sizing sweep. Writes feasibility.md, feasibility.json and PNG plots.",
    )
    p.add_argument("--site", type=Path, default=None, help="site folder (default: shipped config/)")
    p.add_argument(
        "--study",
        type=Path,
        default=None,
        help="study file (default: DIR/feasibility.toml, else the shipped reference study)",
    )
    p.add_argument("--out", type=Path, default=Path("feasibility-report"), help="output folder")
    p.add_argument("--no-sweep", action="store_true", help="skip the sizing sweep")
    p.add_argument("--no-plots", action="store_true", help="no PNG plots")
    p.add_argument(
        "--benchmark",
        action="store_true",
        help="time a year of one design and a sweep of the study's designs; write nothing",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from controller.config.tomlfile import ConfigError

    try:
        from feasibility.case import CONFIG_DIR, build_case
    except ImportError as exc:
        print(f"feasibility needs the study extra: pip install 'heatrecovery[study]' ({exc})",
              file=sys.stderr)  # fmt: skip
        return 2

    site = args.site or CONFIG_DIR
    try:
        case = build_case(site, args.study)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"feasibility: {exc}", file=sys.stderr)
        return 2
    if args.benchmark:
        from feasibility.benchmark import benchmark

        benchmark(case)
        return 0
    from feasibility.runstudy import run_study

    run_study(case, args.out, with_sweep=not args.no_sweep, with_plots=not args.no_plots)
    return 0
