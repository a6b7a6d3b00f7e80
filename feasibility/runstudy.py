"""A whole study: the design as given, sensitivities, break-even, sweep, files written."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from feasibility.case import Case
from feasibility.evaluate import run_design
from feasibility.partnership import investor
from feasibility.report import build, render
from feasibility.sensitivity import tornado, what_it_takes
from feasibility.sweep import sweep


def run_study(
    case: Case,
    out_dir: Path,
    *,
    with_sweep: bool = True,
    with_plots: bool = True,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    party = investor(case.study.partnership.model)
    ev = run_design(case)
    bars = tornado(case, ev)
    takes = what_it_takes(case, ev)
    sw = sweep(case, party) if with_sweep else None
    plots: dict[str, str] = {}
    if with_plots:
        try:
            from feasibility import plots as pl  # noqa: PLC0415 (matplotlib is optional)
        except ImportError:  # pragma: no cover - matplotlib is an optional extra
            say("matplotlib not installed: no PNG plots (pip install 'heatrecovery[study]')")
        else:
            pl.tornado_png(bars[party], ev.parties[party].npv, party, out_dir / "tornado.png")
            pl.monthly_png(ev, out_dir / "monthly.png")
            plots = {"tornado": "tornado.png", "monthly": "monthly.png"}
            if sw is not None:
                pl.sweep_png(sw, out_dir / "sweep.png")
                plots["sweep"] = "sweep.png"
    data = build(case, ev, bars, takes, sw, plots)
    (out_dir / "feasibility.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    (out_dir / "feasibility.md").write_text(render(data), encoding="utf-8")
    took = time.perf_counter() - t0
    say(f"Report: {out_dir / 'feasibility.md'} and feasibility.json ({took:.1f} s)")
    return data
