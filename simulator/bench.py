"""The scenario benchmark: every scenario with the project's controller and the baseline.

One run per (scenario, controller), in-process and in simulated time, each in its
own process when ``workers`` > 1 (the runs are CPU-bound and independent; the GIL
would serialise threads). The physical bound is computed once per scenario in the
parent. Results are plain dicts so they pickle across processes and serialise to
JSON unchanged; rendering (table, markdown, plots) lives in ``benchreport`` and
``benchplots`` so this module needs neither rich nor matplotlib.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from controller.config.tomlfile import ConfigError, ConfigProblem
from simulator.bound import scenario_bound
from simulator.kpis import FaultClock, StepSample, faults_of, run_kpis, tank_usable_kwh
from simulator.plant import Plant
from simulator.runner import ClosedLoop, load_sim_site

CONTROLLERS = ("ours", "baseline")
RECORD_EVERY_S = 60.0
# Issue 6's targets for the project's controller, by the scenarios they name.
STEADY, AI_LOAD, SUMMER = "winter-steady", "ai-training", "summer-low-demand"
IN_BAND_MIN_PCT = 99.0
RECOVERY_MIN = 0.97
WALL_S_PER_24H_MAX = 10.0


def _observer(clock: FaultClock) -> Callable[[float, Plant, Any], None]:
    """Feed the fault clock the plant's truth each step, until nothing is left to time."""

    def observe(t: float, p: Plant, _out: Any) -> None:
        if clock.idle:
            return
        clock.step(
            StepSample(
                t=t,
                fws_supply=p.t_fws_supply,
                fws_flow=p.fws_pumps.flow,
                dh_flow=p.dh_pumps.flow,
                it_heat_kw=sum(c.heat_kw for c in p.cdus),
                hp_evap_kw=p.hp.q_evap,
                rejected_kw=p.drycoolers.q,
                local_safe=p.local_safe_mode,
            )
        )

    return observe


def run_one(
    name: str,
    controller: str,
    bound_kwh: float | None = None,
    record_every_s: float = RECORD_EVERY_S,
    progress: Callable[[float], None] | None = None,
    site_path: str | None = None,
) -> dict[str, Any]:
    """One closed-loop run with its KPIs and recorded series (a picklable dict).

    ``name`` is a scenario of the site (``site_path``, default the reference) or a
    scenario file; results are keyed by the scenario's own name.
    """
    sim = load_sim_site(site_path)
    plant_cfg, site = sim.plant, sim.site
    sc = sim.scenario(name)
    loop = ClosedLoop(
        sc, plant_cfg=plant_cfg, site=site, controller=controller, record_every_s=record_every_s
    )
    s = site.settings
    b0 = sc.sampler().sample(0.0)
    tank = loop.plant.tank
    tank_start = tank_usable_kwh(tank.m, tank.temp, b0.dh_supply_setpoint, b0.dh_return_temp)
    clock = FaultClock(
        faults_of(sc.events),
        s.setpoints.fws_supply_temp,
        loop.plant.dh_pumps.m_nominal,
    )
    result = loop.run(progress, _observer(clock))
    clock.alarms(result.alarms, {d.id: d.source for d in loop.alarm_defs})
    b1 = loop.plant.boundary
    tank_end = tank_usable_kwh(tank.m, tank.temp, b1.dh_supply_setpoint, b1.dh_return_temp)
    kpis = run_kpis(
        kpis=result.kpis,
        energy=result.energy_kwh,
        hp_starts=result.hp_starts,
        valve_travel_pct=result.valve_travel_pct,
        duration_s=result.duration_s,
        wall_s=result.wall_s,
        bound_kwh=bound_kwh,
        tank_start_kwh=tank_start,
        tank_end_kwh=tank_end,
        faults=clock.results(),
    )
    return {
        "scenario": sc.name,
        "controller": controller,
        "kpis": kpis,
        "energy_kwh": {k: round(v, 3) for k, v in result.energy_kwh.items()},
        "energy_balance_residual": result.balance["relative_error"],
        "mode_hours": result.kpis["mode_hours"],
        "series": result.series,
        "events": [e for e in result.events if "phase" in e],
    }


def _task(args: tuple[str, str, float | None, str | None]) -> dict[str, Any]:
    name, controller, bound, site_path = args
    return run_one(name, controller, bound, site_path=site_path)


