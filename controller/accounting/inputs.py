"""What the accounting needs from one scan cycle, and how to take it from the image.

Every value may be None (bad quality): the accounting counts such time as missing
data instead of guessing. Powers are in kW, flow in m³/h, temperatures in °C, the
registers in their engineering units (kWh, m³).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from controller.core.image import ProcessImage


@dataclass(frozen=True, slots=True)
class AccountingInputs:
    meter_energy_kwh: float | None = None
    meter_volume_m3: float | None = None
    meter_power_kw: float | None = None
    meter_flow_m3h: float | None = None
    meter_supply_temp: float | None = None
    """Hot side of the meter's temperature pair."""
    meter_return_temp: float | None = None
    meter_error_code: float | None = None
    hp_heat_kw: float | None = None
    hp_power_kw: float | None = None
    """Heat-pump electrical input."""
    it_heat_kw: float | None = None
    """Sum of the CDUs' heat to facility water (None if any CDU is bad)."""
    rejected_kw: float | None = None
    aux_power_kw: float | None = None
    """Pumps and fans. None where the plant has no power readings for them."""
    demand_kw: float | None = None
    """Heat the utility asks for (the control core's resolved demand)."""
    dh_supply_temp: float | None = None
    dh_setpoint: float | None = None
    network_available: bool | None = None
    injection_enabled: bool | None = None
    """The utility permits injection; False means it is not asking for heat."""

    @classmethod
    def from_image(
        cls,
        image: ProcessImage,
        status: CoreStatusLike,
        *,
        heatmeter: str = "heatmeter",
        heatpump: str = "heatpump",
        drycooler: str = "drycooler",
        utility: str = "dhi",
        cdus: Iterable[str] = ("cdu01", "cdu02"),
        aux_power_kw: float | None = None,
    ) -> AccountingInputs:
        """The daemon's one-liner: device names are the site's ``[roles]``."""
        g = image.get
        cdu_vals = [g(f"{c}.heat_to_fws") for c in cdus]
        it_heat: float | None = None
        if cdu_vals and all(v is not None for v in cdu_vals):
            it_heat = sum(v for v in cdu_vals if v is not None)
        net = g(f"{utility}.network_available")
        dh_supply = (
            status.dh_supply if status.dh_supply is not None else g(f"{heatmeter}.supply_temp")
        )
        return cls(
            meter_energy_kwh=g(f"{heatmeter}.energy"),
            meter_volume_m3=g(f"{heatmeter}.volume"),
            meter_power_kw=g(f"{heatmeter}.power"),
            meter_flow_m3h=g(f"{heatmeter}.flow"),
            meter_supply_temp=g(f"{heatmeter}.supply_temp"),
            meter_return_temp=g(f"{heatmeter}.return_temp"),
            meter_error_code=g(f"{heatmeter}.error_code"),
            hp_heat_kw=g(f"{heatpump}.heat_output"),
            hp_power_kw=g(f"{heatpump}.electric_power"),
            it_heat_kw=it_heat,
            rejected_kw=g(f"{drycooler}.heat_rejected"),
            aux_power_kw=aux_power_kw,
            demand_kw=status.demand_kw,
            dh_supply_temp=dh_supply,
            dh_setpoint=status.dh_setpoint,
            network_available=None if net is None else bool(net),
            injection_enabled=status.injection_enabled,
        )


class CoreStatusLike(Protocol):
    """The few fields of the control core's ``CoreStatus`` the accounting reads."""

    @property
    def demand_kw(self) -> float: ...
    @property
    def dh_setpoint(self) -> float: ...
    @property
    def dh_supply(self) -> float | None: ...
    @property
    def injection_enabled(self) -> bool: ...
