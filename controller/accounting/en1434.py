"""EN 1434 check energy: the controller's own calculation next to the MID meter's.

The billing truth is the meter's register; this module exists so the controller can
say, interval by interval, whether that register is believable. It converts volume
flow and the two temperatures into heat with the temperature-dependent heat
coefficient of EN 1434-1 / OIML R75-1:

    k(θin, θout) = ρ(θ at the flow sensor) · [h(θin) − h(θout)] / (θin − θout)

with ρ and h of water at the standard's defined pressure of 16 bar. The constant
1.163 kWh/(m³·K) is the rough form of k and over-reads by 0.5-3.5 % at DH
temperatures, which is the size of a meter's whole error budget, so it is not good
enough for a check.

ρ and h are polynomials fitted to IAPWS-IF97 at 1.6 MPa over 0-150 °C
(``docs/en1434_fit.py`` derives them; the project does not depend on ``iapws``).
Worst errors over that range: ρ 2e-6 relative, h 2.3e-5 kJ/kg, k 2.6e-6 relative
for any temperature pair. Enthalpy is fitted through its derivative cp so that
differences over a few kelvin, which is all k uses, are as good as the absolute
values.

A temperature difference that is zero or reversed while water flows is not heat
delivered: it is reported, never summed, as an EN 1434 calculator does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

PRESSURE_BAR = 16.0
T_MIN_C = 0.0
T_MAX_C = 150.0
"""Range of the fit; a reading outside it is treated as a bad input, not extrapolated."""

# Polynomials in x = t / 100 (t in °C), lowest order first.
# rho(t) in kg/m3 at 1.6 MPa.
_RHO: tuple[float, ...] = (
    1000.6073922640163,
    6.072517596961277,
    -88.01454956611533,
    91.04808311229137,
    -102.06077468505862,
    86.32470361027349,
    -48.26949539308576,
    15.502365242591658,
    -2.154819967568856,
)
# h(t) in kJ/kg at 1.6 MPa (IF97 reference state; only differences matter here).
_H: tuple[float, ...] = (
    1.5858872934969195,
    421.19805093985434,
    -16.56341442005191,
    48.38932650125409,
    -109.94207942374781,
    191.20228519472718,
    -238.5021094107638,
    211.29104668811203,
    -129.4095586542335,
    51.95401114588275,
    -12.26693252807485,
    1.2884779481867714,
)

ROUGH_K = 4.1868 * 1000.0 / 3600.0
"""The constant 'heat coefficient' 1.163 kWh/(m³·K), kept for comparison only."""


def _poly(c: tuple[float, ...], x: float) -> float:
    acc = 0.0
    for coef in reversed(c):
        acc = acc * x + coef
    return acc


def density(t: float) -> float:
    """Water density in kg/m³ at ``t`` °C and 16 bar."""
    return _poly(_RHO, t / 100.0)


def enthalpy(t: float) -> float:
    """Specific enthalpy in kJ/kg at ``t`` °C and 16 bar."""
    return _poly(_H, t / 100.0)


def _enthalpy_slope(t_a: float, t_b: float) -> float:
    """[h(a) - h(b)] / (a - b) in kJ/(kg·K), without cancellation for close temperatures.

    (a^n - b^n) / (a - b) is summed term by term instead of subtracting two nearly
    equal enthalpies, so a 0.1 K difference is as exact as a 50 K one, and a = b
    gives cp itself.
    """
    xa, xb = t_a / 100.0, t_b / 100.0
    total = 0.0
    for n in range(1, len(_H)):
        # sum_{j=0}^{n-1} xa^j xb^(n-1-j)
        s = 0.0
        for j in range(n):
            s += xa**j * xb ** (n - 1 - j)
        total += _H[n] * s
    return total / 100.0


def heat_coefficient(t_hot: float, t_cold: float, flow_in_cold_pipe: bool = True) -> float:
    """EN 1434 heat coefficient k in kWh/(m³·K).

    ``flow_in_cold_pipe``: the flow sensor sits in the return (outlet, cold) pipe, as
    on this plant's meter; the volume it measures has the cold pipe's density.
    Raises ValueError for temperatures outside 0-150 °C or a pair with
    ``t_hot <= t_cold``: there is no heat coefficient for heat not delivered.
    """
    _check_range(t_hot)
    _check_range(t_cold)
    if not t_hot > t_cold:
        raise ValueError(f"no heat coefficient for t_hot {t_hot} <= t_cold {t_cold}")
    rho = density(t_cold if flow_in_cold_pipe else t_hot)
    return rho * _enthalpy_slope(t_hot, t_cold) / 3600.0


def _check_range(t: float) -> None:
    if not (T_MIN_C <= t <= T_MAX_C):
        raise ValueError(f"temperature {t} °C outside {T_MIN_C:g}..{T_MAX_C:g} °C")


def check_energy(volume_m3: float, t_hot: float, t_cold: float, flow_in_cold_pipe: bool) -> float:
    """Heat in kWh carried by ``volume_m3`` of water between the two temperatures (V·Δθ·k)."""
    return volume_m3 * (t_hot - t_cold) * heat_coefficient(t_hot, t_cold, flow_in_cold_pipe)


class CheckStatus(StrEnum):
    OK = "ok"
    NO_FLOW = "no_flow"
    """Nothing flows: zero heat, and a reversed pair then means nothing."""
    REVERSED_DT = "reversed_dt"
    """Water flows but supply is not warmer than return: flagged, not summed."""
    BAD_INPUT = "bad_input"
    """A reading is missing (bad quality), not a number or outside the fit's range."""


@dataclass(frozen=True, slots=True)
class CheckPower:
    """Instantaneous check power; ``power_kw`` is None unless ``status`` is OK or NO_FLOW."""

    power_kw: float | None
    status: CheckStatus
    k: float | None = None


def check_power(
    flow_m3h: float | None,
    t_hot: float | None,
    t_cold: float | None,
    flow_in_cold_pipe: bool = True,
) -> CheckPower:
    """Heat power in kW from volume flow (m³/h) and the pair, judged like a calculator.

    A negative flow reading is a bad input (this meter's range starts at 0).
    """
    if flow_m3h is None or not math.isfinite(flow_m3h) or flow_m3h < 0:
        return CheckPower(None, CheckStatus.BAD_INPUT)
    if flow_m3h == 0:
        return CheckPower(0.0, CheckStatus.NO_FLOW)
    if t_hot is None or t_cold is None or not (math.isfinite(t_hot) and math.isfinite(t_cold)):
        return CheckPower(None, CheckStatus.BAD_INPUT)
    if not (T_MIN_C <= t_hot <= T_MAX_C and T_MIN_C <= t_cold <= T_MAX_C):
        return CheckPower(None, CheckStatus.BAD_INPUT)
    if t_hot <= t_cold:
        return CheckPower(None, CheckStatus.REVERSED_DT)
    k = heat_coefficient(t_hot, t_cold, flow_in_cold_pipe)
    return CheckPower(flow_m3h * k * (t_hot - t_cold), CheckStatus.OK, k)
