"""The bench's results as one KPI table (terminal and markdown) and the target check.

Both renderings come from the same ``COLUMNS`` list, so the README, docs/results.md
and the terminal can never disagree about what a column means or how it rounds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.table import Table

from simulator.bench import CONTROLLERS
from simulator.kpis import SAFE_STATE


def _num(fmt: str) -> Callable[[Any], str]:
    def f(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, str):
            return v
        return fmt.format(v)

    return f


# (header, kpi key, formatter, help text for the markdown legend)
COLUMNS: list[tuple[str, str, Callable[[Any], str], str]] = [
    ("FWS max °C", "fws_max_c", _num("{:.2f}"), "highest FWS supply to the CDUs"),
    ("s > 40 °C", "fws_s_above_limit", _num("{:.0f}"), "seconds above the FWS hard limit"),
    ("DH ±1 K %", "dh_in_band_pct", _num("{:.2f}"), "share of injecting time within ±1 K"),
    ("deliv/dem %", "delivered_vs_demand_pct", _num("{:.1f}"), "heat delivered / heat asked"),
    ("deliv MWh", "delivered_in_demand_mwh", _num("{:.2f}"), "heat delivered, capped at demand"),
    ("recovery", "recovery_ratio", _num("{:.3f}"), "delivered (capped) / physical bound"),
    ("dumped MWh", "dumped_mwh", _num("{:.2f}"), "heat rejected by the dry coolers"),
    ("elec MWh", "electricity_mwh", _num("{:.2f}"), "heat pump + fans + pumps"),
    ("SCOP", "seasonal_cop", _num("{:.2f}"), "condenser heat / compressor electricity"),
    ("starts/h", "hp_starts_per_h", _num("{:.2f}"), "heat-pump starts per hour"),
    ("valve strokes", "valve_travel_strokes", _num("{:.0f}"), "bypass valve travel, full strokes"),
    ("tank Δ MWh", "tank_change_mwh", _num("{:+.2f}"), "usable heat in the tank, end - start"),
    ("fault→safe s", "worst_fault_to_safe_s", _num("{:.0f}"), "slowest fault to safe state"),
    ("wall s", "wall_s", _num("{:.1f}"), "wall time of the run"),
]


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    """Rows: scenario, controller, bound, then each column; two rows per scenario."""
    rows: list[list[str]] = []
    for name, sc in results["scenarios"].items():
        bound = sc["bound"]["delivered_kwh"] / 1000.0
        for i, ctl in enumerate(CONTROLLERS):
            run = sc.get(ctl)
            if run is None:
                continue
            k = run["kpis"]
            first = i == 0
            rows.append(
                [name if first else "", ctl, f"{bound:.2f}" if first else ""]
                + [fmt(k.get(key)) for _, key, fmt, _ in COLUMNS]
            )
    return rows


HEADERS = ["scenario", "controller", "bound MWh"] + [h for h, _, _, _ in COLUMNS]


def rich_table(results: dict[str, Any]) -> Table:
    table = Table(
        title="Scenario benchmark: project controller (ours) vs conventional baseline, "
        "with the physical bound",
        caption="recovery = heat delivered within demand / bound; "
        "fault→safe: slowest fault of the run (definitions in docs/results.md)",
    )
    for h in HEADERS:
        table.add_column(h, justify="left" if h in ("scenario", "controller") else "right")
    rows = table_rows(results)
    for i, row in enumerate(rows):
        last_of_scenario = i + 1 == len(rows) or rows[i + 1][0] != ""
        table.add_row(*row, end_section=last_of_scenario)
    return table


def rich_targets(results: dict[str, Any]) -> Table:
    table = Table(title="Targets for the project's controller (issue 6)")
    for h in ("target", "scenario", "value", "required", "met"):
        table.add_column(h)
    for r in results["targets"]:
        met = "[green]yes[/]" if r["met"] else "[red]NO[/]"
        table.add_row(r["target"], r["scenario"], _plain(r["value"]), r["required"], met)
    return table


def _plain(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def markdown_table(results: dict[str, Any]) -> str:
    lines = [
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" if h in ("scenario", "controller") else "---:" for h in HEADERS) + "|",
    ]
    for row in table_rows(results):
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def markdown_targets(results: dict[str, Any]) -> str:
    lines = ["| target | scenario | value | required | met |", "|---|---|---|---|---|"]
    for r in results["targets"]:
        met = "yes" if r["met"] else "**no**"
        lines.append(
            f"| {r['target']} | {r['scenario']} | {_plain(r['value'])} | {r['required']} | {met} |"
        )
    return "\n".join(lines)


def markdown_faults(results: dict[str, Any]) -> str:
    lines = [
        "| scenario | fault | at | ours s | baseline s | safe state means |",
        "|---|---|---:|---:|---:|---|",
    ]
    for name, sc in results["scenarios"].items():
        ours = sc.get("ours", {}).get("kpis", {}).get("faults", [])
        base = sc.get("baseline", {}).get("kpis", {}).get("faults", [])
        for i, f in enumerate(ours):
            b = base[i]["safe_after_s"] if i < len(base) else None
            at = f"{f['at_s'] / 3600:.2f} h"
            lines.append(
                f"| {name} | {f['fault']} | {at} | {_s(f['safe_after_s'])} | {_s(b)} "
                f"| {SAFE_STATE[f['kind']]} |"
            )
    return "\n".join(lines)


def _s(v: float | None) -> str:
    return "never" if v is None else f"{v:.0f}"


def markdown_legend() -> str:
    return "\n".join(f"- **{h}**: {text}" for h, _, _, text in COLUMNS)


def headline(results: dict[str, Any], names: tuple[str, ...]) -> str:
    """A short comparison table for the README: recovery, dumped heat, contract, starts."""
    lines = [
        "| scenario | recovery ours / baseline | dumped MWh ours / baseline "
        "| DH ±1 K % ours / baseline | HP starts ours / baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in names:
        sc = results["scenarios"].get(name)
        if not sc or "ours" not in sc or "baseline" not in sc:
            continue
        o, b = sc["ours"]["kpis"], sc["baseline"]["kpis"]

        def pair(key: str, fmt: str, o: dict[str, Any] = o, b: dict[str, Any] = b) -> str:
            f = _num(fmt)
            return f"{f(o[key])} / {f(b[key])}"

        lines.append(
            f"| {name} | {pair('recovery_ratio', '{:.3f}')} | {pair('dumped_mwh', '{:.2f}')} "
            f"| {pair('dh_in_band_pct', '{:.1f}')} | {pair('hp_starts', '{:d}')} |"
        )
    return "\n".join(lines)
