"""Feasibility study: finance against numpy-financial, economic properties, the hourly
engine against the detailed closed-loop simulator, and bad study files."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import numpy_financial as npf
import pytest

from controller.config.tomlfile import ConfigError
from feasibility.case import build_case, site_dispatch
from feasibility.climate import generate_year, month_of_hour, shipped_year, shipped_years
from feasibility.engine import HourlyInputs, run_year
from feasibility.evaluate import Knobs, run_design
from feasibility.finance import discounted_payback_years, irr, npv, payback_years
from feasibility.study import load_study
from simulator.runner import load_defaults
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
FLOWS = (
    [-1000.0, 300.0, 300.0, 300.0, 300.0, 300.0],
    [-2500.0, 100.0, 400.0, 800.0, 900.0, 1200.0, 300.0],
    [-50.0, -20.0, 30.0, 30.0, 30.0, 30.0, 30.0],
)


@pytest.fixture(scope="module")
def case():
    return build_case(ROOT / "config", ROOT / "feasibility" / "studies" / "reference.toml")


@pytest.mark.parametrize("flows", FLOWS)
def test_npv_and_irr_equal_numpy_financial(flows: list[float]) -> None:
    for rate in (0.0, 0.04, 0.08, 0.15):
        assert npv(rate, flows) == pytest.approx(npf.npv(rate, flows), rel=1e-12, abs=1e-9)
    assert irr(flows) == pytest.approx(npf.irr(flows), abs=1e-9)


def test_payback_by_hand() -> None:
    # 1000 out, 300 a year: 3 years and a third.
    assert payback_years(FLOWS[0]) == pytest.approx(1000 / 300)
    # Discounted at 10 %: cumulative discounted flows cross zero during year 5.
    disc = np.array(FLOWS[0]) / 1.1 ** np.arange(6)
    cum = np.cumsum(disc)
    assert cum[4] < 0 < cum[5]
    expected = 4 + -cum[4] / disc[5]
    assert discounted_payback_years(0.10, FLOWS[0]) == pytest.approx(expected)
    assert payback_years([-100.0, 10.0, 10.0]) is None
    assert irr([100.0, 10.0]) is None  # never changes sign


def test_npv_falls_as_the_discount_rate_rises(case) -> None:
    ev = run_design(case)
    for party in ("ESCO", "project"):
        f = ev.parties[party].flows
        values = [npv(r, f) for r in np.linspace(0.0, 0.2, 21)]
        assert all(b < a for a, b in itertools.pairwise(values)), party
    lo = run_design(case, knobs=Knobs(discount_pts=-2)).parties["ESCO"].npv
    hi = run_design(case, knobs=Knobs(discount_pts=+2)).parties["ESCO"].npv
    assert lo > ev.parties["ESCO"].npv > hi


def test_at_zero_heat_price_only_avoided_cooling_remains(case) -> None:
    ev = run_design(case, knobs=Knobs(heat_price=0.0))
    s = ev.streams
    assert np.all(s.sales == 0.0)
    assert ev.figures["avoided_cooling_year1_eur"] > 0.0
    dc = ev.parties["data centre"].flows  # ESCO model: the data centre's share of sales is 0
    np.testing.assert_allclose(dc[1:], s.cooling)
    esco = ev.parties["ESCO"].flows
    np.testing.assert_allclose(esco[1:], -s.electricity - s.om)


def test_doubling_capex_doubles_payback_of_even_flows(case) -> None:
    # A quarter and half the CapEx: on the issue-10 plant (COP 3.4 at 40/85 °C) the full
    # CapEx pays back in ~22 years, past the study's horizon, where payback is None.
    half = run_design(case, knobs=Knobs(capex=0.25)).parties["project"]
    full = run_design(case, knobs=Knobs(capex=0.5)).parties["project"]
    # No escalation in the reference study: the project's yearly cash is constant.
    assert np.allclose(full.flows[1:], full.flows[1])
    assert full.flows[0] == pytest.approx(2 * half.flows[0])
    assert half.payback is not None and full.payback is not None
    # Payback is CapEx over the yearly cash; O&M grows with CapEx (1 %/yr of the
    # non-heat-pump blocks), so doubling CapEx more than doubles the payback.
    for r in (half, full):
        assert r.payback == pytest.approx(-r.flows[0] / r.flows[1], rel=1e-9)
    assert full.flows[1] < half.flows[1]
    assert full.payback > 2 * half.payback
    assert full.npv < half.npv


def _hourly(name: str) -> tuple[HourlyInputs, float]:
    sc = load_scenario(name)
    sample = sc.sampler().sample
    # Hourly means of what the plant sees at every one of its steps.
    b = [sample(t) for t in np.arange(0.0, sc.duration, sc.dt)]

    def mean(attr: str) -> np.ndarray:
        return np.array([getattr(x, attr) for x in b]).reshape(24, -1).mean(axis=1)

    return HourlyInputs(
        mean("it_utilisation"),
        mean("ambient_temp"),
        mean("dh_demand"),
        mean("dh_supply_setpoint"),
        mean("dh_return_temp"),
    ), sc.initial.tank_soc


@pytest.mark.parametrize("name", ["winter-steady", "ai-training", "summer-low-demand"])
def test_engine_within_3_pct_of_the_closed_loop_simulator(name: str, scenario_run) -> None:
    sim = scenario_run(name).energy_kwh  # computed live (shared between workers)
    plant, site = load_defaults()
    dispatch = site_dispatch(site.settings)
    inputs, soc0 = _hourly(name)
    t = run_year(plant, dispatch, inputs, soc0).totals
    sim_elec = sim["hp_electricity"] + sim["fan_electricity"] + sim["pump_electricity"]
    assert t["delivered"] == pytest.approx(sim["delivered"], rel=0.03)
    assert t["electricity"] == pytest.approx(sim_elec, rel=0.03)


def test_generated_climate_keeps_monthly_means_and_seed() -> None:
    means = [0.0, 0.0, 2.1, 5.7, 10.8, 14.3, 15.6, 15.7, 12.7, 9.1, 4.7, 1.6]
    a = generate_year(means, seed=3)
    months = month_of_hour()
    for m in range(12):
        assert a[months == m].mean() == pytest.approx(means[m], abs=1e-9)
    assert np.array_equal(a, generate_year(means, seed=3))
    assert not np.array_equal(a, generate_year(means, seed=4))
    assert a.std() > np.std(means)  # weather and a daily cycle on top of the seasons


def test_shipped_climate_years_are_whole_years() -> None:
    assert {"pvgis-45n-8e", "tmy3-sand-point-ak", "tmy3-greensboro-nc"} <= set(shipped_years())
    for name in shipped_years():
        t = shipped_year(name)
        assert t.shape == (8760,) and np.isfinite(t).all()


def test_statements_bill_through_the_contract_code(case) -> None:
    ev = run_design(case)
    c = case.contract
    total = 0.0
    for s in ev.statements:
        assert float(s.price) == c.fixed_price_eur_per_mwh
        assert float(s.energy_amount) == pytest.approx(float(s.figures.billed_mwh) * 32.0, abs=0.01)
        total += float(s.total)
    assert ev.streams.sales[0] == pytest.approx(total, abs=0.05)
    delivered = ev.year.totals["delivered"] / 1000.0
    billed = sum(float(s.figures.billed_mwh) for s in ev.statements)
    assert billed == pytest.approx(delivered, abs=0.01)


BAD = """name = "bad"
[prices]
electricity_eur_per_mwh = -5.0
heat_basis = "fixed"

