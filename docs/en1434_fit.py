"""Derive the water-property polynomials of controller/accounting/en1434.py.

Not part of the project's runtime or tests: it needs ``iapws`` (IAPWS-IF97), which the
project does not depend on. Run it in a throwaway venv:

    python -m venv /tmp/iapws && /tmp/iapws/bin/pip install iapws numpy
    /tmp/iapws/bin/python docs/en1434_fit.py

It fits density rho(t) (degree 8) and isobaric heat capacity cp(t) (degree 10) at
1.6 MPa over 0..150 °C in x = t/100, integrates cp to the enthalpy polynomial, and
prints the coefficients, the worst errors and reference k values for the tests.
"""

import itertools

import numpy as np
from iapws import IAPWS97

P_MPA = 1.6
PV = np.polynomial.polynomial

T = np.linspace(0.0, 150.0, 1501)
states = [IAPWS97(T=t + 273.15, P=P_MPA) for t in T]
rho = np.array([s.rho for s in states])
h = np.array([s.h for s in states])
cp = np.array([s.cp for s in states])
x = T / 100.0

c_rho = PV.polyfit(x, rho, 8, w=1 / rho)
c_cp = PV.polyfit(x, cp, 10, w=1 / cp)
c_h = PV.polyint(c_cp) * 100.0  # dh/dt = cp, t = 100 x
c_h[0] = h[0]


def f_rho(t):
    return PV.polyval(t / 100.0, c_rho)


def f_h(t):
    return PV.polyval(t / 100.0, c_h)


def k_ref(ti, to, cold):
    a = IAPWS97(T=ti + 273.15, P=P_MPA)
    b = IAPWS97(T=to + 273.15, P=P_MPA)
    r = b.rho if cold else a.rho
    return r * (a.h - b.h) / (ti - to) / 3600.0


worst = 0.0
idx = range(0, 1501, 20)
for i, j in itertools.combinations(idx, 2):
    for sens in (i, j):
        kr = states[sens].rho * (h[j] - h[i]) / (T[j] - T[i])
        kf = f_rho(T[sens]) * (f_h(T[j]) - f_h(T[i])) / (T[j] - T[i])
        worst = max(worst, abs(kf / kr - 1))
print("max rel error rho", np.max(np.abs(f_rho(T) / rho - 1)))
print("max abs error h kJ/kg", np.max(np.abs(f_h(T) - h)))
print("max rel error k (pairs on a 2 K grid)", worst)
print("_RHO =", tuple(float(c) for c in c_rho))
print("_H =", tuple(float(c) for c in c_h))
pairs = [
    (35, 27),
    (45, 35),
    (70, 40),
    (80, 45),
    (90, 50),
    (90, 60),
    (5, 2),
    (130, 70),
    (150, 100),
    (60.5, 60),
]
for ti, to in pairs:
    print(f"({ti}, {to}, {float(k_ref(ti, to, True))!r}, {float(k_ref(ti, to, False))!r}),")
for t in (10, 30, 50, 70, 90, 120):
    s = IAPWS97(T=t + 273.15, P=P_MPA)
    print(f"({t}, {float(s.rho)!r}, {float(s.h)!r}),")
