"""The records the ledger keeps: closed intervals and meter events.

One dataclass defines the interval row for the accounting that fills it, the ledger
that stores it and the report that reads it back, so a column cannot exist in one
and be forgotten in another.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

# Flags an interval can carry (the ``flags`` column, comma separated).
MISSING = "missing"
"""No scan cycle contributed: the controller was down or its clock jumped past it."""
PARTIAL = "partial"
"""Part of the interval was not covered by scan cycles."""
BAD_DATA = "bad_data"
"""Meter flow, temperatures or register had bad quality for part of the interval."""
METER_MISMATCH = "meter_mismatch"
COUNTER_BACKWARD = "counter_backward"
COUNTER_JUMP = "counter_jump"
COUNTER_RESYNC = "counter_resync"
METER_RESET = "meter_reset"
METER_REPLACED = "meter_replaced"
ROLLOVER = "rollover"
NEGATIVE_DT = "negative_dt"
"""Water flowed with supply not warmer than return: those seconds are not summed."""
METER_ERROR = "meter_error"
GAP_ENERGY = "gap_energy"
"""Register energy from before this interval that could not be placed in its own
interval (after downtime or missing reads); kept in ``gap_meter_kwh``."""
CLOCK_STEP = "clock_step"
NOT_AVAILABLE = "not_available"
"""Heat was requested but not delivered within tolerance for part of the interval."""
AVAILABILITY_UNKNOWN = "availability_unknown"
INCOMPLETE = "incomplete"
"""Prefix: ``incomplete:<quantity>`` when a quantity was unknown for part of the time."""

COUNTER_FLAGS = frozenset(
    {COUNTER_BACKWARD, COUNTER_JUMP, COUNTER_RESYNC, METER_RESET, METER_REPLACED}
)


@dataclass(frozen=True, slots=True)
class ClosedInterval:
    """One ledger row: an interval ``[start, end)`` in UTC epoch seconds.

    Energies in kWh, volumes in m³, times in seconds. None means "not measured"
    (never zero-by-default): a reader must be able to tell no heat from no data.
    """

    start: int
    end: int
    day: str
    """Local date (site timezone) of ``start``: the day row and the billing month."""
    kind: str
    """"measured", or "missing" for an interval no scan cycle covered."""
    covered_s: float
    uncovered_s: float
    bad_data_s: float
    meter_kwh: float | None
    """Heat-meter register increment attributed to this interval (billing truth)."""
    gap_meter_kwh: float | None
    """Register increment from before ``start`` (downtime, missing reads); billed, flagged."""
    check_kwh: float | None
    diff_pct: float | None
    """(check - meter) / meter x 100."""
    meter_volume_m3: float | None
    gap_volume_m3: float | None
    check_volume_m3: float | None
    hp_heat_kwh: float | None
    hp_elec_kwh: float | None
    aux_elec_kwh: float | None
    recovered_kwh: float | None
    """Heat taken from the IT loop by the heat pump (condenser heat - compressor power)."""
    it_heat_kwh: float | None
    """Heat the CDUs handed to facility water."""
    rejected_kwh: float | None
    demand_kwh: float | None
    """Heat the utility asked for while it could take heat."""
    requested_s: float
    available_s: float
    network_unavailable_s: float
    unknown_s: float
    negative_dt_s: float
    meter_error_s: float
    register_kwh: float | None
    """Energy register value all rows up to this one account for (the resume point)."""
    register_time: float | None
    volume_register_m3: float | None
    volume_register_time: float | None
    mismatch: bool
    flags: str

    @property
    def flag_set(self) -> frozenset[str]:
        return frozenset(f for f in self.flags.split(",") if f)

    @property
    def delivered_kwh(self) -> float:
        """Billed register energy of this row, gap energy included."""
        return (self.meter_kwh or 0.0) + (self.gap_meter_kwh or 0.0)

    @property
    def electricity_kwh(self) -> float:
        return (self.hp_elec_kwh or 0.0) + (self.aux_elec_kwh or 0.0)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def log_fields(self) -> dict[str, Any]:
        """The fields worth one log line at each close."""
        return {
            "start": self.start,
            "kind": self.kind,
            "meter_kwh": _r(self.meter_kwh),
            "gap_meter_kwh": _r(self.gap_meter_kwh),
            "check_kwh": _r(self.check_kwh),
            "diff_pct": _r(self.diff_pct, 2),
            "demand_kwh": _r(self.demand_kwh),
            "requested_s": _r(self.requested_s, 1),
            "available_s": _r(self.available_s, 1),
            "flags": self.flags,
        }


def _r(v: float | None, nd: int = 3) -> float | None:
    return None if v is None else round(v, nd)


INTERVAL_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ClosedInterval))


def missing_row(start: int, end: int, day: str) -> ClosedInterval:
    """The row of an interval no scan cycle covered: nothing measured, nothing guessed."""
    return ClosedInterval(
        start=start,
        end=end,
        day=day,
        kind="missing",
        covered_s=0.0,
        uncovered_s=float(end - start),
        bad_data_s=0.0,
        meter_kwh=None,
        gap_meter_kwh=None,
        check_kwh=None,
        diff_pct=None,
        meter_volume_m3=None,
        gap_volume_m3=None,
        check_volume_m3=None,
        hp_heat_kwh=None,
        hp_elec_kwh=None,
        aux_elec_kwh=None,
        recovered_kwh=None,
        it_heat_kwh=None,
        rejected_kwh=None,
        demand_kwh=None,
        requested_s=0.0,
        available_s=0.0,
        network_unavailable_s=0.0,
        unknown_s=0.0,
        negative_dt_s=0.0,
        meter_error_s=0.0,
        register_kwh=None,
        register_time=None,
        volume_register_m3=None,
        volume_register_time=None,
        mismatch=False,
        flags=MISSING,
    )


@dataclass(frozen=True, slots=True)
class MeterEvent:
    """A discontinuity of the meter's register, kept for the audit trail."""

    time: float
    kind: str
    register_before: float | None
    register_after: float | None
    note: str = ""


def join_flags(flags: set[str] | frozenset[str]) -> str:
    return ",".join(sorted(flags))
