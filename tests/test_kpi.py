"""KPI arithmetic on hand-made series: every figure the bench prints, checked exactly.

Each case is built so that a plausible wrong formula (dividing by total instead of
injecting time, counting the step at the limit, averaging COPs instead of summing
energies, timing from the wrong instant) gives a different number and fails.
"""

from __future__ import annotations

import pytest

from simulator.kpi import KpiAccumulator
from simulator.kpis import (
    FaultClock,
    FaultSpec,
    StepSample,
    electricity_kwh,
    faults_of,
    per_hour,
    recovery_ratio,
    run_kpis,
    seasonal_cop,
    tank_usable_kwh,
    valve_strokes,
    worst_fault_time,
)


def feed(acc: KpiAccumulator, rows: list[tuple], dt: float = 10.0) -> None:
    """rows: (fws, injecting, dh_supply, setpoint, requested, delivered, demand)."""
    for fws, inj, dh, sp, req, q, d in rows:
        acc.step(dt, fws, inj, dh, sp, req, q, d, "RECOVERY")


def test_fws_max_and_seconds_strictly_above_limit() -> None:
    acc = KpiAccumulator(fws_limit=40.0)
    feed(
        acc,
        [
            (35.0, False, 70, 70, False, 0, 0),
            (40.0, False, 70, 70, False, 0, 0),
            (40.5, False, 70, 70, False, 0, 0),
            (41.2, False, 70, 70, False, 0, 0),
            (39.9, False, 70, 70, False, 0, 0),
        ],
    )
    s = acc.summary()
    assert s["fws_supply_max_c"] == 41.2
    assert s["seconds_above_fws_limit"] == 20.0  # 40.0 itself is not above the limit


def test_in_band_share_is_of_injecting_time_only() -> None:
    acc = KpiAccumulator(band_k=1.0)
    rows = [
        (35, True, 70.5, 70, True, 1000, 1000),  # in band
        (35, True, 71.0, 70, True, 1000, 1000),  # on the edge: in band
        (35, True, 71.2, 70, True, 1000, 1000),  # out
        (35, True, 68.0, 70, True, 1000, 1000),  # out
        (35, False, 50.0, 70, True, 0, 1000),  # not injecting: not counted either way
        (35, False, 50.0, 70, True, 0, 1000),
    ]
    feed(acc, rows)
    assert acc.summary()["dh_supply_in_band_pct"] == 50.0
    assert acc.summary()["injecting_h"] == pytest.approx(40.0 / 3600.0)


def test_in_band_is_none_without_injection() -> None:
    acc = KpiAccumulator()
    feed(acc, [(35, False, 70, 70, True, 0, 500)])
    assert acc.summary()["dh_supply_in_band_pct"] is None


def test_delivered_within_demand_caps_each_step_and_ignores_unrequested_heat() -> None:
    acc = KpiAccumulator()
    rows = [
        (35, True, 70, 70, True, 1200.0, 1000.0),  # over-delivery counts as 1000
        (35, True, 70, 70, True, 600.0, 1000.0),  # under-delivery counts as 600
        (35, True, 70, 70, False, 900.0, 1000.0),  # network closed: not asked, not counted
    ]
    feed(acc, rows, dt=3600.0)
    assert acc.summary()["delivered_in_demand_kwh"] == pytest.approx(1600.0)


def test_recovery_ratio() -> None:
    assert recovery_ratio(970.0, 1000.0) == pytest.approx(0.97)
    assert recovery_ratio(5.0, 0.0) is None


def test_electricity_sums_compressor_fans_and_pumps() -> None:
    e = {"hp_electricity": 500.0, "fan_electricity": 30.0, "pump_electricity": 20.0}
    assert electricity_kwh(e) == 550.0


def test_seasonal_cop_is_energy_ratio_not_mean_of_cops() -> None:
    # Two hours: 400 kWh at COP 4 and 100 kWh at COP 2. Energy ratio 3.6, mean COP 3.
    heat = 1600.0 + 200.0
    el = 400.0 + 100.0
    assert seasonal_cop(heat, el) == pytest.approx(3.6)
    assert seasonal_cop(100.0, 0.0) is None


