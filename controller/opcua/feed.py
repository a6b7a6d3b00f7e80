"""Between the scan cycle and the SCADA server: what is published, what comes back.

Once per cycle, after the control core: the plant's values go to the server with
the quality and poll time the field bus gave them (a silent device shows Bad, never
its last good-looking number); alarm events and the active list go as OPC UA
events; what the utility wrote comes back as ``scada.*`` values in the next
cycle's process image, while fresh; acknowledgements go to the alarm engine.
The server runs in its own thread (or process): every call here only hands data
over, so a slow or hostile client costs the scan cycle nothing but the hand-over.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from controller.core.setpointsource import SCADA_DEMAND, SCADA_INJECTION, SCADA_SETPOINT
from controller.daemon import Extension
from controller.fieldbus.signals import Quality
from controller.opcua import create_scada_server
from controller.opcua.model import Reading, SetpointWrite
from controller.opcua.points import Kind, PlantShape
from controller.signaltable import ABSENT, SIGNALS, Bound, Scan, Signal, bind_site

if TYPE_CHECKING:
    from controller.config.settings import SiteSettings
    from controller.core.core import CoreOutput
    from controller.core.image import ProcessImage
    from controller.daemon import Daemon
    from controller.opcua.process import ScadaProcess
    from controller.opcua.server import ScadaServer

GOOD, BAD = Quality.GOOD, Quality.BAD
ALARM_REFRESH_S = 10.0

_SCADA_KEYS = {
    "SupplyTempSetpoint": SCADA_SETPOINT,
    "HeatDemand": SCADA_DEMAND,
    "InjectionEnabled": SCADA_INJECTION,
}


class ScadaFeed:
    """Turns each cycle's output into the section 5 readings (rows of the signal table)."""

    def __init__(
        self,
        settings: SiteSettings,
        server: ScadaServer | ScadaProcess | None,
        table: Sequence[Signal] = SIGNALS,
    ) -> None:
        self.settings = settings
        self._server = server
        self.rows = compile_readings(bind_site(settings, table))
        self.k_starts = f"{settings.roles.heatpump}.starts_total"
        self.tz = ZoneInfo(settings.site.timezone)
        self._day: str | None = None
        self._starts_at_midnight: float | None = None
        self.setpoints: dict[str, SetpointWrite] = {}
        self._next_alarm_refresh = 0.0

    @property
    def server(self) -> ScadaServer | ScadaProcess:
        if self._server is None:
            raise RuntimeError("this feed only builds readings (no server)")
        return self._server

    # ----------------------------------------------------------------- to the server
    def snapshot(
        self, image: ProcessImage, out: CoreOutput, now: float, extra: Mapping[str, Any]
    ) -> dict[str, Reading]:
        scan = Scan(
            image,
            out,
            self.settings,
            now,
            cycle=extra.get("cycle"),
            cycle_ms=extra.get("cycle_ms"),
            energy=extra.get("energy"),
            starts_today=self._starts_today(image.values.get(self.k_starts), now),
        )
        snap: dict[str, Reading] = {}
        for path, read in self.rows:
            r = read(scan)
            if r is not None:
                snap[path] = r
        return snap

    def _starts_today(self, total: float | None, now: float) -> int | None:
        if total is None:
            return None
        day = datetime.fromtimestamp(now, self.tz).date().isoformat()
        if day != self._day or self._starts_at_midnight is None:
            self._day = day
            self._starts_at_midnight = total
        return int(total - self._starts_at_midnight)

    # ----------------------------------------------------------------- from the server
    def image_extra(self, now: float) -> dict[str, float | None]:
        """The utility's setpoints for the next cycle, while they are fresh."""
        self.setpoints.update(self.server.take_setpoints())
        timeout = self.settings.setpoints.scada_timeout_s
        out: dict[str, float | None] = {}
        for name, key in _SCADA_KEYS.items():
            w = self.setpoints.get(name)
            if w is not None and now - w.time <= timeout:
                out[key] = float(w.value)
        return out

    # ----------------------------------------------------------------- reload
    def reload(self, daemon: Daemon) -> None:
        """A reloaded site file: published settings values, users, limits and ranges.

        The endpoint and security fields cannot differ here: the reload refuses a
        file that changes them (``reload.RESTART_KEYS``).
        """
        s = daemon.settings
        self.settings = s
        self.server.reconfigure(s.opcua, PlantShape.from_site(s, daemon.site.regmap))

    # ----------------------------------------------------------------- each cycle
    def cycle(self, daemon: Daemon, image: ProcessImage, out: CoreOutput) -> None:
        now = time.time()
        acc = getattr(daemon, "accounting", None)
        extra = {
            "cycle": daemon.cycle.number,
            "cycle_ms": daemon.cycle.duration_s * 1000.0,
            "energy": acc.totals if acc is not None else None,
        }
        self.server.publish(self.snapshot(image, out, now, extra))
        if out.alarm_events or now >= self._next_alarm_refresh:
            self.server.alarm_update(out.alarm_events, out.alarms.active, now)
            self._next_alarm_refresh = now + ALARM_REFRESH_S
        daemon.pending_acks.extend(self.server.take_acknowledgements())


