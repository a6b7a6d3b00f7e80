"""Sensitivities first: a tornado of NPV, and what each party would need to break even.

A single NPV for a site like the reference one hides that it turns on prices; the
tornado moves one input at a time (electricity, heat price, gas and carbon, CapEx,
utilisation, discount rate) and the break-even search answers "what would it take".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from feasibility.case import Case
from feasibility.evaluate import Evaluation, Knobs, run_design

SWINGS: tuple[tuple[str, Knobs, Knobs], ...] = (
    ("electricity price ±30 %", Knobs(electricity=0.7), Knobs(electricity=1.3)),
    ("heat price ±30 %", Knobs(heat_price=0.7), Knobs(heat_price=1.3)),
    ("gas + carbon price ±30 %", Knobs(gas_carbon=0.7), Knobs(gas_carbon=1.3)),
    ("CapEx ±30 %", Knobs(capex=0.7), Knobs(capex=1.3)),
    ("utilisation ±30 %", Knobs(utilisation=0.7), Knobs(utilisation=1.3)),
    ("discount rate ±2 points", Knobs(discount_pts=-2.0), Knobs(discount_pts=2.0)),
)


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    low: float
    high: float
    """NPV at the low and at the high end of the input's range."""

    @property
    def span(self) -> float:
        return abs(self.high - self.low)


def tornado(case: Case, party: str, base: Evaluation) -> list[Bar]:
    """NPV of ``party`` at each end of each swing, widest bar first."""
    bars = []
    hp, tank = base.hp_kw, base.tank_m3
    for label, lo, hi in SWINGS:
        a = run_design(case, hp, tank, lo).parties[party].npv
        b = run_design(case, hp, tank, hi).parties[party].npv
        bars.append(Bar(label, a, b))
    return sorted(bars, key=lambda b: b.span, reverse=True)


def break_even(f: Callable[[float], float], hi: float) -> float | None:
    """x in [0, hi] where f(x) = 0, for f affine in x; None if outside that range.

    Every multiplier searched here scales one money stream, so NPV is affine in it
    and two evaluations find the root exactly.
    """
    f0, f1 = f(0.0), f(1.0)
    if f1 == f0:
        return None
    x = -f0 / (f1 - f0)
    return x if 0.0 <= x <= hi else None


def what_it_takes(case: Case, party: str, base: Evaluation) -> dict[str, float | None]:
    """Multipliers on each input at which ``party``'s NPV is zero (None: not within range)."""
    hp, tank = base.hp_kw, base.tank_m3

    def npv_with(**k: float) -> float:
        return run_design(case, hp, tank, Knobs(**k)).parties[party].npv

    return {
        "heat_price": break_even(lambda x: npv_with(heat_price=x), 10.0),
        "electricity": break_even(lambda x: npv_with(electricity=x), 5.0),
        "capex": break_even(lambda x: npv_with(capex=x), 3.0),
        "gas_carbon": break_even(lambda x: npv_with(gas_carbon=x), 10.0),
    }
