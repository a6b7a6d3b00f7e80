"""Plug-flow pipe: water leaves a pipe volume / flow after it entered, unchanged.

A well-mixed lump answers a change at its inlet at once (a first-order lag); a real
pipe answers nothing until the water that saw the change arrives, then all of it.
That dead time is what makes a loop hard to tune, so the long runs (facility water
to the CDUs and back, the district-heating line to the connection) are plug flow:
a queue of parcels, each a mass of water at one temperature. Each step pushes the
inflow in at one end and takes the same mass out at the other, so mass and energy
are exact and there is no numerical diffusion. Walls are taken as insulated and of
negligible heat capacity (steel holds ~10 % of the water's heat in DN150-DN200).
"""

from __future__ import annotations

import math
from collections import deque

from simulator.physics import CP_WATER, RHO_WATER

MERGE_K = 0.002  # neighbouring parcels closer than this are one parcel


def pipe_volume_m3(length_m: float, diameter_m: float) -> float:
    return math.pi / 4.0 * diameter_m**2 * length_m


class PlugPipe:
    __slots__ = ("_m", "_t", "mass")

    def __init__(self, volume_m3: float, temp: float) -> None:
        self.mass = volume_m3 * RHO_WATER
        self._m: deque[float] = deque([self.mass])  # inlet (left) to outlet (right)
        self._t: deque[float] = deque([temp])

    @property
    def outlet_temp(self) -> float:
        return self._t[-1]

    def delay_s(self, flow_kg_s: float) -> float:
        """Transport delay at a steady flow: volume / flow."""
        return self.mass / flow_kg_s if flow_kg_s > 0.0 else math.inf

    def flow(self, dm: float, t_in: float) -> float:
        """Push ``dm`` kg at ``t_in`` in; return the mean temperature of the ``dm`` kg out."""
        if dm <= 0.0 or self.mass <= 0.0:
            return t_in if self.mass <= 0.0 else self._t[-1]
        m, t = self._m, self._t
        if abs(t[0] - t_in) < MERGE_K:
            total = m[0] + dm
            t[0] = (m[0] * t[0] + dm * t_in) / total
            m[0] = total
        else:
            m.appendleft(dm)
            t.appendleft(t_in)
        need = dm
        e = 0.0
        while need > 0.0:
            mi = m[-1]
            if len(m) == 1:
                # The last parcel (it holds what was just pushed) gives the rest: the
                # pipe never empties, whatever rounding did to the parcels before.
                m[-1] = mi - need
                e += need * t[-1]
                break
            if mi <= need:
                e += mi * t[-1]
                need -= mi
                m.pop()
                t.pop()
            else:
                m[-1] = mi - need
                e += need * t[-1]
                need = 0.0
        return e / dm

    def stored_kj(self) -> float:
        """Enthalpy above 0 °C (for the energy balance)."""
        return CP_WATER * sum(a * b for a, b in zip(self._m, self._t, strict=True))
