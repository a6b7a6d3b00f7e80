"""Site folder + study file -> everything a year's evaluation needs, checked once.

The site folder gives the nameplate (plant.toml, through simulator.plantconfig),
the controller's dispatch settings and the ``[contract]`` (site.toml, through the
controller's own loader, so the study bills exactly what ``heatrecovery report``
would). The study file overrides what the site cannot know or what a design
question changes (heat-pump size, tank, IT).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from controller.accounting.contract import ContractSettings, GasIndexSettings
from controller.config.settings import SiteSettings, kw_gains, load_site
from feasibility.climate import HOURS, generate_year, load_year, shipped_year
from feasibility.costs import CATALOGUE, CostRow, load_catalogue
from feasibility.demand import network_year
from feasibility.engine import Dispatch, HourlyInputs
from feasibility.study import Study, load_study
from simulator.plantconfig import CduConfig, PlantConfig, load_plant_config

Array = NDArray[np.float64]
CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
STUDIES_DIR = Path(__file__).resolve().parent / "studies"
BOILER_EFFICIENCY = 1.03  # DEA gas boiler for DH, net annual (economics.md)
GAS_CO2_T_PER_MWH = 0.198  # per MWh of fuel (economics.md)
# Facility-water supply by cooling type (DESIGN.md section 9; direct-to-chip: the site's).
COOLING_FWS_SUPPLY = {"immersion": 45.0, "rear_door": 27.0}


@dataclass(frozen=True, slots=True)
class Case:
    study: Study
    study_path: Path | None
    site_dir: Path
    site_name: str
    plant: PlantConfig
    dispatch: Dispatch
    inputs: HourlyInputs
    electricity_price: Array
    """EUR/MWh, hourly, year 1."""
    contract: ContractSettings
    gas: dict[str, Decimal]
    """Monthly gas prices for a gas-indexed contract, the study's whole term."""
    boiler_om_eur_per_mwh: float
    """The utility's boiler O&M per MWh (catalogue row boiler_om_variable)."""
    availability_target_pct: float
    power_tolerance_pct: float
    catalogue: dict[str, CostRow]
    climate_label: str

    def avoided_boiler(self, year: int = 1) -> float:
        return avoided_boiler(self.study, self.boiler_om_eur_per_mwh, year)

    def with_design(self, hp_kw: float | None = None, tank_m3: float | None = None) -> PlantConfig:
        p = self.plant
        hp = p.heatpump if hp_kw is None else p.heatpump.model_copy(update={"capacity_kw": hp_kw})
        tank = p.tank if tank_m3 is None else p.tank.model_copy(update={"volume_m3": tank_m3})
        return p.model_copy(update={"heatpump": hp, "tank": tank})


def _hourly_csv(path: Path, lo: float, hi: float) -> Array:
    values: list[float] = []
    with path.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line or line.startswith("#") or not line[:1].isdigit():
                continue
            try:
                v = float(line.split(",")[1])
            except (IndexError, ValueError):
                raise ValueError(f"{path}:{n}: expected 'hour,value', got {line!r}") from None
            if not (np.isfinite(v) and lo <= v <= hi):
                raise ValueError(f"{path}:{n}: {v} outside [{lo:g}, {hi:g}]")
            values.append(v)
    if len(values) != HOURS:
        raise ValueError(f"{path}: {len(values)} hourly values, expected {HOURS}")
    return np.array(values)


def _utilisation(study: Study, base: Path) -> Array:
    it = study.it
    if it.utilisation_csv is not None:
        return _hourly_csv(base / it.utilisation_csv, 0.0, 1.0)
    if it.utilisation_week is not None:
        week = np.array(it.utilisation_week)
        # 1 January 2027 is a Friday: day 4 of a Monday-based week.
        return np.resize(np.roll(week, -4 * 24), HOURS)
    return np.full(HOURS, 0.8 if it.utilisation is None else it.utilisation)


def _outdoor(study: Study, base: Path) -> tuple[Array, str]:
    c = study.climate
    if c.typical_year is not None:
        return shipped_year(c.typical_year), f"typical year {c.typical_year} (shipped)"
    if c.csv is not None:
        return load_year(base / c.csv), f"hourly CSV {c.csv}"
    assert c.monthly_means is not None
    label = f"generated from monthly means (seed {c.seed})" + (f", {c.source}" if c.source else "")
    return generate_year(c.monthly_means, c.diurnal_amplitude_k, c.day_sigma_k, 0.7, c.seed), label


def _plant(site_plant: PlantConfig, study: Study) -> PlantConfig:
    it, d = study.it, study.design
    p = site_plant
    upd: dict[str, object] = {}
    if it.racks is not None:
        upd["cdus"] = [CduConfig(name="cdu01", racks=it.racks)]
    it_upd = {
        k: v
        for k, v in (("rack_power_kw", it.rack_power_kw), ("liquid_fraction", it.liquid_fraction))
        if v is not None
    }
    if it_upd:
        upd["it"] = p.it.model_copy(update=it_upd)
    if d.hp_capacity_kw is not None:
        upd["heatpump"] = p.heatpump.model_copy(update={"capacity_kw": d.hp_capacity_kw})
    if d.tank_m3 is not None:
        upd["tank"] = p.tank.model_copy(update={"volume_m3": d.tank_m3})
    pumps = p.pumps
    if d.fws_pump_m3h is not None:
        pumps = pumps.model_copy(
            update={"fws": pumps.fws.model_copy(update={"nominal_flow_m3h": d.fws_pump_m3h})}
        )
    dh = {k: v for k, v in (("nominal_flow_m3h", d.dh_pump_m3h), ("power_kw", d.dh_pump_kw)) if v}
    if dh:
        pumps = pumps.model_copy(update={"dh": pumps.dh.model_copy(update=dh)})
    upd["pumps"] = pumps
    if d.drycooler_units is not None:
        upd["drycoolers"] = p.drycoolers.model_copy(update={"units": d.drycooler_units})
    return p.model_copy(update=upd)