[network]
max_take_kw = nan
supply_curve = [[0.0, 70.0], [-5.0, 75.0]]

[partnership]
model = "mutual"
dicsount = 3
"""


def test_bad_study_file_names_field_and_line(tmp_path: Path) -> None:
    f = tmp_path / "study.toml"
    f.write_text(BAD)
    with pytest.raises(ConfigError) as err:
        load_study(f)
    text = err.value.render()
    assert "line 3: prices.electricity_eur_per_mwh" in text
    assert "line 7: network.max_take_kw" in text
    assert "line 11: partnership.model" in text
    assert "line 12: partnership.dicsount: unknown field" in text


def test_cli_refuses_a_bad_study_and_writes_a_report(tmp_path: Path, capsys) -> None:
    from controller.cli import main

    f = tmp_path / "study.toml"
    f.write_text(BAD)
    assert main(["feasibility", "--study", str(f), "--out", str(tmp_path / "r")]) == 2
    assert "partnership.dicsount" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
    pilot = ROOT / "feasibility" / "studies" / "pilot.toml"
    out = tmp_path / "pilot"
    assert main(["feasibility", "--study", str(pilot), "--out", str(out), "--no-sweep",
                 "--no-plots"]) == 0  # fmt: skip
    data = json.loads((out / "feasibility.json").read_text())
    s = data["sensitivity"]
    capex = next(b for b in s["tornado"]["project"] if b["input"].startswith("CapEx"))
    assert capex["npv_low_eur"] > s["base_npv_eur"]["project"] > capex["npv_high_eur"]
    spans = [abs(b["npv_high_eur"] - b["npv_low_eur"]) for b in s["tornado"]["utility"]]
    assert spans == sorted(spans, reverse=True)
    assert len(data["statements"]) == 12
    md = (out / "feasibility.md").read_text()
    assert md.index("## Sensitivities first") < md.index("## Partnership models side by side")
    assert "Utility-owned" in md and "Third-party ESCO" in md and "Joint venture" in md


def test_break_even_multipliers_zero_the_npv(case) -> None:
    from feasibility.sensitivity import what_it_takes

    ev = run_design(case)
    takes = what_it_takes(case, ev)
    x = takes["ESCO"]["heat_price"]
    assert x is not None and x > 1.0  # the reference site loses money at 32 EUR/MWh
    assert run_design(case, knobs=Knobs(heat_price=x)).parties["ESCO"].npv == pytest.approx(
        0.0, abs=1.0
    )
    c = takes["project"]["capex"]
    assert c is not None and c < 1.0
    assert run_design(case, knobs=Knobs(capex=c)).parties["project"].npv == pytest.approx(
        0.0, abs=1.0
    )
    assert takes["project"]["heat_price"] is None  # a transfer between parties


def test_cost_catalogue_rows_need_sources_and_scale(tmp_path: Path) -> None:
    from feasibility.costs import CATALOGUE, load_catalogue

    cat = load_catalogue()
    assert all(r.source.strip() for r in cat.values())
    hp = cat["heat_pump"]
    assert hp.cost(2000, 2015, 0.0) == pytest.approx(hp.cost(1000, 2015, 0.0) * 2**0.73)
    assert hp.cost(1000, 2025, 2.0) == pytest.approx(hp.cost(1000, 2015, 0.0) * 1.02**10)
    lines = CATALOGUE.read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("item,"))
    bad = tmp_path / "costs.csv"
    bad.write_text("\n".join([*lines[: header + 1], "tank,buffer tank,m3,100,85900,2020,0.53,"]))
    with pytest.raises(ValueError, match=rf"costs.csv:{header + 2}: tank has no source"):
        load_catalogue(bad)
    bad.write_text("\n".join([*lines[: header + 1], "tank,buffer tank,m3,x,85900,2020,0.53,s"]))
    with pytest.raises(ValueError, match=rf"costs.csv:{header + 2}:"):
        load_catalogue(bad)


def test_cooling_type_sets_the_source_temperature(tmp_path: Path) -> None:
    f = tmp_path / "study.toml"
    f.write_text('[it]\ncooling = "immersion"\n')
    hot = build_case(ROOT / "config", f)
    f.write_text('[it]\ncooling = "direct_to_chip"\n')
    dtc = build_case(ROOT / "config", f)
    assert hot.dispatch.fws_supply_temp == 45.0
    assert dtc.dispatch.fws_supply_temp == 35.0  # the site's setpoint
    a, b = run_design(hot).year.totals, run_design(dtc).year.totals
    assert a["seasonal_cop"] > b["seasonal_cop"] + 1.0


def test_engine_year_closes_its_energy_balances(case) -> None:
    y = run_design(case).year
    # Heat pump: condenser heat = source heat + electricity, every hour.
    np.testing.assert_allclose(y.hp_heat, y.recovered + y.hp_elec, atol=1e-6)
    # Facility water: every kW of IT heat is recovered or dumped.
    np.testing.assert_allclose(y.it_heat, y.recovered + y.dumped, atol=1e-6)
    # Tank: what the heat pump made and the network did not take is stored or lost.
    cap = case.plant.tank.volume_m3 * 985.0 * 4.186 / 3600.0
    spans = np.maximum(case.inputs.supply_temp - case.inputs.return_temp, 1.0)
    stored_end = y.tank_soc[-1] * cap * spans[-1]
    stored_0 = case.study.initial_soc * cap * spans[0]
    balance = y.totals["hp_heat"] - y.totals["delivered"] - y.totals["tank_loss"]
    assert balance == pytest.approx(stored_end - stored_0, abs=0.01 * y.totals["hp_heat"])
    assert y.totals["delivered"] <= y.totals["demand"]


def test_hourly_profiles_are_checked_with_their_line(tmp_path: Path) -> None:
    csv = tmp_path / "util.csv"
    csv.write_text("hour,utilisation\n" + "".join(f"{h},0.7\n" for h in range(8760)))
    f = tmp_path / "study.toml"
    f.write_text('[it]\nutilisation_csv = "util.csv"\n')
    assert np.all(build_case(ROOT / "config", f).inputs.utilisation == 0.7)
    csv.write_text("hour,utilisation\n0,0.7\n1,1.7\n")
    with pytest.raises(ValueError, match=r"util.csv:3: 1.7 outside \[0, 1\]"):
        build_case(ROOT / "config", f)
    week = [0.5] * 24 * 5 + [0.2] * 48  # weekdays busy, weekend quiet
    f.write_text(f"[it]\nutilisation_week = {week}\n")
    u = build_case(ROOT / "config", f).inputs.utilisation
    assert u[:24].tolist() == [0.5] * 24  # 1 January 2027 is a Friday
    assert u[24:72].tolist() == [0.2] * 48  # then the weekend
    f.write_text("[it]\nutilisation_week = [0.5, 0.6]\n")
    with pytest.raises(ConfigError, match=r"line 2: it.utilisation_week: .*at least 168 items"):
        load_study(f)


def test_study_numbers_are_strict(tmp_path: Path) -> None:
    f = tmp_path / "study.toml"
    f.write_text(
        '[connection]\ndistance_m = "500"\n[network]\nsupply_curve = [[-12, "80"], [15, 65]]\n'
        "hot_water_kw = true\n[partnership]\nterm_years = 20.5\n"
    )
    with pytest.raises(ConfigError) as err:
        load_study(f)
    text = err.value.render()
    for expected in (
        "line 2: connection.distance_m",
        "line 4: network.supply_curve[0][1]",
        "line 5: network.hot_water_kw",
        "line 7: partnership.term_years",
    ):
        assert expected in text


def test_gas_indexed_heat_price_bills_through_the_contract(tmp_path: Path) -> None:
    f = tmp_path / "study.toml"
    f.write_text(
        "[prices]\ngas_eur_per_mwh = 40.0\ngas_escalation_pct = 10.0\n"
        'heat_basis = "gas_indexed"\nheat_gas_multiplier = 0.8\nheat_gas_adder_eur_per_mwh = 5.0\n'
    )
    case = build_case(ROOT / "config", f)
    assert case.contract.pricing == "gas_indexed"
    ev = run_design(case)
    assert {float(s.price) for s in ev.statements} == {0.8 * 40.0 + 5.0}
    s = ev.streams
    capacity = ev.figures["capacity_year1_eur"]
    # Year 2 is billed at year 2's gas price (0.8 x 44 + 5 = 40.20 EUR/MWh); the
    # capacity payment does not follow gas; take-or-pay shortfalls are priced alike.
    billed = sum(float(st.figures.billed_mwh + st.shortfall_mwh) for st in ev.statements)
    assert s.sales[1] == pytest.approx(billed * 40.20 + capacity, abs=0.5)
    # The utility's avoided boiler cost follows gas too.
    assert s.boiler[1] > s.boiler[0]


def test_hourly_electricity_prices_weight_the_hours(tmp_path: Path) -> None:
    f = tmp_path / "study.toml"
    f.write_text("[prices]\nelectricity_eur_per_mwh = 100.0\n")
    flat = run_design(build_case(ROOT / "config", f))
    prices = np.where(np.arange(8760) % 24 < 12, 50.0, 150.0)  # cheap nights, dear days
    (tmp_path / "el.csv").write_text(
        "# test prices\nhour,eur_per_mwh\n" + "".join(f"{h},{p}\n" for h, p in enumerate(prices))
    )
    f.write_text('[prices]\nelectricity_csv = "el.csv"\n')
    case = build_case(ROOT / "config", f)
    hourly = run_design(case)
    y = hourly.year
    dh_pump = y.pump_elec - case.plant.pumps.fws.power_kw
    expected = float(np.sum((y.hp_elec + dh_pump) * prices)) / 1000.0
    assert hourly.figures["electricity_year1_eur"] == pytest.approx(expected)
    assert flat.figures["electricity_year1_eur"] == pytest.approx(
        float(np.sum(y.hp_elec + dh_pump)) * 0.1
    )
