"""The study file: what is asked of a feasibility study, checked like every other file.

Anything not given is taken from the site folder (nameplate from plant.toml,
dispatch settings and ``[contract]`` from site.toml), so a study of the shipped
site needs only what the site cannot know: climate, network, route, prices and the
partnership. Errors name the field and the line (controller/config/tomlfile.py).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from controller.accounting.contract import ContractSettings
from controller.config.tomlfile import load_model

Pos = Annotated[float, Field(gt=0)]
NonNeg = Annotated[float, Field(ge=0)]
Pct = Annotated[float, Field(ge=-50, le=100)]
Rate = Annotated[float, Field(ge=-5, le=50)]
Temp = Annotated[float, Field(ge=-60, le=60)]
Frac = Annotated[float, Field(ge=0, le=1)]
# TOML has arrays, not tuples: a curve point is the one place a list becomes a tuple.
CurvePoint = Annotated[tuple[Temp, Annotated[float, Field(ge=0, le=130)]], Field(strict=False)]

ROUTES = ("urban_hard", "urban_soft", "suburban_hard", "suburban_soft")
MODELS = ("utility_owned", "esco", "joint_venture")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


class ItStudy(_Section):
    racks: Annotated[int, Field(ge=1, le=10000)] | None = None
    """Default: the site's CDUs' racks."""
    rack_power_kw: Pos | None = None
    liquid_fraction: Annotated[float, Field(gt=0, le=1)] | None = None
    cooling: Literal["direct_to_chip", "immersion", "rear_door"] | None = None
    """Sets the facility-water supply temperature the heat pump's source runs at
    (DESIGN section 9): direct-to-chip the site's setpoint, immersion 45 °C, air-cooled
    halls with rear-door exchangers 27 °C. ``fws_supply_temp`` overrides it."""
    fws_supply_temp: Annotated[float, Field(ge=15, le=60)] | None = None
    utilisation: Frac | None = None
    """A flat utilisation; or ``utilisation_week``: 168 hourly values from Monday 00:00."""
    utilisation_week: Annotated[list[Frac], Field(min_length=168, max_length=168)] | None = None
    utilisation_csv: str | None = None
    """8760 hourly values, ``hour,utilisation``; relative to the study file."""

    @model_validator(mode="after")
    def _one_profile(self) -> Self:
        given = [
            x is not None for x in (self.utilisation, self.utilisation_week, self.utilisation_csv)
        ]
        if sum(given) > 1:
            raise ValueError("give one of utilisation, utilisation_week, utilisation_csv")
        return self


class DesignStudy(_Section):
    hp_capacity_kw: Pos | None = None
    tank_m3: Pos | None = None
    drycooler_units: Annotated[int, Field(ge=1)] | None = None
    fws_pump_m3h: Pos | None = None
    """Facility-water flow (the data centre's pump, there with or without recovery)."""
    dh_pump_m3h: Pos | None = None
    dh_pump_kw: Pos | None = None
    source_hx: Literal["plate", "shell_and_tube"] = "plate"


class ClimateStudy(_Section):
    typical_year: str | None = None
    csv: str | None = None
    monthly_means: list[Temp] | None = None
    source: str = ""
    """Where the monthly means come from (printed in the report)."""
    diurnal_amplitude_k: Annotated[float, Field(ge=0, le=30)] = 4.0
    day_sigma_k: Annotated[float, Field(ge=0, le=15)] = 2.5
    seed: int = 1

    @model_validator(mode="after")
    def _one(self) -> Self:
        given = sum(x is not None for x in (self.typical_year, self.csv, self.monthly_means))
        if given != 1:
            raise ValueError("give exactly one of typical_year, csv, monthly_means")
        if self.monthly_means is not None and len(self.monthly_means) != 12:
            raise ValueError(f"monthly_means needs 12 values, not {len(self.monthly_means)}")
        return self


def _rising(points: list[CurvePoint], name: str) -> None:
    xs = [p[0] for p in points]
    if any(b <= a for a, b in itertools.pairwise(xs)):
        raise ValueError(f"{name}: outdoor temperatures must rise strictly")


class NetworkStudy(_Section):
    supply_curve: list[CurvePoint] = [(-12.0, 80.0), (0.0, 72.0), (15.0, 65.0)]
    """(outdoor °C, supply °C) points, linear between and held beyond the ends."""
    return_curve: list[CurvePoint] = [(-12.0, 40.0), (15.0, 45.0)]
    heating_base_c: Temp = 15.0
    design_outdoor_c: Temp = -12.0
    space_heat_design_kw: NonNeg = 1200.0
    """Space heating this plant's share of the network takes at the design outdoor temperature."""
    hot_water_kw: NonNeg = 200.0
    max_take_kw: Pos = 1300.0
    """The most the network takes from this plant in any hour."""

    @model_validator(mode="after")
    def _curves(self) -> Self:
        _rising(self.supply_curve, "supply_curve")
        _rising(self.return_curve, "return_curve")
        if self.design_outdoor_c >= self.heating_base_c:
            raise ValueError("design_outdoor_c must be below heating_base_c")
        return self


class ConnectionStudy(_Section):
    distance_m: NonNeg = 500.0
    route: Literal["urban_hard", "urban_soft", "suburban_hard", "suburban_soft"] = "urban_hard"


class PricesStudy(_Section):
    electricity_eur_per_mwh: NonNeg = 100.0
    electricity_csv: str | None = None
    """8760 hourly prices ``hour,eur_per_mwh`` instead of the flat price."""
    electricity_escalation_pct: Pct = 0.0
    gas_eur_per_mwh: NonNeg = 42.9
    gas_escalation_pct: Pct = 0.0
    carbon_eur_per_t: NonNeg = 67.0
    carbon_escalation_pct: Pct = 0.0
    grid_co2_t_per_mwh: NonNeg = 0.4
    heat_basis: Literal["contract", "fixed", "avoided_boiler", "gas_indexed"] = "contract"
    heat_price_eur_per_mwh: NonNeg | None = None
    heat_gas_multiplier: Pos = 1.0
    heat_gas_adder_eur_per_mwh: float = 0.0
    heat_escalation_pct: Pct = 0.0
    """Escalation of a fixed heat price (gas-indexed prices follow gas)."""
    source_price_eur_per_mwh: NonNeg = 0.0
    """What the heat's owner pays the data centre per MWh recovered (utility-owned model)."""

    @model_validator(mode="after")
    def _heat(self) -> Self:
        if self.heat_basis == "fixed" and self.heat_price_eur_per_mwh is None:
            raise ValueError('heat_basis "fixed" needs heat_price_eur_per_mwh')
        return self


class DiscountRates(_Section):
    data_centre: Rate = 6.0
    utility: Rate = 4.0
    esco: Rate = 8.0
    project: Rate = 5.0


class PartnershipStudy(_Section):
    model: Literal["utility_owned", "esco", "joint_venture"] = "esco"
    term_years: Annotated[int, Field(ge=1, le=40)] = 20
    dc_equity_pct: Annotated[float, Field(ge=0, le=100)] = 50.0
    """Joint venture: the data centre's share of CapEx and of the venture's net cash."""
    esco_dc_share_pct: Annotated[float, Field(ge=0, le=100)] = 10.0
    """ESCO: share of its heat revenue paid to the data centre for the heat source."""
    discount_rate_pct: DiscountRates = DiscountRates()


class CostsStudy(_Section):
    price_year: Annotated[int, Field(ge=2000, le=2100)] = 2025
    inflation_pct: Annotated[float, Field(ge=-5, le=20)] = 2.0
    """Brings each catalogue row from its currency year to ``price_year``."""
    catalogue: str | None = None
    """Another cost catalogue CSV (same columns as the shipped one)."""
    capex_factor: Pos = 1.0


class SweepStudy(_Section):
    hp_capacity_kw: list[Pos] = []
    """Default: 30 % to 150 % of the IT liquid heat x 1.3, eight steps."""
    tank_m3: list[Pos] = []
    """Default: 5 to 800 m3, seven steps."""


class Study(_Section):
    name: str = "Feasibility study"
    start_year: Annotated[int, Field(ge=2000, le=2100)] = 2027
    initial_soc: Frac = 0.5
    it: ItStudy = ItStudy()
    design: DesignStudy = DesignStudy()
    climate: ClimateStudy = ClimateStudy(typical_year="pvgis-45n-8e")
    network: NetworkStudy = NetworkStudy()
    connection: ConnectionStudy = ConnectionStudy()
    prices: PricesStudy = PricesStudy()
    contract: ContractSettings | None = None
    """Default: the site's ``[contract]``."""
    partnership: PartnershipStudy = PartnershipStudy()
    costs: CostsStudy = CostsStudy()
    sweep: SweepStudy = SweepStudy()


def load_study(path: Path | str) -> Study:
    return load_model(Study, path)
