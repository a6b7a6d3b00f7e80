"""One scan cycle's plant state, for the metrics thread to read.

The core's output is frozen (``CoreOutput``: status, plant view, alarm list), so
the values come straight from it through the rows of the site's signal table
that are marked for the status snapshot; only the field bus's comms counters,
which it updates in place, are copied here. The reference swap that publishes a
snapshot is atomic, so readers need no lock and the scan cycle never waits for a
scrape.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from controller.core.alarms import Priority
from controller.fieldbus.signals import Quality
from controller.signaltable import SIGNALS, Scan, Signal, bind_site, status_rows, status_values

if TYPE_CHECKING:
    from controller.accounting.totals import Totals
    from controller.core.core import CoreOutput
    from controller.core.image import ProcessImage
    from controller.daemon import Daemon

GOOD = Quality.GOOD


@dataclass(frozen=True, slots=True)
class DeviceComms:
    requests: int
    errors: int
    timeouts: int
    exceptions: int
    consecutive_failures: int
    good_ratio: float | None
    """Share of the device's points with GOOD quality this cycle (None: no points)."""
    online: bool


@dataclass(frozen=True, slots=True)
class LinkComms:
    polls: int
    skipped_polls: int
    late_polls: int
    connects: int
    connect_failures: int
    disconnects: int
    last_poll_s: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    mono: float
    """time.monotonic() when the cycle's outputs were known."""
    cycle: int
    period_s: float
    mode: str
    mode_code: int
    interlocks: tuple[str, ...]
    values: dict[str, float | None]
    loops: Mapping[str, float | None]
    alarms_by_priority: dict[str, int]
    alarms_unacked: int
    alarms_shelved: int
    devices: dict[str, DeviceComms]
    links: dict[str, LinkComms]
    comms_lost: frozenset[str]
    plc: str
    cycles: int
    overruns: int
    skipped_deadlines: int
    totals: Totals | None = None
    degraded_reasons: tuple[str, ...] = ()
    setpoint_source: str = ""


class SnapshotTaker:
    """Built once per daemon: the rows and key lists are resolved here, not every cycle."""

    def __init__(self, daemon: Daemon, table: Sequence[Signal] = SIGNALS) -> None:
        site = daemon.site
        self.plc = daemon.settings.roles.plc
        self.rows = status_rows(bind_site(daemon.settings, table))
        self.device_keys = {
            dev: [f"{dev}.{p.name}" for p in site.regmap.points_of(dev)]
            for dev in site.regmap.devices
        }

    def take(self, daemon: Daemon, image: ProcessImage, out: CoreOutput) -> Snapshot:
        st = out.status
        acc = getattr(daemon, "accounting", None)
        values = status_values(self.rows, Scan(image, out, daemon.settings, 0.0))
        counts = out.alarms.counts
        quality = image.quality
        bus = daemon.bus
        devices = {}
        for dev, ds in bus.device_stats().items():
            keys = self.device_keys.get(dev, ())
            good = sum(1 for k in keys if quality.get(k) is GOOD)
            devices[dev] = DeviceComms(
                ds.requests,
                ds.errors,
                ds.timeouts,
                ds.exceptions,
                ds.consecutive_failures,
                good / len(keys) if keys else None,
                bus.device_online(dev),
            )
        links = {
            name: LinkComms(
                ls.polls,
                ls.skipped_polls,
                ls.late_polls,
                ls.connects,
                ls.connect_failures,
                ls.disconnects,
                ls.last_poll_s,
            )
            for name, ls in bus.link_stats().items()
        }
        clock = daemon.clock
        return Snapshot(
            mono=time.monotonic(),
            cycle=daemon.cycle.number,
            period_s=clock.period,
            mode=str(st.mode),
            mode_code=st.mode.code,
            interlocks=st.interlocks,
            values=values,
            loops=st.loops,
            alarms_by_priority={str(p): n for p, n in counts.by_priority.items()},
            alarms_unacked=counts.unacked,
            alarms_shelved=counts.shelved,
            devices=devices,
            links=links,
            comms_lost=image.comms_lost,
            plc=self.plc,
            cycles=clock.k - clock.skipped,
            overruns=clock.overruns,
            skipped_deadlines=clock.skipped,
            totals=getattr(acc, "totals", None),
            degraded_reasons=st.degraded_reasons,
            setpoint_source=st.setpoint_source,
        )


PRIORITIES: tuple[str, ...] = tuple(str(p) for p in Priority)
