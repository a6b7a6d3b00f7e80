"""Energy accounting inside the daemon: one call per scan cycle, ledger off the loop.

Integration is microseconds and runs inline; closing an interval commits to SQLite
(an fsync, milliseconds on flash), so that one call goes to a worker thread and
the scan cycle never waits on the disk.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import structlog

from controller.accounting.accounting import EnergyAccounting
from controller.accounting.inputs import AccountingInputs
from controller.accounting.ledger import Ledger
from controller.accounting.settings import AccountingConfig
from controller.accounting.totals import Totals

if TYPE_CHECKING:
    from controller.config.settings import LoadedSite
    from controller.core.core import CoreOutput
    from controller.core.image import ProcessImage

log = structlog.get_logger("accounting")


class AccountingService:
    def __init__(self, site: LoadedSite, now_epoch: float | None = None) -> None:
        s = site.settings
        r = s.roles
        self.roles = r
        self.cdus = tuple(s.plant.cdus)
        cfg = AccountingConfig.from_register_map(
            s.accounting,
            site.regmap,
            heatmeter=r.heatmeter,
            site_timezone=s.site.timezone,
            hp_capacity_kw=s.plant.hp_capacity_kw,
            dh_pump_nominal_m3h=s.plant.dh_pump_nominal_m3h,
        )
        path = site.resolve(s.accounting.ledger_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.ledger = Ledger(path)
        self.acc = EnergyAccounting(
            cfg, self.ledger, time.time() if now_epoch is None else now_epoch
        )
        self._last_epoch: float | None = None
        self.totals: Totals = self.acc.totals()
        log.info("ledger opened", path=str(path), **self._totals_fields())

    def _totals_fields(self) -> dict[str, float | None]:
        t = self.totals
        return {
            "delivered_total_mwh": round(t.delivered_total_mwh, 4),
            "electricity_total_mwh": round(t.electricity_total_mwh, 4),
        }

    def meter_mismatch(self) -> float:
        return 1.0 if self.acc.alarm_signals().get("meter_mismatch") else 0.0

    async def cycle(self, now_epoch: float, image: ProcessImage, out: CoreOutput) -> None:
        r = self.roles
        inputs = AccountingInputs.from_image(
            image,
            out.status,
            heatmeter=r.heatmeter,
            heatpump=r.heatpump,
            drycooler=r.drycooler,
            utility=r.utility,
            cdus=self.cdus,
        )
        dt = 0.0 if self._last_epoch is None else now_epoch - self._last_epoch
        self._last_epoch = now_epoch
        if self.acc.closes_interval(now_epoch):
            closed = await asyncio.to_thread(self.acc.update, now_epoch, dt, inputs)
        else:
            closed = self.acc.update(now_epoch, dt, inputs)
        for ev in self.acc.replacements:
            log.warning(
                "meter replacement applied",
                at=ev.time,
                new_start_kwh=ev.register_after,
                old_final_kwh=ev.register_before,
                note=ev.note,
            )
        if closed:
            self.totals = self.acc.totals()
            for row in closed:
                log.info("interval closed", **row.log_fields())
            log.info("energy totals", **self._totals_fields())
        if self.acc.ledger_error:
            log.error("ledger write failed", error=self.acc.ledger_error)

    def close(self) -> None:
        self.ledger.close()
