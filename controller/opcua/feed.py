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
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from controller.core.setpointsource import SCADA_DEMAND, SCADA_INJECTION, SCADA_SETPOINT
from controller.daemon import Extension
from controller.fieldbus.signals import Quality
from controller.opcua import create_scada_server
from controller.opcua.launcher import BACKOFF_INITIAL_S, ScadaLauncher
from controller.opcua.model import Reading, SetpointWrite
from controller.opcua.points import Kind, PlantShape
from controller.signaltable import ABSENT, SIGNALS, Bound, Scan, Signal, bind_site

if TYPE_CHECKING:
    from controller.config.settings import SiteSettings
    from controller.core.alarms import AlarmEvent, AlarmState
    from controller.core.core import CoreOutput
    from controller.core.image import ProcessImage
    from controller.daemon import Daemon
    from controller.opcua.process import ScadaProcess
    from controller.opcua.server import ScadaServer
    from controller.opcua.settings import OpcUaSettings

GOOD, BAD = Quality.GOOD, Quality.BAD


class ScadaLink(Protocol):
    """What the feed calls on the server, in a thread (ScadaServer) or a child process."""

    def publish(self, snapshot: Mapping[str, Reading]) -> None: ...
    def alarm_update(
        self, events: Sequence[AlarmEvent], active: Sequence[AlarmState], now_epoch: float
    ) -> None: ...
    def reconfigure(self, settings: OpcUaSettings, shape: PlantShape) -> None: ...
    def take_setpoints(self) -> dict[str, SetpointWrite]: ...
    def take_acknowledgements(self) -> list[tuple[str, str]]: ...


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
        server: ScadaLink | None,
        table: Sequence[Signal] = SIGNALS,
    ) -> None:
        self.settings = settings
        self.server = server
        """None while the server is not up (it starts beside the scan cycle), and in a
        feed that only builds readings."""
        self.rows = compile_readings(bind_site(settings, table))
        self.k_starts = f"{settings.roles.heatpump}.starts_total"
        self.tz = ZoneInfo(settings.site.timezone)
        self._day: str | None = None
        self._starts_at_midnight: float | None = None
        self.setpoints: dict[str, SetpointWrite] = {}
        self._next_alarm_refresh = 0.0

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
        if self.server is not None:
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
        if self.server is not None:  # a server started later is made from these settings
            self.server.reconfigure(s.opcua, PlantShape.from_site(s, daemon.site.regmap))

    # ----------------------------------------------------------------- each cycle
    def cycle(self, daemon: Daemon, image: ProcessImage, out: CoreOutput) -> None:
        server = self.server
        if server is None:
            return
        now = time.time()
        acc = getattr(daemon, "accounting", None)
        extra = {
            "cycle": daemon.cycle.number,
            "cycle_ms": daemon.cycle.duration_s * 1000.0,
            "energy": acc.totals if acc is not None else None,
        }
        server.publish(self.snapshot(image, out, now, extra))
        if out.alarm_events or now >= self._next_alarm_refresh:
            server.alarm_update(out.alarm_events, out.alarms.active, now)
            self._next_alarm_refresh = now + ALARM_REFRESH_S
        daemon.pending_acks.extend(server.take_acknowledgements())


def _make_server(
    daemon: Daemon, factory: Callable[..., ScadaServer | ScadaProcess] | None
) -> ScadaServer | ScadaProcess:
    """A server (not started) for the daemon's current settings."""
    s = daemon.settings
    opc = s.opcua
    # Certificates and history live next to the site file unless given absolutely.
    resolved = {"data_dir": daemon.site.resolve(str(opc.data_dir))}
    if opc.trusted_clients_dir is not None:
        resolved["trusted_clients_dir"] = daemon.site.resolve(str(opc.trusted_clients_dir))
    return (factory or create_scada_server)(
        opc.model_copy(update=resolved), PlantShape.from_site(s, daemon.site.regmap)
    )


def attach_scada(
    daemon: Daemon, factory: Callable[..., ScadaServer | ScadaProcess] | None = None
) -> ScadaServer | ScadaProcess:
    """Start the SCADA server for the daemon (waiting until it listens) and hook it
    into every scan cycle. For benchmarks and tests that need it up before the scan;
    the controller itself uses ``attach_scada_background``."""
    server = _make_server(daemon, factory)
    server.start()
    feed = ScadaFeed(daemon.settings, server)
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


def attach_scada_background(
    daemon: Daemon,
    factory: Callable[..., ScadaServer | ScadaProcess] | None = None,
    *,
    backoff_initial_s: float = BACKOFF_INITIAL_S,
) -> ScadaLauncher:
    """Hook the SCADA feed into the scan cycle and bring the server up beside it.

    The scan does not wait for the server (``controller.opcua.launcher`` says why):
    until it is up the feed hands nothing over and no write or acknowledgement
    can arrive; once up it gets the current values and active alarms at once.
    Call from the running event loop.
    """
    feed = ScadaFeed(daemon.settings, None)

    def up(server: Any) -> None:
        feed.server = server
        feed._next_alarm_refresh = 0.0  # the new server learns the active alarms now

    launcher = ScadaLauncher(
        lambda: _make_server(daemon, factory),
        endpoint=daemon.settings.opcua.endpoint_url,
        bind=(daemon.settings.opcua.host, daemon.settings.opcua.port),
        on_up=up,
        backoff_initial_s=backoff_initial_s,
    )

    async def stop(d: Daemon) -> None:
        feed.server = None
        await launcher.close()

    daemon.extensions.append(
        Extension(
            "opcua",
            on_cycle=lambda d, img, out: feed.cycle(d, img, out) if launcher.up else None,
            on_stop=stop,
            image_extra=lambda d: feed.image_extra(time.time()),
            on_reload=feed.reload,
        )
    )
    launcher.begin()
    return launcher


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
