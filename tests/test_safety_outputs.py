"""SAFE never depends on a regulating loop (issue 14, "Safety layer").

Field report: with a NaN FWS gain and a heat-pump trip the facility water reached
40.10 °C. In SAFE the fans were left to the FWS loop, whose output was NaN; the
clamps turned that into 0 % while the bypass valve stood at 100 %. Here each loop
of the core is made to answer a bad number directly (whatever the configuration
would allow), and every command SAFE sends must still be its safe value.
"""

from __future__ import annotations

import math

import pytest
from core_plant import PlantImage, core, reverts

from controller.core.core import ControlCore, CoreOutput
from controller.core.modes import Mode
from controller.core.pid import Loop

BAD = [math.nan, math.inf, -math.inf, 150.0, -20.0]
LOOPS = ["fws.loop", "hp.soc_loop", "hp.source_loop", "hp.trim_loop", "inj.power", "inj.guard"]


class BrokenLoop(Loop):
    """A loop that answers ``bad`` whatever it is asked: a broken gain or input."""

    def __init__(self, like: Loop, bad: float) -> None:
        lo, hi = like.limits
        super().__init__(like.name, 1.0, 0.0, 0.0, like.setpoint, (lo, hi))
        self.bad = bad

    def update(self, pv: float, dt: float) -> float:
        self.last_output = self.bad
        return self.bad


def break_loop(c: ControlCore, path: str, bad: float) -> None:
    block, attr = path.split(".")
    owner = getattr(c.strategy, block)
    setattr(owner, attr, BrokenLoop(getattr(owner, attr), bad))


def run(c: ControlCore, plant: PlantImage, t0: float, t1: float) -> CoreOutput:
    out = None
    t = t0
    while t < t1:
        out = c.step(plant.image(), c.settings, t, 1.0)
        t += 1.0
    assert out is not None
    return out


def safe_commands() -> dict[str, float]:
    """SAFE: every output at its revert value, fans at full (the water is too hot)."""
    want = {k: v for k, v in reverts().items() if not k.endswith((".heartbeat", ".trip_reset"))}
    want["drycooler.fan_speed_cmd"] = 100.0
    return want


def check(out: CoreOutput, want: dict[str, float], t: float, what: str) -> None:
    got = {k: out.commands[k] for k in want}
    bad = {k: (got[k], v) for k, v in want.items() if got[k] != v}
    assert not bad, f"{what} t={t}: (sent, safe) {bad}"


@pytest.mark.parametrize("path", LOOPS)
@pytest.mark.parametrize("bad", BAD, ids=["nan", "inf", "-inf", "150", "-20"])
def test_safe_commands_are_safe_whatever_a_loop_returns(path: str, bad: float) -> None:
    c, plant = core(), PlantImage()
    run(c, plant, 0, 60)  # in charge: RECOVERY
    assert c.modes.mode is Mode.RECOVERY
    break_loop(c, path, bad)
    # The heat pump trips and the facility water goes over its hard limit (40 °C).
    plant.heat_pump(running=False, tripped=True).set(fws_supply=40.5, fws_return=45.0)
    for t in range(60, 120):
        out = c.step(plant.image(), c.settings, float(t), 1.0)
        if t >= 61:  # the sensor group and the interlock see it on the first step
            assert c.modes.mode is Mode.SAFE, f"t={t}"
            check(out, safe_commands(), t, f"{path}={bad}")


@pytest.mark.parametrize("bad", BAD, ids=["nan", "inf", "-inf", "150", "-20"])
def test_fws_loop_fault_puts_the_coolers_at_full_and_raises_the_alarm(bad: float) -> None:
    """Outside SAFE too: the fault forces full cooling, says so, and is alarmed."""
    c, plant = core(), PlantImage()
    run(c, plant, 0, 60)
    break_loop(c, "fws.loop", bad)
    out = c.step(plant.image(), c.settings, 60.0, 1.0)
    assert (out.commands["plc.bypass_valve_cmd"], out.commands["drycooler.fan_speed_cmd"]) == (
        100.0,
        100.0,
    )
    assert [e.data["output"] for e in out.events if e.kind == "fault"] == ["fws_loop"]
    raised = [a.alarm_id for a in out.alarm_events if a.kind == "raise"]
    assert "LOOP_OUTPUT_FAULT" in raised


def test_under_high_high_the_coolers_stay_at_full_until_the_water_is_back_under_it() -> None:
    """A sound loop output that would take the fans down does not while over the limit."""
    c, plant = core(), PlantImage()
    run(c, plant, 0, 60)
    plant.set(fws_supply=40.5)
    c.step(plant.image(), c.settings, 60.0, 1.0)
    # Make the loop answer a plausible low output (valve pinned: its range is split..100).
    split = c.strategy.fws.split
    c.strategy.fws.loop = BrokenLoop(c.strategy.fws.loop, split)
    # Rows: (time, fws supply, expected fan command)
    rows = [(61, 40.5, 100.0), (90, 40.2, 100.0), (100, 40.01, 100.0), (101, 39.5, 0.0)]
    t = 61.0
    for row_t, supply, fan in rows:
        plant.set(fws_supply=supply)
        while t <= row_t:
            out = c.step(plant.image(), c.settings, t, 1.0)
            t += 1.0
        assert c.modes.mode is Mode.SAFE, f"t={row_t}"
        assert out.commands["drycooler.fan_speed_cmd"] == fan, f"row t={row_t} supply={supply}"


def test_a_stuck_fws_loop_is_a_fault_after_60_s_with_the_water_hot() -> None:
    c, plant = core(), PlantImage()
    run(c, plant, 0, 60)
    c.strategy.fws.loop = BrokenLoop(c.strategy.fws.loop, 40.0)  # in range, but never moves
    plant.set(fws_supply=37.0)  # 2 K above setpoint: a sound PI would open up
    # The 10 s input filter takes the water over setpoint + 1 K at t=67; 60 s later:
    rows = [(60, 40.0), (100, 40.0), (125, 40.0), (126, 100.0), (150, 100.0)]
    t = 60.0
    for row_t, fan in rows:
        while t <= row_t:
            out = c.step(plant.image(), c.settings, t, 1.0)
            t += 1.0
        want_fan = (
            (fan - c.strategy.fws.split) / (100 - c.strategy.fws.split) * 100
            if fan < 100
            else 100.0
        )
        assert out.commands["drycooler.fan_speed_cmd"] == pytest.approx(want_fan), f"t={row_t}"
    assert c.strategy.fws.fault.startswith("fws loop output stuck")
