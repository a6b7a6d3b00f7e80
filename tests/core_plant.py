"""A plant as the control core sees it: one process image per row of a cycle table.

``PlantImage`` holds a steady, healthy plant (every sensor of a group agreeing,
pumps proven, devices talking) in engineering units, keyed as the register map
keys them; a row changes only what it is about. Values are plain numbers so a
table reads like the plant: ``plant.set(fws_supply=41.0)``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from controller.config.settings import LoadedSite, SiteSettings, load_site
from controller.core.core import ControlCore
from controller.core.image import ProcessImage
from controller.sitealarms import load_site_alarms

ROOT = Path(__file__).resolve().parents[1]


@cache
def shipped_site() -> LoadedSite:
    return load_site(ROOT / "config" / "site.toml")


def reverts(site: LoadedSite | None = None) -> dict[str, float]:
    site = site or shipped_site()
    rm = site.regmap
    return {
        f"{dev}.{p.name}": float(p.revert)
        for dev in rm.devices
        for p in rm.points_of(dev)
        if p.revert is not None and p.writable
    }


def core(settings: SiteSettings | None = None, now: float = 0.0) -> ControlCore:
    """Our control core on the shipped site file, with the shipped alarm catalogue."""
    site = shipped_site()
    s = settings or site.settings
    r = reverts(site)
    return ControlCore(s, r, load_site_alarms(site, r), now=now)


class PlantImage:
    """A healthy plant at a winter operating point; ``set`` changes named quantities."""

    def __init__(self, settings: SiteSettings | None = None) -> None:
        s = settings or shipped_site().settings
        r = s.roles
        self.s = s
        plc, hp, dc, hm, ut = r.plc, r.heatpump, r.drycooler, r.heatmeter, r.utility
        self.plc, self.hp, self.dc, self.hm, self.ut = plc, hp, dc, hm, ut
        self.cdus = list(s.plant.cdus)
        self.fws_supply_keys = [f"{plc}.fws_supply_temp", f"{plc}.fws_supply_temp_b"] + [
            f"{c}.fws_supply_temp" for c in self.cdus
        ]
        self.tank_keys = [f"{plc}.tank_temp_{i + 1:02d}" for i in range(s.plant.tank_sensors)]
        self.values: dict[str, float | None] = {}
        self.lost: set[str] = set()
        self.set(
            fws_supply=35.0,
            fws_return=40.0,
            dh_supply=70.0,
            dh_return=40.0,
            ambient=5.0,
            tank=[70.0] * 5 + [45.0] * (len(self.tank_keys) - 5),
        )
        v = self.values
        v.update(
            {
                f"{plc}.fws_flow": 100.0,
                f"{plc}.dh_flow": 20.0,
                f"{plc}.bypass_valve_pos": 50.0,
                f"{plc}.local_safe_mode": 0.0,
                f"{dc}.fan_speed_fb": 50.0,
                f"{dc}.heat_rejected": 300.0,
                f"{hm}.flow": 20.0,
                f"{hm}.power": 690.0,
                f"{ut}.network_available": 1.0,
                f"{ut}.injection_enabled": 1.0,
                f"{ut}.heat_demand": 700.0,
                f"{ut}.supply_setpoint": 70.0,
            }
        )
        for c in self.cdus:
            v[f"{c}.heat_to_fws"] = 400.0
        for p in s.pumps.fws.pumps + s.pumps.dh.pumps:
            v[f"{plc}.{p}_fault"] = 0.0
        self.pumps(p1a=True, p2a=True)
        self.heat_pump(running=True, load=75.0)

    # ------------------------------------------------------------- quantities
    def set(self, **q: Any) -> PlantImage:
        """Set quantities measured by several sensors at once (all agreeing)."""
        plc, hp, hm, dc = self.plc, self.hp, self.hm, self.dc
        v = self.values
        groups = {
            "fws_supply": self.fws_supply_keys,
            "fws_return": [f"{plc}.fws_return_temp", f"{hp}.evap_inlet_temp"],
            "dh_supply": [f"{plc}.dh_supply_temp", f"{hm}.supply_temp"],
            "dh_return": [f"{plc}.dh_return_temp", f"{hm}.return_temp"],
            "ambient": [f"{plc}.ambient_temp", f"{dc}.ambient_temp"],
        }
        for name, value in q.items():
            if name == "tank":
                v.update(zip(self.tank_keys, value, strict=True))
            elif name in groups:
                for k in groups[name]:
                    v[k] = value
            else:
                v[name] = value  # a raw "device.point" key
        return self

    def sensor(self, key: str, value: float | None) -> PlantImage:
        self.values[key] = value
        return self

    def pumps(self, **running: bool) -> PlantImage:
        for p, on in running.items():
            self.values[f"{self.plc}.{p}_running"] = 1.0 if on else 0.0
            self.values[f"{self.plc}.{p}_speed_fb"] = 80.0 if on else 0.0
        for p in self.s.pumps.fws.pumps + self.s.pumps.dh.pumps:
            self.values.setdefault(f"{self.plc}.{p}_running", 0.0)
            self.values.setdefault(f"{self.plc}.{p}_speed_fb", 0.0)
        return self

    def heat_pump(self, *, running: bool, load: float = 0.0, tripped: bool = False) -> PlantImage:
        hp = self.hp
        on = running and not tripped
        self.values.update(
            {
                f"{hp}.state": 3.0 if on else (9.0 if tripped else 0.0),
                f"{hp}.running": 1.0 if on else 0.0,
                f"{hp}.tripped": 1.0 if tripped else 0.0,
                f"{hp}.load_actual": load if on else 0.0,
                f"{hp}.heat_output": 12.0 * load if on else 0.0,
                f"{hp}.electric_power": 2.4 * load if on else 0.0,
                f"{hp}.cop": 5.0 if on else 0.0,
                f"{hp}.cond_outlet_temp": 70.5 if on else 45.0,
                f"{hp}.evap_outlet_temp": 33.0 if on else 40.0,
                f"{hp}.evap_sat_temp": 31.0 if on else 40.0,
                f"{hp}.supply_setpoint": 70.5,
                f"{hp}.cond_flow": 25.0 if on else 0.0,
            }
        )
        return self

    def silent(self, *devices: str) -> PlantImage:
        """Devices whose data is lost: every point None, as the field bus reports it."""
        self.lost = set(devices)
        return self

    def image(self) -> ProcessImage:
        values = dict(self.values)
        for dev in self.lost:
            prefix = dev + "."
            for k in values:
                if k.startswith(prefix):
                    values[k] = None
        return ProcessImage(values, comms_lost=frozenset(self.lost))