def run_bench(
    names: Sequence[str] | None = None,
    workers: int = 1,
    on_progress: Callable[[float], None] | None = None,
    site: str | None = None,
) -> dict[str, Any]:
    """Every scenario of a site (default: the reference) with both controllers.

    ``names`` are scenario names of the site or scenario files; ``on_progress`` gets
    the fraction done.
    """
    sim = load_sim_site(site)
    names = list(names) if names else sim.scenario_names()
    loaded = {n: sim.scenario(n) for n in names}  # every file checked before any run
    seen: dict[str, str] = {}
    for n, sc in loaded.items():
        if sc.name in seen:
            raise ConfigError(
                sc.path or Path(n),
                [ConfigProblem("name", None, f"{sc.name!r} is also the name of {seen[sc.name]}")],
            )
        seen[sc.name] = n
    plant_cfg, lim = sim.plant, sim.site.settings
    fws_pull = lim.setpoints.fws_supply_temp - lim.limits.fws_recovery_margin_k
    bounds = {n: scenario_bound(loaded[n], plant_cfg, fws_pull) for n in names}
    tasks = [(n, c, bounds[n].delivered_kwh, site) for n in names for c in CONTROLLERS]
    cost = {n: loaded[n].duration / loaded[n].dt for n in names}
    tasks.sort(key=lambda task: -cost[task[0]])  # longest first: the pool ends together
    total = sum(cost[n] for n, _, _, _ in tasks)
    runs: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    done = 0.0
    if workers <= 1:
        for task in tasks:
            weight = cost[task[0]]

            def part(frac: float, base: float = done, w: float = weight) -> None:
                if on_progress is not None:
                    on_progress((base + frac * w) / total)

            runs.append(run_one(*task[:3], progress=part, site_path=site))
            done += weight
    else:
        ctx = multiprocessing.get_context("spawn")  # no fork under a progress thread
        with ctx.Pool(min(workers, len(tasks))) as pool:
            by_name = {loaded[n].name: n for n in names}
            for run in pool.imap_unordered(_task, tasks):
                runs.append(run)
                done += cost[by_name[run["scenario"]]]
                if on_progress is not None:
                    on_progress(done / total)
    wall = time.perf_counter() - t0
    scenarios: dict[str, Any] = {}
    for n in names:
        sc = loaded[n]
        scenarios[sc.name] = {
            "description": _first_sentence(sc.description),
            "duration_h": sc.duration / 3600.0,
            "bound": bounds[n].to_json(),
        }
    for run in runs:
        scenarios[run["scenario"]][run["controller"]] = run
    results = {"scenarios": scenarios, "workers": workers, "wall_s": round(wall, 1)}
    results["targets"] = check_targets(results)
    return results


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    head = flat.split(". ", 1)[0]
    return head if head.endswith(".") else head + "."


def check_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 6's targets for the project's controller, each with its figure and verdict."""
    sc = results["scenarios"]
    rows: list[dict[str, Any]] = []

    def add(target: str, scenario: str, value: Any, required: str, met: bool | None) -> None:
        rows.append(
            {
                "target": target,
                "scenario": scenario,
                "value": value,
                "required": required,
                "met": met,
            }
        )

    def k(name: str, ctl: str = "ours") -> dict[str, Any] | None:
        run = sc.get(name, {}).get(ctl)
        return run["kpis"] if run else None

    for name in sc:
        ours, base = k(name), k(name, "baseline")
        if ours is None:
            continue
        over = ours["fws_s_above_limit"]
        add("0 s above the FWS limit", name, over, "0 s", over == 0)
        if base is not None:
            a, b = ours["hp_starts"], base["hp_starts"]
            add(
                "fewer heat-pump starts than baseline",
                name,
                f"{a} vs {b}",
                "< baseline",
                a < b or a == b == 0,
            )
            a, b = ours["dumped_mwh"], base["dumped_mwh"]
            add(
                "less heat dumped than baseline",
                name,
                f"{a:.2f} vs {b:.2f} MWh",
                "< baseline",
                a < b,
            )
    for name in (STEADY, AI_LOAD):
        ours = k(name)
        if ours is not None:
            v = ours["dh_in_band_pct"]
            add(
                "DH supply within +/-1 K",
                name,
                v,
                f">= {IN_BAND_MIN_PCT} %",
                v is not None and v >= IN_BAND_MIN_PCT,
            )
    for name in (STEADY, AI_LOAD, SUMMER):
        ours = k(name)
        if ours is not None:
            v = ours["recovery_ratio"]
            add(
                "recovery ratio", name, v, f">= {RECOVERY_MIN}", v is not None and v >= RECOVERY_MIN
            )
    ours = k(STEADY)
    if ours is not None:
        v = ours["wall_s_per_24h"]
        add(
            "24 h of plant in wall time",
            STEADY,
            v,
            f"< {WALL_S_PER_24H_MAX} s",
            v is not None and v < WALL_S_PER_24H_MAX,
        )
    return rows


def strip_series(results: dict[str, Any]) -> dict[str, Any]:
    """The results without the recorded series (the JSON keeps figures, not traces)."""
    out = dict(results)
    out["scenarios"] = {
        n: {
            k: ({kk: vv for kk, vv in v.items() if kk != "series"} if isinstance(v, dict) else v)
            for k, v in s.items()
        }
        for n, s in results["scenarios"].items()
    }
    return out
