"""Discounted cash flow: NPV, IRR, simple and discounted payback, levelised cost of heat.

Cash flows are yearly, index 0 at the investment date (numpy-financial's
convention: ``npv`` does not discount the first value). The test suite checks
these against numpy-financial on hand-made flows; they are written out here so
that payback (which numpy-financial lacks) and IRR share one convention and so a
flow with no IRR gives ``None`` rather than ``nan``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Flows = Sequence[float] | npt.NDArray[np.floating[Any]]
"""Yearly values, index 0 at the investment date: a list or a numpy array."""


def npv(rate: float, flows: Flows) -> float:
    t = np.arange(len(flows))
    return float(np.sum(np.asarray(flows, dtype=float) / (1.0 + rate) ** t))


def irr(flows: Flows, lo: float = -0.99, hi: float = 10.0) -> float | None:
    """The rate at which NPV is zero; None when NPV keeps one sign over ``[lo, hi]``.

    Bisection on a bracket: for the usual shape (outlay first, then income) NPV falls
    monotonically with the rate and there is exactly one root.
    """
    f_lo, f_hi = npv(lo, flows), npv(hi, flows)
    if f_lo == 0.0:
        return lo
    if f_lo * f_hi > 0.0:
        return None
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        f_mid = npv(mid, flows)
        if f_lo * f_mid <= 0.0:
            hi = mid
        else:
            lo, f_lo = mid, f_mid
        if hi - lo < 1e-12:
            break
    return 0.5 * (lo + hi)


def _payback(flows: np.ndarray) -> float | None:
    cum = np.cumsum(flows)
    if cum[0] >= 0.0:
        return 0.0
    for y in range(1, len(cum)):
        if cum[y] >= 0.0:
            # Income arrives through the year: interpolate within it.
            return (y - 1) + (-cum[y - 1]) / flows[y]
    return None


def payback_years(flows: Flows) -> float | None:
    """Years until the cumulative cash flow turns non-negative; None if it never does."""
    return _payback(np.asarray(flows, dtype=float))


def discounted_payback_years(rate: float, flows: Flows) -> float | None:
    f = np.asarray(flows, dtype=float)
    return _payback(f / (1.0 + rate) ** np.arange(len(f)))


def lcoh(rate: float, costs: Flows, heat_mwh: Flows) -> float | None:
    """Levelised cost of heat (EUR/MWh): discounted costs over discounted heat."""
    heat = npv(rate, heat_mwh)
    return None if heat <= 0.0 else npv(rate, costs) / heat
