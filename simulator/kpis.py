"""Bench KPIs (DESIGN section 8): the figures a plant owner and a utility decide on.

``simulator.kpi.KpiAccumulator`` integrates what must be seen every step (FWS
limit, contract band, heat delivered within demand); this module adds what is
judged per run: the ratio to the physical bound, electricity, COP, wear and the
time each fault took to reach a safe state. Everything is plain arithmetic on
numbers and hand-made series, so each formula has a test that a wrong one fails.

Safe state, per fault (``SAFE_STATE``): what "the plant has absorbed the fault"
means differs by fault, so each kind has its own written test, measured on the
physics (or, for a sensor or comms fault, on the alarm the operator sees):

* heat-pump trip: FWS supply at or below its setpoint + 1 K with the dry coolers
  rejecting at least 90 % of the IT heat the heat pump no longer takes;
* FWS pump failure: facility-water flow back to 90 % of its pre-fault value;
* DH pump failure: injection flow back to 90 % of its pre-fault value;
* network outage: the injection pump stopped (flow under 1 % of nominal);
* sensor stuck or out of range: an alarm on a sensor signal raised;
* comms loss: the device's comms alarm raised;
* controller stop: the plant PLC in local safe mode (its watchdog, not ours).

Evaporator fouling develops over days and has no safe state; it is not timed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SAFE_STATE = {
    "hp_trip": "FWS supply <= setpoint + 1 K and dry coolers take >= 90 % of the IT heat "
    "the heat pump does not",
    "fws_pump_failure": "FWS flow back to >= 90 % of its pre-fault value",
    "dh_pump_failure": "DH injection flow back to >= 90 % of its pre-fault value",
    "network_outage": "injection pump stopped (flow < 1 % of nominal)",
    "sensor_stuck": "alarm on a sensor signal raised",
    "sensor_out_of_range": "alarm on a sensor signal raised",
    "comms_loss": "comms alarm for the device raised",
    "controller_stop": "plant PLC in local safe mode",
}
ALARM_GRACE_S = 5.0  # an alarm a scan after the fault cleared still answers it


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One timed fault of a scenario, as the safe-state clock needs it."""

    kind: str  # a key of SAFE_STATE
    start: float
    end: float | None
    label: str
    device: str = ""


def faults_of(events: Iterable[Any]) -> list[FaultSpec]:
    """The timed faults of a scenario's events (``simulator.events`` objects)."""
    out: list[FaultSpec] = []
    for ev in events:
        kind = ev.kind
        if kind == "pump_failure":
            kind = "fws_pump_failure" if ev.pump.startswith("p1") else "dh_pump_failure"
            label, device = f"{ev.pump} failure", ev.pump
        elif kind in ("sensor_stuck", "sensor_out_of_range"):
            label, device = f"{ev.device}.{ev.point} {kind.split('_', 1)[1]}", ev.device
        elif kind == "comms_loss":
            label, device = f"{ev.device} comms loss", ev.device
        elif kind in ("hp_trip", "network_outage", "controller_stop"):
            label, device = kind.replace("_", " "), ""
        else:
            continue
        out.append(FaultSpec(kind, float(ev.at), ev.end, label, device))
    return out


@dataclass(frozen=True, slots=True)
class StepSample:
    """The plant's truth at one step, as far as the safe-state tests need it."""

    t: float
    fws_supply: float
    fws_flow: float  # kg/s
    dh_flow: float  # kg/s, injection pump side
    it_heat_kw: float
    hp_evap_kw: float
    rejected_kw: float
    local_safe: bool


