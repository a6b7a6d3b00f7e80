"""One scan cycle's plant state, copied out of the daemon for other threads to read.

The metrics HTTP thread and the status view must not read the core's live objects:
``CoreStatus``, the plant view and the comms counters are updated in place every
cycle, so a reader in another thread could see half of one cycle and half of the
next. ``take`` copies the few dozen numbers they need into fresh objects (tens of
microseconds); the reference swap that publishes a snapshot is atomic, so readers
need no lock and the scan cycle never waits for a scrape.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from controller.core.alarms import Priority
from controller.fieldbus.signals import Quality

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
    loops: dict[str, float | None]
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


def _num(x: float | bool | None) -> float | None:
    return None if x is None else float(x)


class SnapshotTaker:
    """Built once per daemon: the key lists are resolved here, not every cycle."""

    def __init__(self, daemon: Daemon) -> None:
        site = daemon.site
        roles = daemon.settings.roles
        self.plc = roles.plc
        self.k_dumped = f"{roles.drycooler}.heat_rejected"
        self.k_fan_cmd = f"{roles.drycooler}.fan_speed_cmd"
        self.k_valve_cmd = f"{roles.plc}.bypass_valve_cmd"
        self.device_keys = {
            dev: [f"{dev}.{p.name}" for p in site.regmap.points_of(dev)]
            for dev in site.regmap.devices
        }

    def take(self, daemon: Daemon, image: ProcessImage, out: CoreOutput) -> Snapshot:
        st = out.status
        v = daemon.core.cond.view
        s = daemon.settings
        vals = image.values
        values: dict[str, float | None] = {
            # temperatures, °C
            "fws_supply": st.fws_supply,
            "fws_return": v.fws_return,
            "fws_supply_setpoint": s.setpoints.fws_supply_temp,
            "fws_supply_limit": s.limits.fws_supply_high_high,
            "dh_supply": st.dh_supply,
            "dh_return": v.dh_return,
            "dh_supply_setpoint": st.dh_setpoint,
            "ambient": v.ambient,
            "hp_condenser_outlet": v.hp_cond_out,
            "tank_top": v.tank_top,
            # heat flows, kW
            "it_heat": st.it_heat_kw,
            "hp_heat": v.hp_heat_kw,
            "delivered": v.dh_power_kw,
            "demand": st.demand_kw,
            "deliver_target": st.deliver_kw,
            "dumped": vals.get(self.k_dumped),
            "hp_power": v.hp_power_kw,
            # heat pump
            "hp_load": v.hp_load,
            "hp_cop": v.hp_cop,
            "hp_running": 1.0 if v.hp_running else 0.0,
            "hp_tripped": 1.0 if v.hp_tripped else 0.0,
            # tank
            "tank_soc": st.soc,
            "tank_stored": st.stored_kwh,
            # actuators, % (feedback and command)
            "bypass_valve": v.valve_pos,
            "drycooler_fan": v.fan_speed,
            "bypass_valve_cmd": out.commands.get(self.k_valve_cmd),
            "drycooler_fan_cmd": out.commands.get(self.k_fan_cmd),
            # flows, m³/h
            "fws_flow": v.fws_flow_m3h,
            "dh_flow": v.dh_flow_m3h,
            # flags
            "injecting": 1.0 if st.injecting else 0.0,
            "network_available": _num(v.network_available),
            "hx_ua_ratio": st.hx_ua_ratio,
        }
        counts = daemon.core.alarm_engine.counts()
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
        acc = getattr(daemon, "accounting", None)
        return Snapshot(
            mono=time.monotonic(),
            cycle=daemon.cycle.number,
            period_s=clock.period,
            mode=str(st.mode),
            mode_code=st.mode.code,
            interlocks=st.interlocks,
            values=values,
            loops=dict(st.loops),
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
