"""Effectiveness-NTU relations for the plant's heat exchangers.

The plant has three kinds: counterflow plates (CDU), an evaporator/condenser where
one side changes phase at constant temperature, and cross-flow finned coils (dry
coolers). Each function returns the effectiveness for given UA and capacity rates,
and the design helpers invert them so the site file can state familiar rating
points (approach, capacity at ambient) instead of UA values.
"""

from __future__ import annotations

import math


def eff_phase_change(ua: float, c: float) -> float:
    """Effectiveness when the other side is at constant (saturation) temperature."""
    if c <= 0.0:
        return 0.0
    return 1.0 - math.exp(-ua / c)


def eff_counterflow(ua: float, c1: float, c2: float) -> float:
    c_min, c_max = (c1, c2) if c1 < c2 else (c2, c1)
    if c_min <= 0.0:
        return 0.0
    ntu = ua / c_min
    cr = c_min / c_max
    if cr > 0.999:
        return ntu / (1.0 + ntu)
    e = math.exp(-ntu * (1.0 - cr))
    return (1.0 - e) / (1.0 - cr * e)


def eff_crossflow(ua: float, c1: float, c2: float) -> float:
    """Cross-flow, both fluids unmixed (the usual approximation for finned coils)."""
    c_min, c_max = (c1, c2) if c1 < c2 else (c2, c1)
    if c_min <= 0.0:
        return 0.0
    ntu = ua / c_min
    cr = c_min / c_max
    if cr < 1e-6:
        return 1.0 - math.exp(-ntu)
    return 1.0 - math.exp((ntu**0.22 / cr) * (math.exp(-cr * ntu**0.78) - 1.0))


def solve_ua(eff_fn, target: float, c1: float, c2: float) -> float:
    """UA giving effectiveness ``target`` (bisection; used once at construction)."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"effectiveness {target:.3f} is not achievable (must be in (0, 1))")
    lo, hi = 1e-6, 1e6
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if eff_fn(mid, c1, c2) < target:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)
