"""N+1 pump group against a small pump model: failover, proof, rotation, idle groups."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from controller.core.pumps import (
    PumpEventKind,
    PumpGroup,
    PumpGroupConfig,
    PumpGroupOutput,
)

K = PumpEventKind
HOUR = 3600.0


class PumpModel:
    """Pumps that start ``start_delay`` s after the command; a fault stops and reports,
    a broken coupling (``dead``) stops without reporting anything.
    """

    def __init__(self, names: list[str], start_delay: float = 1.0) -> None:
        self.names = names
        self.start_delay = start_delay
        self.fault = dict.fromkeys(names, False)
        self.dead = dict.fromkeys(names, False)
        self.cmd_since: dict[str, float | None] = dict.fromkeys(names, None)

    def available(self) -> dict[str, bool]:
        return {n: not self.fault[n] for n in self.names}

    def running(self, now: float) -> dict[str, bool]:
        out = {}
        for n in self.names:
            since = self.cmd_since[n]
            out[n] = (
                since is not None
                and not self.fault[n]
                and not self.dead[n]
                and now - since >= self.start_delay
            )
        return out

    def command(self, run: dict[str, bool], now: float) -> None:
        for n, on in run.items():
            if on and self.cmd_since[n] is None:
                self.cmd_since[n] = now
            elif not on:
                self.cmd_since[n] = None


class Rig:
    def __init__(self, **cfg: object) -> None:
        config = PumpGroupConfig(name="FWS", pumps=["P1A", "P1B"], **cfg)  # type: ignore[arg-type]
        self.group = PumpGroup(config)
        self.plant = PumpModel(list(config.pumps))
        self.log: list[tuple[float, PumpGroupOutput, dict[str, bool]]] = []

    def step(self, now: float, demand: bool = True, speed: float = 80.0) -> PumpGroupOutput:
        fb = self.plant.running(now)
        out = self.group.step(demand, speed, self.plant.available(), fb, now)
        self.plant.command(out.run, now)
        self.log.append((now, out, fb))
        return out

    def run(self, t0: float, t1: float, dt: float = 1.0, demand: bool = True) -> None:
        t = t0
        while t < t1:
            self.step(t, demand)
            t += dt

    def events(self, kind: PumpEventKind | None = None) -> list:
        return [e for _, o, _ in self.log for e in o.events if kind is None or e.kind is kind]

    def first_running(self, pump: str, after: float) -> float:
        return next(t for t, _, fb in self.log if t >= after and fb[pump])


def test_duty_runs_standby_waits() -> None:
    rig = Rig()
    rig.run(0, 10)
    _, out, fb = rig.log[-1]
    assert out.run == {"P1A": True, "P1B": False}
    assert out.speed == {"P1A": 80.0, "P1B": 0.0}
    assert fb == {"P1A": True, "P1B": False}
    assert out.duty == "P1A"
    assert not out.all_failed and not out.standby_unavailable
    assert rig.events() == []


def test_fault_on_duty_hands_over_within_5_s() -> None:
    rig = Rig()
    rig.run(0, 100)
    rig.plant.fault["P1A"] = True  # drive trips at t=100
    rig.run(100, 130)
    fo = rig.events(K.FAILOVER)
    assert [(e.time, e.previous, e.pump, e.reason) for e in fo] == [(100, "P1A", "P1B", "fault")]
    assert rig.first_running("P1B", 100) - 100 <= 5
    _, out, _ = rig.log[-1]
    assert out.run == {"P1A": False, "P1B": True}  # the faulted pump is not kept on
    assert out.duty == "P1B"
    assert out.standby_unavailable and not out.all_failed


def test_lost_feedback_without_fault_fails_over_after_proof_time() -> None:
    rig = Rig(proof_s=3.0)
    rig.run(0, 100)
    rig.plant.dead["P1A"] = True  # coupling breaks at t=100: no fault, just no flow
    rig.run(100, 130)
    assert [e.time for e in rig.events(K.PROOF_FAILED)] == [103]
    fo = rig.events(K.FAILOVER)
    assert [(e.time, e.pump, e.reason) for e in fo] == [(103, "P1B", "not running")]
    assert rig.first_running("P1B", 100) - 100 <= 5
    assert rig.group.proof_failed("P1A")
    assert rig.log[-1][1].run["P1A"] is False


def test_feedback_glitch_shorter_than_proof_time_is_ignored() -> None:
    rig = Rig(proof_s=3.0)
    rig.run(0, 100)
    rig.plant.dead["P1A"] = True
    rig.run(100, 102)  # two scans without feedback
    rig.plant.dead["P1A"] = False
    rig.plant.cmd_since["P1A"] = 0.0  # the pump never really stopped
    rig.run(102, 200)
    assert rig.events() == []
    assert rig.group.duty == "P1A"


def test_duty_that_never_starts_is_replaced() -> None:
    rig = Rig(proof_s=3.0)
    rig.plant.dead["P1A"] = True
    rig.run(0, 20)
    # Commanded at t=0; the proof time runs from the command, not from the next scan.
    assert [e.time for e in rig.events(K.FAILOVER)] == [3]
    assert rig.first_running("P1B", 0) <= 5


def test_all_failed_flags_and_last_resort() -> None:
    rig = Rig()
    rig.run(0, 50)
    rig.plant.fault["P1B"] = True  # standby lost first
    rig.run(50, 60)
    out = rig.log[-1][1]
    assert out.standby_unavailable and not out.all_failed
    assert out.run["P1A"] is True  # duty carries on
    rig.plant.dead["P1A"] = True  # then the duty loses its feedback
    rig.run(60, 80)
    out = rig.log[-1][1]
    assert out.all_failed
    # No fault reported on P1A: it may still pump, so it stays commanded.
    assert out.run == {"P1A": True, "P1B": False}
    rig.plant.fault["P1A"] = True
    rig.run(80, 82)
    assert rig.log[-1][1].run == {"P1A": False, "P1B": False}


def test_repaired_pump_returns_as_standby_and_failure_resets() -> None:
    rig = Rig()
    rig.run(0, 20)
    rig.plant.dead["P1A"] = True
    rig.run(20, 40)
    assert rig.group.duty == "P1B"
    assert rig.group.proof_failed("P1A")
    # Maintenance: fault raised and reset at the drive, coupling repaired.
    rig.plant.dead["P1A"] = False
    rig.plant.fault["P1A"] = True
    rig.run(40, 45)
    rig.plant.fault["P1A"] = False
    rig.run(45, 60)
    assert not rig.group.proof_failed("P1A")
    assert [e.reason for e in rig.events(K.RESET)] == ["fault reset"]
    assert rig.group.duty == "P1B"  # no needless switch back
    assert not rig.log[-1][1].standby_unavailable


def test_operator_reset_clears_proof_failure() -> None:
    rig = Rig()
    rig.plant.dead["P1A"] = True
    rig.run(0, 10)
    assert rig.group.proof_failed("P1A")
    rig.plant.dead["P1A"] = False
    events = rig.group.reset(10.0, "P1A")
    assert [(e.kind, e.pump) for e in events] == [(K.RESET, "P1A")]
    assert rig.group.healthy("P1A")
    assert rig.group.reset(11.0) == []  # nothing left to reset


def test_rotation_after_168_h_with_overlap_keeps_flow() -> None:
    rig = Rig(rotation_s=168 * HOUR, overlap_s=10.0)
    rig.run(0, 168 * HOUR - 600, dt=60.0)  # a week in one-minute leaps
    assert rig.group.duty == "P1A" and rig.events() == []
    rig.run(168 * HOUR - 600, 168 * HOUR + 600, dt=1.0)
    started = rig.events(K.ROTATION_STARTED)
    done = rig.events(K.ROTATION_COMPLETED)
    assert len(started) == 1 and len(done) == 1
    assert (started[0].previous, started[0].pump) == ("P1A", "P1B")
    # Run time is measured from the first running feedback (t=60 with 1-min leaps).
    assert 168 * HOUR + 60 <= started[0].time <= 168 * HOUR + 61
    # Incoming started, proved (1 s), then overlapped 10 s before the old one stopped.
    assert done[0].time - started[0].time == pytest.approx(11.0)
    assert rig.group.duty == "P1B"
    late = [(t, fb) for t, _, fb in rig.log if t >= 168 * HOUR - 600]
    assert all(fb["P1A"] or fb["P1B"] for _, fb in late)  # flow never dropped
    both = [t for t, fb in late if fb["P1A"] and fb["P1B"]]
    assert len(both) >= 10
    assert rig.log[-1][1].run == {"P1A": False, "P1B": True}
    assert rig.group.duty_run_s < 700  # the new duty's clock started at hand-over


def test_rotation_aborted_when_incoming_fails_to_prove() -> None:
    rig = Rig(rotation_s=100.0, overlap_s=10.0, proof_s=3.0)
    rig.plant.dead["P1B"] = True
    rig.run(0, 200)
    kinds = [e.kind for e in rig.events()]
    assert kinds[:3] == [K.ROTATION_STARTED, K.PROOF_FAILED, K.ROTATION_ABORTED]
    assert rig.group.duty == "P1A"
    assert all(fb["P1A"] for t, _, fb in rig.log if t >= 1)  # old duty never stopped
    assert rig.log[-1][1].run == {"P1A": True, "P1B": False}
    assert rig.log[-1][1].standby_unavailable


def test_idle_group_runs_nothing_and_idle_time_does_not_count() -> None:
    rig = Rig(min_running=0, rotation_s=10_000.0)
    rig.run(0, 30, demand=False)
    assert all(not any(o.run.values()) for _, o, _ in rig.log)
    assert rig.group.duty_run_s == 0
    rig.run(30, 400, demand=True)
    assert rig.log[-1][1].run == {"P1A": True, "P1B": False}
    ran = rig.group.duty_run_s
    assert 360 <= ran <= 370  # measured running only, start-up second excluded
    rig.run(400, 5000, demand=False)
    assert rig.group.duty_run_s - ran <= 2  # last run scan + stop scan, not 4600 s idle


def test_rotation_due_while_idle_swaps_at_once() -> None:
    rig = Rig(min_running=0, rotation_s=300.0)
    t = 0.0
    while rig.group.duty_run_s < 299:
        rig.step(t, demand=True)
        t += 1
    rig.run(t, t + 10, demand=False)  # the last interval makes it due while idle
    assert [e.reason for e in rig.events(K.ROTATION_COMPLETED)] == ["idle swap"]
    assert rig.events(K.ROTATION_STARTED) == []
    assert rig.group.duty == "P1B"
    out = rig.step(t + 10, demand=True)
    assert out.run == {"P1A": False, "P1B": True}


def test_demand_ending_during_overlap_completes_rotation() -> None:
    rig = Rig(min_running=0, rotation_s=300.0, overlap_s=60.0)
    rig.run(0, 320, demand=True)
    assert rig.group.rotating
    assert rig.log[-1][1].run == {"P1A": True, "P1B": True}
    out = rig.step(320, demand=False)
    assert [e.kind for e in out.events] == [K.ROTATION_COMPLETED]
    assert out.run == {"P1A": False, "P1B": False}
    assert rig.group.duty == "P1B" and not rig.group.rotating


def test_speed_is_clamped_and_only_on_running_pumps() -> None:
    rig = Rig(min_speed=30.0, max_speed=95.0)
    assert rig.step(0, speed=10.0).speed == {"P1A": 30.0, "P1B": 0.0}
    assert rig.step(1, speed=120.0).speed == {"P1A": 95.0, "P1B": 0.0}


def test_pump_missing_from_inputs_counts_as_unavailable() -> None:
    g = PumpGroup(PumpGroupConfig(name="DH", pumps=["P2A", "P2B"]))
    out = g.step(True, 50.0, {"P2B": True}, {}, 0.0)
    assert out.duty == "P2B"
    assert out.run == {"P2A": False, "P2B": True}
    assert out.standby_unavailable


def test_three_pump_group_fails_over_in_ring_order() -> None:
    g = PumpGroup(PumpGroupConfig(name="X", pumps=["A", "B", "C"]))
    ok = {"A": True, "B": True, "C": True}
    g.step(True, 50.0, ok, {}, 0.0)
    out = g.step(True, 50.0, {"A": False, "B": True, "C": True}, {"A": True}, 1.0)
    assert out.duty == "B" and not out.standby_unavailable
    out = g.step(True, 50.0, {"A": False, "B": False, "C": True}, {"B": True}, 2.0)
    assert out.duty == "C" and out.standby_unavailable


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pumps": ["P1A"]},
        {"pumps": ["P1A", "P1A"]},
        {"pumps": ["P1A", "P1B"], "min_speed": 80, "max_speed": 50},
        {"pumps": ["P1A", "P1B"], "proof_s": 0},
        {"pumps": ["P1A", "P1B"], "min_running": 2},
        {"pumps": ["P1A", "P1B"], "overlap": 5},
    ],
)
def test_config_validation(kwargs: dict) -> None:
    with pytest.raises(ValidationError):
        PumpGroupConfig(name="FWS", **kwargs)
