"""The conventional baseline: same safety, same equipment limits, its own simple rules.

A baseline that broke the interlocks or short-cycled the heat pump would make every
comparison meaningless, so it is held to the same limits as the project's
controller, on a short hand-made scenario that tempts it to cycle and on the
shipped heat-pump trip.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from simulator.baseline import BaselineCore, BaselineStrategy
from simulator.baseline_rules import BaselineTuning, FanStager, HeatPumpCall
from simulator.plant import Plant
from simulator.runner import ClosedLoop, RunResult, load_defaults
from simulator.scenario import load_scenario

pytestmark = pytest.mark.xdist_group("scenarios")

# A light IT load (0.38: less heat than the heat pump's fixed load takes; 0.45 before
# issue 10, when the unit's COP ignored part load and its capacity the source) and a
# thermostat with no off delay and 0.2 K of hysteresis: the rules ask the heat pump
# on and off faster than its minimum run and off times allow, so the guard must act.
CYCLING = """
name = "baseline-cycling"
description = "Light IT load and a nervous thermostat: the baseline wants to cycle."
duration = "2h"
dt = 1.0
seed = 4

[initial]
tank_soc = 0.3
hp_running = true
fws_supply_temp = 35.0

[series.ambient_temp]
value = -3.0

[series.it_utilisation]
value = 0.38

[series.dh_demand]
value = 600.0
"""
NERVOUS = BaselineTuning(hp_on_return_c=36.2, hp_off_return_c=36.0, hp_off_delay_s=0.0)


@pytest.fixture(scope="module")
def cycling(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = Path(tmp_path_factory.mktemp("sc")) / "baseline-cycling.toml"
    path.write_text(CYCLING, encoding="utf-8")
    loop = ClosedLoop(load_scenario(path), controller="baseline", record_every_s=10.0)
    s = loop.site.settings
    nervous = BaselineStrategy(s, loop.reverts, NERVOUS)
    loop.core = BaselineCore(s, loop.reverts, loop.alarm_defs, now=0.0, strategy=nervous)
    trace: list[tuple[float, bool, bool, float]] = []
    blocked: set[str] = set()

    def observe(t: float, p: Plant, out: Any) -> None:
        enable = bool(out and out.commands.get("heatpump.enable", 0.0) >= 0.5)
        trace.append((t, p.hp.running, enable, p.t_fws_supply))
        reason = loop.core.strategy.asc.blocked_reason  # type: ignore[union-attr]
        if reason is not None:
            blocked.add(str(reason))

    result = loop.run(observer=observe)
    return {"result": result, "trace": trace, "loop": loop, "blocked": blocked}


def test_baseline_runs_end_to_end_with_its_own_core(cycling: dict[str, Any]) -> None:
    r: RunResult = cycling["result"]
    assert isinstance(cycling["loop"].core, BaselineCore)
    assert r.controller == "baseline"
    assert r.energy_kwh["delivered"] > 0.5 * r.energy_kwh["demand"]
    assert abs(r.balance["relative_error"]) < 1e-3


def test_baseline_keeps_fws_under_the_limit(cycling: dict[str, Any]) -> None:
    r: RunResult = cycling["result"]
    assert r.kpis["seconds_above_fws_limit"] == 0.0
    assert max(f for *_, f in cycling["trace"]) < 40.0


def test_baseline_never_short_cycles_the_heat_pump(cycling: dict[str, Any]) -> None:
    """Commands, not just the machine: the unit's own timers must never be needed."""
    _, site = load_defaults()
    hs = site.settings.heatpump
    trace = cycling["trace"]
    run_start: float | None = None
    stop_time: float | None = None
    was_running = trace[0][1]
    was_enable = trace[0][2]
    starts: list[float] = []
    stops = 0
    for t, running, enable, _ in trace:
        if running and not was_running:
            run_start = t
            starts.append(t)
        if was_running and not running:
            stop_time = t
        if was_enable and not enable:
            stops += 1
            # A normal stop only after the measured run reached its minimum.
            assert run_start is None or t - run_start >= hs.min_run_s - 1.0
        if enable and not was_enable:
            assert stop_time is None or t - stop_time >= hs.min_off_s - 1.0
        was_running, was_enable = running, enable
    assert stops >= 2
    assert {"min_run", "min_off"} <= cycling["blocked"], "the rules must have wanted to cycle"
    for i, t in enumerate(starts):
        assert sum(1 for s in starts[: i + 1] if t - s < 3600.0) <= hs.max_starts_per_hour


