"""Energy accounting: scan cycles in, closed ledger intervals out.

Called once per scan cycle with the cycle's readings and the wall time. The cycle's
readings are held over the time since the previous call (at most ``max_hold_s``)
and integrated; that span is cut exactly at every interval boundary (UTC epoch
multiples of ``interval_s``), so an interval receives exactly its share whatever
the scan period, 1 s, 100 ms or irregular. When a boundary passes, the interval is
closed into a row and written to the ledger in one transaction.

The meter's energy register is handled apart from the rates: each accepted
increment runs from the previous accepted reading to this one and is spread
linearly over that span. Parts of it that fall into intervals no scan cycle
covered (downtime, a stall) are not guessed into them: they are carried to the
next covered interval as ``gap_meter_kwh``, flagged, so the register's total is
billed and its placement is explained. Each row records the register value up to
which rows are complete; a restart resumes from there, which is why a crash loses
nothing but the open interval and never counts anything twice.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from controller.accounting import rows as rf
from controller.accounting.en1434 import CheckStatus, check_power
from controller.accounting.inputs import AccountingInputs
from controller.accounting.ledger import Ledger
from controller.accounting.meter import MeterRegister, RegisterEvent, RegisterMark, RegisterStep
from controller.accounting.rows import ClosedInterval, MeterEvent, join_flags, missing_row
from controller.accounting.settings import AccountingConfig
from controller.accounting.totals import OpenPart, RunningTotals, Totals, local_day

_RATES = ("hp_heat", "hp_elec", "aux_elec", "recovered", "it_heat", "rejected", "demand")
_EPS = 1e-6


@dataclass(slots=True)
class _Integral:
    kwh: float = 0.0
    known_s: float = 0.0
    unknown_s: float = 0.0

    def add(self, kw: float | None, seconds: float) -> None:
        if kw is None:
            self.unknown_s += seconds
        else:
            self.kwh += kw * seconds / 3600.0
            self.known_s += seconds

    def value(self) -> float | None:
        return self.kwh if self.known_s > 0 else None


@dataclass(slots=True)
class _RegAcc:
    """One register's share of the open interval."""

    amount: float = 0.0
    gap: float = 0.0
    seen: bool = False


