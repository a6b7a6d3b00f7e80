"""``heatrecovery run`` and ``heatrecovery check-config``: the daemon's commands."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from controller.config.sitefolder import add_site_argument, site_folder
from controller.config.tomlfile import ConfigError


def _check(args: argparse.Namespace) -> int:
    from controller.config.settings import load_site
    from controller.core.core import ControlCore
    from controller.sitealarms import load_site_alarms, revert_values

    path = args.file or args.site
    try:
        site = load_site(site_folder(path).site_file)
        defs = load_site_alarms(site)
        ControlCore(site.settings, revert_values(site.regmap), defs)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 2
    s = site.settings
    print(f"{site.path}: OK")
    print(f"  site: {s.site.name}")
    print(f"  register map: {site.resolve(s.register_map)} ({len(site.regmap.devices)} devices)")
    print(f"  alarms: {len(defs)} from {site.resolve(s.alarms_file)} and the nameplate")
    p = s.plant
    print(
        f"  nameplate: {p.racks} rack(s) x {p.rack_power_kw:g} kW, {len(p.cdus)} CDU(s), "
        f"heat pump {p.hp_capacity_kw:g} kW, tank {p.tank_volume_m3:g} m3"
    )
    links = ", ".join(
        f"{link.name} {link.endpoint} ({len(link.devices)} devices)" for link in s.fieldbus.links
    )
    print(f"  field bus: {links}")
    print(f"  scan period: {s.scan.period_s:g} s")
    return 0


def _metrics_arg(text: str) -> tuple[str, int]:
    from controller.metrics import parse_hostport

    try:
        return parse_hostport(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}") from None


def _run(args: argparse.Namespace) -> int:
    from controller.config.settings import load_site
    from controller.runtime import RunOptions, StartupError, serve, setup_logging

    opts = RunOptions(
        duration_s=args.duration,
        metrics=args.metrics,
        status=args.status,
        log_file=args.log_file,
        json=args.json,
        log_level=args.log_level,
    )
    _, stream = setup_logging(opts)
    try:
        site = load_site(site_folder(args.site).site_file)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(site, opts))
    except StartupError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 1
    finally:
        if stream is not None:
            stream.close()
    return 0


def register_run(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the controller daemon")
    add_site_argument(p, "--config")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument(
        "--json", dest="json", action="store_true", default=None, help="JSON log lines"
    )
    fmt.add_argument("--console", dest="json", action="store_false", help="human-readable logs")
    p.add_argument("--log-level", default="INFO")
    p.add_argument(
        "--metrics",
        type=_metrics_arg,
        default=None,
        metavar="HOST:PORT",
        help="serve Prometheus /metrics and /healthz there (e.g. 127.0.0.1:9464)",
    )
    p.add_argument(
        "--status",
        action="store_true",
        help="live status view in the terminal; the log then goes to --log-file",
    )
    p.add_argument(
        "--log-file",
        type=Path,
        default=None,
        help="write the log to this file instead of stdout "
        "(default with --status: var/log/controller.log)",
    )
    p.set_defaults(func=_run)


def register_check(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-config", help="validate a site file without touching the plant")
    p.add_argument(
        "file", type=Path, nargs="?", default=None, help="site folder or file (same as --site)"
    )
    add_site_argument(p)
    p.set_defaults(func=_check)
