"""Meter register handling: rollover, backward and impossible jumps, reset, replacement."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.accounting.meter import (
    MeterRegister,
    RegisterEvent,
    RegisterMark,
    register_modulus,
)
from controller.config.registermap import load_register_map

REGISTERS = Path(__file__).resolve().parent.parent / "config" / "registers.toml"


def reg(**kw: object) -> MeterRegister:
    args: dict[str, object] = {
        "modulus": 100_000_000.0,
        "max_rate_per_h": 2000.0,
        "margin": 1.5,
        "quantum": 1.0,
        "confirm_readings": 3,
        "reset_max_start": 1000.0,
    }
    args.update(kw)
    return MeterRegister(**args)  # type: ignore[arg-type]


def test_modulus_comes_from_the_register_map() -> None:
    regmap = load_register_map(REGISTERS)
    assert register_modulus(regmap.point("heatmeter", "energy")) == 100_000_000.0
    # The volume register counts 0.01 m3: it wraps at 1 000 000 m3.
    assert register_modulus(regmap.point("heatmeter", "volume")) == pytest.approx(1_000_000.0)


def test_first_reading_is_a_baseline_not_energy() -> None:
    r = reg()
    step = r.update(5000.0, 0.0)
    assert step.delta == 0 and step.events == (RegisterEvent.BASELINE,)
    assert r.update(5003.0, 10.0).delta == 3.0


def test_rollover_counts_the_wrapped_increment() -> None:
    r = reg()
    r.update(99_999_990.0, 0.0)
    a = r.update(99_999_999.0, 10.0)
    b = r.update(5.0, 20.0)
    assert (a.delta, b.delta) == (9.0, 6.0)
    assert b.events == (RegisterEvent.ROLLOVER,)
    assert b.from_value == 99_999_999.0


def test_backward_counter_is_flagged_and_not_summed() -> None:
    r = reg()
    r.update(5000.0, 0.0)
    back = r.update(4990.0, 10.0)
    assert back.delta == 0 and not back.good
    assert back.events == (RegisterEvent.BACKWARD,)
    # A one-off bad read costs nothing: the next good reading counts from the old base.
    nxt = r.update(5002.0, 20.0)
    assert nxt.delta == 2.0 and nxt.since == 0.0


def test_impossible_jump_is_flagged_and_not_summed() -> None:
    r = reg()
    r.update(5000.0, 0.0)
    # 2000 kW x 10 s x 1.5 = 8.3 kWh (+1 quantum) is the most a reading may advance.
    ok = r.update(5009.0, 10.0)
    assert ok.delta == 9.0
    jump = r.update(55_009.0, 20.0)
    assert jump.delta == 0 and jump.events == (RegisterEvent.JUMP,)
    assert r.baseline == RegisterMark(5009.0, 10.0)


def test_slowly_polled_register_may_step_in_a_short_cycle() -> None:
    """3 kWh arriving in a 0.1 s cycle is fine if the register last moved 10 s ago."""
    r = reg()
    r.update(1000.0, 0.0)
    for i in range(1, 100):
        assert r.update(1000.0, i * 0.1).delta == 0
    step = r.update(1003.0, 10.0)
    assert step.delta == 3.0 and step.events == ()


def test_persistent_jump_is_resynced_without_counting_the_step() -> None:
    r = reg()
    r.update(5000.0, 0.0)
    steps = [r.update(v, t) for v, t in ((80_000.0, 10.0), (80_002.0, 20.0), (80_005.0, 30.0))]
    assert [s.delta for s in steps] == [0.0, 0.0, 5.0]
    assert steps[0].events == (RegisterEvent.JUMP,)
    assert steps[2].events == (RegisterEvent.RESYNC,)
    assert steps[2].since == 10.0
    assert r.update(80_006.0, 40.0).delta == 1.0


def test_detected_reset_to_a_small_value() -> None:
    r = reg()
    r.update(5_000_000.0, 0.0)
    steps = [r.update(v, t) for v, t in ((0.0, 10.0), (2.0, 20.0), (4.0, 30.0))]
    assert steps[0].events == (RegisterEvent.BACKWARD,)
    assert steps[2].events == (RegisterEvent.RESET,)
    assert steps[2].delta == 4.0


def test_glitches_that_do_not_follow_each_other_are_never_accepted() -> None:
    r = reg()
    r.update(5000.0, 0.0)
    for i, v in enumerate((9.0e6, 1.0, 7.7e7, 3.0e5, 42.0), start=1):
        s = r.update(v, i * 10.0)
        assert s.delta == 0 and not s.good
    assert r.baseline == RegisterMark(5000.0, 0.0)


def test_operator_records_a_replacement() -> None:
    r = reg()
    r.update(5000.0, 0.0)
    r.update(5004.0, 10.0)
    step = r.replace(new_start=100.0, now=20.0, old_final=5010.0)
    assert step.delta == 6.0 and step.events == (RegisterEvent.REPLACED,)
    assert r.update(103.0, 30.0).delta == 3.0


def test_replacement_with_an_implausible_final_reading_counts_nothing() -> None:
    r = reg()
    r.update(5000.0, 0.0)
    step = r.replace(new_start=0.0, now=10.0, old_final=4000.0)
    assert step.delta == 0
    assert RegisterEvent.BACKWARD in step.events


def test_missing_reading_keeps_the_baseline() -> None:
    r = reg()
    r.update(5000.0, 0.0)
    assert not r.update(None, 10.0).good
    assert not r.update(float("nan"), 20.0).good
    step = r.update(5010.0, 30.0)
    assert step.delta == 10.0 and step.since == 0.0
