"""Signal blocks of the core as tables: targets, conditioning fallbacks, HX monitor.

A failure names the row (and time, for rows in time).
"""

from __future__ import annotations

import math

import pytest
from core_plant import PlantImage, shipped_site

from controller.config.settings import SiteSettings
from controller.core.conditioning import CDU_HOLD_S, CP_KWH_PER_M3K, Conditioner
from controller.core.hxmonitor import HxMonitor
from controller.core.setpointsource import SCADA_DEMAND, SCADA_SETPOINT, select_targets

S = shipped_site().settings
UT = S.roles.utility


def with_source(source: str) -> SiteSettings:
    return S.model_copy(update={"setpoints": S.setpoints.model_copy(update={"source": source})})


# (name, setpoint source, SCADA setpoint, RTU setpoint, expected setpoint, expected source)
TARGET_ROWS = [
    ("scada first", "utility", 75.0, 72.0, 75.0, "scada"),
    ("rtu when scada silent", "utility", None, 72.0, 72.0, "rtu"),
    ("site file when both silent", "utility", None, None, S.setpoints.dh_supply_temp, "fixed"),
    ("clamped to the limit", "utility", 150.0, None, S.limits.dh_supply_max, "scada"),
    ("fixed ignores the utility", "fixed", 75.0, 72.0, S.setpoints.dh_supply_temp, "fixed"),
]


@pytest.mark.parametrize("row", TARGET_ROWS, ids=[r[0] for r in TARGET_ROWS])
def test_setpoint_source_order_of_trust(row: tuple) -> None:  # type: ignore[type-arg]
    name, source, scada, rtu, want, want_src = row
    s = with_source(source)
    plant = PlantImage().set(**{f"{UT}.supply_setpoint": rtu})
    img = plant.image()
    img.values[SCADA_SETPOINT] = scada
    view = Conditioner(s).update(img, 0.0, 70.0)
    t = select_targets(img.values, view, s)
    assert (t.dh_setpoint, t.setpoint_source) == (want, want_src), name


def test_demand_from_scada_then_rtu_and_never_negative() -> None:
    rows = [(500.0, 700.0, 500.0, "scada"), (None, 700.0, 700.0, "rtu"), (-50.0, 0.0, 0.0, "scada")]
    for i, (scada, rtu, want, src) in enumerate(rows):
        plant = PlantImage().set(**{f"{UT}.heat_demand": rtu})
        img = plant.image()
        img.values[SCADA_DEMAND] = scada
        t = select_targets(img.values, Conditioner(S).update(img, 0.0, 70.0), S)
        assert (t.demand_kw, t.demand_source) == (want, src), f"row {i}"


def test_a_silent_cdu_is_held_then_estimated_from_the_others() -> None:
    cond, plant = Conditioner(S), PlantImage()
    cdu = S.plant.cdus[0]
    n = len(S.plant.cdus)
    # (time, heat of the first CDU (None: lost), expected IT heat, expected estimated CDUs)
    rows = [
        (0.0, 450.0, 450.0 + 400.0 * (n - 1), ()),
        (1.0, None, 450.0 + 400.0 * (n - 1), ()),  # held at its last value...
        (CDU_HOLD_S, None, 450.0 + 400.0 * (n - 1), ()),
        (1.0 + CDU_HOLD_S, None, 400.0 * n, (cdu,)),  # ... then the others' average
        (2.0 + CDU_HOLD_S, 420.0, 420.0 + 400.0 * (n - 1), ()),
    ]
    for i, (t, q, it, est) in enumerate(rows):
        plant.sensor(f"{cdu}.heat_to_fws", q)
        v = cond.update(plant.image(), t, 70.0)
        assert (v.it_heat_kw, v.cdu_estimated) == (pytest.approx(it), est), f"row {i} t={t}"


def test_dh_power_from_flow_and_temperatures_when_the_meter_is_silent() -> None:
    plant = PlantImage()
    plant.sensor(f"{S.roles.heatmeter}.power", None)
    v = Conditioner(S).update(plant.image(), 0.0, 70.0)
    assert v.dh_power_kw == pytest.approx(20.0 * CP_KWH_PER_M3K * 30.0)


def test_hx_monitor_learns_clean_ua_then_reports_fouling() -> None:
    hx = HxMonitor(clean_ua=0.0, learn_h=1.0, filter_h=0.1, min_load_pct=30.0)
    d1, d2 = 40.0 - 31.0, 33.0 - 31.0
    clean = 720.0 / ((d1 - d2) / math.log(d1 / d2))
    # (time s, heat out kW, expected ratio (None: still learning))
    # Evaporator heat 720 kW clean, then 540 kW at the same temperatures: UA at 75 %.
    rows = [(1800, 900.0, None), (3600, 900.0, 1.0), (7200, 900.0, 1.0), (14400, 720.0, 0.75)]
    t = 0.0
    for i, (row_t, heat, ratio) in enumerate(rows):
        while t < row_t:
            t += 10.0
            hx.update(10.0, True, 75.0, heat, 180.0, 40.0, 33.0, 31.0)
        where = f"row {i} t={row_t}"
        assert hx.ratio == (pytest.approx(ratio, abs=0.01) if ratio else None), where
    assert hx.clean_ua == pytest.approx(clean)
    assert hx.approach_k == pytest.approx(2.0)
    hx.update(10.0, True, 10.0, 0.0, 0.0, 40.0, 33.0, 31.0)  # below min load: not learned
    assert hx.ratio == pytest.approx(0.75, abs=0.01)
