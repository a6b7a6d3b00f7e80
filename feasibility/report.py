"""The study's figures as JSON, and the same figures as a Markdown report.

The JSON is built first and the Markdown is rendered from it only, so the two can
never disagree. Sensitivities and what it would take to pay back come first: a
single NPV of a site like the reference one says less than how it moves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from feasibility.case import BOILER_EFFICIENCY, GAS_CO2_T_PER_MWH, Case
from feasibility.climate import month_of_hour
from feasibility.evaluate import Evaluation
from feasibility.finance import discounted_payback_years, irr, npv, payback_years
from feasibility.partnership import MODEL_NAMES, TERMS, discount_rate, investor, party_flows
from feasibility.sensitivity import BREAK_EVEN, Bar
from feasibility.sweep import Sweep


def _rel(path: Path | None) -> str:
    """Relative to the working directory where it can be (reports are shipped in docs/)."""
    if path is None:
        return ""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(float(x), nd)


def _parties(case: Case, ev: Evaluation) -> dict[str, Any]:
    """Every party under every partnership model, from the same streams."""
    out: dict[str, Any] = {}
    p0 = case.study.partnership
    for model in TERMS:
        p = p0.model_copy(update={"model": model})
        flows = party_flows(p, ev.capex.total, ev.streams)
        rows = {}
        for party, f in flows.items():
            r = discount_rate(p, party)
            outlay = f[0] < 0
            rows[party] = {
                "capex_eur": _r(abs(f[0]), 0),
                "year1_cash_eur": _r(f[1], 0),
                "discount_rate_pct": _r(100 * r, 2),
                "npv_eur": _r(npv(r, f), 0),
                "irr_pct": _r(None if (v := irr(f)) is None else 100 * v, 2) if outlay else None,
                "payback_years": _r(payback_years(f)) if outlay else None,
                "discounted_payback_years": _r(discounted_payback_years(r, f)) if outlay else None,
            }
        out[model] = {"terms": {**TERMS[model], "term": f"{p.term_years} years"}, "parties": rows}
    return out


def build(
    case: Case,
    ev: Evaluation,
    bars: dict[str, list[Bar]],
    takes: dict[str, dict[str, float | None]],
    sw: Sweep | None,
    plots: dict[str, str],
) -> dict[str, Any]:
    st = case.study
    y = ev.year
    t = y.totals
    months = month_of_hour()
    party = investor(st.partnership.model)
    price = case.contract.fixed_price_eur_per_mwh
    stmts = []
    for s in ev.statements:
        f = s.figures
        stmts.append(
            {
                "month": f.month,
                "delivered_mwh": float(f.billed_mwh),
                "price_eur_per_mwh": float(s.price),
                "energy_eur": float(s.energy_amount),
                "availability_pct": None
                if s.availability_pct is None
                else float(s.availability_pct),
                "capacity_eur": float(s.capacity_amount),
                "shortfall_eur": float(s.shortfall_amount),
                "total_eur": float(s.total),
            }
        )
    recoverable = y.it_heat
    return {
        "study": st.name,
        "site": case.site_name,
        "site_dir": _rel(case.site_dir),
        "study_overrides": sorted(
            f"{sec}.{k}"
            for sec in ("it", "design")
            for k, v in getattr(st, sec).model_dump(exclude_defaults=True).items()
            if v is not None
        ),
        "study_file": _rel(case.study_path),
        "climate": case.climate_label,
        "design": {
            "racks": case.plant.racks,
            "it_liquid_kw": case.plant.it_liquid_kw,
            "hp_kw": ev.hp_kw,
            "tank_m3": ev.tank_m3,
            "source_hx": st.design.source_hx,
            "distance_m": st.connection.distance_m,
            "route": st.connection.route,
        },
        "partnership": {"model": st.partnership.model, "investor": party},
        "sensitivity": {
            "party": party,
            "base_npv_eur": {p: _r(r.npv, 0) for p, r in ev.parties.items()},
            "tornado": {
                p: [
                    {"input": b.label, "npv_low_eur": _r(b.low, 0), "npv_high_eur": _r(b.high, 0)}
                    for b in v
                ]
                for p, v in bars.items()
            },
            "break_even_multipliers": {
                p: {k: _r(v, 3) for k, v in t.items()} for p, t in takes.items()
            },
            "break_even_fixed_heat_price_eur_per_mwh": {
                p: None
                if (multiplier := t.get("heat_price")) is None or price is None
                else _r(price * multiplier, 1)
                for p, t in takes.items()
            },
        },
        "heat": {
            "recoverable_mean_kw": _r(float(np.mean(recoverable))),
            "recoverable_peak_kw": _r(float(np.max(recoverable))),
            "source_temp_mean_c": _r(float(np.mean(y.source_temp))),
            "source_temp_min_c": _r(float(np.min(y.source_temp))),
            "source_temp_max_c": _r(float(np.max(y.source_temp))),
            "dh_supply_mean_c": _r(float(np.mean(case.inputs.supply_temp))),
            "dh_supply_max_c": _r(float(np.max(case.inputs.supply_temp))),
        },
        "energy_mwh": {
            "it_heat": _r(t["it_heat"] / 1000),
            "recovered": _r(t["recovered"] / 1000),
            "hp_heat": _r(t["hp_heat"] / 1000),
            "sold": _r(t["delivered"] / 1000),
            "network_demand": _r(t["demand"] / 1000),
            "dumped": _r(t["dumped"] / 1000),
            "cooling_short": _r(t["cooling_short"] / 1000, 3),
            "hp_electricity": _r(t["hp_elec"] / 1000),
            "fan_electricity": _r(t["fan_elec"] / 1000),
            "fan_electricity_without_recovery": _r(ev.fans_without_kwh / 1000),
            "pump_electricity": _r(t["pump_elec"] / 1000),
            "tank_loss": _r(t["tank_loss"] / 1000),
        },
        "seasonal_cop": _r(t["seasonal_cop"], 2),
        "hp_starts": int(t["starts"]),
        "monthly_mwh": {
            k: [_r(v) for v in np.bincount(months, weights=a, minlength=12) / 1000.0]
            for k, a in (("delivered", y.delivered), ("dumped", y.dumped), ("demand", y.demand))
        },
        "capex_eur": {k: _r(v, 0) for k, v in ev.capex.blocks.items()},
        "capex_total_eur": _r(ev.capex.total, 0),
        "capex_sources": ev.capex.sources,
        "year1_eur": {k.removesuffix("_year1_eur"): _r(v, 0) for k, v in ev.figures.items()},
        "avoided_boiler_eur_per_mwh": _r(case.avoided_boiler(), 2),
        "co2_avoided_t_per_year": _r(ev.co2_avoided_t),
        "co2_value_eur_per_year": _r(
            t["delivered"]
            / 1000
            / BOILER_EFFICIENCY
            * GAS_CO2_T_PER_MWH
            * st.prices.carbon_eur_per_t,
            0,
        ),
        "lcoh_eur_per_mwh": _r(ev.lcoh, 2),
        "partnerships": _parties(case, ev),
        "statements": stmts,
        "contract": case.contract.model_dump(mode="json"),
        "sweep": None
        if sw is None
        else {
            "party": sw.party,
            "hp_kw": sw.hp_kw,
            "tank_m3": sw.tank_m3,
            "npv_eur": [[_r(v, 0) for v in row] for row in sw.npv],
            "project_npv_eur": [[_r(v, 0) for v in row] for row in sw.project_npv],
            "best": {
                "hp_kw": sw.hp_kw[sw.best[0]],
                "tank_m3": sw.tank_m3[sw.best[1]],
                "npv_eur": _r(sw.npv[sw.best], 0),
            },
            "best_project": {
                "hp_kw": sw.hp_kw[sw.best_project[0]],
                "tank_m3": sw.tank_m3[sw.best_project[1]],
                "npv_eur": _r(sw.project_npv[sw.best_project], 0),
            },
        },
        "sources": {
            row.item: {"source": row.source, "currency_year": row.currency_year}
            for row in case.catalogue.values()
        },
        "plots": plots,
    }


def _m(x: float | None) -> str:
    return "n/a" if x is None else f"{x / 1e6:,.2f} M€"


def _k(x: float | None) -> str:
    return "n/a" if x is None else f"{x / 1e3:,.0f} k€"


def _n(x: float | None, unit: str = "", nd: int = 1) -> str:
    return "n/a" if x is None else f"{x:,.{nd}f}{unit}"


def render(d: dict[str, Any]) -> str:
    s = d["sensitivity"]
    party = s["party"]
    de = d["design"]
    e = d["energy_mwh"]
    h = d["heat"]
    y1 = d["year1_eur"]
    out = [f"# Feasibility study: {d['study']}", ""]
    out += [
        f"Site folder: {d['site_dir']} ({d['site']}); study file {d['study_file']}"
        + (
            f", which sets {', '.join(d['study_overrides'])} over the site's nameplate."
            if d["study_overrides"]
            else "."
        ),
        f"Design: racks {de['racks']} ({de['it_liquid_kw']:.0f} kW to liquid at full load), "
        f"{de['hp_kw']:.0f} kW heat pump, {de['tank_m3']:g} m3 tank, {de['source_hx']} source "
        f"heat exchanger, {de['distance_m']:.0f} m of DH pipe ({de['route']}). "
        f"Climate: {d['climate']}.",
        "",
        "## Sensitivities first",
        "",
        f"NPV of each party under the study's {d['partnership']['model']} model as one input "
        f"moves at a time, widest first for the {s['party']} (who pays the CapEx); the "
        "project is every party together, so payments between them cancel there.",
        "",
    ]
    parties = list(s["base_npv_eur"])
    rows: dict[str, dict[str, Any]] = {b["input"]: {} for b in s["tornado"][party]}
    for p in parties:
        for b in s["tornado"][p]:
            rows[b["input"]][p] = b
    out += [
        "| input | " + " | ".join(f"{p}: low / high" for p in parties) + " |",
        "|---|" + "---|" * len(parties),
        "| (study as written) | " + " | ".join(_m(s["base_npv_eur"][p]) for p in parties) + " |",
    ]
    for label, per in rows.items():
        cells = [f"{_m(per[p]['npv_low_eur'])} / {_m(per[p]['npv_high_eur'])}" for p in parties]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    if d["plots"].get("tornado"):
        out += ["", f"![tornado]({d['plots']['tornado']})"]
    out += [
        "",
        "What it would take for each party's NPV to reach zero: the factor on one input "
        "alone (none: not within 0 to the limit searched, or the party does not depend on it).",
        "",
        "| input | " + " | ".join(parties) + " |",
        "|---|" + "---|" * len(parties),
    ]
    for key, what, _ in BREAK_EVEN:
        cells = []
        for p in parties:
            v = s["break_even_multipliers"][p].get(key)
            cell = "none" if v is None else f"x {v:.2f}"
            fixed = s["break_even_fixed_heat_price_eur_per_mwh"][p]
            if key == "heat_price" and v is not None and fixed is not None:
                cell += f" ({fixed:g} €/MWh)"
            cells.append(cell)
        out.append(f"| {what} | " + " | ".join(cells) + " |")
    out += [
        "",
        "## Heat and energy (year 1)",
        "",
        "| figure | value |",
        "|---|---|",
        f"| recoverable heat, mean / peak | {h['recoverable_mean_kw']:.0f} / "
        f"{h['recoverable_peak_kw']:.0f} kW |",
        f"| source (facility-water return) temperature, mean (min-max) | "
        f"{h['source_temp_mean_c']} °C ({h['source_temp_min_c']}-{h['source_temp_max_c']}) |",
        f"| DH supply from the heat curve, mean / max | {h['dh_supply_mean_c']} / "
        f"{h['dh_supply_max_c']} °C |",
        f"| IT heat to liquid | {e['it_heat']:,.0f} MWh |",
        f"| recovered by the heat pump | {e['recovered']:,.0f} MWh |",
        f"| sold (delivered to the network) / asked | {e['sold']:,.0f} / "
        f"{e['network_demand']:,.0f} MWh |",
        f"| dumped to the dry coolers | {e['dumped']:,.0f} MWh |",
        f"| seasonal COP (heat-pump heat / its electricity) | {d['seasonal_cop']} |",
        f"| heat-pump electricity | {e['hp_electricity']:,.0f} MWh |",
        f"| fan electricity with / without recovery | {e['fan_electricity']:,.1f} / "
        f"{e['fan_electricity_without_recovery']:,.1f} MWh |",
        f"| heat-pump starts | {d['hp_starts']} |",
        f"| IT heat the dry coolers could not reject | {e['cooling_short']:,.3f} MWh |",
        f"| CO2 avoided (boiler gas less grid electricity) | "
        f"{d['co2_avoided_t_per_year']:,.0f} t/yr |",
    ]
    if d["plots"].get("monthly"):
        out += ["", f"![monthly]({d['plots']['monthly']})"]
    out += ["", "## CapEx by block", "", "| block | cost | catalogue rows |", "|---|---|---|"]
    out += [f"| {k} | {_k(v)} | {d['capex_sources'][k]} |" for k, v in d["capex_eur"].items()]
    out += [f"| **total** | **{_k(d['capex_total_eur'])}** | |", ""]
    out += [
        "## Money a year (year 1)",
        "",
        "| stream | EUR |",
        "|---|---|",
        f"| heat sales under the contract (energy + capacity + take-or-pay) | "
        f"{y1['sales']:,.0f} |",
        f"| of which capacity payment | {y1['capacity']:,.0f} |",
        f"| the utility's avoided boiler cost ({d['avoided_boiler_eur_per_mwh']} €/MWh) | "
        f"{y1['boiler_value']:,.0f} |",
        f"| of which CO2 allowances avoided | {d['co2_value_eur_per_year']:,.0f} |",
        f"| avoided cooling (fan electricity) | {y1['avoided_cooling']:,.0f} |",
        f"| electricity (heat pump + injection pumps) | {y1['electricity']:,.0f} |",
        f"| O&M | {y1['om']:,.0f} |",
        "",
        f"Levelised cost of heat (whole project, at its discount rate): "
        f"{_n(d['lcoh_eur_per_mwh'], ' €/MWh', 2)}.",
        "",
        "## Partnership models side by side",
        "",
    ]  # fmt: skip
    for model, m in d["partnerships"].items():
        terms = "; ".join(f"{k}: {v}" for k, v in m["terms"].items())
        out += [f"### {MODEL_NAMES[model]}", "", terms + ".", ""]
        out += [
            "| party | CapEx | year-1 cash | rate | NPV | IRR | payback | discounted payback |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for party, r in m["parties"].items():
            out.append(
                f"| {party} | {_k(r['capex_eur'])} | {_k(r['year1_cash_eur'])} | "
                f"{r['discount_rate_pct']} % | {_m(r['npv_eur'])} | {_n(r['irr_pct'], ' %', 1)} | "
                f"{_n(r['payback_years'], ' y')} | {_n(r['discounted_payback_years'], ' y')} |"
            )
        out.append("")
    out += [
        "n/a: no outlay (IRR and payback do not apply), or never within the term.",
        "",
        "## Expected monthly statements (year 1, `[contract]` through the billing code)",
        "",
        "| month | delivered MWh | price €/MWh | energy € | availability % | capacity € | "
        "take-or-pay € | total € |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in d["statements"]:
        av = "n/a" if r["availability_pct"] is None else f"{r['availability_pct']:.2f}"
        out.append(
            f"| {r['month']} | {r['delivered_mwh']:,.3f} | {r['price_eur_per_mwh']:.2f} | "
            f"{r['energy_eur']:,.2f} | {av} | {r['capacity_eur']:,.2f} | "
            f"{r['shortfall_eur']:,.2f} | {r['total_eur']:,.2f} |"
        )
    sw = d["sweep"]
    if sw is not None:
        b = sw["best"]
        out += [
            "",
            f"## Sizing sweep: NPV of the {sw['party']} (M€), best boxed",
            "",
            f"Best: {b['hp_kw']:g} kW heat pump, {b['tank_m3']:g} m3 tank, NPV {_m(b['npv_eur'])}. "
            "Best for the whole project (every party together, so transfers between them "
            f"cancel): {sw['best_project']['hp_kw']:g} kW, {sw['best_project']['tank_m3']:g} m3, "
            f"NPV {_m(sw['best_project']['npv_eur'])}.",
            "",
            *(
                [
                    "The best design lies on the edge of the grid searched: widen it with "
                    "`[sweep]` in the study file.",
                    "",
                ]
                if b["hp_kw"] in (sw["hp_kw"][0], sw["hp_kw"][-1])
                or b["tank_m3"] in (sw["tank_m3"][0], sw["tank_m3"][-1])
                else []
            ),
            "| heat pump kW \\ tank m3 | " + " | ".join(f"{t:g}" for t in sw["tank_m3"]) + " |",
            "|---|" + "---|" * len(sw["tank_m3"]),
        ]
        for i, hp in enumerate(sw["hp_kw"]):
            cells = [
                (f"**{v / 1e6:.2f}**" if (hp, sw["tank_m3"][j]) == (b["hp_kw"], b["tank_m3"])
                 else f"{v / 1e6:.2f}")
                for j, v in enumerate(sw["npv_eur"][i])
            ]  # fmt: skip
            out.append(f"| {hp:g} | " + " | ".join(cells) + " |")
        if d["plots"].get("sweep"):
            out += ["", f"![sweep]({d['plots']['sweep']})"]
    out += ["", "## Sources of every cost", "", "| catalogue row | currency year | source |"]
    out += ["|---|---|---|"]
    out += [f"| {k} | {v['currency_year']} | {v['source']} |" for k, v in d["sources"].items()]
    return "\n".join(out) + "\n"