class FaultClock:
    """Seconds from each fault to its safe state; feed every plant step, then alarms."""

    def __init__(
        self,
        faults: Sequence[FaultSpec],
        fws_setpoint: float,
        dh_nominal_flow: float,
    ) -> None:
        self.faults = list(faults)
        self.fws_setpoint = fws_setpoint
        self.dh_nominal_flow = dh_nominal_flow
        self.safe_at: list[float | None] = [None] * len(self.faults)
        self._before: list[StepSample | None] = [None] * len(self.faults)
        self._last: StepSample | None = None
        self._pending = [i for i, f in enumerate(self.faults) if not _alarm_based(f.kind)]

    @property
    def idle(self) -> bool:
        """True once nothing is left to time on the plant (the observer can skip work)."""
        return not self._pending

    def step(self, s: StepSample) -> None:
        done: list[int] = []
        for i in self._pending:
            f = self.faults[i]
            # A sample is the state at the end of its step: one stamped at the fault's
            # start still shows the plant before the fault.
            if s.t <= f.start:
                continue
            before = self._before[i]
            if before is None:
                before = self._before[i] = self._last if self._last is not None else s
            if self._safe(f.kind, s, before):
                self.safe_at[i] = s.t
                done.append(i)
        if done:
            self._pending = [i for i in self._pending if i not in done]
        self._last = s

    def _safe(self, kind: str, s: StepSample, before: StepSample) -> bool:
        if kind == "hp_trip":
            unrecovered = max(0.0, s.it_heat_kw - s.hp_evap_kw)
            return s.fws_supply <= self.fws_setpoint + 1.0 and s.rejected_kw >= 0.9 * unrecovered
        if kind == "fws_pump_failure":
            return s.fws_flow >= 0.9 * before.fws_flow
        if kind == "dh_pump_failure":
            return s.dh_flow >= 0.9 * before.dh_flow
        if kind == "network_outage":
            return s.dh_flow < 0.01 * self.dh_nominal_flow
        if kind == "controller_stop":
            return s.local_safe
        return False

    def alarms(self, alarm_events: Iterable[Mapping[str, Any]], sources: Mapping[str, str]) -> None:
        """Time the alarm-based faults from the run's alarm log (``id``, ``kind``, ``t``)."""
        raises = sorted(
            (float(a["t"]), sources.get(str(a["id"]), ""))
            for a in alarm_events
            if a.get("kind") == "raise"
        )
        for i, f in enumerate(self.faults):
            if not _alarm_based(f.kind):
                continue
            end = (f.end if f.end is not None else float("inf")) + ALARM_GRACE_S
            for t, src in raises:
                if f.start <= t <= end and _answers(f, src):
                    self.safe_at[i] = t
                    break

    def results(self) -> list[dict[str, Any]]:
        out = []
        for f, at in zip(self.faults, self.safe_at, strict=True):
            out.append(
                {
                    "fault": f.label,
                    "kind": f.kind,
                    "at_s": f.start,
                    "safe_after_s": None if at is None else round(at - f.start, 1),
                    "definition": SAFE_STATE[f.kind],
                }
            )
        return out


def _alarm_based(kind: str) -> bool:
    return kind in ("sensor_stuck", "sensor_out_of_range", "comms_loss")


def _answers(f: FaultSpec, source: str) -> bool:
    if f.kind == "comms_loss":
        return source == f"comms.{f.device}"
    return source.startswith("sensor.") or source == "tank_sensor_faults"


# ---------------------------------------------------------------------- run figures
def recovery_ratio(delivered_kwh: float, bound_kwh: float) -> float | None:
    """Heat delivered within demand over the physical bound; None without a bound."""
    return delivered_kwh / bound_kwh if bound_kwh > 0 else None


def electricity_kwh(energy: Mapping[str, float]) -> float:
    """Everything the plant draws: heat-pump compressor, dry-cooler fans, all pumps."""
    return energy["hp_electricity"] + energy["fan_electricity"] + energy["pump_electricity"]


def seasonal_cop(hp_heat_kwh: float, hp_electricity_kwh: float) -> float | None:
    """Condenser heat over compressor electricity, over the whole run (not a mean of COPs)."""
    return hp_heat_kwh / hp_electricity_kwh if hp_electricity_kwh > 0 else None


def per_hour(count: float, duration_s: float) -> float:
    return count * 3600.0 / duration_s if duration_s > 0 else 0.0