def test_baseline_uses_fixed_setpoint_and_load(cycling: dict[str, Any]) -> None:
    core: BaselineCore = cycling["loop"].core
    t = NERVOUS
    assert core.strategy.hp_setpoint == pytest.approx(70.0 + t.hp_setpoint_margin_k)
    out = cycling["loop"].last_output
    enable = out.commands["heatpump.enable"] >= 0.5
    assert out.commands["heatpump.load_setpoint"] == (t.hp_load_pct if enable else 0.0)
    assert out.commands["heatpump.supply_setpoint"] == core.strategy.hp_setpoint


def test_baseline_trip_forces_full_cooling_and_restarts_once(
    scenario_run: Callable[..., RunResult],
) -> None:
    r = scenario_run("hp-trip", "baseline")
    assert r.kpis["seconds_above_fws_limit"] == 0.0
    assert r.kpis["fws_supply_max_c"] < 38.0
    assert r.hp_starts == 1  # one restart after the reset, no more
    s = r.series
    after = [f for t, f in zip(s["t_h"], s["fan_pct"], strict=True) if 2.0 < t <= 2.01]
    assert after and max(after) == 100.0  # type: ignore[type-var]
    assert any(a["id"] == "HP_TRIPPED" and a["kind"] == "raise" for a in r.alarms)


def test_heat_pump_call_thermostats() -> None:
    t = BaselineTuning()
    call = HeatPumpCall(t, running=False)
    cold_tank = [70.0] * 2 + [50.0] * 8
    assert call.update(0.0, 38.0, cold_tank, 70.0) is False  # below the on threshold
    assert call.update(1.0, 39.5, cold_tank, 70.0) is True
    assert call.update(2.0, 35.5, cold_tank, 70.0) is True  # off needs 60 s below 36
    assert call.update(61.0, 35.5, cold_tank, 70.0) is True
    assert call.update(62.0, 35.5, cold_tank, 70.0) is False
    call = HeatPumpCall(t, running=True)
    full_tank = [70.0] * 9 + [66.0]  # bottom probe within 5 K of the setpoint
    assert call.update(0.0, 41.0, full_tank, 70.0) is False
    half = [70.0] * 5 + [45.0] * 5
    assert call.update(1.0, 41.0, half, 70.0) is False  # upper probe still hot: stay off
    empty = [70.0] * 2 + [45.0] * 8
    assert call.update(2.0, 41.0, empty, 70.0) is True


def test_fan_stager_steps_up_on_open_valve_and_down_when_idle() -> None:
    t = BaselineTuning()
    f = FanStager(t, stage=0)
    assert f.step(0.0, 100.0, 36.0, 35.0) == 0.0
    assert f.step(59.0, 100.0, 36.0, 35.0) == 0.0
    assert f.step(60.0, 100.0, 36.0, 35.0) == t.fan_stages[1]
    # The next stage needs the condition to hold a full minute again.
    assert f.step(100.0, 100.0, 36.0, 35.0) == t.fan_stages[1]
    assert f.step(159.0, 100.0, 36.0, 35.0) == t.fan_stages[1]
    assert f.step(160.0, 100.0, 36.0, 35.0) == t.fan_stages[2]
    assert f.step(170.0, 10.0, 35.0, 35.0) == t.fan_stages[2]
    assert f.step(169.0 + t.fan_down_delay_s, 10.0, 35.0, 35.0) == t.fan_stages[2]
    assert f.step(170.0 + t.fan_down_delay_s, 10.0, 35.0, 35.0) == t.fan_stages[1]
    f.full(2000.0)
    assert f.speed == 100.0
