"""A small fake heat meter and plant for the accounting tests.

The meter integrates its power exactly and shows an integer register (kWh) that
wraps at 100 000 000, like the real one; ``bias`` makes it read more or less than
the EN 1434 check energy computed from the same flow and temperatures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from controller.accounting.accounting import EnergyAccounting
from controller.accounting.en1434 import check_power
from controller.accounting.inputs import AccountingInputs
from controller.accounting.ledger import Ledger
from controller.accounting.rows import ClosedInterval
from controller.accounting.settings import AccountingConfig, AccountingSettings

# 2026-11-06 00:00:00 UTC, a multiple of 900 s and of 86400 s.
T0 = 1_793_923_200
MODULUS = 100_000_000.0


@dataclass
class FakeMeter:
    energy: float = 1_234_567.0
    flow: float = 40.0
    t_supply: float = 70.0
    t_return: float = 40.0
    bias: float = 0.0
    """Relative error of the meter against the EN 1434 check energy."""
    demand_kw: float | None = None
    network: bool | None = True
    dh_setpoint: float = 70.0
    register_override: float | None = None
    register_ok: bool = True

    @property
    def check_kw(self) -> float:
        p = check_power(self.flow, self.t_supply, self.t_return).power_kw
        return p or 0.0

    @property
    def power_kw(self) -> float:
        return self.check_kw * (1.0 + self.bias)

    def advance(self, seconds: float) -> None:
        self.energy += self.power_kw * seconds / 3600.0

    def register(self) -> float | None:
        if not self.register_ok:
            return None
        if self.register_override is not None:
            return self.register_override
        return float(int(self.energy) % int(MODULUS))

    def inputs(self, **over: Any) -> AccountingInputs:
        x = AccountingInputs(
            meter_energy_kwh=self.register(),
            meter_volume_m3=None,
            meter_power_kw=self.power_kw,
            meter_flow_m3h=self.flow,
            meter_supply_temp=self.t_supply,
            meter_return_temp=self.t_return,
            meter_error_code=0,
            hp_heat_kw=1000.0,
            hp_power_kw=250.0,
            it_heat_kw=800.0,
            rejected_kw=50.0,
            aux_power_kw=None,
            demand_kw=self.power_kw if self.demand_kw is None else self.demand_kw,
            dh_supply_temp=self.t_supply,
            dh_setpoint=self.dh_setpoint,
            network_available=self.network,
            injection_enabled=True,
        )
        return replace(x, **over) if over else x


def config(**settings: Any) -> AccountingConfig:
    return AccountingConfig(AccountingSettings(**settings), timezone="UTC")


def open_accounting(path: Path, now: float, **settings: Any) -> tuple[EnergyAccounting, Ledger]:
    ledger = Ledger(path)
    return EnergyAccounting(config(**settings), ledger, now), ledger


def drive(
    acc: EnergyAccounting, meter: FakeMeter, times: Iterable[float], start: float
) -> list[ClosedInterval]:
    """Step meter and accounting through ``times`` (strictly increasing, after ``start``)."""
    closed: list[ClosedInterval] = []
    prev = start
    for t in times:
        meter.advance(t - prev)
        closed += acc.update(t, t - prev, meter.inputs())
        prev = t
    return closed


def sample_row(start: int, kwh: float = 100.0, day: str = "2026-11-06") -> ClosedInterval:
    """A plausible measured row for ledger and report tests."""
    return ClosedInterval(
        start=start,
        end=start + 900,
        day=day,
        kind="measured",
        covered_s=900.0,
        uncovered_s=0.0,
        bad_data_s=0.0,
        meter_kwh=kwh,
        gap_meter_kwh=None,
        check_kwh=kwh * 1.001,
        diff_pct=0.1,
        meter_volume_m3=3.0,
        gap_volume_m3=None,
        check_volume_m3=3.0,
        hp_heat_kwh=250.0,
        hp_elec_kwh=62.5,
        aux_elec_kwh=None,
        recovered_kwh=187.5,
        it_heat_kwh=200.0,
        rejected_kwh=0.0,
        demand_kwh=kwh,
        requested_s=900.0,
        available_s=900.0,
        network_unavailable_s=0.0,
        unknown_s=0.0,
        negative_dt_s=0.0,
        meter_error_s=0.0,
        register_kwh=1000.0 + kwh,
        register_time=float(start + 900),
        volume_register_m3=None,
        volume_register_time=None,
        mismatch=False,
        flags="",
    )
