"""Prometheus endpoint (``/metrics``) and health check (``/healthz``) of the daemon.

Why a thread of its own with a plain WSGI server, not the asyncio loop: a scrape
renders a few hundred series (a millisecond or two of CPU), and a slow or hostile
client must not hold up the scan cycle. The scan cycle's only cost is copying the
cycle's numbers into a ``Snapshot`` and one histogram observation; rendering
happens in the HTTP thread at scrape time, from the last published snapshot. That
per-cycle cost is measured and exported as ``heatrecovery_metrics_update_seconds``.

The series themselves are listed in ``controller.metricseries``.
"""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Histogram, make_wsgi_app

from controller.daemon import Extension
from controller.health import Health, assess
from controller.metricseries import PREFIX, PlantCollector
from controller.metricsettings import MetricsSettings
from controller.snapshot import Snapshot, SnapshotTaker

if TYPE_CHECKING:
    from controller.core.core import CoreOutput
    from controller.core.image import ProcessImage
    from controller.daemon import Daemon

SCAN_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


def parse_hostport(text: str, default_port: int = 9464) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST`` or ``:PORT`` (``--metrics`` on the command line)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    return host or "127.0.0.1", int(port)


class _CostMeter:
    """What metrics cost the scan cycle: count, sum and max of the per-cycle update."""

    __slots__ = ("count", "max_s", "sum_s")

    def __init__(self) -> None:
        self.count = 0
        self.sum_s = 0.0
        self.max_s = 0.0

    def add(self, seconds: float) -> None:
        self.count += 1
        self.sum_s += seconds
        self.max_s = max(self.max_s, seconds)

    @property
    def mean_us(self) -> float:
        return self.sum_s / self.count * 1e6 if self.count else 0.0


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: a 15 s scrape would bury the daemon's own log."""

    def log_message(self, format: str, *args: Any) -> None:
        return


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class MetricsServer:
    """The HTTP thread plus the scan-cycle hook that feeds it."""

    def __init__(self, daemon: Daemon, settings: MetricsSettings) -> None:
        self.settings = settings
        self.site_name = daemon.settings.site.name
        self.period_s = daemon.clock.period
        self.taker = SnapshotTaker(daemon)
        self.snapshot: Snapshot | None = None
        self.started_mono = time.monotonic()
        self.cost = _CostMeter()
        self.registry = CollectorRegistry(auto_describe=False)
        self.scan_hist = Histogram(
            f"{PREFIX}_scan_cycle_seconds",
            "Scan cycle duration: poll, control core, write, extensions",
            buckets=SCAN_BUCKETS,
            registry=self.registry,
        )
        self.jitter_hist = Histogram(
            f"{PREFIX}_scan_jitter_seconds",
            "How late a scan cycle started against its deadline",
            buckets=SCAN_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(PlantCollector(self))
        self._seen_cycles = 0
        self._httpd: _ThreadingServer | None = None
        self._thread: threading.Thread | None = None
        self.extension = Extension("metrics", on_cycle=self.on_cycle, on_stop=self._on_stop)

    # ----------------------------------------------------------------- scan side
    def on_cycle(self, daemon: Daemon, image: ProcessImage, out: CoreOutput) -> None:
        t0 = time.perf_counter()
        clock = daemon.clock
        completed = clock.k - clock.skipped
        if completed > self._seen_cycles and clock.durations:
            # This cycle's own duration is not known yet: observe the previous one.
            self._seen_cycles = completed
            self.scan_hist.observe(clock.durations[-1])
            if clock.jitters:
                self.jitter_hist.observe(clock.jitters[-1])
        self.period_s = clock.period
        self.snapshot = self.taker.take(daemon, image, out)
        self.cost.add(time.perf_counter() - t0)

    def _on_stop(self, daemon: Daemon) -> None:
        self.stop()

    # ----------------------------------------------------------------- HTTP side
    def health(self) -> Health:
        return assess(
            self.snapshot,
            time.monotonic(),
            self.started_mono,
            self.period_s,
            self.settings.stall_periods,
        )

    def wsgi_app(self) -> Callable[..., Iterable[bytes]]:
        metrics_app = make_wsgi_app(self.registry)

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "/")
            if path == "/healthz":
                h = self.health()
                body = json.dumps(h.body()).encode()
                status = "200 OK" if h.ok else "503 Service Unavailable"
                start_response(
                    status,
                    [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                )
                return [body]
            if path == "/metrics":
                return metrics_app(environ, start_response)
            if path == "/":
                start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
                return [b"heatrecovery controller: /metrics (Prometheus), /healthz\n"]
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]

        return app

    def start(self) -> None:
        """Bind and serve; raises OSError at once if the port is taken."""
        s = self.settings
        self.started_mono = time.monotonic()
        self._httpd = make_server(
            s.host, s.port, self.wsgi_app(), _ThreadingServer, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="metrics-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None

    @property
    def port(self) -> int:
        return self._httpd.server_port if self._httpd is not None else self.settings.port

    @property
    def url(self) -> str:
        host = self.settings.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{shown}:{self.port}/metrics"


def attach_metrics(
    daemon: Daemon, host: str = "0.0.0.0", port: int = 9464, *, stall_periods: float = 3.0
) -> MetricsServer:
    """Serve ``/metrics`` and ``/healthz`` for this daemon until it stops."""
    server = MetricsServer(
        daemon, MetricsSettings(host=host, port=port, stall_periods=stall_periods)
    )
    server.start()
    daemon.extensions.append(server.extension)
    return server
