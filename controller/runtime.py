"""The daemon with its optional companions: metrics, systemd, the live status view.

Shared by ``heatrecovery run`` and ``heatrecovery demo`` so the demo runs exactly
the code a gateway runs, with the same extensions, and only the simulator and the
terminal view added around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import structlog
from rich.console import Console

from controller.config.settings import LoadedSite
from controller.config.tomlfile import ConfigError
from controller.daemon import Daemon
from controller.fleet.attach import attach_fleet
from controller.logs import configure_logging
from controller.metrics import MetricsServer, attach_metrics
from controller.opcua.feed import attach_scada_background
from controller.opcua.launcher import check_port_free
from controller.statusview import RecentEvents, StatusView
from controller.systemd import attach_systemd

log = structlog.get_logger("controller")

DEFAULT_STATUS_LOG = Path("var/log/controller.log")


class StartupError(RuntimeError):
    """Something the person starting the controller can fix (a port already taken)."""


@dataclass
class RunOptions:
    duration_s: float | None = None
    metrics: tuple[str, int] | None = None
    status: bool = False
    log_file: Path | None = None
    json: bool | None = None
    log_level: str = "INFO"
    endpoints: list[tuple[str, str]] = field(default_factory=list)
    """Shown in the status view before the controller's own (e.g. the simulator)."""
    opcua_notes: list[tuple[str, str]] = field(default_factory=list)
    """Shown under the OPC UA endpoint (the demo's users)."""


def setup_logging(opts: RunOptions) -> tuple[RecentEvents | None, IO[str] | None]:
    """Logs for the audience: the terminal, or a file while the status view owns it.

    With the status view on screen, log lines on stdout or stderr would tear the
    view apart. They go to a file as readable text (JSON with ``--json``), and the
    view shows the warnings and plant events among them.
    """
    if not opts.status and opts.log_file is None:
        configure_logging(json=opts.json, level=opts.log_level)
        return None, None
    path = opts.log_file or DEFAULT_STATUS_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    stream = path.open("a", encoding="utf-8", buffering=1)
    configure_logging(json=bool(opts.json), level=opts.log_level, stream=stream)
    opts.log_file = path
    if not opts.status:
        return None, stream
    recent = RecentEvents()
    logging.getLogger().addHandler(recent)
    return recent, stream


def controller_endpoints(
    daemon: Daemon, metrics: MetricsServer | None, opts: RunOptions
) -> list[tuple[str, str]]:
    out = list(opts.endpoints)
    for link in daemon.settings.fieldbus.links:
        out.append((f"field bus ({link.name})", f"Modbus TCP {link.host}:{link.port}"))
    if metrics is not None:
        base = metrics.url.removesuffix("/metrics")
        out.append(("metrics", f"{base}/metrics   health: {base}/healthz"))
    acc = getattr(daemon, "accounting", None)
    if acc is not None:
        out.append(("energy ledger", str(acc.ledger.path)))
    if opts.log_file is not None:
        out.append(("log", str(opts.log_file)))
    return out


def attach_opcua(daemon: Daemon) -> list[tuple[str, str]]:
    """The utility's OPC UA server, when the site file enables ``[opcua]``.

    The scan cycle does not wait for it (``controller.opcua.launcher``): only a port
    that cannot be bound is refused here, at once, as a start-up error.
    """
    opc = daemon.settings.opcua
    if not opc.enabled or daemon.extension("opcua") is not None:
        return []
    try:
        check_port_free(opc.host, opc.port)
    except OSError as exc:
        raise StartupError(f"OPC UA on {opc.host}:{opc.port}: {exc.strerror or exc}") from exc
    attach_scada_background(daemon)
    security = "None and Basic256Sha256" if opc.allow_none_security else "Basic256Sha256"
    return [("OPC UA", f"{opc.endpoint_url}  (security {security})")]


async def serve(site: LoadedSite, opts: RunOptions, console: Console | None = None) -> Daemon:
    """Run the daemon until SIGTERM/SIGINT or ``duration_s``; return it, stopped."""
    recent = None
    if opts.status:
        recent = next(
            (h for h in logging.getLogger().handlers if isinstance(h, RecentEvents)), None
        )
    try:
        daemon = Daemon(site, duration_s=opts.duration_s)
    except ConfigError as exc:  # the alarm catalogue, read with the site
        raise StartupError(exc.render()) from None
    metrics = None
    ms = site.settings.metrics
    if opts.metrics is None and ms.enabled:
        opts.metrics = (ms.host, ms.port)
    if opts.metrics is not None:
        host, port = opts.metrics
        try:
            metrics = attach_metrics(daemon, host, port)
        except OSError as exc:
            raise StartupError(f"metrics on {host}:{port}: {exc.strerror or exc}") from exc
        log.info("metrics serving", url=metrics.url)
    try:
        opcua = attach_opcua(daemon)
        opts.endpoints = [*opts.endpoints, *opcua, *(opts.opcua_notes if opcua else [])]
    except StartupError:
        if metrics is not None:
            metrics.stop()
        raise
    attach_systemd(daemon)
    attach_fleet(daemon)
    daemon.install_signal_handlers()
    view_task = None
    if opts.status:
        view = StatusView(daemon, controller_endpoints(daemon, metrics, opts), recent, console)
        view_task = asyncio.create_task(view.run())
    try:
        await daemon.run()
    finally:
        daemon.request_stop()  # a --duration run ends without a signal: release the view
        if view_task is not None:
            with contextlib.suppress(Exception):
                await view_task
    return daemon
