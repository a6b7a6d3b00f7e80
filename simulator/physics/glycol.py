"""Aqueous ethylene glycol for the dry-cooler circuit: heat capacity, density, freezing.

Properties come from CoolProp's incompressible mixture "MEG" (Melinder, Properties of
Secondary Working Fluids, IIR 2010), evaluated once when the plant is built: the
circuit runs over a few tens of kelvin, where cp changes by ~1 %, so one value at the
circuit's mean temperature keeps each step cheap and the balance exact. Tests hold
them against ASHRAE Handbook Fundamentals and Modelica Standard Library figures.
"""

from __future__ import annotations

from dataclasses import dataclass

KELVIN = 273.15
P_CIRCUIT = 2.0e5  # Pa; liquid properties barely depend on it


@dataclass(frozen=True, slots=True)
class Glycol:
    mass_fraction: float
    cp: float  # kJ/(kg K)
    density: float  # kg/m3
    freezing_point: float  # °C


def ethylene_glycol(mass_fraction: float, at_temp: float = 15.0) -> Glycol:
    """Properties of a water / ethylene glycol mixture (mass fraction 0..0.6) at ``at_temp`` °C."""
    if not 0.0 <= mass_fraction <= 0.6:
        raise ValueError(f"glycol mass fraction {mass_fraction} outside 0..0.6")
    if mass_fraction == 0.0:
        from simulator.physics import CP_WATER, RHO_WATER  # noqa: PLC0415

        return Glycol(0.0, CP_WATER, RHO_WATER, 0.0)
    from CoolProp.CoolProp import PropsSI  # noqa: PLC0415 - heavy import, only when a plant is built

    fluid = f"INCOMP::MEG[{mass_fraction:g}]"
    t = at_temp + KELVIN
    return Glycol(
        mass_fraction=mass_fraction,
        cp=PropsSI("C", "T", t, "P", P_CIRCUIT, fluid) / 1000.0,
        density=PropsSI("D", "T", t, "P", P_CIRCUIT, fluid),
        freezing_point=PropsSI("T_freeze", "T", t, "P", P_CIRCUIT, fluid) - KELVIN,
    )


def air_density(t_air: float, pressure_pa: float = 101_325.0) -> float:
    """Dry air, ideal gas: rho = p / (R T), R = 287.05 J/(kg K)."""
    return pressure_pa / (287.05 * (t_air + KELVIN))
