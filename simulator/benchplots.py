"""PNG plots of a bench scenario: both controllers on one page, panel by panel.

Overlaying the project's controller and the baseline on shared axes makes the
difference visible at a glance (where the supply temperature leaves its band, where
heat goes to the dry coolers), which two separate pages would hide. Fault windows
are shaded on every panel. Figures are built without pyplot (no global state, no
display backend): matplotlib renders PNG with Agg.
"""

from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

MODE_COLOURS = {
    "STARTUP": "#9e9e9e",
    "RECOVERY": "#2e7d32",
    "BYPASS": "#f9a825",
    "DEGRADED": "#ef6c00",
    "SAFE": "#c62828",
    "MANUAL": "#6a1b9a",
    "STOPPED": "#000000",
}
STYLE = {"ours": {"color": "#1565c0", "ls": "-"}, "baseline": {"color": "#d84315", "ls": "--"}}


def _windows(events: list[dict[str, Any]], end_h: float) -> list[tuple[float, float, str]]:
    """(start h, end h, kind) of each fault from the run's start/end events."""
    open_: dict[str, float] = {}
    out: list[tuple[float, float, str]] = []
    for e in events:
        kind = e["event"]
        if e.get("phase") == "start":
            open_[kind] = e["t"] / 3600.0
        elif e.get("phase") == "end" and kind in open_:
            out.append((open_.pop(kind), e["t"] / 3600.0, kind))
    out += [(t0, end_h, kind) for kind, t0 in open_.items()]
    return out


def _mask(values: list[Any], keep: list[bool]) -> list[float]:
    return [float(v) if k else math.nan for v, k in zip(values, keep, strict=True)]


def plot_scenario(name: str, sc: dict[str, Any], path: Path, limits: dict[str, float]) -> Path:
    runs = [(c, sc[c]) for c in ("ours", "baseline") if c in sc]
    fig = Figure(figsize=(11, 14))
    axes = fig.subplots(6, 1, sharex=True, gridspec_kw={"height_ratios": [2, 2, 2, 2, 0.8, 1.6]})
    ax_fws, ax_dh, ax_q1, ax_q2, ax_mode, ax_act = axes
    end_h = sc.get("duration_h", 0.0)
    events = runs[0][1].get("events", []) if runs else []
    for ax in axes:
        for t0, t1, _ in _windows(events, end_h):
            ax.axvspan(t0, t1, color="#b0bec5", alpha=0.35, lw=0)
    for ctl, run in runs:
        s = run["series"]
        t = s["t_h"]
        st = STYLE[ctl]
        ax_fws.plot(t, s["fws_supply"], color=st["color"], ls=st["ls"], lw=1, label=ctl)
        injecting = [d > 1.0 for d in s["delivered_kw"]]
        ax_dh.plot(
            t, _mask(s["dh_supply"], injecting), color=st["color"], ls=st["ls"], lw=1, label=ctl
        )
        ax_act.plot(t, s["valve_pct"], color=st["color"], ls=st["ls"], lw=1, label=f"valve {ctl}")
        ax_act.plot(
            t,
            s["hp_load_pct"],
            color=st["color"],
            ls=st["ls"],
            lw=2,
            alpha=0.5,
            label=f"HP load {ctl}",
        )
    # Limits and setpoints.
    ax_fws.axhline(limits["fws_setpoint"], color="k", lw=0.8, ls=":", label="setpoint")
    ax_fws.axhline(limits["fws_high"], color="#ef6c00", lw=0.8, ls="-.", label="high alarm")
    ax_fws.axhline(limits["fws_limit"], color="#c62828", lw=1.2, label="hard limit")
    ax_fws.set_ylabel("FWS supply °C")
    ax_fws.legend(loc="upper right", fontsize=7, ncol=5)
    if runs:
        s = runs[0][1]["series"]
        sp = s["dh_setpoint"]
        band = limits["dh_band_k"]
        ax_dh.fill_between(
            s["t_h"],
            [v - band for v in sp],
            [v + band for v in sp],
            color="#a5d6a7",
            alpha=0.5,
            lw=0,
            label="±1 K band",
        )
    ax_dh.set_ylabel("DH supply °C\n(while injecting)")
    ax_dh.legend(loc="lower right", fontsize=7, ncol=3)
    for ax, (ctl, run) in zip((ax_q1, ax_q2), runs, strict=False):
        s = run["series"]
        t = s["t_h"]
        to_tank = [max(0.0, float(v)) for v in s["tank_kw"]]
        dumped = [max(0.0, float(v)) for v in s["rejected_kw"]]
        delivered = [float(v) for v in s["delivered_kw"]]
        ax.stackplot(
            t,
            delivered,
            to_tank,
            dumped,
            colors=["#43a047", "#64b5f6", "#e57373"],
            labels=["delivered", "to tank", "dumped"],
            alpha=0.85,
        )
        ax.plot(t, s["demand_kw"], color="k", lw=0.9, label="demand")
        ax.plot(t, s["it_heat_kw"], color="#6d4c41", lw=0.9, ls=":", label="IT heat")
        # Scale to the process, not to the first seconds' transient (up to 4 MW).
        totals = sorted(a + b + c for a, b, c in zip(delivered, to_tank, dumped, strict=True))
        p99 = totals[int(0.99 * (len(totals) - 1))] if totals else 0.0
        top = max([p99, *map(float, s["demand_kw"]), *map(float, s["it_heat_kw"]), 500.0])
        ax.set_ylim(0, 1.2 * top)
        ax.set_ylabel(f"{ctl}\nheat kW")
        ax.legend(loc="upper right", fontsize=7, ncol=5)
    for lane, (_, run) in enumerate(runs):
        s = run["series"]
        t, modes = s["t_h"], s["mode"]
        start = 0
        for i in range(1, len(modes) + 1):
            if i == len(modes) or modes[i] != modes[start]:
                t1 = t[i] if i < len(t) else end_h
                ax_mode.broken_barh(
                    [(t[start], t1 - t[start])],
                    (lane + 0.1, 0.8),
                    color=MODE_COLOURS.get(str(modes[start]), "#607d8b"),
                )
                start = i
    ax_mode.set_yticks([0.5 + i for i in range(len(runs))], [c for c, _ in runs])
    ax_mode.set_ylim(0, max(1, len(runs)))
    handles = [Rectangle((0, 0), 1, 1, color=c) for c in MODE_COLOURS.values()]
    ax_mode.legend(handles, list(MODE_COLOURS), loc="upper right", fontsize=6, ncol=7)
    ax_mode.set_ylabel("mode")
    ax_act.set_ylabel("valve / HP load %")
    ax_act.set_ylim(-5, 105)
    ax_act.legend(loc="upper right", fontsize=7, ncol=4)
    ax_act.set_xlabel("hours")
    desc = textwrap.shorten(sc.get("description", ""), 110, placeholder=" ...")
    fig.suptitle(f"{name}: {desc}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=72, format="png")
    buf.seek(0)
    # A 128-colour palette keeps line plots sharp at a quarter of the size: these
    # files live in docs/ and are regenerated with every change to the controller.
    with Image.open(buf) as im:
        im.convert("RGB").quantize(colors=128).save(path, optimize=True)
    return path


def plot_all(results: dict[str, Any], directory: Path, limits: dict[str, float]) -> list[Path]:
    return [
        plot_scenario(name, sc, directory / f"{name}.png", limits)
        for name, sc in results["scenarios"].items()
    ]
