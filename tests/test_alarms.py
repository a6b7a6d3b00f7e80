"""ISA-18.2 alarm engine: definitions, catalogue loading, state machine, anti-chatter,
bad quality, shelving, suppression, the active list, and flood metrics.
"""

from __future__ import annotations

import random
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from controller.config.tomlfile import ConfigError
from controller.core.alarms import (
    AlarmCatalogue,
    AlarmConfigError,
    AlarmDef,
    AlarmEngine,
    AlarmEvent,
    AlarmOperationError,
    AlarmStatus,
    Category,
    EventKind,
    Priority,
    chattering,
    flood_stats,
    load_alarm_catalogue,
)

S = AlarmStatus
E = EventKind


def alarm(id: str = "FWS_SUPPLY_HIGH", **kw: Any) -> AlarmDef:
    base: dict[str, Any] = {
        "kind": "high",
        "source": "fws_supply",
        "limit": 40.0,
        "deadband": 1.0,
        "priority": "high",
        "message": "FWS supply to the CDUs above 40 °C",
        "action": "Check bypass valve and dry coolers; reduce IT load if it persists",
        "category": "process",
    }
    base.update(kw)
    if base["kind"] == "flag":
        base.pop("limit", None)
        base.pop("deadband", None)
    return AlarmDef(id=id, **base)


def kinds(events: list[AlarmEvent]) -> list[tuple[str, EventKind]]:
    return [(e.alarm_id, e.kind) for e in events]


# -- definitions ------------------------------------------------------------------------


