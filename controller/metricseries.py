"""What ``/metrics`` exports: the series, their names and labels, rendered from a snapshot.

The plant's values are the rows of the site's signal table that name a metric
(``controller.signaltable``): a labelled family or a gauge of their own. Kept
apart from the HTTP server so the series read as one table, and so
the tests can render it from a constructed snapshot (the Grafana dashboard and the
alert rules are checked against exactly what this produces).

Series are labelled by signal rather than one metric name per value, so a Grafana
panel shows "all temperatures" with one query. A value the controller does not
trust this cycle (None) is left out of the scrape rather than exported as a
number: Prometheus then shows a gap, which is the truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from controller import __version__
from controller.core.interlocks import Interlock
from controller.core.modes import Mode
from controller.health import Health
from controller.incidents import INCIDENTS
from controller.signaltable import FAMILIES, SIGNALS, Signal
from controller.snapshot import PRIORITIES, Snapshot

PREFIX = "heatrecovery"


class CostMeter(Protocol):
    count: int
    sum_s: float
    max_s: float


class Source(Protocol):
    """What the collector reads: the metrics server, or a stand-in in tests.

    Read-only members: the collector never writes them, so a source may hold a
    more specific type (the server's own cost meter).
    """

    @property
    def snapshot(self) -> Snapshot | None: ...
    @property
    def site_name(self) -> str: ...
    @property
    def cost(self) -> CostMeter: ...

    def health(self) -> Health: ...


def _gauge(name: str, doc: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=list(labels))


def _counter(name: str, doc: str, labels: Iterable[str] = ()) -> CounterMetricFamily:
    return CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=list(labels))


class PlantCollector(Collector):
    """Renders the last snapshot at scrape time (in the HTTP thread)."""

    def __init__(self, server: Source, table: Sequence[Signal] = SIGNALS) -> None:
        self.server = server
        self.families: dict[str, list[tuple[str, list[str]]]] = {name: [] for name in FAMILIES}
        self.singles: list[tuple[str, str, str]] = []
        for sig in table:
            m = sig.metric
            if m is None:
                continue
            if m.labels:
                self.families[m.name].append((sig.key, list(m.labels)))
            else:
                self.singles.append((sig.key, m.name, m.help))

    def collect(self) -> Iterator[Metric]:
        srv = self.server
        snap = srv.snapshot
        health = srv.health()
        g = _gauge("healthy", "1 when /healthz answers 200")
        g.add_metric([], 1.0 if health.ok else 0.0)
        yield g
        info = _gauge("build_info", "Software version and site", ["version", "site"])
        info.add_metric([__version__, srv.site_name], 1.0)
        yield info
        cost = SummaryMetricFamily(
            f"{PREFIX}_metrics_update_seconds",
            "Time the scan cycle spends publishing metrics (per cycle)",
            count_value=srv.cost.count,
            sum_value=srv.cost.sum_s,
        )
        yield cost
        g = _gauge("metrics_update_max_seconds", "Longest per-cycle metrics update")
        g.add_metric([], srv.cost.max_s)
        yield g
        if health.last_cycle_age_s is not None:
            g = _gauge("scan_last_cycle_age_seconds", "Time since the last completed scan cycle")
            g.add_metric([], health.last_cycle_age_s)
            yield g
        yield from self._incidents()
        if snap is None:
            return
        yield from self._scan(snap)
        yield from self._process(snap)
        yield from self._loops(snap)
        yield from self._state(snap)
        yield from self._comms(snap)
        yield from self._energy(snap)

    @staticmethod
    def _scan(snap: Snapshot) -> Iterator[Metric]:
        g = _gauge("scan_period_seconds", "Configured scan period")
        g.add_metric([], snap.period_s)
        yield g
        for name, doc, value in (
            ("scan_cycles", "Scan cycles completed", snap.cycles),
            ("scan_overruns", "Scan cycles that ended after the next deadline", snap.overruns),
            ("scan_skipped_deadlines", "Deadlines skipped after overruns", snap.skipped_deadlines),
        ):
            c = _counter(name, doc)
            c.add_metric([], float(value))
            yield c

    def _process(self, snap: Snapshot) -> Iterator[Metric]:
        v = snap.values
        for name, members in self.families.items():
            doc, labels = FAMILIES[name]
            fam = _gauge(name, doc, labels)
            for key, label_values in members:
                value = v.get(key)
                if value is not None:
                    fam.add_metric(label_values, float(value))
            yield fam
        for key, name, doc in self.singles:
            value = v.get(key)
            if value is not None:
                g = _gauge(name, doc)
                g.add_metric([], float(value))
                yield g

    @staticmethod
    def _loops(snap: Snapshot) -> Iterator[Metric]:
        lo = _gauge("loop_output", "Outputs of the control loops (status.loops)", ["loop"])
        for name, value in snap.loops.items():
            if value is not None:
                lo.add_metric([name], float(value))
        yield lo

    @staticmethod
    def _state(snap: Snapshot) -> Iterator[Metric]:
        m = _gauge("mode", "1 for the supervisory mode in force", ["mode"])
        for mode in Mode:
            m.add_metric([str(mode)], 1.0 if str(mode) == snap.mode else 0.0)
        yield m
        code = _gauge(
            "mode_code",
            "Mode as a number: "
            + ", ".join(f"{mode.code}={mode}" for mode in sorted(Mode, key=lambda x: x.code)),
        )
        code.add_metric([], float(snap.mode_code))
        yield code
        il = _gauge("interlock_latched", "1 while a safety interlock is latched", ["interlock"])
        for i in Interlock:
            il.add_metric([str(i)], 1.0 if str(i) in snap.interlocks else 0.0)
        yield il
        al = _gauge("alarms_active", "Alarms on the active list, by priority", ["priority"])
        for p in PRIORITIES:
            al.add_metric([p], float(snap.alarms_by_priority.get(p, 0)))
        yield al
        for name, doc, value in (
            ("alarms_unacknowledged", "Alarms waiting for an operator", snap.alarms_unacked),
            ("alarms_shelved", "Shelved alarms", snap.alarms_shelved),
            (
                "degraded_reasons",
                "Number of reasons the plant is DEGRADED",
                len(snap.degraded_reasons),
            ),
        ):
            g = _gauge(name, doc)
            g.add_metric([], float(value))
            yield g

    @staticmethod
    def _comms(snap: Snapshot) -> Iterator[Metric]:
        fields: list[tuple[str, str, Callable[[Any], float | None], bool]] = [
            ("device_requests", "Modbus requests", lambda d: d.requests, True),
            ("device_errors", "Failed Modbus requests (any cause)", lambda d: d.errors, True),
            ("device_timeouts", "Modbus requests that timed out", lambda d: d.timeouts, True),
            (
                "device_exceptions",
                "Modbus exception responses",
                lambda d: d.exceptions,
                True,
            ),
            (
                "device_consecutive_failures",
                "Failed requests in a row",
                lambda d: d.consecutive_failures,
                False,
            ),
            (
                "device_data_quality_ratio",
                "Share of the device's points with GOOD quality, 0-1",
                lambda d: d.good_ratio,
                False,
            ),
            ("device_online", "1 while the device delivers data", lambda d: d.online, False),
        ]
        for name, doc, get, is_counter in fields:
            fam = _counter(name, doc, ["device"]) if is_counter else _gauge(name, doc, ["device"])
            for dev, dc in snap.devices.items():
                value = get(dc)
                if value is not None:
                    fam.add_metric([dev], float(value))
            yield fam
        lfields: list[tuple[str, str, Callable[[Any], float], bool]] = [
            ("link_polls", "Polls started", lambda x: x.polls, True),
            (
                "link_skipped_polls",
                "Polls skipped: the previous still ran",
                lambda x: x.skipped_polls,
                True,
            ),
            (
                "link_late_polls",
                "Polls that outlived the poll budget",
                lambda x: x.late_polls,
                True,
            ),
            ("link_connects", "TCP connections made", lambda x: x.connects, True),
            ("link_connect_failures", "Failed TCP connects", lambda x: x.connect_failures, True),
            ("link_disconnects", "TCP connections lost", lambda x: x.disconnects, True),
            ("link_last_poll_seconds", "Duration of the last poll", lambda x: x.last_poll_s, False),
        ]
        for name, doc, lget, is_counter in lfields:
            fam = _counter(name, doc, ["link"]) if is_counter else _gauge(name, doc, ["link"])
            for link, lc in snap.links.items():
                fam.add_metric([link], float(lget(lc)))
            yield fam

    @staticmethod
    def _incidents() -> Iterator[Metric]:
        c = _counter(
            "incidents",
            "Hostile or faulty traffic (refused connections, garbage, failed logins,"
            " library errors), by subsystem and cause; the log shows the first of each",
            ["subsystem", "cause"],
        )
        for (subsystem, cause), n in sorted(INCIDENTS.counts().items()):
            c.add_metric([subsystem, cause], float(n))
        yield c

    @staticmethod
    def _energy(snap: Snapshot) -> Iterator[Metric]:
        t = snap.totals
        if t is None:
            return
        c = _counter(
            "energy_delivered_mwh", "Heat delivered to the network (ledger, closed intervals), MWh"
        )
        c.add_metric([], t.delivered_total_mwh)
        yield c
        c = _counter("energy_electricity_mwh", "Heat-pump electricity (ledger), MWh")
        c.add_metric([], t.electricity_total_mwh)
        yield c
        for name, doc, value in (
            (
                "energy_delivered_today_mwh",
                "Heat delivered today (site time), MWh",
                t.delivered_today_mwh,
            ),
            (
                "energy_last_interval_mwh",
                "Heat delivered in the last closed interval, MWh",
                t.last_interval_mwh,
            ),
            ("seasonal_cop", "Seasonal COP of the heat pump (ledger)", t.seasonal_cop),
            (
                "thermal_availability_percent",
                "Thermal availability, month to date, %",
                t.thermal_availability_pct,
            ),
        ):
            if value is not None:
                g = _gauge(name, doc)
                g.add_metric([], float(value))
                yield g
