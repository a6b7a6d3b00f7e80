"""Water properties for the heat meter model.

The plant's physics uses one constant heat capacity so its energy balance is exact;
the *meter* is a separate instrument that, like a real EN 1434 calculator, converts
volume and two temperatures into energy with temperature-dependent density and
enthalpy. Keeping the two apart is what lets the meter register and the simulator's
own integrated heat disagree by realistic, explainable amounts.

Both properties are least-squares polynomial fits to IAPWS-IF97 at 16 bar over
0.5-150 °C (max error 0.016 kJ/kg in enthalpy, 0.05 kg/m3 in density); the test
suite checks the resulting heat coefficients against published IF97 values.
"""

from __future__ import annotations

# h(T) - h(0 °C) in kJ/kg = sum(H[i] * T^(i+1))
_H = (4.205936036980977, -8.929682035246591e-4, 1.045889855159429e-5, -4.6203813877405475e-8,
      1.1408006413269816e-10)  # fmt: skip
# rho(T) in kg/m3 = sum(R[i] * T^i)
_R = (1000.666324254821, 0.04276386936254799, -7.4031612333232966e-3, 4.4150055058988e-5,
      -1.9609678849225871e-7, 3.611963789810366e-10)  # fmt: skip


def density(t: float) -> float:
    """kg/m3 at ``t`` °C and 16 bar."""
    r = _R
    return r[0] + t * (r[1] + t * (r[2] + t * (r[3] + t * (r[4] + t * r[5]))))


def enthalpy(t: float) -> float:
    """kJ/kg relative to 0 °C at 16 bar (only differences are meaningful)."""
    h = _H
    return t * (h[0] + t * (h[1] + t * (h[2] + t * (h[3] + t * h[4]))))


def cp(t: float) -> float:
    h = _H
    return h[0] + t * (2 * h[1] + t * (3 * h[2] + t * (4 * h[3] + t * 5 * h[4])))


def heat_coefficient(t_hot: float, t_cold: float, flow_in_cold: bool = True) -> float:
    """EN 1434 heat coefficient k in kWh/(m3 K) for the meter's flow-sensor position."""
    rho = density(t_cold if flow_in_cold else t_hot)
    if abs(t_hot - t_cold) < 1e-6:
        return rho * cp(t_hot) / 3600.0
    return rho * (enthalpy(t_hot) - enthalpy(t_cold)) / (t_hot - t_cold) / 3600.0
