"""Facility-water split range as cycle tables: one loop output, valve then fans.

Rows drive the loop output directly (``track``) or through the temperature, and
check what valve and fans are told. A failure names the table, the row and time.
"""

from __future__ import annotations

import pytest
from core_plant import shipped_site

from controller.core.conditioning import PlantView
from controller.core.fwsloop import FROST_GAIN, FROST_MARGIN_K, FwsLoop


def loop() -> FwsLoop:
    return FwsLoop(shipped_site().settings)


def test_split_range_valve_first_then_fans() -> None:
    f = loop()
    assert f.split == 30.0  # the shipped split: 0-30 % valve, 30-100 % fans
    # (loop output, expected valve %, expected fan %)
    rows = [(0.0, 0.0, 0.0), (15.0, 50.0, 0.0), (30.0, 100.0, 0.0), (65.0, 100.0, 50.0)]
    rows += [(100.0, 100.0, 100.0)]
    for i, (u, valve, fan) in enumerate(rows):
        f.loop.track(u, 35.0)  # output u now; the water at setpoint holds it
        f.step(35.0, 1.0, valve_pinned_open=False)
        got = (f.valve, f.fan)
        assert got == (pytest.approx(valve), pytest.approx(fan)), f"row {i} u={u}: {got}"


def test_output_for_measured_positions_inverts_the_split() -> None:
    f = loop()
    for i, (valve, fan, u) in enumerate([(50.0, 0.0, 15.0), (100.0, 50.0, 65.0), (0, 0, 0)]):
        assert f.output_for(valve, fan) == pytest.approx(u), f"row {i}"


def test_reverse_action_hotter_water_more_cooling_and_a_pinned_valve_in_safe() -> None:
    f = loop()
    f.loop.track(50.0, 35.0)
    # (time, supply, pinned open, expectation on (valve, fan) against the last row)
    t, last_fan = 0.0, None
    rows = [(10, 35.0, False, "hold"), (60, 37.0, False, "up"), (120, 33.0, False, "down")]
    for i, (row_t, supply, pinned, want) in enumerate(rows):
        while t < row_t:
            t += 1.0
            f.step(supply, 1.0, valve_pinned_open=pinned)
        if last_fan is not None:
            moved = f.fan - last_fan
            ok = {"hold": abs(moved) < 0.5, "up": moved > 1.0, "down": moved < -1.0}[want]
            assert ok, f"row {i} t={row_t}: fan {last_fan:.1f} -> {f.fan:.1f}, want {want}"
        last_fan = f.fan
    # SAFE pins the valve open: the loop's lower limit becomes the split.
    f.loop.track(0.0, 30.0)
    f.step(30.0, 1.0, valve_pinned_open=True)
    assert (f.valve, f.loop.limits) == (100.0, (30.0, 100.0))
    assert f.fault == ""


def test_force_full_then_bumpless() -> None:
    f = loop()
    f.loop.track(20.0, 35.0)
    f.step(35.0, 1.0, valve_pinned_open=False)
    f.force_full(35.0)
    f.step(35.0, 1.0, valve_pinned_open=False)
    assert (f.valve, f.fan) == (100.0, pytest.approx(100.0, abs=0.5))


def test_take_over_from_full_cooling_starts_from_the_heat_left_to_reject() -> None:
    f = loop()
    f.loop.track(100.0, 34.0)
    # 800 kW of IT heat, the heat pump takes 600 kW net, the coolers reject 1000 kW at 100 %.
    v = PlantView(fws_supply=34.0, it_heat_kw=800.0, dc_heat_kw=1000.0, hp_running=True)
    v.hp_heat_kw, v.hp_power_kw = 750.0, 150.0
    f.take_over(v, 35.0)
    assert f.loop.last_output == pytest.approx(20.0)  # (800 - 600) / (1000 / 100)
    f.loop.track(100.0, 36.0)
    v.fws_supply = 36.0  # above setpoint: IT cooling is not traded, stays bumpless
    f.take_over(v, 35.0)
    assert f.loop.last_output == pytest.approx(100.0)


def test_a_frost_held_output_is_not_stuck() -> None:
    """The frost cap holding the fans steady with the water hot is no loop fault.

    Without the exemption the stuck-output check (60 s unchanged, water > 1 K above
    setpoint) forced the fans to full and froze the exchanger the cap protects.
    """
    f = loop()
    sp = f.loop.setpoint
    frost = shipped_site().settings.limits.drycooler_frost
    target = frost + FROST_MARGIN_K  # glycol here: the cap holds where it is
    hot = sp + 3.0
    held = 100.0 - 20 * FROST_GAIN
    # (time, glycol into the plate exchanger, expected fault, fan % range)
    rows = [
        (20, target - 1.0, False, (held, held)),  # too cold: the cap comes down
        (200, target, False, (held, held)),  # held there, output steady for 180 s
        (260, target + 1.0, False, (held + 5.0, 100.0)),  # warm again: the fans rise
    ]
    t = 0.0
    for i, (row_t, glycol, fault, (lo, hi)) in enumerate(rows):
        while t < row_t:
            t += 1.0
            f.step(hot, 1.0, valve_pinned_open=False, glycol=glycol, frost_limit=frost)
            assert f.fan <= f.frost_cap + 1e-9, f"row {i} t={t}: fan {f.fan} above the cap"
        where = f"row {i} t={row_t}: fault {f.fault!r}, fan {f.fan:.2f}"
        assert bool(f.fault) == fault and lo - 1e-6 <= f.fan <= hi + 1e-6, where
