"""``heatrecovery run`` and ``heatrecovery check-config``: the daemon's commands."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from controller.config.tomlfile import ConfigError

DEFAULT_SITE = Path("config/site.toml")


def _check(args: argparse.Namespace) -> int:
    from controller.config.settings import load_site
    from controller.core.alarms import load_alarm_catalogue
    from controller.core.core import ControlCore

    try:
        site = load_site(args.file)
        defs = load_alarm_catalogue(site.resolve(site.settings.alarms_file)).alarm
        reverts = {
            f"{d}.{p.name}": float(p.revert)
            for d in site.regmap.devices
            for p in site.regmap.points_of(d)
            if p.revert is not None
        }
        ControlCore(site.settings, reverts, defs)  # catches alarm sources the core lacks
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 2
    s = site.settings
    print(f"{args.file}: OK")
    print(f"  site: {s.site.name}")
    print(f"  register map: {site.resolve(s.register_map)} ({len(site.regmap.devices)} devices)")
    print(f"  alarms: {len(defs)} from {site.resolve(s.alarms_file)}")
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
        site = load_site(args.config)
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
    p.add_argument(
        "--config", type=Path, default=DEFAULT_SITE, help="site file (default %(default)s)"
    )
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
    p.add_argument("file", type=Path, help="site file, e.g. config/site.toml")
    p.set_defaults(func=_check)
