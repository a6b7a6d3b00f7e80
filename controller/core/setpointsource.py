"""Where the DH supply setpoint, the heat demand and the injection permit come from.

The utility writes them over OPC UA; its RTU also sends them over Modbus; the site
file has fixed fallbacks and a weather curve. The choice is made here, every cycle,
in a fixed order of trust, and the source in use is reported so an operator can see
why the plant is aiming where it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.config.settings import SiteSettings
from controller.core.conditioning import PlantView

SCADA_SETPOINT = "scada.supply_temp_setpoint"
SCADA_DEMAND = "scada.heat_demand"
SCADA_INJECTION = "scada.injection_enabled"


@dataclass(slots=True)
class Targets:
    dh_setpoint: float
    demand_kw: float
    injection_enabled: bool
    setpoint_source: str
    demand_source: str


def select_targets(
    values: dict[str, float | None], view: PlantView, settings: SiteSettings
) -> Targets:
    sp_cfg = settings.setpoints
    lim = settings.limits
    sp_src = dem_src = "fixed"
    setpoint = sp_cfg.dh_supply_temp
    demand = sp_cfg.dh_demand_kw
    enabled = True
    if sp_cfg.source in ("utility", "curve"):
        scada_dem = values.get(SCADA_DEMAND)
        if scada_dem is not None:
            demand, dem_src = scada_dem, "scada"
        elif view.utility_demand_kw is not None:
            demand, dem_src = view.utility_demand_kw, "rtu"
        scada_inj = values.get(SCADA_INJECTION)
        if scada_inj is not None:
            enabled = scada_inj >= 0.5
        elif view.utility_injection_enabled is not None:
            enabled = view.utility_injection_enabled
    if sp_cfg.source == "utility":
        scada_sp = values.get(SCADA_SETPOINT)
        if scada_sp is not None:
            setpoint, sp_src = scada_sp, "scada"
        elif view.utility_setpoint is not None:
            setpoint, sp_src = view.utility_setpoint, "rtu"
    elif sp_cfg.source == "curve" and view.ambient is not None:
        setpoint, sp_src = settings.weather_curve.setpoint(view.ambient), "curve"
    setpoint = min(lim.dh_supply_max, max(lim.dh_supply_min, setpoint))
    demand = min(settings.dh_demand_max_kw, max(0.0, demand))
    return Targets(setpoint, demand, enabled, sp_src, dem_src)