def _contract(
    study: Study, site_contract: ContractSettings | None, boiler_om: float
) -> ContractSettings:
    base = study.contract or site_contract
    pr = study.prices
    if base is None:
        base = ContractSettings(pricing="fixed", fixed_price_eur_per_mwh=0.0)
    if pr.heat_basis == "fixed":
        return base.model_copy(
            update={"pricing": "fixed", "fixed_price_eur_per_mwh": pr.heat_price_eur_per_mwh}
        )
    if pr.heat_basis == "avoided_boiler":
        return base.model_copy(
            update={
                "pricing": "fixed",
                "fixed_price_eur_per_mwh": round(avoided_boiler(study, boiler_om), 2),
            }
        )
    if pr.heat_basis == "gas_indexed":
        gi = GasIndexSettings(
            series_csv="(generated by the study)",
            multiplier=pr.heat_gas_multiplier,
            adder_eur_per_mwh=pr.heat_gas_adder_eur_per_mwh,
        )
        return base.model_copy(update={"pricing": "gas_indexed", "gas_index": gi})
    return base


def avoided_boiler(study: Study, boiler_om_eur_per_mwh: float, year: int = 1) -> float:
    """EUR per MWh of heat the utility's gas boiler no longer makes, in year ``year``:
    gas and its CO2 allowances over the boiler's efficiency, plus its variable O&M."""
    pr = study.prices
    gas = pr.gas_eur_per_mwh * (1 + pr.gas_escalation_pct / 100.0) ** (year - 1)
    co2 = pr.carbon_eur_per_t * (1 + pr.carbon_escalation_pct / 100.0) ** (year - 1)
    return (gas + co2 * GAS_CO2_T_PER_MWH) / BOILER_EFFICIENCY + boiler_om_eur_per_mwh


def _gas_series(study: Study) -> dict[str, Decimal]:
    pr = study.prices
    out = {}
    for y in range(study.partnership.term_years + 1):
        price = pr.gas_eur_per_mwh * (1 + pr.gas_escalation_pct / 100.0) ** y
        for m in range(12):
            out[f"{study.start_year + y:04d}-{m + 1:02d}"] = Decimal(f"{price:.2f}")
    return out


def build_case(site_dir: Path = CONFIG_DIR, study_path: Path | None = None) -> Case:
    """Load and check the site folder and the study; raise ConfigError naming field and line."""
    site = load_site(site_dir / "site.toml")
    plant = load_plant_config(site_dir / "plant.toml")
    if study_path is None:
        default = site_dir / "feasibility.toml"
        study_path = default if default.exists() else STUDIES_DIR / "reference.toml"
    study = load_study(study_path)
    base = study_path.parent
    s = site.settings
    dispatch = site_dispatch(s)
    fws = study.it.fws_supply_temp or COOLING_FWS_SUPPLY.get(study.it.cooling or "")
    if fws is not None:
        dispatch = replace(dispatch, fws_supply_temp=fws)
    outdoor, label = _outdoor(study, base)
    supply, ret, demand = network_year(study.network, outdoor)
    inputs = HourlyInputs(_utilisation(study, base), outdoor, demand, supply, ret)
    pr = study.prices
    if pr.electricity_csv is not None:
        elec = _hourly_csv(base / pr.electricity_csv, -500.0, 5000.0)
    else:
        elec = np.full(HOURS, pr.electricity_eur_per_mwh)
    catalogue = load_catalogue(base / study.costs.catalogue if study.costs.catalogue else CATALOGUE)
    boiler_om = catalogue["boiler_om_variable"].cost(
        1.0, study.costs.price_year, study.costs.inflation_pct
    )
    return Case(
        study=study,
        study_path=study_path,
        site_dir=site_dir,
        site_name=s.site.name,
        plant=_plant(plant, study),
        dispatch=dispatch,
        inputs=inputs,
        electricity_price=elec,
        contract=_contract(study, s.contract, boiler_om),
        boiler_om_eur_per_mwh=boiler_om,
        gas=_gas_series(study),
        availability_target_pct=s.accounting.availability_target_pct,
        power_tolerance_pct=s.accounting.power_tolerance_pct,
        catalogue=catalogue,
        climate_label=label,
    )


def site_dispatch(s: SiteSettings) -> Dispatch:
    """The controller's dispatch rules with this site's settings, at hourly resolution.

    One place, so the study and the check against the closed-loop simulator run the
    same rules."""
    return Dispatch(
        fws_supply_temp=s.setpoints.fws_supply_temp,
        fws_recovery_margin_k=s.limits.fws_recovery_margin_k,
        tank_soc_target=s.setpoints.tank_soc_target,
        tank_soc_min=s.limits.tank_soc_min,
        tank_soc_restart=s.limits.tank_soc_restart,
        tank_soc_stop=s.limits.tank_soc_stop,
        charge_margin_k=s.tuning.charge_margin_k,
        start_demand_pct=s.heatpump.start_demand_pct,
        source_min_frac=s.heatpump.source_min_pct / 100.0,
        soc_kp_kw=kw_gains(s.tuning.soc, s.plant.hp_capacity_kw)[0],
        fws_pump_speed=s.pumps.fws.speed_pct / 100.0,
    )
