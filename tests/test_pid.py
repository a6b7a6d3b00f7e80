"""The PID wrapper: explicit dt, bumpless hand-over and override (external reset) feedback."""

from __future__ import annotations

import time

import pytest

from controller.core.pid import Loop


def test_explicit_dt_and_no_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(time, "monotonic", lambda: calls.append(1) or 0.0)
    loop = Loop("x", kp=1.0, ki=0.1, kd=0.0, setpoint=10.0, limits=(0.0, 100.0), initial=0.0)
    u1 = loop.update(8.0, dt=1.0)  # error 2: P 2 + I 0.2
    u2 = loop.update(8.0, dt=1e-4)  # tiny dt still computes (sample_time is None)
    assert u1 == pytest.approx(2.2)
    assert u2 == pytest.approx(2.2 + 0.1 * 2 * 1e-4)
    assert calls == []  # never read the wall clock


def test_reverse_action_raises_output_when_measurement_rises() -> None:
    loop = Loop(
        "cool",
        kp=5.0,
        ki=0.0,
        kd=0.0,
        setpoint=35.0,
        limits=(0.0, 100.0),
        direct=False,
        initial=50.0,
    )
    assert loop.update(36.0, 1.0) > loop.update(35.5, 1.0)


def test_track_is_bumpless_with_p_on_error() -> None:
    loop = Loop("x", kp=4.0, ki=0.5, kd=0.0, setpoint=50.0, limits=(0.0, 100.0))
    loop.track(37.0, pv=45.0)  # hand-over at 37 % with an error of 5 K
    assert loop.update(45.0, dt=1e-9) == pytest.approx(37.0, abs=1e-6)


def test_reset_feedback_lets_p_term_decide_the_override() -> None:
    """The loop losing a low select follows the winner; its own P term takes over."""
    src = Loop(
        "source", kp=250.0, ki=0.0, kd=0.0, setpoint=34.0, limits=(-1200.0, 1200.0), direct=False
    )
    src.reset_feedback(600.0)
    # Water warmer than the bound: the source loop asks for more than the winner...
    assert src.update(35.0, 1.0) == pytest.approx(850.0)
    src.reset_feedback(600.0)
    # ...and colder than the bound it asks for less at once: it wins the low select.
    assert src.update(33.0, 1.0) == pytest.approx(350.0)
    src.reset_feedback(5000.0)  # clamped to the output limits
    assert src.update(34.0, 1.0) == pytest.approx(1200.0)


def test_retune_keeps_output() -> None:
    loop = Loop("x", kp=2.0, ki=0.1, kd=0.0, setpoint=10.0, limits=(0.0, 100.0), initial=20.0)
    before = loop.update(9.0, 1.0)
    loop.retune(kp=8.0, ki=0.1, kd=0.0, pv=9.0)
    assert loop.update(9.0, 1e-9) == pytest.approx(before, abs=1e-6)
