"""Live terminal view of the simulated plant (``heatrecovery simulator --show``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

if TYPE_CHECKING:
    from simulator.shell import SimulatorShell


def plant_table(shell: SimulatorShell) -> Table:
    p = shell.plant
    b = p.boundary
    hp = p.hp
    state = getattr(hp.state, "name", str(hp.state))
    network = "up" if b.network_available else "DOWN"
    it_kw = sum(c.heat_kw for c in p.cdus)
    t = Table(title=f"plant time {p.time / 3600:6.2f} h  ({shell.scenario.name}, {shell.speed:g}x)")
    t.add_column("part", style="bold")
    t.add_column("values")
    t.add_row("IT", f"utilisation {b.it_utilisation:.2f}, heat to liquid {it_kw:.0f} kW")
    t.add_row(
        "facility water",
        f"supply {p.t_fws_supply:.2f} °C, return {p.t_fws_return:.2f} °C, "
        f"flow {p.m_fws * 3.6:.0f} m³/h",
    )
    t.add_row(
        "heat pump",
        f"{state}, load {hp.load:.0f} %, heat {hp.q_cond:.0f} kW, COP {hp.cop:.2f}, "
        f"outlet {hp.t_cond_out:.1f} °C",
    )
    t.add_row("tank", f"top {p.tank.top:.1f} °C, bottom {p.tank.bottom:.1f} °C")
    t.add_row(
        "district heating",
        f"supply {p.t_dh_supply:.1f} °C (asked {b.dh_supply_setpoint:.1f}), delivered "
        f"{p.q_dh:.0f} of {b.dh_demand:.0f} kW, network {network}",
    )
    t.add_row(
        "dry coolers",
        f"valve {p.valve.pos:.0f} %, fans {p.drycoolers.fan * 100:.0f} %, rejecting "
        f"{p.drycoolers.q:.0f} kW, ambient {b.ambient_temp:.1f} °C",
    )
    t.add_row("PLC", "LOCAL SAFE MODE (no controller heartbeat)" if p.local_safe_mode else "remote")
    t.add_row("meter", f"{p.meter.energy_kwh:,.0f} kWh, {p.meter.power_kw:.0f} kW")
    return t
