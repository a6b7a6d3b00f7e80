"""Who pays, owns, operates, earns and carries the risk: the three partnership models.

The plant's money is the same under every model; what changes is who receives
which stream. Streams, in EUR a year (year 1, escalated by their own index after):

- ``sales``: what the utility pays for the heat under the contract (energy, capacity
  less penalties, take-or-pay shortfall), from the monthly statements;
- ``boiler``: what the delivered heat saves the utility at its boilers (gas and
  carbon allowances over the boiler's efficiency, and boiler O&M);
- ``cooling``: the dry-cooler fan electricity the data centre no longer buys;
- ``electricity``: the heat pump's and the injection pumps' electricity;
- ``om``: operation and maintenance;
- ``source``: what the owner pays the data centre per MWh recovered (utility-owned).

The whole-project view (every party together) sees only boiler + cooling -
electricity - om: transfers between parties cancel there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from feasibility.study import PartnershipStudy

MODEL_NAMES = {
    "utility_owned": "Utility-owned",
    "esco": "Third-party ESCO",
    "joint_venture": "Joint venture",
}
TERMS = {
    "utility_owned": {
        "pays CapEx": "utility",
        "owns": "utility",
        "operates": "utility",
        "data centre earns": "avoided cooling + source price per MWh recovered",
        "performance risk": "utility",
    },
    "esco": {
        "pays CapEx": "ESCO",
        "owns": "ESCO (transfers to the data centre at the end of the term)",
        "operates": "ESCO",
        "data centre earns": "avoided cooling + share of the ESCO's heat sales",
        "performance risk": "ESCO",
    },
    "joint_venture": {
        "pays CapEx": "data centre and utility, by equity share",
        "owns": "joint venture",
        "operates": "joint venture",
        "data centre earns": "avoided cooling + its equity share of the venture's cash",
        "performance risk": "shared by equity share",
    },
}


@dataclass(frozen=True, slots=True)
class Streams:
    """Yearly money streams over the term (index 0 = year 1), EUR."""

    sales: np.ndarray
    boiler: np.ndarray
    cooling: np.ndarray
    electricity: np.ndarray
    om: np.ndarray
    source: np.ndarray


def _with_capex(capex: float, yearly: np.ndarray) -> np.ndarray:
    return np.concatenate(([-capex], yearly))


def party_flows(p: PartnershipStudy, capex: float, s: Streams) -> dict[str, np.ndarray]:
    """Cash flows per party (index 0 = investment) under the study's model, plus the project."""
    plant_net = s.sales - s.electricity - s.om
    flows: dict[str, np.ndarray] = {}
    if p.model == "utility_owned":
        flows["utility"] = _with_capex(capex, s.boiler - s.electricity - s.om - s.source)
        flows["data centre"] = _with_capex(0.0, s.cooling + s.source)
    elif p.model == "esco":
        share = p.esco_dc_share_pct / 100.0
        flows["ESCO"] = _with_capex(capex, plant_net - share * s.sales)
        flows["data centre"] = _with_capex(0.0, s.cooling + share * s.sales)
        flows["utility"] = _with_capex(0.0, s.boiler - s.sales)
    else:
        dc = p.dc_equity_pct / 100.0
        flows["data centre"] = _with_capex(dc * capex, dc * plant_net + s.cooling)
        flows["utility"] = _with_capex((1 - dc) * capex, (1 - dc) * plant_net + s.boiler - s.sales)
    flows["project"] = _with_capex(capex, s.boiler + s.cooling - s.electricity - s.om)
    return flows


def discount_rate(p: PartnershipStudy, party: str) -> float:
    r = p.discount_rate_pct
    return {
        "utility": r.utility,
        "data centre": r.data_centre,
        "ESCO": r.esco,
        "project": r.project,
    }[party] / 100.0


def investor(model: str) -> str:
    """The party whose money builds the plant (a joint venture: the data centre's side)."""
    return {"utility_owned": "utility", "esco": "ESCO", "joint_venture": "data centre"}[model]
