"""``heatrecovery feasibility --benchmark``: the engine's speed, measured, not asserted in tests."""

from __future__ import annotations

import os
import time

from feasibility.case import Case
from feasibility.engine import run_year
from feasibility.evaluate import run_design
from feasibility.partnership import investor
from feasibility.sweep import grid, sweep


def benchmark(case: Case, repeats: int = 5) -> dict[str, float]:
    plant = case.with_design()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run_year(plant, case.dispatch, case.inputs, case.study.initial_soc)
        times.append(time.perf_counter() - t)
    engine = min(times)
    t = time.perf_counter()
    run_design(case)
    design = time.perf_counter() - t
    hp, tank = grid(case)
    t = time.perf_counter()
    sweep(case, investor(case.study.partnership.model))
    sw = time.perf_counter() - t
    n = len(hp) * len(tank)
    print(f"cores: {os.cpu_count()}")
    print(f"engine, one year (8760 h), best of {repeats}: {engine:.3f} s   (target <= 5 s)")
    print(f"one design priced (engine + costs + statements + finance): {design:.3f} s")
    print(f"sweep of {n} designs: {sw:.2f} s = {sw / n:.3f} s each   (target >= 50 in <= 60 s)")
    return {"engine_s": engine, "design_s": design, "sweep_s": sw, "designs": float(n)}
