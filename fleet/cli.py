"""``heatrecovery fleet``: the central host, registered through the entry-point group."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

DEFAULT_CONFIG = Path("config/fleet.toml")


def register_fleet(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fleet",
        help="run the fleet host: Sparkplug B in, PostgreSQL historian, OPC UA for the utility",
        description="Consumes one Sparkplug B group from an MQTT broker, keeps every site's "
        "liveness, writes time series and the replicated energy ledger to PostgreSQL and serves "
        "Sites/<site>/ over OPC UA. SIGTERM or Ctrl-C stops it (STATE offline is published).",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"fleet file (default {DEFAULT_CONFIG} if present)",
    )
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--stats-file", type=Path, default=None, help="write the counters here as JSON")
    p.add_argument(
        "--stats-window",
        type=float,
        default=60.0,
        help="latency percentiles over this many recent seconds (default %(default)s)",
    )
    p.add_argument("--json", action="store_true", default=None, help="log as JSON lines")
    p.add_argument("--log-level", default="INFO")
    p.set_defaults(func=_fleet)


def _fleet(args: argparse.Namespace) -> int:
    import psycopg
    import structlog

    from controller.config.tomlfile import ConfigError
    from controller.logs import configure_logging
    from fleet.host import FleetHost
    from fleet.settings import load_fleet_settings

    configure_logging(json=args.json, level=args.log_level)
    log = structlog.get_logger("fleet")
    path = args.config
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    try:
        settings = load_fleet_settings(path)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    host = FleetHost(settings)
    try:
        host.start()
    except psycopg.Error as exc:
        print(f"fleet: database {_safe_dsn(settings.database.dsn)}: {exc}".strip(), file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"fleet: OPC UA on {settings.opcua.host}:{settings.opcua.port}: {exc}", file=sys.stderr
        )
        host.stop()
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    end = None if args.duration is None else time.monotonic() + args.duration
    next_stats = time.monotonic() + settings.stats_interval_s
    try:
        while not stop.wait(0.1):
            now = time.monotonic()
            if now >= next_stats:
                next_stats = now + settings.stats_interval_s
                summary = host.summary(args.stats_window)
                log.info("fleet.stats", **summary)
                if args.stats_file is not None:
                    _write_stats(args.stats_file, summary)
            if end is not None and now >= end:
                break
    finally:
        host.stop()
        if args.stats_file is not None:
            _write_stats(args.stats_file, host.summary(args.stats_window))
    return 0


def _safe_dsn(dsn: str) -> str:
    """The DSN for an error message: everything but the password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except Exception:
        return "(unparsable DSN)"
    parts.pop("password", None)
    return " ".join(f"{k}={v}" for k, v in parts.items())


def _write_stats(path: Path, summary: dict[str, object]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=1))
    tmp.replace(path)
