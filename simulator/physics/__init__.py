"""Plant physics: lumped thermal masses, heat exchangers, machines and the tank.

Every model steps with an explicit ``dt`` and keeps its state in plain floats so a
simulated day at 1 s runs in seconds. Heat flows are computed once per step and
applied to every mass they touch, so the plant's energy balance closes exactly.
"""

CP_WATER = 4.186  # kJ/(kg K): one constant heat capacity for every water mass
