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
from controller.opcua.points import PlantShape

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
    def __init__(self, settings: SiteSettings, server: ScadaLink | None) -> None:
        self.settings = settings
        self.server = server
        """None while the server is not up (it starts beside the scan cycle)."""
        self.shape = PlantShape.from_site(settings)
        r = settings.roles
        plc, hp, dc, hm, ut = r.plc, r.heatpump, r.drycooler, r.heatmeter, r.utility
        # (browse path, image key) for values read straight from a device.
        self.direct: list[tuple[str, str]] = []
        for i, cdu in enumerate(settings.plant.cdus):
            name = self.shape.cdu_names()[i]
            for path, point in (
                ("FwsSupplyTemp", "fws_supply_temp"),
                ("FwsReturnTemp", "fws_return_temp"),
                ("FwsFlow", "fws_flow"),
                ("ItLoad", "it_load"),
                ("Status", "status"),
            ):
                self.direct.append((f"CDUs/{name}/{path}", f"{cdu}.{point}"))
        self.direct += [
            ("FacilityWater/ReturnTemp", f"{plc}.fws_return_temp"),
            ("FacilityWater/Flow", f"{plc}.fws_flow"),
            ("HeatPump/EvapInletTemp", f"{hp}.evap_inlet_temp"),
            ("HeatPump/EvapOutletTemp", f"{hp}.evap_outlet_temp"),
            ("HeatPump/CondInletTemp", f"{hp}.cond_inlet_temp"),
            ("HeatPump/CondOutletTemp", f"{hp}.cond_outlet_temp"),
            ("HeatPump/SupplySetpoint", f"{hp}.supply_setpoint"),
            ("HeatPump/Load", f"{hp}.load_actual"),
            ("HeatPump/HeatOutput", f"{hp}.heat_output"),
            ("HeatPump/ElectricPower", f"{hp}.electric_power"),
            ("HeatPump/COP", f"{hp}.cop"),
            ("HeatPump/Running", f"{hp}.running"),
            ("HeatPump/Tripped", f"{hp}.tripped"),
            ("HeatPump/State", f"{hp}.state"),
            ("DistrictHeating/SupplyTemp", f"{hm}.supply_temp"),
            ("DistrictHeating/ReturnTemp", f"{hm}.return_temp"),
            ("DistrictHeating/Flow", f"{hm}.flow"),
            ("DistrictHeating/HeatPower", f"{hm}.power"),
            ("DistrictHeating/NetworkAvailable", f"{ut}.network_available"),
            ("DryCoolers/BypassValvePosition", f"{plc}.bypass_valve_pos"),
            ("DryCoolers/FanSpeed", f"{dc}.fan_speed_fb"),
            ("DryCoolers/HeatRejected", f"{dc}.heat_rejected"),
            ("DryCoolers/AmbientTemp", f"{dc}.ambient_temp"),
        ]
        for pump in list(settings.pumps.fws.pumps) + list(settings.pumps.dh.pumps):
            p = pump.upper()
            self.direct += [
                (f"Pumps/{p}/Running", f"{plc}.{pump}_running"),
                (f"Pumps/{p}/Fault", f"{plc}.{pump}_fault"),
                (f"Pumps/{p}/Speed", f"{plc}.{pump}_speed_fb"),
            ]
        self.bools = {
            path
            for path, _ in self.direct
            if path.endswith(("Running", "Fault", "Tripped", "NetworkAvailable"))
        }
        self.ints = {
            path for path, _ in self.direct if path.endswith(("/Status", "HeatPump/State"))
        }
        self.k_tank_top = f"{plc}.tank_temp_01"
        self.k_tank_bottom = f"{plc}.tank_temp_{settings.plant.tank_sensors:02d}"
        self.k_starts = f"{hp}.starts_total"
        self.tz = ZoneInfo(settings.site.timezone)
        self._day: str | None = None
        self._starts_at_midnight: float | None = None
        self.setpoints: dict[str, SetpointWrite] = {}
        self._next_alarm_refresh = 0.0

    # ----------------------------------------------------------------- to the server
    def snapshot(
        self, image: ProcessImage, out: CoreOutput, now: float, extra: Mapping[str, Any]
    ) -> dict[str, Reading]:
        vals, quality = image.values, image.quality
        stamps = image.timestamps or {}
        snap: dict[str, Reading] = {}
        for path, key in self.direct:
            v = vals.get(key)
            if v is not None and path in self.bools:
                v = bool(v >= 0.5)
            elif v is not None and path in self.ints:
                v = int(v)
            q = quality.get(key, GOOD if v is not None else BAD)
            snap[path] = Reading(v, q if v is not None else BAD, stamps.get(key, now))

        def derived(path: str, value: Any) -> None:
            snap[path] = Reading(value, GOOD if value is not None else BAD, now)

        st = out.status
        derived("Status/Mode", str(st.mode))
        derived("Status/ModeCode", st.mode.code)
        derived("Status/Healthy", bool(st.healthy) and not image.comms_lost)
        derived("Status/CycleTime", extra.get("cycle_ms"))
        derived("Status/Heartbeat", extra.get("cycle"))
        derived("FacilityWater/SupplyTemp", st.fws_supply)
        derived("FacilityWater/SupplySetpoint", self.settings.setpoints.fws_supply_temp)
        derived("BufferTank/StateOfCharge", None if st.soc is None else 100.0 * st.soc)
        derived(
            "BufferTank/StoredEnergy", None if st.stored_kwh is None else st.stored_kwh / 1000.0
        )
        derived("BufferTank/LayerTemps", list(st.tank_temps) if st.tank_temps else None)
        for path, key in (
            ("BufferTank/TopTemp", self.k_tank_top),
            ("BufferTank/BottomTemp", self.k_tank_bottom),
        ):
            v = vals.get(key)
            snap[path] = Reading(
                v, quality.get(key, GOOD) if v is not None else BAD, stamps.get(key, now)
            )
        sp = "DistrictHeating/Setpoints/"
        derived(sp + "SupplyTempSetpoint", st.dh_setpoint)
        derived(sp + "HeatDemand", st.demand_kw)
        derived(sp + "InjectionEnabled", bool(st.injection_enabled))
        derived("HeatPump/StartsToday", self._starts_today(vals.get(self.k_starts), now))
        totals = extra.get("energy")
        if totals is not None:
            e = totals.opcua()
            for name, value in e.items():
                # MWh in the ledger; the last interval is shown in kWh.
                scaled = (
                    value * 1000.0 if name == "LastIntervalEnergy" and value is not None else value
                )
                derived(f"Energy/{name}", scaled)
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
            self.server.reconfigure(s.opcua, PlantShape.from_site(s))

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
        engine = daemon.core.alarm_engine
        if out.alarm_events or now >= self._next_alarm_refresh:
            server.alarm_update(out.alarm_events, engine.active(), now)
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
        opc.model_copy(update=resolved), PlantShape.from_site(s)
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
    daemon.scada = feed
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

    daemon.scada = feed
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
