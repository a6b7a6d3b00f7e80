"""Setpoint ramp: rates per direction, explicit time, bumpless tracking."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest
from pydantic import ValidationError

from controller.core.ramp import Ramp, RampConfig


def make(up: float = 1.0, down: float = 2.0, initial: float | None = None) -> Ramp:
    return Ramp(RampConfig(up_per_min=up, down_per_min=down), initial)


def test_rises_at_up_rate_and_stops_at_target() -> None:
    r = make(up=1.0, initial=60.0)  # 1 K/min
    r.step(70.0, 0.0)  # time reference only
    outs = [r.step(70.0, float(t)) for t in range(1, 601)]  # 10 min at 1 s
    assert outs[59] == pytest.approx(61.0)  # one minute: +1 K
    assert outs[299] == pytest.approx(65.0)
    assert outs[-1] == pytest.approx(70.0)
    assert all(b >= a for a, b in pairwise(outs))  # monotone
    assert max(outs) <= 70.0  # never overshoots the target
    assert r.step(70.0, 700.0) == 70.0


def test_falls_at_its_own_rate() -> None:
    r = make(up=1.0, down=3.0, initial=70.0)
    r.step(50.0, 0.0)
    assert r.step(50.0, 60.0) == pytest.approx(67.0)  # 3 K/min down, not 1
    assert r.step(50.0, 120.0) == pytest.approx(64.0)
    r2 = make(up=1.0, down=3.0, initial=50.0)
    r2.step(70.0, 0.0)
    assert r2.step(70.0, 60.0) == pytest.approx(51.0)  # and 1 K/min up, not 3


def test_rate_independent_of_scan_period() -> None:
    fast, slow = make(initial=40.0), make(initial=40.0)
    fast.step(60.0, 0.0)
    slow.step(60.0, 0.0)
    for k in range(1, 3001):
        fast.step(60.0, k * 0.1)  # 100 ms scan for 300 s
    out_slow = slow.step(60.0, 300.0)  # one leap of 300 s
    assert fast.value == pytest.approx(45.0)
    assert out_slow == pytest.approx(45.0)


def test_first_step_without_initial_starts_at_target() -> None:
    r = make()
    assert r.value is None
    assert r.step(65.0, 10.0) == 65.0
    assert r.step(80.0, 70.0) == pytest.approx(66.0)


def test_track_is_bumpless() -> None:
    r = make(up=1.0, down=1.0, initial=70.0)
    r.step(70.0, 0.0)
    # Switching from manual: the plant is actually at 55 °C.
    r.track(55.0, now=100.0)
    assert r.value == 55.0
    assert r.step(70.0, 160.0) == pytest.approx(56.0)  # ramps from 55, not from 70


def test_track_without_time_moves_nothing_on_next_step() -> None:
    r = make(up=1.0, down=1.0, initial=70.0)
    r.step(70.0, 0.0)
    r.track(55.0)
    assert r.step(70.0, 5000.0) == 55.0  # reference only: no catch-up jump
    assert r.step(70.0, 5060.0) == pytest.approx(56.0)


def test_nan_target_holds_and_does_not_bank_time() -> None:
    r = make(up=1.0, down=1.0, initial=60.0)
    r.step(60.0, 0.0)
    for t in range(1, 601):
        assert r.step(math.nan, float(t)) == 60.0
    # Ten minutes of hold must not allow a 10 K jump when the target returns.
    assert r.step(70.0, 601.0) == pytest.approx(60.0 + 1 / 60)


def test_time_standing_still_or_backwards_moves_nothing() -> None:
    r = make(initial=60.0)
    r.step(70.0, 100.0)
    assert r.step(70.0, 100.0) == 60.0
    assert r.step(70.0, 50.0) == 60.0
    assert r.step(70.0, 110.0) == pytest.approx(60.0 + 60 / 60)


def test_infinite_rate_passes_target_through() -> None:
    r = make(up=math.inf, down=1.0, initial=40.0)
    r.step(40.0, 0.0)
    assert r.step(75.0, 1.0) == 75.0
    assert r.step(40.0, 2.0) == pytest.approx(75.0 - 1 / 60)


@pytest.mark.parametrize("field", ["up_per_min", "down_per_min"])
@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_config_rejects_non_positive_rates(field: str, bad: float) -> None:
    kwargs = {"up_per_min": 1.0, "down_per_min": 1.0, field: bad}
    with pytest.raises(ValidationError):
        RampConfig(**kwargs)
