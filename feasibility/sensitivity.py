"""Sensitivities first: a tornado of NPV, and what each party would need to break even.

A single NPV for a site like the reference one hides that it turns on prices; the
tornado moves one input at a time (electricity, heat price, gas and carbon, CapEx,
utilisation, discount rate) and the break-even search answers "what would it take".
"""

from __future__ import annotations

from dataclasses import dataclass

from feasibility.case import Case
from feasibility.evaluate import Evaluation, Knobs, run_design

SWINGS: tuple[tuple[str, Knobs, Knobs], ...] = (
    ("electricity price ±30 %", Knobs(electricity=0.7), Knobs(electricity=1.3)),
    ("heat price ±30 %", Knobs(heat_price=0.7), Knobs(heat_price=1.3)),
    ("gas + carbon price ±30 %", Knobs(gas_carbon=0.7), Knobs(gas_carbon=1.3)),
    ("CapEx ±30 %", Knobs(capex=0.7), Knobs(capex=1.3)),
    ("utilisation ±30 % (capped at 100 %)", Knobs(utilisation=0.7), Knobs(utilisation=1.3)),
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


def tornado(case: Case, base: Evaluation) -> dict[str, list[Bar]]:
    """Per party: NPV at each end of each swing, widest bar first (one run per end)."""
    hp, tank = base.hp_kw, base.tank_m3
    bars: dict[str, list[Bar]] = {party: [] for party in base.parties}
    for label, lo, hi in SWINGS:
        a = run_design(case, hp, tank, lo).parties
        b = run_design(case, hp, tank, hi).parties
        for party, row in bars.items():
            row.append(Bar(label, a[party].npv, b[party].npv))
    return {p: sorted(v, key=lambda b: b.span, reverse=True) for p, v in bars.items()}


BREAK_EVEN: tuple[tuple[str, str, float], ...] = (
    ("heat_price", "heat price (energy, capacity and take-or-pay payments)", 10.0),
    ("electricity", "electricity price", 5.0),
    ("capex", "CapEx", 3.0),
    ("gas_carbon", "gas and carbon price (the utility's avoided boiler cost)", 10.0),
)


def what_it_takes(case: Case, base: Evaluation) -> dict[str, dict[str, float | None]]:
    """Per party: the multiplier on each input alone at which its NPV is zero.

    Each multiplier scales one money stream, so every party's NPV is affine in it:
    the NPV at 0 and at 1 (the study as written) give the root exactly. None: the
    root lies outside [0, limit] (or the party's NPV does not depend on the input).
    """
    hp, tank = base.hp_kw, base.tank_m3
    out: dict[str, dict[str, float | None]] = {party: {} for party in base.parties}
    for key, _, limit in BREAK_EVEN:
        at0 = run_design(case, hp, tank, Knobs(**{key: 0.0})).parties
        for party, row in out.items():
            f0, f1 = at0[party].npv, base.parties[party].npv
            x = None if abs(f1 - f0) < 1e-6 else -f0 / (f1 - f0)
            row[key] = x if x is not None and 0.0 <= x <= limit else None
    return out