def test_starts_per_hour_and_valve_strokes() -> None:
    assert per_hour(3, 6 * 3600.0) == 0.5
    assert per_hour(3, 0.0) == 0.0
    assert valve_strokes(2450.0) == 24.5


def test_tank_usable_heat_counts_each_layer_between_return_and_setpoint() -> None:
    # 1000 kg at 70 (full), 1000 kg at 55 (half), 1000 kg at 35 (below return: empty),
    # 1000 kg at 80 (above setpoint: counts only to the setpoint).
    kwh = tank_usable_kwh([1000.0] * 4, [70.0, 55.0, 35.0, 80.0], 70.0, 40.0)
    assert kwh == pytest.approx(1000 * 4.186 * (30 + 15 + 0 + 30) / 3600.0)


def _sample(t: float, **kw: float) -> StepSample:
    base = {
        "fws_supply": 35.0,
        "fws_flow": 27.5,
        "dh_flow": 8.0,
        "it_heat_kw": 700.0,
        "hp_evap_kw": 700.0,
        "rejected_kw": 0.0,
        "local_safe": False,
    }
    base.update(kw)
    return StepSample(t=t, **base)  # type: ignore[arg-type]


def test_hp_trip_safe_when_dry_coolers_carry_the_heat_and_fws_is_back() -> None:
    clock = FaultClock([FaultSpec("hp_trip", 100.0, 700.0, "hp trip")], 35.0, 12.4)
    clock.step(_sample(100.0))  # stamped at the fault's start: the plant before it
    clock.step(_sample(101.0, hp_evap_kw=0.0, rejected_kw=100.0, fws_supply=35.2))
    clock.step(_sample(110.0, hp_evap_kw=0.0, rejected_kw=650.0, fws_supply=36.4))  # too hot
    clock.step(_sample(130.0, hp_evap_kw=0.0, rejected_kw=640.0, fws_supply=35.9))  # 640 > 630
    clock.step(_sample(140.0, hp_evap_kw=0.0, rejected_kw=700.0, fws_supply=35.0))
    (r,) = clock.results()
    assert r["safe_after_s"] == 30.0


def test_pump_failure_measured_against_pre_fault_flow() -> None:
    faults = [
        FaultSpec("fws_pump_failure", 10.0, None, "p1a failure", "p1a"),
        FaultSpec("dh_pump_failure", 10.0, None, "p2a failure", "p2a"),
    ]
    clock = FaultClock(faults, 35.0, 12.4)
    clock.step(_sample(10.0, fws_flow=20.0, dh_flow=8.0))  # pre-fault reference
    clock.step(_sample(11.0, fws_flow=5.0, dh_flow=0.0))
    clock.step(_sample(14.0, fws_flow=17.9, dh_flow=7.1))  # 17.9 < 18.0; 7.1 <  7.2
    clock.step(_sample(15.0, fws_flow=18.0, dh_flow=7.2))  # both at 90 % now
    fws, dh = clock.results()
    assert fws["safe_after_s"] == 5.0
    assert dh["safe_after_s"] == 5.0


def test_network_outage_safe_when_injection_pump_stops() -> None:
    clock = FaultClock([FaultSpec("network_outage", 0.0, 50.0, "outage")], 35.0, 12.4)
    for t, flow in ((1.0, 8.0), (2.0, 4.0), (3.0, 0.2), (4.0, 0.1), (5.0, 0.0)):
        clock.step(_sample(t, dh_flow=flow))
    # 1 % of 12.4 kg/s is 0.124: 0.2 is still pumping, 0.1 is stopped.
    assert clock.results()[0]["safe_after_s"] == 4.0


def test_controller_stop_safe_at_plc_local_safe_mode_and_never_if_not() -> None:
    clock = FaultClock([FaultSpec("controller_stop", 0.0, 60.0, "stop")], 35.0, 12.4)
    for t in range(1, 30):
        clock.step(_sample(float(t), local_safe=t >= 12))
    assert clock.results()[0]["safe_after_s"] == 12.0
    clock = FaultClock([FaultSpec("controller_stop", 0.0, 60.0, "stop")], 35.0, 12.4)
    clock.step(_sample(5.0))
    assert clock.results()[0]["safe_after_s"] is None