@dataclass(slots=True)
class _Open:
    start: int
    end: int
    covered_s: float = 0.0
    bad_data_s: float = 0.0
    check: _Integral = field(default_factory=_Integral)
    check_volume: _Integral = field(default_factory=_Integral)
    rates: dict[str, _Integral] = field(default_factory=lambda: {k: _Integral() for k in _RATES})
    requested_s: float = 0.0
    available_s: float = 0.0
    net_off_s: float = 0.0
    unknown_s: float = 0.0
    negative_dt_s: float = 0.0
    meter_error_s: float = 0.0
    energy: _RegAcc = field(default_factory=_RegAcc)
    volume: _RegAcc = field(default_factory=_RegAcc)
    flags: set[str] = field(default_factory=set)
    events: list[MeterEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Cycle:
    """One cycle's readings turned into rates and judgements, applied per second."""

    check_kw: float | None
    flow_m3h: float | None
    rates: dict[str, float | None]
    bad_data: bool
    negative_dt: bool
    meter_error: bool
    avail: str  # "net_off" | "idle" | "ok" | "fail" | "unknown"


class EnergyAccounting:
    """Integrates every scan cycle into ledger intervals. See the module docstring."""

    def __init__(self, config: AccountingConfig, ledger: Ledger, now_epoch: float) -> None:
        self.config = config
        s = self.settings = config.settings
        self.ledger = ledger
        self.tz = ZoneInfo(config.timezone)
        self.interval = s.interval_s
        self._flow_in_cold = s.flow_sensor == "return"
        st = ledger.resume()
        energy_mark = st.energy_mark or self._recorded_baseline(ledger)
        self._baseline_recorded = energy_mark is not None
        self._energy = MeterRegister(
            modulus=config.energy_modulus,
            max_rate_per_h=config.max_power_kw,
            margin=s.jump_margin,
            quantum=config.energy_quantum,
            confirm_readings=s.confirm_readings,
            reset_max_start=s.reset_max_start,
            baseline=energy_mark,
        )
        self._volume = MeterRegister(
            modulus=config.volume_modulus,
            max_rate_per_h=config.max_flow_m3h,
            margin=s.jump_margin,
            quantum=config.volume_quantum,
            confirm_readings=s.confirm_readings,
            reset_max_start=s.reset_max_start,
            baseline=st.volume_mark,
        )
        start = math.floor(now_epoch / self.interval) * self.interval
        self._t_last = now_epoch
        self._first = True
        self.startup_rows: list[ClosedInterval] = []
        if st.last_end is not None:
            if st.last_end > start:  # the clock is behind the ledger: wait for it
                start = st.last_end
                self._t_last = max(now_epoch, float(st.last_end))
            self.startup_rows = [
                self._missing_row(t) for t in range(st.last_end, start, self.interval)
            ]
            if self.startup_rows:
                ledger.write_closed(self.startup_rows)
        self._open = _Open(start, start + self.interval)
        self.meter_mismatch = False
        """Alarm signal ``meter_mismatch``: the last compared interval disagreed."""
        self.ledger_error: str | None = None
        self._pending: list[tuple[ClosedInterval, list[MeterEvent]]] = []
        # Register energy already taken from the meter's baseline but not yet placed
        # in a row: the first cycle after a start covers no time, so the increment
        # since the last closed mark waits here for the first covered interval.
        self._e_carry = 0.0
        self._v_carry = 0.0
        # Replacements stored up to now are replayed below; newer ones, whoever
        # writes them (this process or `heatrecovery meter-replaced`), are taken up
        # by ``update`` from the ledger by id.
        self._event_id = ledger.last_meter_event_id()
        self.replacements: list[MeterEvent] = []
        """Replacements ``update`` took from the ledger in its last call (for the log)."""
        self._replay_replacements(energy_mark)
        self._totals = RunningTotals(
            ledger,
            self.tz,
            self._open.start,
            st.last_interval_kwh,
            s.seasonal_window_days,
            self.availability_pct,
        )

    # ------------------------------------------------------------------ public
    def closes_interval(self, now_epoch: float) -> bool:
        """True if ``update`` at this time will close an interval (and write the ledger)."""
        return now_epoch >= self._open.end

    @property
    def open_interval(self) -> tuple[int, int]:
        return self._open.start, self._open.end

    def update(
        self, now_epoch: float, dt_s: float, inputs: AccountingInputs
    ) -> list[ClosedInterval]:
        """Account one scan cycle ending at ``now_epoch``; return the intervals it closed.

        ``dt_s`` bounds only the first cycle after start (there is no previous call);
        after that the span is the wall time since the previous call, so a late
        cycle leaves no hole. A span longer than ``max_hold_s`` counts only its last
        ``max_hold_s`` (one reading is not held over a stall); the rest is uncovered.
        """
        now = now_epoch
        self.replacements = self._take_recorded_replacements()
        if now <= self._t_last:
            if now < self._t_last - _EPS:
                self._open.flags.add(rf.CLOCK_STEP)
            return []
        hold = min(now - self._t_last, self.settings.max_hold_s)
        if self._first:
            hold = min(hold, max(dt_s, 0.0))
            self._first = False
        a = now - hold
        cyc = self._evaluate(inputs)
        e_base = self._energy.baseline
        e_step = self._energy.update(inputs.meter_energy_kwh, now)
        if not self._baseline_recorded and RegisterEvent.BASELINE in e_step.events:
            self._record_baseline(e_step)
        v_step = self._volume.update(inputs.meter_volume_m3, now)
        closed: list[tuple[ClosedInterval, list[MeterEvent]]] = []
        e_carry = self._e_carry + self._pre_share(e_step)
        v_carry = self._v_carry + self._pre_share(v_step)
        while True:
            acc = self._open
            lo, hi = max(a, acc.start), min(now, acc.end)
            if hi > lo:
                self._apply(acc, cyc, hi - lo)
            covered = acc.covered_s > 0
            e_carry = self._share(acc.energy, e_step, e_carry, covered)
            v_carry = self._share(acc.volume, v_step, v_carry, covered)
            if now < acc.end:
                break
            row = self._close(acc, e_step, v_step, covered)
            closed.append((row, acc.events if covered else []))
            self._open = _Open(acc.end, acc.end + self.interval)
        # What no covered interval could take yet stays owed, never dropped: the
        # meter's baseline has already moved past it.
        self._e_carry, self._v_carry = e_carry, v_carry
        self._note_events(e_step, e_base, inputs.meter_energy_kwh)
        self._t_last = now
        if closed:
            self._write(closed)
        return [r for r, _ in closed]

    def record_meter_replacement(
        self,
        now_epoch: float,
        new_start_kwh: float,
        old_final_kwh: float | None = None,
        note: str = "",
    ) -> None:
        """The operator's record of a meter exchange, stored at once.

        The old meter's increment up to ``old_final_kwh`` (if given and plausible) is
        counted; the new meter counts from ``new_start_kwh``. The volume register
        starts a new series at the new meter's first reading. Applied through the
        ledger, the same way as a record written by ``heatrecovery meter-replaced``.
        """
        event = MeterEvent(
            now_epoch, RegisterEvent.REPLACED.value, old_final_kwh, new_start_kwh, note
        )
        self.ledger.record_meter_event(event)
        for ev in self._recorded_replacements():
            self._apply_replacement(ev)

    def totals(self) -> Totals:
        """Figures including the open interval's part so far."""
        acc = self._open
        part = OpenPart(
            start=acc.start,
            delivered_kwh=acc.energy.amount + acc.energy.gap + self._e_carry,
            electricity_kwh=(acc.rates["hp_elec"].value() or 0.0)
            + (acc.rates["aux_elec"].value() or 0.0),
            requested_s=acc.requested_s,
            available_s=acc.available_s,
            unknown_s=acc.unknown_s,
        )
        return self._totals.snapshot(part)

    def availability_pct(self, requested: float, available: float, unknown: float) -> float | None:
        """Available over requested time; unknown time per ``availability_unknown``."""
        denom = (
            requested - unknown if self.settings.availability_unknown == "excluded" else requested
        )
        return None if denom <= _EPS else 100.0 * available / denom

    def alarm_signals(self) -> dict[str, bool]:
        return {"meter_mismatch": self.meter_mismatch}

    # ------------------------------------------------------------------ per cycle
    def _evaluate(self, x: AccountingInputs) -> _Cycle:
        chk = check_power(
            x.meter_flow_m3h, x.meter_supply_temp, x.meter_return_temp, self._flow_in_cold
        )
        check_kw: float | None = chk.power_kw
        if chk.status is CheckStatus.REVERSED_DT:
            check_kw = 0.0  # known, and deliberately not summed
        flow = None if chk.status is CheckStatus.BAD_INPUT else x.meter_flow_m3h
        recovered = (
            None if x.hp_heat_kw is None or x.hp_power_kw is None else x.hp_heat_kw - x.hp_power_kw
        )
        avail, demand = self._judge(x, chk.power_kw)
        rates: dict[str, float | None] = {
            "hp_heat": x.hp_heat_kw,
            "hp_elec": x.hp_power_kw,
            "aux_elec": x.aux_power_kw,
            "recovered": recovered,
            "it_heat": x.it_heat_kw,
            "rejected": x.rejected_kw,
            "demand": demand,
        }
        return _Cycle(
            check_kw=check_kw,
            flow_m3h=flow,
            rates=rates,
            bad_data=chk.status is CheckStatus.BAD_INPUT or x.meter_energy_kwh is None,
            negative_dt=chk.status is CheckStatus.REVERSED_DT,
            meter_error=bool(x.meter_error_code),
            avail=avail,
        )

    def _judge(self, x: AccountingInputs, check_kw: float | None) -> tuple[str, float | None]:
        """Availability category of this cycle and the demand it counts (kW)."""
        s = self.settings
        if x.network_available is False:
            return "net_off", 0.0
        if x.demand_kw is None:
            return "idle", None
        if x.demand_kw <= 0 or x.injection_enabled is False:
            return "idle", 0.0
        demand = x.demand_kw
        delivered = x.meter_power_kw if x.meter_power_kw is not None else check_kw
        supply = x.dh_supply_temp if x.dh_supply_temp is not None else x.meter_supply_temp
        if delivered is None or supply is None or x.dh_setpoint is None:
            return "unknown", demand
        band = max(demand * s.power_tolerance_pct / 100.0, s.power_tolerance_min_kw)
        short = demand - delivered
        power_ok = short <= band if s.power_band == "below_only" else abs(short) <= band
        ok = power_ok and abs(supply - x.dh_setpoint) <= s.temperature_tolerance_k
        return ("ok" if ok else "fail"), demand

    def _apply(self, acc: _Open, c: _Cycle, sec: float) -> None:
        acc.covered_s += sec
        acc.check.add(c.check_kw, sec)
        acc.check_volume.add(c.flow_m3h, sec)  # m³/h x s / 3600 = m³
        for k, v in c.rates.items():
            acc.rates[k].add(v, sec)
        if c.bad_data:
            acc.bad_data_s += sec
        if c.negative_dt:
            acc.negative_dt_s += sec
        if c.meter_error:
            acc.meter_error_s += sec
        if c.avail == "net_off":
            acc.net_off_s += sec
        elif c.avail in ("ok", "fail", "unknown"):
            acc.requested_s += sec
            if c.avail == "ok":
                acc.available_s += sec
            elif c.avail == "unknown":
                acc.unknown_s += sec

    # ------------------------------------------------------------------ registers
    def _pre_share(self, step: RegisterStep) -> float:
        """The part of a register increment that lies before the open interval."""
        if step.since is None or step.delta == 0:
            return 0.0
        return _overlap_share(step, -math.inf, self._open.start)

    def _share(self, reg: _RegAcc, step: RegisterStep, carry: float, covered: bool) -> float:
        """Give ``reg`` its part of the increment; returns what is still to place."""
        if not step.good:
            return carry
        acc = self._open
        part = 0.0 if step.since is None else _overlap_share(step, acc.start, acc.end)
        if step.since is not None and step.time <= step.since and acc.start <= step.time:
            part = step.delta  # zero-length span (same timestamp): all here
        if not covered:
            return carry + part
        if step.since is None:
            reg.seen = reg.seen or acc.start <= step.time < acc.end
        else:
            reg.seen = reg.seen or (step.since < acc.end and step.time >= acc.start)
        reg.amount += part
        reg.gap += carry
        return 0.0

    def _mark_at(
        self, reg: MeterRegister, step: RegisterStep, t: float, modulus: float | None
    ) -> RegisterMark | None:
        """Register value up to which rows ending at ``t`` account for."""
        if step.good and step.since is not None and step.from_value is not None and step.since < t:
            frac = 1.0 if step.time <= t else (t - step.since) / (step.time - step.since)
            v = step.from_value + step.delta * frac
            if modulus is not None:
                v %= modulus
            return RegisterMark(v, t)
        base = reg.baseline
        if base is None:
            return None
        return base if base.time <= t else RegisterMark(base.value, t)

    def _note_events(
        self, step: RegisterStep, base: RegisterMark | None, raw: float | None
    ) -> None:
        acc = self._open
        for ev in step.events:
            if ev is RegisterEvent.BASELINE:
                continue
            if ev.value not in acc.flags:
                before = base.value if base else None
                acc.events.append(MeterEvent(step.time, ev.value, before, raw))
            acc.flags.add(ev.value)

    @staticmethod
    def _recorded_baseline(ledger: Ledger) -> RegisterMark | None:
        """The register's first reading on a ledger that has no closed mark yet."""
        for ev in reversed(ledger.meter_events()):
            if ev.kind == RegisterEvent.BASELINE.value and ev.register_after is not None:
                return RegisterMark(ev.register_after, ev.time)
        return None

    def _record_baseline(self, step: RegisterStep) -> None:
        """Store the register's first reading at once, before any row closes.

        Until the first row closes the ledger holds no register mark; without this a
        process killed in its first interval would take a new baseline on restart and
        the energy in between would never reach a row.
        """
        base = self._energy.baseline
        assert base is not None
        try:
            self.ledger.record_meter_event(
                MeterEvent(base.time, RegisterEvent.BASELINE.value, None, base.value)
            )
        except Exception as exc:  # sqlite3.Error, OSError: keep running, say why
            self.ledger_error = f"{type(exc).__name__}: {exc}"
        else:
            self._baseline_recorded = True

    def _replay_replacements(self, mark: RegisterMark | None) -> None:
        """Replacements recorded after the last closed row: apply them again."""
        since = mark.time if mark else None
        for ev in self.ledger.meter_events(start=since):
            if ev.kind == RegisterEvent.REPLACED.value and (mark is None or ev.time > mark.time):
                self._apply_replacement(ev)

    def _recorded_replacements(self) -> list[MeterEvent]:
        """Replacements stored in the ledger since the last look, oldest first."""
        found = self.ledger.meter_events_after(self._event_id, RegisterEvent.REPLACED.value)
        if found:
            self._event_id = found[-1][0]
        return [ev for _, ev in found]

    def _take_recorded_replacements(self) -> list[MeterEvent]:
        """Apply replacements another process recorded; a ledger error only stops that."""
        try:
            found = self._recorded_replacements()
        except sqlite3.Error as exc:
            self.ledger_error = f"{type(exc).__name__}: {exc}"
            return []
        for ev in found:
            self._apply_replacement(ev)
        return found

    def _apply_replacement(self, ev: MeterEvent) -> None:
        new_start = ev.register_after if ev.register_after is not None else 0.0
        step = self._energy.replace(new_start, ev.time, ev.register_before)
        self._volume.forget()
        acc = self._open
        acc.flags.update(e.value for e in step.events)
        if step.since is not None and step.delta:
            pre = _overlap_share(step, -math.inf, acc.start)
            acc.energy.gap += pre
            acc.energy.amount += step.delta - pre
            acc.energy.seen = True

    # ------------------------------------------------------------------ closing
    def _close(
        self, acc: _Open, e_step: RegisterStep, v_step: RegisterStep, covered: bool
    ) -> ClosedInterval:
        s = self.settings
        if not covered:
            return self._missing_row(acc.start)
        flags = set(acc.flags)
        uncovered = max(0.0, self.interval - acc.covered_s)
        if uncovered < _EPS:
            uncovered = 0.0
        else:
            flags.add(rf.PARTIAL)
        if acc.bad_data_s > 0:
            flags.add(rf.BAD_DATA)
        if acc.negative_dt_s > 0:
            flags.add(rf.NEGATIVE_DT)
        if acc.meter_error_s > 0:
            flags.add(rf.METER_ERROR)
        if acc.energy.gap > 0:
            flags.add(rf.GAP_ENERGY)
        if acc.unknown_s > 0:
            flags.add(rf.AVAILABILITY_UNKNOWN)
        if acc.requested_s - acc.available_s - acc.unknown_s > _EPS:
            flags.add(rf.NOT_AVAILABLE)
        for name, integ in acc.rates.items():
            if integ.unknown_s > 0 and integ.known_s > 0:
                flags.add(f"{rf.INCOMPLETE}:{name}")
        meter = acc.energy.amount if (acc.energy.seen or acc.energy.amount) else None
        check = acc.check.value()
        diff = (
            None
            if meter is None or check is None or meter <= 0
            else 100.0 * (check - meter) / meter
        )
        comparable = (
            meter is not None
            and check is not None
            and acc.energy.gap == 0
            and uncovered + acc.bad_data_s <= s.mismatch_max_missing_s
            and not (flags & rf.COUNTER_FLAGS)
        )
        mismatch = False
        if comparable:
            assert meter is not None and check is not None
            limit = max(s.mismatch_min_kwh, s.mismatch_tolerance_pct / 100.0 * abs(meter))
            mismatch = abs(check - meter) > limit
            self.meter_mismatch = mismatch
        if mismatch:
            flags.add(rf.METER_MISMATCH)
        e_mark = self._mark_at(self._energy, e_step, acc.end, self.config.energy_modulus)
        v_mark = self._mark_at(self._volume, v_step, acc.end, self.config.volume_modulus)
        r = acc.rates
        return ClosedInterval(
            start=acc.start,
            end=acc.end,
            day=self._day_of(acc.start),
            kind="measured",
            covered_s=acc.covered_s,
            uncovered_s=uncovered,
            bad_data_s=acc.bad_data_s,
            meter_kwh=meter,
            gap_meter_kwh=acc.energy.gap if acc.energy.gap else None,
            check_kwh=check,
            diff_pct=diff,
            meter_volume_m3=acc.volume.amount if (acc.volume.seen or acc.volume.amount) else None,
            gap_volume_m3=acc.volume.gap if acc.volume.gap else None,
            check_volume_m3=acc.check_volume.value(),
            hp_heat_kwh=r["hp_heat"].value(),
            hp_elec_kwh=r["hp_elec"].value(),
            aux_elec_kwh=r["aux_elec"].value(),
            recovered_kwh=r["recovered"].value(),
            it_heat_kwh=r["it_heat"].value(),
            rejected_kwh=r["rejected"].value(),
            demand_kwh=r["demand"].value(),
            requested_s=acc.requested_s,
            available_s=acc.available_s,
            network_unavailable_s=acc.net_off_s,
            unknown_s=acc.unknown_s,
            negative_dt_s=acc.negative_dt_s,
            meter_error_s=acc.meter_error_s,
            register_kwh=e_mark.value if e_mark else None,
            register_time=e_mark.time if e_mark else None,
            volume_register_m3=v_mark.value if v_mark else None,
            volume_register_time=v_mark.time if v_mark else None,
            mismatch=mismatch,
            flags=join_flags(flags),
        )

    def _missing_row(self, start: int) -> ClosedInterval:
        return missing_row(start, start + self.interval, self._day_of(start))

    def _write(self, closed: list[tuple[ClosedInterval, list[MeterEvent]]]) -> None:
        """Write closed rows (with any not yet written); a failure keeps them for later.

        The scan loop must not die because a disk is full: rows stay in memory, are
        retried at the next close, and ``ledger_error`` says why.
        """
        batch = [*self._pending, *closed]
        try:
            rows = [r for r, _ in batch]
            events = [e for _, evs in batch for e in evs]
            self.ledger.write_closed(rows, events)
        except Exception as exc:  # sqlite3.Error, OSError: keep running, keep the rows
            self._pending = batch
            self.ledger_error = f"{type(exc).__name__}: {exc}"
        else:
            self._pending = []
            self.ledger_error = None
        for r, _ in closed:
            self._totals.add(r, self._open.start)

    def _day_of(self, epoch: float) -> str:
        return local_day(epoch, self.tz)


def _overlap_share(step: RegisterStep, lo: float, hi: float) -> float:
    """The part of ``step.delta`` that falls in ``[lo, hi)``, spread linearly over its span."""
    assert step.since is not None
    span = step.time - step.since
    if span <= 0:
        return 0.0
    overlap = min(hi, step.time) - max(lo, step.since)
    return step.delta * overlap / span if overlap > 0 else 0.0
