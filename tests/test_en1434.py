"""EN 1434 heat coefficient and check power of controller/accounting/en1434.py.

Two references:

1. The published table in shared/reference/domain.md section 4, "Values of k (calc,
   IAPWS-IF97 via iapws 1.5.5, 16 bar)", k in kWh/(m3 K) to 4 decimals, for a meter
   in the return (outlet) and in the supply (inlet). Checked within 0.05 %.
   Note: the table's supply column reproduces IAPWS-IF97 at 6 bar rather than 16
   bar (the return column is 16 bar); the difference is below 0.02 %, inside this
   tolerance, and the domain note itself puts the pressure effect at < 0.02 %.
2. IAPWS-IF97 at 1.6 MPa evaluated with the ``iapws`` package 1.5.5 (IAPWS97 class),
   k = rho(t at the flow sensor) * (h(t_in) - h(t_out)) / (t_in - t_out) / 3600, full
   precision, produced by docs/en1434_fit.py. Checked within 0.001 %, which is what
   the fitted polynomials must hold over 0-150 °C.
"""

from __future__ import annotations

import math

import pytest

from controller.accounting.en1434 import (
    ROUGH_K,
    CheckStatus,
    check_energy,
    check_power,
    density,
    enthalpy,
    heat_coefficient,
)

# (t_in, t_out, k meter in return, k meter in supply): domain.md section 4.
PUBLISHED = [
    (35, 27, 1.1567, 1.1540),
    (45, 35, 1.1536, 1.1493),
    (70, 40, 1.1524, 1.1357),
    (80, 45, 1.1510, 1.1297),
    (90, 50, 1.1497, 1.1234),
    (90, 60, 1.1448, 1.1241),
]

# (t_in, t_out, k return, k supply): IAPWS-IF97, 1.6 MPa, iapws 1.5.5 (docs/en1434_fit.py).
IF97_16BAR = [
    (35, 27, 1.1566879481793295, 1.1538003659769938),
    (45, 35, 1.1535645627174882, 1.1491317054363486),
    (70, 40, 1.152370534426049, 1.13560950673893),
    (80, 45, 1.1509666252687019, 1.1295896766592513),
    (90, 50, 1.1496853337406743, 1.1232932029992966),
    (90, 60, 1.1448444768736865, 1.1240608508086438),
    (5, 2, 1.1680497666520415, 1.1680594457682882),
    (130, 70, 1.1459819526238788, 1.0957171095705918),
    (150, 100, 1.1333939503364885, 1.084455136897657),
    (60.5, 60, 1.1422503270630857, 1.1419511269687497),
]

# (t, rho kg/m3, h kJ/kg): IAPWS-IF97, 1.6 MPa, iapws 1.5.5.
IF97_STATES = [
    (10, 1000.416408909336, 43.57913153689804),
    (30, 996.3174656516653, 127.19998557365814),
    (50, 988.6982894986182, 210.70516697219577),
    (70, 978.4377909185237, 294.30073099513703),
    (90, 966.0017709344266, 378.15229398463555),
    (120, 943.8053157260871, 504.7698526325964),
]


@pytest.mark.parametrize(("t_in", "t_out", "k_ret", "k_sup"), PUBLISHED)
def test_coefficient_matches_published_table(
    t_in: float, t_out: float, k_ret: float, k_sup: float
) -> None:
    assert heat_coefficient(t_in, t_out, flow_in_cold_pipe=True) == pytest.approx(k_ret, rel=5e-4)
    assert heat_coefficient(t_in, t_out, flow_in_cold_pipe=False) == pytest.approx(k_sup, rel=5e-4)


@pytest.mark.parametrize(("t_in", "t_out", "k_ret", "k_sup"), IF97_16BAR)
def test_coefficient_matches_if97_closely(
    t_in: float, t_out: float, k_ret: float, k_sup: float
) -> None:
    assert heat_coefficient(t_in, t_out, True) == pytest.approx(k_ret, rel=1e-5)
    assert heat_coefficient(t_in, t_out, False) == pytest.approx(k_sup, rel=1e-5)


def test_density_and_enthalpy_differences_match_if97() -> None:
    for t, rho, _ in IF97_STATES:
        assert density(t) == pytest.approx(rho, rel=1e-5)
    t0, _, h0 = IF97_STATES[0]
    for t, _, h in IF97_STATES[1:]:
        assert enthalpy(t) - enthalpy(t0) == pytest.approx(h - h0, abs=1e-3)


def test_rough_constant_overreads_at_dh_temperatures() -> None:
    """Why the check uses k(θ) and not 1.163: the error is the size of a class 2 budget."""
    assert abs(ROUGH_K - 1.163) < 5e-4
    over_return = ROUGH_K / heat_coefficient(80, 45, True) - 1
    over_supply = ROUGH_K / heat_coefficient(90, 50, False) - 1
    assert 0.005 < over_return < 0.016
    assert 0.029 < over_supply < 0.036


def test_small_difference_is_stable() -> None:
    """A 1 mK difference gives rho * cp, not cancellation noise."""
    k_tiny = heat_coefficient(60.001, 60.0)
    k_half = heat_coefficient(60.5, 60.0)
    assert k_tiny == pytest.approx(k_half, rel=2e-4)
    assert k_tiny == pytest.approx(heat_coefficient(60.0 + 1e-9, 60.0), rel=1e-6)


def test_no_coefficient_for_zero_or_reversed_pair() -> None:
    for hot, cold in ((60.0, 60.0), (40.0, 70.0)):
        with pytest.raises(ValueError):
            heat_coefficient(hot, cold)
    with pytest.raises(ValueError):
        heat_coefficient(160.0, 40.0)


def test_check_power_is_flow_times_k_times_dt() -> None:
    p = check_power(40.0, 70.0, 40.0, flow_in_cold_pipe=True)
    assert p.status is CheckStatus.OK
    assert p.power_kw == pytest.approx(40.0 * 1.1524 * 30.0, rel=5e-4)
    # One hour of the same flow is 40 m3: the same heat as energy.
    assert check_energy(40.0, 70.0, 40.0, True) == pytest.approx(p.power_kw, rel=1e-12)


@pytest.mark.parametrize(
    ("flow", "hot", "cold", "status", "power"),
    [
        (40.0, 40.0, 70.0, CheckStatus.REVERSED_DT, None),
        (40.0, 55.0, 55.0, CheckStatus.REVERSED_DT, None),
        (0.0, 40.0, 70.0, CheckStatus.NO_FLOW, 0.0),
        (None, 70.0, 40.0, CheckStatus.BAD_INPUT, None),
        (40.0, None, 40.0, CheckStatus.BAD_INPUT, None),
        (40.0, math.nan, 40.0, CheckStatus.BAD_INPUT, None),
        (-1.0, 70.0, 40.0, CheckStatus.BAD_INPUT, None),
        (40.0, 170.0, 40.0, CheckStatus.BAD_INPUT, None),
    ],
)
def test_check_power_judges_bad_pairs(
    flow: float | None,
    hot: float | None,
    cold: float | None,
    status: CheckStatus,
    power: float | None,
) -> None:
    p = check_power(flow, hot, cold)
    assert p.status is status
    assert p.power_kw == power