def valve_strokes(travel_pct: float) -> float:
    """Accumulated valve movement in full strokes (100 % of travel = one stroke)."""
    return travel_pct / 100.0


def tank_usable_kwh(
    masses_kg: Sequence[float], temps: Sequence[float], t_hot: float, t_cold: float
) -> float:
    """Heat the network could use: each layer counted between return and setpoint."""
    span = max(0.0, t_hot - t_cold)
    kj = 0.0
    for m, t in zip(masses_kg, temps, strict=True):
        kj += m * 4.186 * min(span, max(0.0, t - t_cold))
    return kj / 3600.0


def run_kpis(
    *,
    kpis: Mapping[str, Any],
    energy: Mapping[str, float],
    hp_starts: int,
    valve_travel_pct: float,
    duration_s: float,
    wall_s: float,
    bound_kwh: float | None,
    tank_start_kwh: float,
    tank_end_kwh: float,
    faults: list[dict[str, Any]],
) -> dict[str, Any]:
    """The bench's figures for one run, flat, in the units the table prints."""
    delivered_in = float(kpis.get("delivered_in_demand_kwh", energy["delivered"]))
    ratio = recovery_ratio(delivered_in, bound_kwh) if bound_kwh else None
    cop = seasonal_cop(energy["hp_heat"], energy["hp_electricity"])
    demand = energy["demand"]
    return {
        "fws_max_c": kpis["fws_supply_max_c"],
        "fws_s_above_limit": kpis["seconds_above_fws_limit"],
        "dh_in_band_pct": kpis["dh_supply_in_band_pct"],
        "injecting_h": round(kpis["injecting_h"], 3),
        "thermal_availability_pct": kpis.get("thermal_availability_pct"),
        "delivered_mwh": round(energy["delivered"] / 1000.0, 3),
        "delivered_in_demand_mwh": round(delivered_in / 1000.0, 3),
        "demand_mwh": round(demand / 1000.0, 3),
        "delivered_vs_demand_pct": round(100.0 * energy["delivered"] / demand, 2)
        if demand > 0
        else None,
        "bound_mwh": None if bound_kwh is None else round(bound_kwh / 1000.0, 3),
        "recovery_ratio": None if ratio is None else round(ratio, 4),
        "it_heat_mwh": round(energy["it_heat"] / 1000.0, 3),
        "recovered_mwh": round(energy["recovered"] / 1000.0, 3),
        "dumped_mwh": round(energy["rejected"] / 1000.0, 3),
        "electricity_mwh": round(electricity_kwh(energy) / 1000.0, 3),
        "hp_electricity_mwh": round(energy["hp_electricity"] / 1000.0, 3),
        "fan_electricity_mwh": round(energy["fan_electricity"] / 1000.0, 3),
        "pump_electricity_mwh": round(energy["pump_electricity"] / 1000.0, 3),
        "seasonal_cop": None if cop is None else round(cop, 3),
        "hp_starts": hp_starts,
        "hp_starts_per_h": round(per_hour(hp_starts, duration_s), 3),
        "valve_travel_strokes": round(valve_strokes(valve_travel_pct), 1),
        "tank_change_mwh": round((tank_end_kwh - tank_start_kwh) / 1000.0, 3),
        "faults": faults,
        "worst_fault_to_safe_s": worst_fault_time(faults),
        "sim_h": round(duration_s / 3600.0, 3),
        "wall_s": round(wall_s, 2),
        "wall_s_per_24h": round(wall_s * 86400.0 / duration_s, 2) if duration_s > 0 else None,
    }


def worst_fault_time(faults: Sequence[Mapping[str, Any]]) -> float | str | None:
    """The slowest fault response of a run: None without faults, "never" if one never
    reached its safe state (a number would hide that)."""
    if not faults:
        return None
    times = [f["safe_after_s"] for f in faults]
    if any(t is None for t in times):
        return "never"
    return max(times)
