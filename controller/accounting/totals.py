"""Running figures for OPC UA ``Energy/*`` and the logs, resumed from the ledger.

Kept apart from the integration so that what SCADA shows is visibly derived from
the ledger's closed rows (plus the open interval's part so far), never a second
count that could drift from the billing one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from controller.accounting.ledger import Ledger
from controller.accounting.rows import ClosedInterval


@dataclass(frozen=True, slots=True)
class Totals:
    """MWh unless named otherwise."""

    delivered_total_mwh: float
    delivered_today_mwh: float
    last_interval_mwh: float | None
    electricity_total_mwh: float
    seasonal_cop: float | None
    thermal_availability_pct: float | None
    """Month to date (site time zone)."""

    def opcua(self) -> dict[str, float | None]:
        return {
            "DeliveredTotal": self.delivered_total_mwh,
            "DeliveredToday": self.delivered_today_mwh,
            "LastIntervalEnergy": self.last_interval_mwh,
            "ElectricityTotal": self.electricity_total_mwh,
            "SeasonalCOP": self.seasonal_cop,
            "ThermalAvailability": self.thermal_availability_pct,
        }


@dataclass(frozen=True, slots=True)
class OpenPart:
    """The open interval's contribution so far."""

    start: float
    delivered_kwh: float
    electricity_kwh: float
    requested_s: float
    available_s: float
    unknown_s: float


def local_day(epoch: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, tz).date().isoformat()


def local_bounds(day: str, tz: ZoneInfo, month: bool = False) -> tuple[float, float]:
    """UTC epoch bounds of the local day (or of its month)."""
    d = datetime.fromisoformat(day).replace(tzinfo=tz)
    if month:
        d = d.replace(day=1)
        nxt = (d + timedelta(days=32)).replace(day=1)
    else:
        nxt = d + timedelta(days=1)
    return d.astimezone(UTC).timestamp(), nxt.astimezone(UTC).timestamp()


class RunningTotals:
    def __init__(
        self,
        ledger: Ledger,
        tz: ZoneInfo,
        open_start: float,
        last_interval_kwh: float | None,
        window_days: int,
        availability: Callable[[float, float, float], float | None],
    ) -> None:
        self.ledger = ledger
        self.tz = tz
        self.window_days = window_days
        self.availability = availability
        life = ledger.sums()
        self._delivered = life.delivered_kwh
        self._electricity = life.electricity_kwh
        self._last_kwh = last_interval_kwh
        self._today = local_day(open_start, tz)
        self._today_kwh = ledger.sums(*local_bounds(self._today, tz)).delivered_kwh
        self._month = self._today[:7]
        m = ledger.sums(*local_bounds(self._today, tz, month=True))
        self._req, self._avail, self._unknown = m.requested_s, m.available_s, m.unknown_s
        self._cop = self._seasonal_cop(open_start)

    def _seasonal_cop(self, now: float) -> float | None:
        """Heat-pump COP over the last ``window_days`` local days (day rows)."""
        heat, elec = self.ledger.heat_pump_sums(local_day(now - self.window_days * 86400, self.tz))
        return heat / elec if elec > 0 else None

    def _roll(self, day: str) -> None:
        if day != self._today:
            self._today, self._today_kwh = day, 0.0
        if day[:7] != self._month:
            self._month = day[:7]
            self._req = self._avail = self._unknown = 0.0

    def add(self, r: ClosedInterval, open_start: float) -> None:
        """A closed row (written or queued); ``open_start`` is the interval now open."""
        self._delivered += r.delivered_kwh
        self._electricity += r.electricity_kwh
        self._last_kwh = r.delivered_kwh if r.kind == "measured" else None
        self._roll(r.day)
        self._today_kwh += r.delivered_kwh
        self._req += r.requested_s
        self._avail += r.available_s
        self._unknown += r.unknown_s
        self._roll(local_day(open_start, self.tz))
        # A read failure must not stop the scan: keep the old value.
        with contextlib.suppress(Exception):
            self._cop = self._seasonal_cop(open_start)

    def snapshot(self, part: OpenPart) -> Totals:
        day = local_day(part.start, self.tz)
        today = self._today_kwh + (part.delivered_kwh if day == self._today else 0.0)
        req, avail, unk = self._req, self._avail, self._unknown
        if day[:7] == self._month:
            req, avail, unk = req + part.requested_s, avail + part.available_s, unk + part.unknown_s
        return Totals(
            delivered_total_mwh=(self._delivered + part.delivered_kwh) / 1000.0,
            delivered_today_mwh=today / 1000.0,
            last_interval_mwh=None if self._last_kwh is None else self._last_kwh / 1000.0,
            electricity_total_mwh=(self._electricity + part.electricity_kwh) / 1000.0,
            seasonal_cop=self._cop,
            thermal_availability_pct=self.availability(req, avail, unk),
        )
