"""Closed-loop behaviour of the control strategy in every shipped scenario (issue 3).

The controller core runs against the plant physics in simulated time; the KPIs are
measured on the physics' truth, never on the controller's own sensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from simulator.runner import RunResult, run_scenario
from simulator.scenario import list_scenarios

ALL = list_scenarios()
H = 3600.0


def alarm_times(result: RunResult, alarm_id: str, kind: str = "raise") -> list[float]:
    return [a["t"] for a in result.alarms if a["id"] == alarm_id and a["kind"] == kind]


def series_window(result: RunResult, key: str, t0_h: float, t1_h: float) -> list[float]:
    s = result.series
    return [v for t, v in zip(s["t_h"], s[key], strict=True) if t0_h <= t < t1_h]  # type: ignore[misc]


@pytest.mark.parametrize("name", ALL)
def test_fws_supply_never_above_limit(scenario_run: Callable[..., RunResult], name: str) -> None:
    r = scenario_run(name)
    assert r.kpis["seconds_above_fws_limit"] == 0.0
    assert r.kpis["fws_supply_max_c"] < 40.0


def test_winter_day_holds_dh_supply(scenario_run: Callable[..., RunResult]) -> None:
    r = scenario_run("winter-steady")
    assert r.kpis["injecting_h"] > 23.0
    assert r.kpis["dh_supply_in_band_pct"] >= 95.0  # issue 3's floor; issue 6 asks 99
    assert r.hp_starts == 0  # a winter day needs no restart


def _after_outage(r: RunResult, t_back_h: float) -> tuple[float, float]:
    """(hours until injection resumed, worst |supply - setpoint| while injecting after)."""
    s = r.series
    rows = [
        (t, d, sup, sp)
        for t, d, sup, sp in zip(
            s["t_h"], s["delivered_kw"], s["dh_supply"], s["dh_setpoint"], strict=True
        )
        if t >= t_back_h  # type: ignore[operator]
    ]
    resumed = next(t for t, d, _, _ in rows if d > 500.0)  # type: ignore[operator]
    worst = max(abs(sup - sp) for t, d, sup, sp in rows if t > resumed and d > 1.0)  # type: ignore[operator]
    return resumed - t_back_h, worst  # type: ignore[operator]


def test_dh_outage_heat_is_stored_then_dumped_and_recovery_resumes(
    scenario_run: Callable[..., RunResult],
) -> None:
    """Default ``network_loss = "store"``: the tank takes the heat, the bypass the rest."""
    r = scenario_run("dh-outage")
    assert max(series_window(r, "delivered_kw", 2.05, 3.95)) < 1.0  # type: ignore[type-var]
    soc = series_window(r, "tank_soc", 2.0, 4.0)
    assert soc[-1] > soc[0] + 0.4  # type: ignore[operator]  # heat stored, to be sold later
    # Every kW the racks made went somewhere: into the tank through the heat pump or
    # to the dry coolers (the heat pump takes IT heat as long as the tank has room).
    # Until 3.85 h: since issue 10 the heat pump makes ~945 kW here (its map, not a
    # flat 1.2 MW x load), so the tank is full ~5 min before the network returns.
    hp = series_window(r, "hp_heat_kw", 2.05, 3.85)
    assert min(hp) > 500.0  # type: ignore[type-var]
    assert r.kpis["fws_supply_max_c"] < 38.0
    delay_h, _ = _after_outage(r, 4.0)
    assert delay_h < 10 / 60  # injection resumes within 10 min of the network's return
    # The 2 h outage fills this tank just as the network returns: the heat pump must
    # stop on the full tank and restart once; a shorter outage would cost no start.
    assert r.hp_starts <= 1
    if r.hp_starts:
        assert max(soc) >= 0.98  # type: ignore[type-var]


@pytest.mark.xfail(
    strict=True,
    reason=(
        "issue 10, open: on the honest plant the heat pump restarts while the tank "
        "discharges and its overshoot reaches the network 1.18 K off setpoint (floor "
        "1.0 K); the control fix is pending. Strict: passing again fails this marker."
    ),
)
def test_dh_outage_store_resumes_inside_the_contract_band(
    scenario_run: Callable[..., RunResult],
) -> None:
    """After the outage, injection resumes without a bump: inside ±1 K from the first minute."""
    _, worst = _after_outage(scenario_run("dh-outage"), 4.0)
    assert worst <= 1.0


def test_dh_outage_safe_policy_bypass_takes_all_heat_at_once() -> None:
    """``network_loss = "safe"``: heat pump off, every kW of IT heat to the dry coolers."""
    from simulator.runner import load_defaults

    plant, site = load_defaults()
    s = site.settings.model_copy(
        update={"interlocks": site.settings.interlocks.model_copy(update={"network_loss": "safe"})}
    )
    r = run_scenario(
        "dh-outage",
        plant_cfg=plant,
        site=site.model_copy(update={"settings": s}),
        record_every_s=60,
    )
    it = series_window(r, "it_heat_kw", 2.2, 3.9)
    rejected = series_window(r, "rejected_kw", 2.2, 3.9)
    hp = series_window(r, "hp_heat_kw", 2.2, 3.9)
    assert max(hp) < 1.0  # type: ignore[type-var]
    # Everything the racks make leaves through the dry coolers (within 5 %: the
    # facility water's own thermal mass absorbs the transient).
    assert sum(rejected) >= 0.95 * sum(it)  # type: ignore[arg-type]
    assert r.kpis["fws_supply_max_c"] < 38.0
    assert "SAFE" in r.kpis["mode_hours"]
    delay_h, worst = _after_outage(r, 4.0)
    assert delay_h < 0.5  # interlock dwell, heat-pump restart, then injection
    assert worst <= 1.0


def test_hp_trip_is_ridden_through_and_reset(scenario_run: Callable[..., RunResult]) -> None:
    r = scenario_run("hp-trip")
    raised = alarm_times(r, "HP_TRIPPED")
    assert raised and 2 * H <= raised[0] < 2 * H + 10
    # The heat pump is running again after the cause clears (10 min) and the reset.
    load = series_window(r, "hp_load_pct", 2.5, 6.0)
    assert max(load) > 40.0  # type: ignore[type-var]
    assert r.hp_starts == 1
    # The network kept its heat from the tank meanwhile.
    assert r.kpis["dh_supply_in_band_pct"] >= 99.0


def _takeover_seconds(name: str, failing: str, standby: str) -> float:
    seen: dict[str, float] = {}

    def watch(t: float, plant: Any, _out: Any) -> None:
        group = plant.fws_pumps if failing.startswith("p1") else plant.dh_pumps
        pumps = {p.name: p for p in group.pumps}
        if "fault" not in seen and pumps[failing].faulted:
            seen["fault"] = t
        if "fault" in seen and "takeover" not in seen and pumps[standby].running:
            seen["takeover"] = t

    run_scenario(name, observer=watch, record_every_s=600.0)
    return seen["takeover"] - seen["fault"]


def test_fws_pump_failure_standby_takes_over_within_5_s() -> None:
    assert _takeover_seconds("fws-pump-failure", "p1a", "p1b") <= 5.0


def test_dh_pump_failure_standby_takes_over_within_5_s() -> None:
    assert _takeover_seconds("dh-pump-failure", "p2a", "p2b") <= 5.0


def test_stuck_sensor_detected_and_voted_out(scenario_run: Callable[..., RunResult]) -> None:
    r = scenario_run("sensor-stuck")
    raised = alarm_times(r, "FWS_SENSOR_A_FAULT")
    assert raised, "the stuck sensor was never flagged"
    assert H <= raised[0] <= H + 15 * 60  # bounded detection time once the process moves
    # The loop ran on the redundant sensors: true FWS supply stayed near its setpoint.
    fws = series_window(r, "fws_supply", 1.0, 2.0)
    assert max(abs(x - 35.0) for x in fws) < 1.5  # type: ignore[operator]


def test_out_of_range_sensors_fall_back(scenario_run: Callable[..., RunResult]) -> None:
    r = scenario_run("sensor-out-of-range")
    dh = alarm_times(r, "DH_SUPPLY_SENSOR_FAULT")
    fws = alarm_times(r, "FWS_SENSOR_A_FAULT")
    assert dh and H <= dh[0] <= H + 30  # implausible value: BAD at once, alarm after on-delay
    assert fws and 2.5 * H <= fws[0] <= 2.5 * H + 30
    assert r.kpis["dh_supply_in_band_pct"] >= 99.0  # the meter's sensor took over
    cleared = alarm_times(r, "DH_SUPPLY_SENSOR_FAULT", "rtn_unack") + alarm_times(
        r, "DH_SUPPLY_SENSOR_FAULT", "clear"
    )
    assert cleared, "the alarm should return to normal after the sensor recovers"


def test_comms_loss_detected_and_recovered(scenario_run: Callable[..., RunResult]) -> None:
    r = scenario_run("comms-loss")
    for alarm, at in (("COMMS_HEATPUMP", 0.5 * H), ("COMMS_CDU01", 1.0 * H)):
        raised = alarm_times(r, alarm)
        assert raised and at <= raised[0] <= at + 15
        back = alarm_times(r, alarm, "rtn_unack") + alarm_times(r, alarm, "clear")
        assert back and back[0] > raised[0]
    modes = [e for e in r.events if e["event"] == "mode"]
    assert modes[-1]["to"] == "RECOVERY"
    assert r.hp_starts == 0  # a one-minute silence does not cost a heat-pump start


def test_controller_stop_plc_takes_over_and_controller_recovers(
    scenario_run: Callable[..., RunResult],
) -> None:
    r = scenario_run("controller-stop")
    trips = [e for e in r.events if e.get("interlock") == "plc_local_safe"]
    assert trips, "the plant PLC should have taken local safe mode"
    modes = [e["to"] for e in r.events if e["event"] == "mode"]
    assert "SAFE" in modes and modes[-1] == "RECOVERY"


def test_fouling_raises_maintenance_alarm(scenario_run: Callable[..., RunResult]) -> None:
    r = scenario_run("hx-fouling")
    raised = alarm_times(r, "HX_FOULING")
    assert raised
    # UA falls linearly from 1.0 at 6 h to 0.5 at 66 h; 0.7 is crossed at 42 h, and the
    # alarm needs an hour below it (plus the estimate's one-hour filter).
    assert 42 * H <= raised[0] <= 48 * H
