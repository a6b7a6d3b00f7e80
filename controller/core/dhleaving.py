"""The temperature of the water leaving the plant for the network, before the line.

The network's supply sensor sits at the connection, at the end of the district-heating
line: a transport delay of volume / flow, minutes at low flow, and no news at all when
the water stands still. Loops that act on what is being sent (the heat pump's outlet
trim, the injection's temperature guard) therefore act on the water leaving the plant,
computed from the heat pump's outlet and the tank top: what leaves now is what the
connection sees one line delay later (the line is insulated).
"""

from __future__ import annotations

from controller.core.conditioning import PlantView


def plant_leaving_temp(view: PlantView) -> float | None:
    """Mixed temperature of heat-pump water and tank-top water sent to the network."""
    m_d, m_c = view.dh_flow_m3h, view.hp_cond_flow_m3h
    hp, top = view.hp_cond_out, view.tank_top
    running = view.hp_running and m_c is not None and m_c > 0.5 and hp is not None
    if m_d is None or m_d <= 0.1:
        return hp if running else top
    if not running:
        return top
    assert m_c is not None and hp is not None
    if m_c >= m_d or top is None:
        return hp  # charging: the network takes heat-pump water only
    return (m_c * hp + (m_d - m_c) * top) / m_d
