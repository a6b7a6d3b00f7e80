"""PNG plots of a study (matplotlib, headless): tornado, sizing heat map, monthly energy."""

# ruff: noqa: PLC0415  (matplotlib is an optional extra, imported when plotting)

from __future__ import annotations

from pathlib import Path

import numpy as np

from feasibility.climate import month_of_hour
from feasibility.evaluate import Evaluation
from feasibility.sensitivity import Bar
from feasibility.sweep import Sweep


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def tornado_png(bars: list[Bar], base_npv: float, party: str, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(bars) + 1.2))
    for k, b in enumerate(reversed(bars)):
        lo, hi = sorted((b.low, b.high))
        ax.barh(k, (hi - lo) / 1e6, left=lo / 1e6, color="#4c78a8")
        ax.text(hi / 1e6, k, f" {hi / 1e6:.2f}", va="center", fontsize=8)
        ax.text(lo / 1e6, k, f"{lo / 1e6:.2f} ", va="center", ha="right", fontsize=8)
    ax.set_yticks(range(len(bars)), [b.label for b in reversed(bars)])
    ax.axvline(base_npv / 1e6, color="k", lw=1)
    ax.axvline(0.0, color="#d62728", lw=1, ls="--")
    ax.margins(x=0.18)
    ax.set_xlabel(f"NPV of the {party} (MEUR)")
    ax.set_title("Sensitivity: one input at a time")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sweep_png(sw: Sweep, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    im = ax.imshow(sw.npv / 1e6, origin="lower", aspect="auto", cmap="RdYlGn")
    ax.set_xticks(range(len(sw.tank_m3)), [f"{t:g}" for t in sw.tank_m3])
    ax.set_yticks(range(len(sw.hp_kw)), [f"{h:g}" for h in sw.hp_kw])
    ax.set_xlabel("tank (m3)")
    ax.set_ylabel("heat pump (kW)")
    for i in range(len(sw.hp_kw)):
        for j in range(len(sw.tank_m3)):
            ax.text(j, i, f"{sw.npv[i, j] / 1e6:.2f}", ha="center", va="center", fontsize=7)
    bi, bj = sw.best
    ax.add_patch(plt.Rectangle((bj - 0.5, bi - 0.5), 1, 1, fill=False, ec="k", lw=2.5))
    fig.colorbar(im, ax=ax, label=f"NPV of the {sw.party} (MEUR)")
    ax.set_title("Sizing sweep (best design boxed)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def monthly_png(ev: Evaluation, path: Path) -> None:
    plt = _plt()
    months = month_of_hour()
    y = ev.year

    def monthly(a: np.ndarray) -> np.ndarray:
        return np.bincount(months, weights=a, minlength=12) / 1000.0

    x = np.arange(12)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.bar(x - 0.2, monthly(y.delivered), 0.4, label="delivered", color="#e45756")
    ax.bar(x + 0.2, monthly(y.dumped), 0.4, label="dumped (dry coolers)", color="#9d9d9d")
    ax.plot(x, monthly(y.demand), "k.-", label="network demand")
    ax.plot(x, monthly(y.it_heat), "b--", label="IT heat to liquid")
    ax.set_xticks(x, ["J", "F", "M", "A", "M", "J", "J", "A", "S", "O", "N", "D"])
    ax.set_ylabel("MWh")
    ax.legend(fontsize=8)
    ax.set_title("Energy by month")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
