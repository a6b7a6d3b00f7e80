"""Sizing sweep: heat-pump size x tank size, each design a full year and its finance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from feasibility.case import Case
from feasibility.evaluate import run_design

DEFAULT_HP_FRACTIONS = (0.3, 0.45, 0.6, 0.75, 0.9, 1.05, 1.2, 1.5)
DEFAULT_TANK_FRACTIONS = (0.05, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True, slots=True)
class Sweep:
    hp_kw: list[float]
    tank_m3: list[float]
    party: str
    npv: np.ndarray
    """[hp, tank] NPV of ``party``."""
    project_npv: np.ndarray
    delivered_mwh: np.ndarray

    @property
    def best(self) -> tuple[int, int]:
        i, j = np.unravel_index(int(np.argmax(self.npv)), self.npv.shape)
        return int(i), int(j)

    @property
    def best_project(self) -> tuple[int, int]:
        i, j = np.unravel_index(int(np.argmax(self.project_npv)), self.project_npv.shape)
        return int(i), int(j)


def grid(case: Case) -> tuple[list[float], list[float]]:
    sw = case.study.sweep
    hp = list(sw.hp_capacity_kw) or [
        round(f * case.plant.it_liquid_kw * 1.3, -1) for f in DEFAULT_HP_FRACTIONS
    ]
    tank = list(sw.tank_m3) or [
        round(f * case.plant.tank.volume_m3, 1) for f in DEFAULT_TANK_FRACTIONS
    ]
    return hp, tank


def sweep(case: Case, party: str) -> Sweep:
    hp, tank = grid(case)
    npv = np.zeros((len(hp), len(tank)))
    proj = np.zeros_like(npv)
    deliv = np.zeros_like(npv)
    for i, h in enumerate(hp):
        for j, t in enumerate(tank):
            ev = run_design(case, h, t)
            npv[i, j] = ev.parties[party].npv
            proj[i, j] = ev.parties["project"].npv
            deliv[i, j] = ev.year.totals["delivered"] / 1000.0
    return Sweep(hp, tank, party, npv, proj, deliv)
