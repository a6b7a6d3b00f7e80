"""Plant physics: lumped thermal masses, heat exchangers, machines and the tank.

Every model steps with an explicit ``dt`` and keeps its state in plain floats so a
simulated day at 1 s runs in seconds. Heat flows are computed once per step and
applied to every mass they touch, so the plant's energy balance closes exactly.
"""

CP_WATER = 4.186  # kJ/(kg K): one constant heat capacity for every water mass
# One density for every water volume and volumetric flow of the physics: IAPWS-IF97
# at 55 °C, the middle of the plant's 30-85 °C (985.7 kg/m3, simulator.physics.water).
# A constant keeps mass, and so the energy balance, exact; the heat meter uses the
# temperature-dependent density, as a real EN 1434 calculator does.
RHO_WATER = 985.0  # kg/m3