def attach_scada(
    daemon: Daemon, factory: Callable[..., ScadaServer | ScadaProcess] | None = None
) -> ScadaServer | ScadaProcess:
    """Start the SCADA server for the daemon and hook it into every scan cycle."""
    s = daemon.settings
    shape = PlantShape.from_site(s, daemon.site.regmap)
    opc = s.opcua
    # Certificates and history live next to the site file unless given absolutely.
    resolved = {"data_dir": daemon.site.resolve(str(opc.data_dir))}
    if opc.trusted_clients_dir is not None:
        resolved["trusted_clients_dir"] = daemon.site.resolve(str(opc.trusted_clients_dir))
    server = (factory or create_scada_server)(opc.model_copy(update=resolved), shape)
    server.start()
    feed = ScadaFeed(s, server)
    daemon.extensions.append(
        Extension(
            "opcua",
            on_cycle=feed.cycle,
            on_stop=lambda d: server.stop(),
            image_extra=lambda d: feed.image_extra(time.time()),
            on_reload=feed.reload,
        )
    )
    return server


def compile_readings(bound: Sequence[Bound]) -> list[tuple[str, Callable[[Scan], Reading | None]]]:
    """(browse path, reading of a scan) per published row, resolved once per feed.

    A field point carries the quality and poll time the field bus gave it (a silent
    device shows Bad, never its last good-looking number); a value of the core's
    output is Good unless it is None.
    """
    rows: list[tuple[str, Callable[[Scan], Reading | None]]] = []
    for b in bound:
        sig = b.signal
        if b.path is None or sig.by_alarms:
            continue
        if sig.field is not None and b.key is not None:
            rows.append((b.path, _field_reading(b.key, sig.kind)))
        elif sig.value is not None:
            rows.append((b.path, _value_reading(sig.value, sig.to_opcua)))
    return rows


def _field_reading(key: str, kind: Kind) -> Callable[[Scan], Reading | None]:
    as_bool = kind is Kind.TWO_STATE
    as_int = kind in _INT_KINDS

    def read(s: Scan) -> Reading:
        img = s.image
        v: Any = img.values.get(key)
        if v is None:
            return Reading(None, BAD, (img.timestamps or {}).get(key, s.now))
        if as_bool:
            v = bool(v >= 0.5)
        elif as_int:
            v = int(v)
        return Reading(v, img.quality.get(key, GOOD), (img.timestamps or {}).get(key, s.now))

    return read


def _value_reading(
    get: Callable[[Scan], Any], convert: Callable[[Any], Any] | None
) -> Callable[[Scan], Reading | None]:
    def read(s: Scan) -> Reading | None:
        v = get(s)
        if v is ABSENT:
            return None
        if convert is not None:
            v = convert(v)
        return Reading(v, GOOD if v is not None else BAD, s.now)

    return read


_INT_KINDS = frozenset({Kind.MULTI_STATE, Kind.INT32, Kind.UINT32})
