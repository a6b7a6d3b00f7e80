"""The network side of a year: supply and return from heat curves, demand from degree-hours.

Supply follows the outdoor temperature along a heat curve, as a DH substation
controller's does (Danfoss ECL: six points, linear between them); return likewise,
so the heat pump's lift, and its COP, move with the season consistently. Demand is
space heating in proportion to heating degree-hours plus a constant hot-water base,
capped at what the network takes from this plant.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from feasibility.study import NetworkStudy

Array = NDArray[np.float64]


def curve(points: list[tuple[float, float]], outdoor: Array) -> Array:
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    return np.interp(outdoor, xs, ys)


def network_year(net: NetworkStudy, outdoor: Array) -> tuple[Array, Array, Array]:
    """Supply temperature, return temperature and demand (kW), one value per hour."""
    supply = curve(net.supply_curve, outdoor)
    ret = np.minimum(curve(net.return_curve, outdoor), supply - 5.0)
    share = np.clip(
        (net.heating_base_c - outdoor) / (net.heating_base_c - net.design_outdoor_c), 0.0, None
    )
    demand = np.minimum(net.hot_water_kw + net.space_heat_design_kw * share, net.max_take_kw)
    return supply, ret, demand
