"""In-process closed loop: plant physics and the controller core, in simulated time.

The same ``ControlCore`` that runs on the gateway is stepped here against the plant
through ``InProcessBus`` (the field bus's judgements, optionally its register words),
so a day of plant runs in seconds and every scenario yields the same numbers on
every machine. ``controller="none"`` runs the plant alone: its PLC takes local safe
mode when no heartbeat arrives, which is what a site without our controller does.
``controller="baseline"`` steps ``simulator.baseline.BaselineCore`` instead: a
conventional PLC strategy on the same safety layer, the yardstick of the bench.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.config.settings import LoadedSite, load_site
from controller.config.sitefolder import REFERENCE_SITE, SiteFolder, site_folder
from controller.core.core import ControlCore
from controller.core.outputs import CoreOutput
from controller.sitealarms import load_site_alarms
from simulator.baseline import BaselineCore
from simulator.kpi import KpiAccumulator
from simulator.plant import Plant
from simulator.plantconfig import PlantConfig, load_plant_config
from simulator.scenario import Scenario, list_scenarios, load_scenario
from simulator.transport import InProcessBus

CONFIG_DIR = REFERENCE_SITE
# "ours": the project's ControlCore; "baseline": a conventional PLC strategy
# (simulator.baseline) on the same safety layer; "none": the plant's PLC alone.
CONTROLLERS = ("ours", "baseline", "none")

SERIES = (
    "t_h",
    "fws_supply",
    "fws_return",
    "dh_supply",
    "dh_setpoint",
    "dh_return",
    "demand_kw",
    "delivered_kw",
    "it_heat_kw",
    "hp_heat_kw",
    "hp_power_kw",
    "hp_load_pct",
    "rejected_kw",
    "tank_kw",
    "tank_soc",
    "valve_pct",
    "fan_pct",
    "ambient",
    "mode",
)


@dataclass
class RunResult:
    scenario: str
    controller: str
    duration_s: float
    wall_s: float
    kpis: dict[str, Any]
    energy_kwh: dict[str, float]
    balance: dict[str, float]
    hp_starts: int
    valve_travel_pct: float
    series: dict[str, list[float | str]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)

    @property
    def speedup(self) -> float:
        return self.duration_s / self.wall_s if self.wall_s > 0 else float("inf")

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "controller": self.controller,
            "duration_h": self.duration_s / 3600.0,
            "wall_s": round(self.wall_s, 3),
            "speedup": round(self.speedup, 1),
            "kpis": self.kpis,
            "energy_kwh": {k: round(v, 3) for k, v in self.energy_kwh.items()},
            "energy_balance": self.balance,
            "hp_starts": self.hp_starts,
            "valve_travel_pct": round(self.valve_travel_pct, 1),
            "series": self.series,
            "events": self.events,
            "alarms": self.alarms,
        }


@dataclass(frozen=True, eq=False)
class SimSite:
    """A site folder loaded for simulation: its plant, its settings, its scenarios."""

    folder: SiteFolder
    plant: PlantConfig
    site: LoadedSite

    def scenario(self, ref: str | Path) -> Scenario:
        """A scenario by name (the site's own ``scenarios/``, else the shipped ones) or
        by path, its events checked against this site's register map."""
        directory = self.folder.scenario_dir if self.folder.scenario_dir.is_dir() else None
        return load_scenario(
            ref, registers=self.site.resolve(self.site.settings.register_map), directory=directory
        )

    def scenario_names(self) -> list[str]:
        d = self.folder.scenario_dir
        return list_scenarios(d if d.is_dir() else None)


def load_sim_site(path: Path | str | None = None) -> SimSite:
    """Load a site folder (default: the reference site) with its simulated plant."""
    folder = site_folder(path)
    site = load_site(folder.site_file)
    plant = load_plant_config(folder.plant_file, site.settings.plant)
    return SimSite(folder, plant, site)


def load_defaults() -> tuple[PlantConfig, LoadedSite]:
    sim = load_sim_site()
    return sim.plant, sim.site


class ClosedLoop:
    """One run of one scenario; ``run()`` steps it to the end."""

    def __init__(
        self,
        scenario: Scenario | str,
        *,
        plant_cfg: PlantConfig | None = None,
        site: LoadedSite | None = None,
        controller: str = "ours",
        through_registers: bool = False,
        record_every_s: float = 60.0,
    ) -> None:
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        if plant_cfg is None or site is None:
            d_plant, d_site = load_defaults()
            plant_cfg = plant_cfg or d_plant
            site = site or d_site
        self.site = site
        self.controller_kind = controller
        sc = self.scenario
        self.sampler = sc.sampler()
        self.timeline = sc.timeline()
        b0 = self.sampler.sample(0.0)
        self.plant = Plant(
            plant_cfg,
            seed=sc.seed,
            tank_soc=sc.initial.tank_soc,
            hp_running=sc.initial.hp_running,
            fws_supply_temp=sc.initial.fws_supply_temp,
            boundary=b0,
        )
        self.bus = InProcessBus(
            site.regmap,
            stale_after_cycles=site.settings.fieldbus.links[0].stale_after_cycles,
            through_registers=through_registers,
        )
        self.reverts = {
            f"{dev}.{p.name}": p.revert
            for dev in site.regmap.devices
            for p in site.regmap.points_of(dev)
            if p.revert is not None
        }
        self.alarm_defs = load_site_alarms(site, self.reverts)
        if controller not in CONTROLLERS:
            raise ValueError(f"controller must be one of {CONTROLLERS}, not {controller!r}")
        self.core: ControlCore | BaselineCore | None = (
            self._new_core(0.0) if controller != "none" else None
        )
        self.kpi = KpiAccumulator(
            fws_limit=site.settings.limits.fws_supply_high_high,
            band_k=site.settings.limits.dh_supply_tolerance_k,
        )
        self.record_every = record_every_s
        self.series: dict[str, list[float | str]] = {k: [] for k in SERIES}
        self.events: list[dict[str, Any]] = []
        self.alarms: list[dict[str, Any]] = []
        self.stopped_until: float | None = None
        self.last_output: CoreOutput | None = None

    def _new_core(self, now: float) -> ControlCore | BaselineCore:
        kind = BaselineCore if self.controller_kind == "baseline" else ControlCore
        return kind(self.site.settings, self.reverts, self.alarm_defs, now=now)

    def run(
        self,
        progress: Callable[[float], None] | None = None,
        observer: Callable[[float, Plant, Any], None] | None = None,
    ) -> RunResult:
        """Step to the end. ``observer(t, plant, last_output)`` sees every plant step."""
        sc = self.scenario
        plant = self.plant
        dt = sc.dt
        steps = sc.steps
        period = max(dt, self.site.settings.scan.period_s)
        settings = self.site.settings
        next_ctrl = 0.0
        next_rec = 0.0
        ctrl_dt = period
        kpi = self.kpi
        sample = self.sampler.sample
        due = self.timeline.due
        core = self.core
        starts0 = plant.hp.starts
        t0 = time.perf_counter()
        report_every = max(1, steps // 200)
        mode = "NONE"
        for i in range(steps):
            t = i * dt
            b = sample(t)
            for ev, phase in due(t):
                if ev.kind == "controller_stop":
                    self._controller_stop(ev, phase, t)
                else:
                    plant.apply_event(ev, phase)
                self.events.append({"t": t, "event": ev.kind, "phase": phase})
            plant.boundary = b
            if self.controller_kind != "none" and self.stopped_until is None and t >= next_ctrl:
                if self.core is None:
                    self.core = self._new_core(t)
                core = self.core
                img = self.bus.image(plant)
                out = core.step(img, settings, t, ctrl_dt)
                self.bus.write(plant, out.commands)
                self.last_output = out
                mode = str(out.status.mode)
                for ce in out.events:
                    self.events.append(
                        {"t": ce.time, "event": ce.kind, "message": ce.message, **ce.data}
                    )
                for a in out.alarm_events:
                    self.alarms.append(
                        {
                            "t": a.time,
                            "id": a.alarm_id,
                            "kind": str(a.kind),
                            "priority": str(a.priority),
                        }
                    )
                next_ctrl = t + period
            elif self.stopped_until is not None:
                mode = "STOPPED"
            plant.step(dt, b)
            requested = b.network_available and b.injection_enabled and b.dh_demand > 0
            kpi.step(
                dt,
                plant.t_fws_supply,
                plant.m_dh > 0.01,
                plant.t_dh_supply,
                b.dh_supply_setpoint,
                requested,
                plant.q_dh,
                b.dh_demand,
                mode
                if self.controller_kind != "none"
                else ("LOCAL" if plant.local_safe_mode else "NONE"),
            )
            if observer is not None:
                observer(t + dt, plant, self.last_output)
            if t >= next_rec:
                self._record(t, b, mode)
                next_rec = t + self.record_every
            if progress is not None and i % report_every == 0:
                progress(i / steps)
        wall = time.perf_counter() - t0
        if progress is not None:
            progress(1.0)
        e = plant.energy
        energy = {
            "it_heat": e.it_heat,
            "recovered": e.recovered,
            "hp_heat": e.hp_heat,
            "hp_electricity": e.hp_electricity,
            "delivered": e.delivered,
            "rejected": e.rejected,
            "tank_loss": e.tank_loss,
            "fan_electricity": e.fan_electricity,
            "pump_electricity": e.pump_electricity,
            "demand": e.demand,
            "meter_register_delta": plant.meter.energy_kwh - 1_234_567.0,
        }
        kpis = kpi.summary()
        kpis["delivered_vs_demand_pct"] = 100.0 * e.delivered / e.demand if e.demand > 0 else None
        kpis["seasonal_cop"] = e.hp_heat / e.hp_electricity if e.hp_electricity > 0 else None
        kpis["hp_starts_per_hour"] = (plant.hp.starts - starts0) / (sc.duration / 3600.0)
        return RunResult(
            scenario=sc.name,
            controller=self.controller_kind,
            duration_s=steps * dt,
            wall_s=wall,
            kpis=kpis,
            energy_kwh=energy,
            balance=plant.energy_balance(),
            hp_starts=plant.hp.starts - starts0,
            valve_travel_pct=plant.valve.travel,
            series=self.series,
            events=self.events,
            alarms=self.alarms,
        )

    def _controller_stop(self, ev: Any, phase: str, t: float) -> None:
        if phase == "start":
            self.stopped_until = ev.end if ev.end is not None else float("inf")
            self.core = None  # a stopped process keeps no state
        else:
            self.stopped_until = None

    def _record(self, t: float, b: Any, mode: str) -> None:
        p = self.plant
        s = self.series
        status = self.last_output.status if self.last_output is not None else None
        row: dict[str, float | str] = {
            "t_h": round(t / 3600.0, 5),
            "fws_supply": round(p.t_fws_supply, 3),
            "fws_return": round(p.t_fws_return, 3),
            "dh_supply": round(p.t_dh_supply, 3),
            "dh_setpoint": b.dh_supply_setpoint,
            "dh_return": b.dh_return_temp,
            "demand_kw": round(
                b.dh_demand if b.network_available and b.injection_enabled else 0.0, 1
            ),
            "delivered_kw": round(p.q_dh, 1),
            "it_heat_kw": round(sum(c.heat_kw for c in p.cdus), 1),
            "hp_heat_kw": round(p.hp.q_cond, 1),
            "hp_power_kw": round(p.hp.w_el, 1),
            "hp_load_pct": round(p.hp.load, 2),
            "rejected_kw": round(p.drycoolers.q, 1),
            "tank_kw": round(p.m_tank * 4.186 * (p.hp.t_cond_out - b.dh_return_temp), 1),
            "tank_soc": round(status.soc, 4)
            if status is not None and status.soc is not None
            else -1.0,
            "valve_pct": round(p.valve.pos, 2),
            "fan_pct": round(p.drycoolers.fan * 100.0, 2),
            "ambient": b.ambient_temp,
            "mode": mode,
        }
        for k in SERIES:
            s[k].append(row[k])


def run_scenario(scenario: Scenario | str, **kwargs: Any) -> RunResult:
    progress = kwargs.pop("progress", None)
    observer = kwargs.pop("observer", None)
    return ClosedLoop(scenario, **kwargs).run(progress, observer)
