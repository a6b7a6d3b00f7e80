"""The live status view and the runtime around it, in-process against the simulator.

``serve`` is what ``heatrecovery run --status --metrics`` and ``heatrecovery demo``
run; here it drives an in-process daemon for a few seconds against the simulator
process, with the view drawn into a recording console instead of a terminal.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from pathlib import Path

import pytest
from e2e import free_port, start_simulator
from metrics_helpers import quick_site
from rich.console import Console

from controller.config.settings import load_site
from controller.runtime import RunOptions, StartupError, serve
from controller.statusview import RecentEvents, StatusView

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e"), pytest.mark.timeout(60)]


def test_status_view_shows_mode_temperatures_flows_alarms_and_endpoints(tmp_path: Path) -> None:
    port = free_port()
    sim = start_simulator(port)
    recent = RecentEvents()
    root = logging.getLogger()
    root.addHandler(recent)
    out = io.StringIO()
    console = Console(file=out, width=140, force_terminal=False, color_system=None)
    try:
        site = load_site(quick_site(tmp_path, port))
        opts = RunOptions(
            duration_s=3.0,
            metrics=("127.0.0.1", 0),
            status=True,
            endpoints=[("plant simulator", f"Modbus TCP 127.0.0.1:{port}")],
        )
        daemon = asyncio.run(serve(site, opts, console))
    finally:
        root.removeHandler(recent)
        sim.kill()
    assert daemon.stopped_cleanly and daemon.cycle.number >= 20
    view = StatusView(daemon, [("plant simulator", "x"), ("metrics", "y")], recent)
    t0 = time.perf_counter()
    rec = Console(width=140, record=True, file=io.StringIO(), color_system=None)
    rec.print(view.render())
    render_ms = (time.perf_counter() - t0) * 1000
    text = rec.export_text()
    for part in (
        "Mode",
        "FWS supply",
        "DH supply",
        "IT heat",
        "heat pump",
        "delivered",
        "dumped",
        "SOC",
        "alarms",
        "recent events",
        "plant simulator",
        "metrics",
    ):
        assert part in text, f"{part!r} missing from the view:\n{text}"
    assert str(daemon.last_output.status.mode) in text  # type: ignore[union-attr]
    assert render_ms < 100, f"one render took {render_ms:.1f} ms"
    # Not a terminal: one status line per interval instead of redrawn frames.
    assert "mode" in out.getvalue() and "FWS" in out.getvalue()
    assert str(daemon.last_output.status.mode) in view.line()  # type: ignore[union-attr]


def test_metrics_port_taken_is_a_clear_startup_error(tmp_path: Path) -> None:
    import socket

    site = load_site(quick_site(tmp_path, free_port()))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        opts = RunOptions(duration_s=0.5, metrics=("127.0.0.1", taken))
        with pytest.raises(StartupError, match=f"127.0.0.1:{taken}"):
            asyncio.run(serve(site, opts))