def test_definition_fields_and_severity() -> None:
    d = alarm(priority="critical")
    assert d.severity == 900
    assert [alarm(priority=p).severity for p in ("low", "medium", "high")] == [250, 500, 750]
    flag = alarm("HP_TRIP", kind="flag", source="hp_tripped", category="equipment")
    assert flag.limit is None and flag.deadband == 0


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"limit": None}, "limit"),
        ({"deadband": 0.0}, "deadband"),
        ({"deadband": -1.0}, "deadband"),
        ({"limit": float("inf")}, "limit"),
        ({"on_delay_s": -1}, "on_delay_s"),
        ({"priority": "urgent"}, "priority"),
        ({"category": "misc"}, "category"),
        ({"message": ""}, "message"),
        ({"action": ""}, "action"),
        ({"on_bad": "ignore"}, "on_bad"),
        ({"kind": "flag", "limit": 1.0}, "limit"),
        ({"kind": "flag", "deadband": 1.0}, "deadband"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_definition_rejects(kw: dict[str, Any], field: str) -> None:
    base: dict[str, Any] = {
        "id": "X",
        "kind": "high",
        "source": "s",
        "limit": 1.0,
        "deadband": 0.5,
        "priority": "low",
        "message": "m",
        "action": "a",
        "category": "process",
    }
    if kw.get("kind") == "flag":
        base.pop("limit")
        base.pop("deadband")
    base.update(kw)
    with pytest.raises(ValidationError) as info:
        AlarmDef(**base)
    assert field in {str(err["loc"][0]) for err in info.value.errors()}


@pytest.mark.parametrize("bad_id", ["fws_high", "1ALARM", "A-B", ""])
def test_definition_rejects_bad_ids(bad_id: str) -> None:
    with pytest.raises(ValidationError):
        alarm(bad_id)


# -- catalogue file ---------------------------------------------------------------------

CATALOGUE = """\
version = 1

[[alarm]]
id = "FWS_SUPPLY_HIGH"
kind = "high"
source = "fws_supply"
limit = 40.0
deadband = 1.0
on_delay_s = 10
off_delay_s = 30
priority = "high"
message = "FWS supply to the CDUs above 40 °C"
action = "Check bypass valve and dry coolers"
category = "process"

[[alarm]]
id = "HP_TRIP"
kind = "flag"
source = "hp_tripped"
priority = "medium"
latch = true
message = "Heat pump tripped"
action = "Read the heat pump's fault code, reset locally"
category = "equipment"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "alarms.toml"
    p.write_text(text, encoding="utf-8")
    return p


def problem(err: ConfigError, field: str) -> tuple[str, int | None]:
    found = [p for p in err.problems if p.field == field]
    assert found, f"no problem for {field}: {err}"
    return found[0].message, found[0].line


def test_catalogue_loads(tmp_path: Path) -> None:
    cat = load_alarm_catalogue(write(tmp_path, CATALOGUE), {"fws_supply", "hp_tripped"})
    assert [a.id for a in cat.alarm] == ["FWS_SUPPLY_HIGH", "HP_TRIP"]
    assert cat.alarm[0].on_delay_s == 10 and cat.alarm[1].latch
    engine = AlarmEngine(cat, known_signals={"fws_supply", "hp_tripped"})
    assert engine.ids() == ["FWS_SUPPLY_HIGH", "HP_TRIP"]


def test_catalogue_duplicate_id_names_field_and_line(tmp_path: Path) -> None:
    text = CATALOGUE.replace('id = "HP_TRIP"', 'id = "FWS_SUPPLY_HIGH"')
    with pytest.raises(ConfigError) as info:
        load_alarm_catalogue(write(tmp_path, text))
    msg, line = problem(info.value, "alarm[1].id")
    assert "alarm[0]" in msg
    assert line == 17  # the second id line


def test_catalogue_missing_limit_points_at_the_alarm(tmp_path: Path) -> None:
    text = CATALOGUE.replace("limit = 40.0\n", "")
    with pytest.raises(ConfigError) as info:
        load_alarm_catalogue(write(tmp_path, text))
    msg, line = problem(info.value, "alarm[0].limit")
    assert "needs a limit" in msg
    assert line == 3  # no limit line exists: the [[alarm]] header


def test_catalogue_zero_deadband_and_typo(tmp_path: Path) -> None:
    text = CATALOGUE.replace("deadband = 1.0", "deadband = 0.0").replace("latch =", "latched =")
    with pytest.raises(ConfigError) as info:
        load_alarm_catalogue(write(tmp_path, text))
    assert problem(info.value, "alarm[0].deadband")[1] == 8
    assert problem(info.value, "alarm[1].latched")[1] == 21


def test_catalogue_unknown_signal_names_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_alarm_catalogue(write(tmp_path, CATALOGUE), known_signals={"fws_supply"})
    msg, line = problem(info.value, "alarm[1].source")
    assert "hp_tripped" in msg
    assert line == 19


# -- engine construction ----------------------------------------------------------------


def test_unknown_signal_is_a_construction_error() -> None:
    defs = [alarm(), alarm("HP_TRIP", kind="flag", source="hp_trippd")]
    with pytest.raises(AlarmConfigError, match=r"HP_TRIP.*hp_trippd"):
        AlarmEngine(defs, known_signals={"fws_supply", "hp_tripped"})


def test_duplicate_ids_rejected_by_engine() -> None:
    with pytest.raises(AlarmConfigError, match="twice"):
        AlarmEngine([alarm(), alarm()])
    with pytest.raises(ValidationError):
        AlarmCatalogue(alarm=[alarm(), alarm()])


def test_missing_signal_at_runtime_is_recorded_not_silent() -> None:
    engine = AlarmEngine([alarm()])
    assert engine.update({}, 0.0) == []
    assert engine.missing_signals == {"fws_supply"}


# -- state machine ----------------------------------------------------------------------


def test_raise_ack_clear() -> None:
    engine = AlarmEngine([alarm()])
    assert engine.update({"fws_supply": 39.9}, 0.0) == []
    [ev] = engine.update({"fws_supply": 40.5}, 1.0)
    assert (ev.time, ev.alarm_id, ev.kind) == (1.0, "FWS_SUPPLY_HIGH", E.RAISE)
    assert ev.status is S.ACTIVE_UNACKED
    assert (ev.priority, ev.severity, ev.value) == (Priority.HIGH, 750, 40.5)
    assert ev.message.startswith("FWS supply")
    ack = engine.acknowledge("FWS_SUPPLY_HIGH", "op1", 5.0)
    assert ack is not None and (ack.kind, ack.status, ack.user) == (E.ACK, S.ACTIVE_ACKED, "op1")
    assert engine.acknowledge("FWS_SUPPLY_HIGH", "op1", 6.0) is None  # nothing left to ack
    assert engine.update({"fws_supply": 39.5}, 7.0) == []  # inside the deadband: holds
    [ev] = engine.update({"fws_supply": 38.9}, 8.0)
    assert (ev.kind, ev.status) == (E.CLEAR, S.NORMAL)
    assert engine.active() == []


def test_return_to_normal_unacknowledged_then_ack() -> None:
    engine = AlarmEngine([alarm()])
    engine.update({"fws_supply": 41.0}, 0.0)
    [ev] = engine.update({"fws_supply": 38.0}, 1.0)
    assert (ev.kind, ev.status) == (E.RTN_UNACK, S.RTN_UNACKED)
    assert [a.status for a in engine.active()] == [S.RTN_UNACKED]  # still listed
    ack = engine.acknowledge("FWS_SUPPLY_HIGH", "op1", 2.0)
    assert ack is not None and ack.status is S.NORMAL
    assert engine.active() == []


def test_return_while_unacked_reraises() -> None:
    engine = AlarmEngine([alarm()])
    engine.update({"fws_supply": 41.0}, 0.0)
    engine.update({"fws_supply": 38.0}, 1.0)
    [ev] = engine.update({"fws_supply": 41.0}, 2.0)
    assert (ev.kind, ev.status) == (E.RAISE, S.ACTIVE_UNACKED)


def test_low_alarm_clears_above_limit_plus_deadband() -> None:
    engine = AlarmEngine([alarm("FWS_SUPPLY_LOW", kind="low", limit=20.0, deadband=2.0)])
    assert kinds(engine.update({"fws_supply": 19.9}, 0.0)) == [("FWS_SUPPLY_LOW", E.RAISE)]
    assert engine.update({"fws_supply": 21.9}, 1.0) == []
    assert kinds(engine.update({"fws_supply": 22.1}, 2.0)) == [("FWS_SUPPLY_LOW", E.RTN_UNACK)]


def test_flag_alarm() -> None:
    engine = AlarmEngine([alarm("HP_TRIP", kind="flag", source="hp_tripped")])
    assert engine.update({"hp_tripped": False}, 0.0) == []
    assert kinds(engine.update({"hp_tripped": True}, 1.0)) == [("HP_TRIP", E.RAISE)]
    assert kinds(engine.update({"hp_tripped": False}, 2.0)) == [("HP_TRIP", E.RTN_UNACK)]


def test_latched_alarm_needs_ack_and_clear() -> None:
    d = alarm("HP_TRIP", kind="flag", source="hp_tripped", latch=True)
    engine = AlarmEngine([d])
    engine.update({"hp_tripped": True}, 0.0)
    assert engine.update({"hp_tripped": False}, 1.0) == []  # stays in alarm
    st = engine.state("HP_TRIP")
    assert (st.status, st.condition, st.latched) == (S.ACTIVE_UNACKED, False, True)
    ack = engine.acknowledge("HP_TRIP", "op1", 2.0)
    assert ack is not None and ack.status is S.NORMAL  # acknowledged and cleared

    engine.update({"hp_tripped": True}, 3.0)
    ack = engine.acknowledge("HP_TRIP", "op1", 4.0)
    assert ack is not None and ack.status is S.ACTIVE_ACKED  # acked, still present
    [ev] = engine.update({"hp_tripped": False}, 5.0)
    assert (ev.kind, ev.status) == (E.CLEAR, S.NORMAL)


def test_acknowledge_unknown_id() -> None:
    with pytest.raises(KeyError):
        AlarmEngine([alarm()]).acknowledge("NOPE", "op1", 0.0)


# -- delays and chattering --------------------------------------------------------------


def test_on_delay_ignores_fleeting_excursions() -> None:
    engine = AlarmEngine([alarm(on_delay_s=10.0)])
    trace = [41.0] * 9 + [39.0] + [41.0] * 11  # 9 s over, a dip, then 11 s over
    raised = []
    for t, v in enumerate(trace):
        raised += [t for e in engine.update({"fws_supply": v}, float(t)) if e.kind is E.RAISE]
    assert raised == [20]  # the timer restarted at the dip (t=10): raised at 10 + 10


def test_off_delay_holds_alarm_for_its_length() -> None:
    engine = AlarmEngine([alarm(off_delay_s=30.0)])
    engine.update({"fws_supply": 41.0}, 0.0)
    out = []
    for t in range(1, 100):
        v = 38.0 if t != 20 else 39.5  # one sample back inside the deadband at t=20
        out += [(t, e.kind) for e in engine.update({"fws_supply": v}, float(t))]
    assert out == [(51, E.RTN_UNACK)]  # restarted at t=21, cleared 30 s later


def run_noise(engine: AlarmEngine, seed: int, seconds: int) -> list[AlarmEvent]:
    rng = random.Random(seed)
    events: list[AlarmEvent] = []
    for t in range(seconds):
        # Hovering at the limit: slow wander of +-0.5 K plus +-0.8 K measurement noise.
        v = 40.0 + 0.5 * ((t // 300) % 3 - 1) + rng.uniform(-0.8, 0.8)
        events += engine.update({"fws_supply": v}, float(t))
    return events


def test_noisy_signal_cannot_chatter() -> None:
    good = AlarmEngine([alarm(deadband=1.0, on_delay_s=15.0, off_delay_s=60.0)])
    events = run_noise(good, seed=7, seconds=3600)
    raises = [e.time for e in events if e.kind is E.RAISE]
    clears = [e.time for e in events if e.kind is E.RTN_UNACK]
    assert raises, "the signal does exceed the limit: the alarm must raise"
    # Each raise/clear cycle lasts at least on + off delay.
    assert len(raises) <= 3600 / (15 + 60) + 1
    transitions = sorted(raises + clears)
    gaps = [b - a for a, b in pairwise(transitions)]
    assert min(gaps, default=999) >= 15
    assert chattering(events) == {}

    # The same signal without delays and a token deadband is exactly what chatters:
    # proof that the test signal is hostile enough to catch a broken debounce.
    bad = AlarmEngine([alarm(deadband=0.01)])
    bad_events = run_noise(bad, seed=7, seconds=3600)
    assert sum(e.kind is E.RAISE for e in bad_events) > 10 * len(raises)
    assert "FWS_SUPPLY_HIGH" in chattering(bad_events)


def test_deadband_alone_stops_noise_smaller_than_the_band() -> None:
    engine = AlarmEngine([alarm(deadband=2.0)])
    rng = random.Random(3)
    events: list[AlarmEvent] = []
    for t in range(3600):
        events += engine.update({"fws_supply": 40.0 + rng.uniform(-0.9, 0.9)}, float(t))
    assert sum(e.kind is E.RAISE for e in events) == 1  # raises once, never clears


# -- bad quality ------------------------------------------------------------------------


def test_bad_quality_holds_active_and_inactive() -> None:
    engine = AlarmEngine([alarm()])
    engine.update({"fws_supply": 41.0}, 0.0)
    for t in range(1, 60):
        assert engine.update({"fws_supply": None}, float(t)) == []
    assert engine.state("FWS_SUPPLY_HIGH").status is S.ACTIVE_UNACKED  # not cleared
    assert engine.state("FWS_SUPPLY_HIGH").value is None
    engine.update({"fws_supply": 30.0}, 60.0)
    for t in range(61, 120):
        assert engine.update({"fws_supply": float("nan")}, float(t)) == []  # NaN = bad


def test_bad_quality_restarts_pending_delay() -> None:
    engine = AlarmEngine([alarm(on_delay_s=10.0)])
    raised = []
    for t in range(40):
        v = None if t == 8 else 41.0
        raised += [t for e in engine.update({"fws_supply": v}, float(t)) if e.kind is E.RAISE]
    assert raised == [19]  # 8 s observed, gap, then a full 10 s from t=9


def test_on_bad_raise() -> None:
    engine = AlarmEngine([alarm(on_bad="raise", on_delay_s=5.0)])
    engine.update({"fws_supply": 30.0}, 0.0)
    out = []
    for t in range(1, 20):
        out += engine.update({"fws_supply": None}, float(t))
    assert [(e.time, e.kind, e.value) for e in out] == [(6.0, E.RAISE, None)]
    [ev] = engine.update({"fws_supply": 30.0}, 20.0)
    assert ev.kind is E.RTN_UNACK  # a good value below the clear point clears it


# -- shelving and suppression -----------------------------------------------------------


def test_shelve_hides_until_expiry_then_reannunciates() -> None:
    engine = AlarmEngine([alarm()])
    engine.update({"fws_supply": 41.0}, 0.0)
    ev = engine.shelve("FWS_SUPPLY_HIGH", until=3600.0, now=10.0, user="op1")
    assert (ev.kind, ev.user, ev.status) == (E.SHELVE, "op1", S.NORMAL)
    assert engine.active() == []
    assert engine.counts().shelved == 1
    for t in range(11, 3600, 10):  # condition comes and goes while shelved: silence
        v = 41.0 if (t // 100) % 2 else 38.0
        assert engine.update({"fws_supply": v}, float(t)) == []
    out = engine.update({"fws_supply": 41.0}, 3600.0)
    assert kinds(out) == [("FWS_SUPPLY_HIGH", E.UNSHELVE), ("FWS_SUPPLY_HIGH", E.RAISE)]
    assert out[0].user == ""  # expiry, not a person
    assert engine.counts().shelved == 0


def test_manual_unshelve_with_condition_gone_stays_quiet() -> None:
    engine = AlarmEngine([alarm()])
    engine.update({"fws_supply": 41.0}, 0.0)
    engine.shelve("FWS_SUPPLY_HIGH", until=1000.0, now=1.0)
    engine.update({"fws_supply": 30.0}, 2.0)
    ev = engine.unshelve("FWS_SUPPLY_HIGH", now=3.0, user="op2")
    assert ev is not None and (ev.kind, ev.user) == (E.UNSHELVE, "op2")
    assert engine.update({"fws_supply": 30.0}, 4.0) == []  # no RTN ghost to acknowledge
    assert engine.unshelve("FWS_SUPPLY_HIGH", now=5.0) is None
    assert engine.update({"fws_supply": 30.0}, 1000.0) == []  # old expiry is gone


@pytest.mark.parametrize(
    ("until", "now", "match"),
    [(5.0, 10.0, "past"), (10.0 + 9 * 3600, 10.0, "at most")],
)
def test_shelve_limits(until: float, now: float, match: str) -> None:
    engine = AlarmEngine([alarm()])
    with pytest.raises(AlarmOperationError, match=match):
        engine.shelve("FWS_SUPPLY_HIGH", until=until, now=now)


def test_safety_alarm_cannot_be_shelved() -> None:
    engine = AlarmEngine([alarm(shelvable=False, category="safety")])
    with pytest.raises(AlarmOperationError, match="may not be shelved"):
        engine.shelve("FWS_SUPPLY_HIGH", until=100.0, now=0.0)


def test_suppress_comms_alarms_during_startup() -> None:
    defs = [
        alarm(),
        alarm("CDU01_COMMS", kind="flag", source="cdu01_comms_lost", category="comms"),
        alarm("HP_COMMS", kind="flag", source="hp_comms_lost", category="comms"),
    ]
    engine = AlarmEngine(defs)
    comms = engine.ids(category=Category.COMMS)
    assert comms == ["CDU01_COMMS", "HP_COMMS"]
    sup = engine.suppress(comms, now=0.0)
    assert kinds(sup) == [("CDU01_COMMS", E.SUPPRESS), ("HP_COMMS", E.SUPPRESS)]
    assert engine.suppress(comms, now=0.0) == []  # idempotent
    sig = {"fws_supply": 41.0, "cdu01_comms_lost": True, "hp_comms_lost": True}
    out = engine.update(sig, 1.0)
    assert kinds(out) == [("FWS_SUPPLY_HIGH", E.RAISE)]  # process alarms still work
    sig.update(cdu01_comms_lost=False)  # CDU01 connects during start-up
    assert engine.update(sig, 2.0) == []
    assert engine.counts().suppressed == 2
    out = engine.unsuppress(comms, now=3.0)
    assert kinds(out) == [("CDU01_COMMS", E.UNSUPPRESS), ("HP_COMMS", E.UNSUPPRESS)]
    out = engine.update(sig, 3.0)
    # Only what is still wrong is annunciated; CDU01's start-up blip left no trace.
    assert kinds(out) == [("HP_COMMS", E.RAISE)]


# -- active list, counts, snapshots -----------------------------------------------------


def test_active_list_sorted_by_priority_then_first_out() -> None:
    defs = [
        alarm("A_LOW", priority="low", source="a"),
        alarm("B_CRIT", priority="critical", source="b"),
        alarm("C_HIGH", priority="high", source="c"),
        alarm("D_CRIT", priority="critical", source="d"),
    ]
    engine = AlarmEngine(defs)
    sig = {"a": 0.0, "b": 0.0, "c": 0.0, "d": 0.0}
    for t, name in enumerate(["d", "a", "c", "b"]):  # D_CRIT first-out
        sig[name] = 50.0
        engine.update(sig, float(t))
    assert [a.id for a in engine.active()] == ["D_CRIT", "B_CRIT", "C_HIGH", "A_LOW"]
    engine.acknowledge("C_HIGH", "op", 10.0)
    sig["a"] = 0.0
    engine.update(sig, 11.0)
    c = engine.counts()
    assert (c.listed, c.active, c.unacked) == (4, 3, 3)
    assert c.by_priority == {
        Priority.LOW: 1,
        Priority.MEDIUM: 0,
        Priority.HIGH: 1,
        Priority.CRITICAL: 2,
    }
    st = engine.state("A_LOW")
    assert (st.status, st.raised_at, st.changed_at) == (S.RTN_UNACKED, 1.0, 11.0)
    assert st.action.startswith("Check")


def test_snapshots_do_not_change_behind_the_reader() -> None:
    engine = AlarmEngine([alarm()])
    engine.update({"fws_supply": 41.0}, 0.0)
    snap = engine.active()[0]
    engine.update({"fws_supply": 30.0}, 1.0)
    assert snap.status is S.ACTIVE_UNACKED and snap.value == 41.0
    assert engine.state("FWS_SUPPLY_HIGH").status is S.RTN_UNACKED


# -- flood and chattering metrics -------------------------------------------------------


def ev(t: float, alarm_id: str = "X", kind: EventKind = E.RAISE) -> AlarmEvent:
    return AlarmEvent(t, alarm_id, kind, S.ACTIVE_UNACKED, Priority.LOW, 250, 1.0, "m")


def test_flood_stats_sliding_window_catches_burst_across_periods() -> None:
    events = [ev(540.0 + i) for i in range(6)] + [ev(600.0 + i) for i in range(6)]
    events += [ev(t, kind=E.ACK) for t in range(560, 580)]  # acks are not annunciations
    stats = flood_stats(events, start=0.0, end=3600.0)
    assert stats.periods == 6
    assert stats.annunciated == 12
    assert stats.max_in_period == 6  # fixed periods look fine ...
    assert stats.max_in_window == 12  # ... but 12 arrived within 66 s
    assert not stats.within_target
    assert stats.periods_over == 0
    assert stats.mean_per_period == pytest.approx(2.0)


def test_flood_stats_periods_over_limit() -> None:
    events = [ev(10.0 * i) for i in range(11)]  # 11 in the first 10 minutes
    events += [ev(1300.0 + i) for i in range(3)]
    stats = flood_stats(events, start=0.0, end=6000.0)
    assert (stats.periods, stats.periods_over) == (10, 1)
    assert stats.percent_periods_over == pytest.approx(10.0)
    assert stats.max_in_window == 11
    ok = flood_stats([ev(100.0 * i) for i in range(30)], start=0.0, end=3000.0)
    assert ok.within_target and ok.max_in_window == 6


def test_flood_stats_defaults_and_empty() -> None:
    empty = flood_stats([])
    assert (empty.annunciated, empty.max_in_window, empty.periods) == (0, 0, 0)
    stats = flood_stats([ev(100.0), ev(200.0), ev(5000.0)])
    assert stats.annunciated == 3 and stats.max_in_window == 2
    outside = flood_stats([ev(5.0), ev(50.0)], start=10.0, end=20.0)
    assert outside.annunciated == 0


def test_chattering_detection() -> None:
    events = [ev(t, "CHAT") for t in (0.0, 20.0, 40.0, 45.0)]
    events += [ev(t, "SLOW") for t in (0.0, 61.0, 122.0)]  # 3 raises, never 3 in 60 s
    assert chattering(events) == {"CHAT": 4}