def test_sensor_and_comms_faults_timed_by_the_matching_alarm() -> None:
    faults = [
        FaultSpec("sensor_stuck", 100.0, 200.0, "stuck", "plc"),
        FaultSpec("comms_loss", 300.0, 360.0, "cdu01 comms loss", "cdu01"),
        FaultSpec("comms_loss", 500.0, 560.0, "heatpump comms loss", "heatpump"),
    ]
    clock = FaultClock(faults, 35.0, 12.4)
    assert clock.idle  # nothing to time on the plant
    sources = {
        "SENSOR_FWS": "sensor.plc.fws_supply_temp",
        "COMMS_CDU01": "comms.cdu01",
        "COMMS_HP": "comms.heatpump",
        "FWS_HIGH": "fws_supply",
    }
    alarms = [
        {"t": 90.0, "id": "SENSOR_FWS", "kind": "raise"},  # before the fault: not it
        {"t": 120.0, "id": "FWS_HIGH", "kind": "raise"},  # not a sensor alarm
        {"t": 131.0, "id": "SENSOR_FWS", "kind": "ack"},  # not a raise
        {"t": 140.0, "id": "SENSOR_FWS", "kind": "raise"},
        {"t": 310.0, "id": "COMMS_HP", "kind": "raise"},  # another device
        {"t": 325.0, "id": "COMMS_CDU01", "kind": "raise"},
        {"t": 700.0, "id": "COMMS_HP", "kind": "raise"},  # long after that fault ended
    ]
    clock.alarms(alarms, sources)
    stuck, cdu, hp = clock.results()
    assert stuck["safe_after_s"] == 40.0
    assert cdu["safe_after_s"] == 25.0
    assert hp["safe_after_s"] is None


def test_worst_fault_time() -> None:
    assert worst_fault_time([]) is None
    assert worst_fault_time([{"safe_after_s": 4.0}, {"safe_after_s": 30.0}]) == 30.0
    assert worst_fault_time([{"safe_after_s": 4.0}, {"safe_after_s": None}]) == "never"


def test_faults_of_maps_scenario_events() -> None:
    from simulator.scenario import load_scenario

    kinds = {f.kind for f in faults_of(load_scenario("fws-pump-failure").events)}
    assert kinds == {"fws_pump_failure"}
    kinds = [f.kind for f in faults_of(load_scenario("sensor-out-of-range").events)]
    assert kinds == ["sensor_out_of_range", "sensor_out_of_range"]
    assert faults_of(load_scenario("hx-fouling").events) == []  # no safe state to time


def test_run_kpis_assembles_units_and_ratios() -> None:
    energy = {
        "it_heat": 17000.0,
        "recovered": 16500.0,
        "hp_heat": 22000.0,
        "hp_electricity": 5000.0,
        "delivered": 24500.0,
        "rejected": 400.0,
        "fan_electricity": 10.0,
        "pump_electricity": 390.0,
        "demand": 25000.0,
    }
    kpis = {
        "fws_supply_max_c": 35.4,
        "seconds_above_fws_limit": 0.0,
        "dh_supply_in_band_pct": 99.5,
        "injecting_h": 24.0,
        "delivered_in_demand_kwh": 24250.0,
    }
    k = run_kpis(
        kpis=kpis,
        energy=energy,
        hp_starts=3,
        valve_travel_pct=1250.0,
        duration_s=12 * 3600.0,
        wall_s=6.0,
        bound_kwh=25000.0,
        tank_start_kwh=1700.0,
        tank_end_kwh=1200.0,
        faults=[],
    )
    assert k["recovery_ratio"] == 0.97  # capped delivery, not the 24.5 MWh total
    assert k["delivered_vs_demand_pct"] == 98.0
    assert k["electricity_mwh"] == 5.4
    assert k["seasonal_cop"] == 4.4
    assert k["hp_starts_per_h"] == 0.25
    assert k["valve_travel_strokes"] == 12.5
    assert k["tank_change_mwh"] == -0.5
    assert k["wall_s_per_24h"] == 12.0
    assert k["dumped_mwh"] == 0.4
