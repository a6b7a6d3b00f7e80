"""Scenario files and their loader: shipped data, sampling, event timing, error reports."""

from __future__ import annotations

import random
import textwrap
import time
from pathlib import Path

import pytest

import simulator.series as series_module
from controller.config.tomlfile import ConfigError
from simulator.events import HxFouling, NetworkOutage, SensorStuck
from simulator.scenario import (
    SCENARIO_DIR,
    Boundary,
    EventTimeline,
    list_scenarios,
    load_scenario,
)
from simulator.series import DataFileProblem
from simulator.timeparse import format_time, parse_time

REQUIRED = {
    "winter-steady",
    "ai-training",
    "summer-low-demand",
    "dh-outage",
    "hp-trip",
    "fws-pump-failure",
    "dh-pump-failure",
    "sensor-stuck",
    "sensor-out-of-range",
    "comms-loss",
    "hx-fouling",
    "controller-stop",
}

HEAD = 'name = "t"\ndescription = "test"\nduration = "2h"\n'


def write(tmp_path: Path, body: str, head: str = HEAD, name: str = "t.toml") -> Path:
    path = tmp_path / name
    path.write_text(head + textwrap.dedent(body), encoding="utf-8")
    return path


def problems_of(path: Path, **kwargs: object) -> list:
    with pytest.raises(ConfigError) as info:
        load_scenario(path, **kwargs)
    assert info.value.problems, "a ConfigError must say what is wrong"
    return info.value.problems


def only_problem(path: Path) -> object:
    found = problems_of(path)
    assert len(found) == 1, found
    return found[0]


# ---------------------------------------------------------------- shipped scenarios


def test_all_required_scenarios_ship() -> None:
    assert set(list_scenarios()) >= REQUIRED


@pytest.mark.parametrize("name", list_scenarios())
def test_shipped_scenario_loads_and_samples(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.name == name
    assert len(scenario.description) > 80, "descriptions say what is tested and what good is"
    assert scenario.path == SCENARIO_DIR / f"{name}.toml"
    sampler = scenario.sampler()
    for t in (0.0, scenario.duration / 2, scenario.duration):
        boundary = sampler.sample(t)
        assert 0 <= boundary.it_utilisation <= 1.1
        assert 50 <= boundary.dh_supply_setpoint <= 90
    for event in scenario.events:
        assert 0 <= event.at < scenario.duration
        assert event.end is None or event.end <= scenario.duration
    assert [e.at for e in scenario.events] == sorted(e.at for e in scenario.events)


def test_shipped_scenarios_match_the_brief() -> None:
    winter = load_scenario("winter-steady")
    demand = [winter.series["dh_demand"].value_at(t) for t in range(0, 86400, 60)]
    assert min(demand) >= 900 and max(demand) <= 1300 and max(demand) >= 1250
    ambient = [winter.series["ambient_temp"].value_at(t) for t in range(0, 86400, 60)]
    assert min(ambient) == -8 and max(ambient) == 2

    trace = load_scenario("ai-training").series["it_utilisation"]
    assert trace.source == "csv:traces/ai-training.csv"
    values = [trace.value_at(t) for t in range(0, 86400, 10)]
    assert sum(0.85 <= v <= 0.97 for v in values) > 0.7 * len(values)
    # 09:40-10:00 the job has crashed: the hall idles at ~0.1.
    assert all(v < 0.15 for v in values[(9 * 3600 + 2460) // 10 : (10 * 3600) // 10])
    # Checkpoint dips to ~0.35 every 30 min while the first job runs.
    dips = [t for t in range(0, 9 * 3600, 10) if 0.25 < trace.value_at(t) < 0.45]
    assert len({t // 1800 for t in dips}) >= 15

    outage = load_scenario("dh-outage")
    sampler = outage.sampler()
    assert sampler.sample(7199).network_available
    assert not sampler.sample(7200).network_available
    assert not sampler.sample(14399).network_available
    assert sampler.sample(14400).network_available

    stuck = load_scenario("sensor-stuck")
    (event,) = stuck.events
    assert isinstance(event, SensorStuck)
    load_changes = stuck.series["it_utilisation"].times
    assert any(event.at < t < event.end for t in load_changes), "the load must move while stuck"

    fouling = load_scenario("hx-fouling")
    assert fouling.dt == 2.0 and fouling.duration == 3 * 86400


def test_bare_name_and_path_load_the_same() -> None:
    by_name = load_scenario("hp-trip")
    by_path = load_scenario(SCENARIO_DIR / "hp-trip.toml")
    assert by_name.events == by_path.events
    assert by_name.series == by_path.series


def test_unknown_bare_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        load_scenario("winter-stedy")
    assert "winter-steady" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    problem = only_problem(tmp_path / "nope.toml")
    assert "not found" in problem.message


# ---------------------------------------------------------------- time syntax


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        ("90s", 90.0),
        ("15m", 900.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1d6h", 108000.0),
        ("2h30m", 9000.0),
        ("1.5h", 5400.0),
        ("06:30", 23400.0),
        ("36:00", 129600.0),
        ("01:02:03", 3723.0),
    ],
)
def test_parse_time(text: object, seconds: float) -> None:
    assert parse_time(text) == seconds


@pytest.mark.parametrize("text", ["", "2x", "h", "6h1d", "-5", -5, "1:60", True, "12:5", [1]])
def test_parse_time_refuses(text: object) -> None:
    with pytest.raises(ValueError, match=r"time|boolean"):
        parse_time(text)


def test_format_time_round_trips() -> None:
    for seconds in (0, 59, 3600, 5400, 108000, 1.5):
        assert parse_time(format_time(seconds)) == seconds


# ---------------------------------------------------------------- sampling


def test_defaults_fill_missing_series(tmp_path: Path) -> None:
    sample = load_scenario(write(tmp_path, "")).sampler().sample(123.0)
    assert sample == Boundary(0.8, 5.0, 1000.0, 70.0, 40.0, True, True)


def test_linear_points_hold_before_first_and_after_last(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [series.dh_demand]
        points = [["10m", 500.0], ["20m", 1500.0], ["30m", 1000.0]]
        """,
    )
    sample = load_scenario(path).sampler().sample
    assert sample(0).dh_demand == 500.0
    assert sample(600).dh_demand == 500.0
    assert sample(900).dh_demand == pytest.approx(1000.0)
    assert sample(1500).dh_demand == pytest.approx(1250.0)
    assert sample(1800).dh_demand == 1000.0
    assert sample(7000).dh_demand == 1000.0


def test_step_points(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [series.it_utilisation]
        points = [[0, 0.5], [100, 0.9], [200, 0.1]]
        interp = "step"

        [series.injection_enabled]
        points = [[0, true], ["1h", false], ["1h30m", true]]
        """,
    )
    sample = load_scenario(path).sampler().sample
    assert [sample(t).it_utilisation for t in (0, 99.9, 100, 150, 199, 200, 5000)] == [
        0.5,
        0.5,
        0.9,
        0.9,
        0.9,
        0.1,
        0.1,
    ]
    assert [sample(t).injection_enabled for t in (3599, 3600, 5399, 5400)] == [
        True,
        False,
        False,
        True,
    ]
    assert sample(3600).injection_enabled is False


def test_repeat_wraps_linear_pattern_across_the_period(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [series.ambient_temp]
        points = [["00:00", 0.0], ["12:00", 10.0]]
        repeat = "1d"
        """,
        head='name = "t"\ndescription = "x"\nduration = "3d"\n',
    )
    sample = load_scenario(path).sampler().sample
    assert sample(6 * 3600).ambient_temp == pytest.approx(5.0)
    assert sample(18 * 3600).ambient_temp == pytest.approx(5.0)  # back down towards midnight
    assert sample(30 * 3600).ambient_temp == pytest.approx(5.0)
    assert sample(36 * 3600).ambient_temp == pytest.approx(10.0)
    assert sample(48 * 3600).ambient_temp == pytest.approx(0.0)


def test_repeat_step_pattern_wraps_last_value_before_first_point(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [series.dh_supply_setpoint]
        points = [["06:00", 75.0], ["22:00", 65.0]]
        interp = "step"
        repeat = "1d"
        """,
        head='name = "t"\ndescription = "x"\nduration = "2d"\n',
    )
    sample = load_scenario(path).sampler().sample
    got = [sample(h * 3600).dh_supply_setpoint for h in (0, 6, 12, 22, 23, 24, 30, 47)]
    assert got == [65.0, 75.0, 75.0, 65.0, 65.0, 65.0, 75.0, 65.0]


def test_csv_series_with_comments_and_default_column(tmp_path: Path) -> None:
    (tmp_path / "traces").mkdir()
    (tmp_path / "traces" / "load.csv").write_text(
        "# recorded 2025-01-10\nt,it_utilisation,other\n0,0.5,1\n60,0.9,1\n\n120,0.3,1\n",
        encoding="utf-8",
    )
    path = write(
        tmp_path,
        """
        [series.it_utilisation]
        csv = "traces/load.csv"
        """,
    )
    scenario = load_scenario(path)
    sample = scenario.sampler().sample
    assert sample(30).it_utilisation == pytest.approx(0.7)
    assert sample(90).it_utilisation == pytest.approx(0.6)
    assert sample(500).it_utilisation == pytest.approx(0.3)


def test_csv_repeat_and_named_column(tmp_path: Path) -> None:
    (tmp_path / "pattern.csv").write_text("t,demand_kw\n0,100\n1800,300\n", encoding="utf-8")
    path = write(
        tmp_path,
        """
        [series.dh_demand]
        csv = "pattern.csv"
        column = "demand_kw"
        interp = "step"
        repeat = "1h"
        """,
    )
    sample = load_scenario(path).sampler().sample
    got = [sample(t).dh_demand for t in (0, 1799, 1800, 3599, 3600, 5400)]
    assert got == [100.0, 100.0, 300.0, 300.0, 100.0, 300.0]


def test_outage_events_force_network_off(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [series.network_available]
        points = [[0, true], ["1h40m", false], ["1h50m", true]]

        [[events]]
        kind = "network_outage"
        at = "10m"
        duration = "10m"

        [[events]]
        kind = "network_outage"
        at = "1h"
        """,
    )
    sample = load_scenario(path).sampler().sample
    on = {t: sample(t).network_available for t in range(0, 7200, 30)}
    assert on[0] and on[570] and not on[600] and not on[1170] and on[1200]
    assert on[3570] and not on[3600] and not on[7170]  # open-ended: off until the end
    assert all(sample(t).injection_enabled for t in range(0, 7200, 600))


def test_cursor_agrees_with_reference_for_any_time_order(tmp_path: Path) -> None:
    rng = random.Random(7)
    for name in ("winter-steady", "ai-training", "sensor-stuck", "summer-low-demand"):
        scenario = load_scenario(name)
        sampler = scenario.sampler()
        times = [i * 0.7 for i in range(5000)]
        times += [rng.uniform(-50, 3 * 86400) for _ in range(5000)]  # jumps both ways
        for t in times:
            boundary = sampler.sample(t)
            for key, series in scenario.series.items():
                assert getattr(boundary, key) == pytest.approx(series.value_at(t)), (name, key, t)


def test_forward_sampling_does_not_bisect_each_call(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = series_module.bisect_right

    def counting(*args: object) -> int:
        nonlocal calls
        calls += 1
        return real(*args)

    monkeypatch.setattr(series_module, "bisect_right", counting)
    sample = load_scenario("ai-training").sampler().sample
    for t in range(86400):
        sample(float(t))
    assert calls < 100, f"{calls} bisections for 86400 forward samples"


def test_sample_is_fast() -> None:
    # Generous bound (target is < 5 us on the dev machine): catches a pathological
    # regression such as rebuilding segments per call, not normal CI jitter.
    sample = load_scenario("ai-training").sampler().sample
    n = 50_000
    start = time.perf_counter()
    for i in range(n):
        sample(float(i))
    per_call = (time.perf_counter() - start) / n
    assert per_call < 25e-6


def test_boundary_has_slots() -> None:
    boundary = load_scenario("winter-steady").sampler().sample(0.0)
    assert not hasattr(boundary, "__dict__")


# ---------------------------------------------------------------- events and timeline


def test_timeline_reports_each_start_and_end_exactly_once() -> None:
    events = [
        NetworkOutage(kind="network_outage", at=100, duration=50),
        HxFouling(kind="hx_fouling", at=120, duration=10, exchanger="condenser", ua_factor=0.7),
        NetworkOutage(kind="network_outage", at=150, duration=None),
    ]
    for step in (1.0, 7.0, 1000.0):
        timeline = EventTimeline(events)
        seen = []
        t = 0.0
        while t <= 300:
            seen += [(edge, event.at, t) for event, edge in timeline.due(t)]
            t += step
        seen += [(edge, event.at, t) for event, edge in timeline.due(1e9)]
        edges = [(edge, at) for edge, at, _ in seen]
        assert sorted(edges) == sorted(
            [("start", 100), ("end", 100), ("start", 120), ("end", 120), ("start", 150)]
        )
        for edge, at, when in seen:  # never early, and late by less than one step
            due_at = at if edge == "start" else next(e.end for e in events if e.at == at)
            assert due_at <= when < due_at + step
        assert timeline.active == [events[2]]


def test_timeline_orders_end_before_start_at_the_same_instant() -> None:
    first = NetworkOutage(kind="network_outage", at=10, duration=10)
    second = NetworkOutage(kind="network_outage", at=20, duration=10)
    timeline = EventTimeline([second, first])
    assert timeline.due(0) == []
    assert timeline.due(10) == [(first, "start")]
    assert timeline.due(20) == [(first, "end"), (second, "start")]
    assert timeline.due(20) == []
    with pytest.raises(ValueError, match="backwards"):
        timeline.due(5)


def test_scenario_timeline_and_event_fields() -> None:
    scenario = load_scenario("sensor-out-of-range")
    timeline = scenario.timeline()
    transitions = []
    for t in range(int(scenario.duration) + 1):
        transitions += [(t, e.point, edge) for e, edge in timeline.due(float(t))]
    assert transitions == [
        (3600, "dh_supply_temp", "start"),
        (5400, "dh_supply_temp", "end"),
        (9000, "fws_supply_temp", "start"),
        (9600, "fws_supply_temp", "end"),
    ]
    assert [e.value for e in scenario.events] == [850.0, -50.0]


def test_hx_fouling_ramps_and_stays() -> None:
    (event,) = load_scenario("hx-fouling").events
    assert isinstance(event, HxFouling)
    assert event.ua_factor_at(0) == 1.0
    assert event.ua_factor_at(event.at) == 1.0
    assert event.ua_factor_at(event.at + event.duration / 2) == pytest.approx(0.75)
    assert event.ua_factor_at(event.end) == 0.5
    assert event.ua_factor_at(3 * 86400) == 0.5


# ---------------------------------------------------------------- malformed files


def test_unknown_series_name(tmp_path: Path) -> None:
    path = write(tmp_path, "\n[series.dh_demnad]\nvalue = 900.0\n")
    problem = only_problem(path)
    assert problem.field == "series.dh_demnad"
    assert problem.line == 5
    assert "unknown series" in problem.message and "dh_demand" in problem.message


def test_non_increasing_times_name_the_point_and_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [series.dh_demand]
        points = [
            ["0h", 900.0],
            ["2h", 1000.0],
            ["1h", 1100.0],
        ]
        """,
    )
    problem = only_problem(path)
    assert problem.field == "series.dh_demand.points[2]"
    assert problem.line == 9
    assert "not after" in problem.message


def test_value_out_of_range(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [series.dh_supply_setpoint]
        points = [[0, 70.0], [60, 95.0]]

        [series.it_utilisation]
        value = 1.5
        """,
    )
    found = {p.field: p for p in problems_of(path)}
    assert set(found) == {"series.dh_supply_setpoint.points[1]", "series.it_utilisation.value"}
    assert found["series.dh_supply_setpoint.points[1]"].line == 6
    assert "50..90" in found["series.dh_supply_setpoint.points[1]"].message
    assert found["series.it_utilisation.value"].line == 9


def test_wrong_value_type_for_series(tmp_path: Path) -> None:
    path = write(tmp_path, "[series.network_available]\nvalue = 1.0\n")
    problem = only_problem(path)
    assert problem.field == "series.network_available.value"
    assert "true or false" in problem.message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("[series.dh_demand]\nvalue = 1.0\npoints = [[0, 1.0]]\n", "series.dh_demand"),
        ("[series.dh_demand]\nvalues = 1.0\n", "series.dh_demand.values"),
        ('[series.dh_demand]\nvalue = 1.0\ninterp = "step"\n', "series.dh_demand"),
        ('[series.dh_demand]\npoints = [[0, 1.0]]\ninterp = "cubic"\n', "series.dh_demand.interp"),
        (
            '[series.injection_enabled]\npoints = [[0, true]]\ninterp = "linear"\n',
            "series.injection_enabled.interp",
        ),
        ('[series.dh_demand]\npoints = [[0, 1.0], ["25h", 2.0]]\nrepeat = "1d"\n', None),
    ],
)
def test_malformed_series_tables(tmp_path: Path, body: str, field: str | None) -> None:
    problem = only_problem(write(tmp_path, body))
    assert problem.field == (field or "series.dh_demand.repeat")
    assert problem.line is not None and problem.line >= 4


def test_unknown_device_and_point_in_events(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[events]]
        kind = "sensor_stuck"
        at = "1h"
        device = "plc"
        point = "fws_suply_temp"

        [[events]]
        kind = "comms_loss"
        at = "1h"
        device = "cdu09"
        mode = "silent"

        [[events]]
        kind = "sensor_stuck"
        at = "1h"
        device = "heatpump"
        point = "running"
        """,
    )
    found = {p.field: p for p in problems_of(path)}
    assert found["events[0].point"].line == 9
    assert "fws_supply_temp" in found["events[0].point"].message  # lists what exists
    assert found["events[1].device"].line == 14
    assert "cdu01" in found["events[1].device"].message
    assert "not an analog" in found["events[2].point"].message
    assert len(found) == 3


def test_event_points_checked_against_the_given_register_map(tmp_path: Path) -> None:
    registers = tmp_path / "registers.toml"
    registers.write_text(
        textwrap.dedent(
            """
            [models.plc]
            [[models.plc.points]]
            name = "fws_supply_temp"
            table = "input"
            address = 0
            type = "int16"
            scale = 0.1
            unit = "CEL"
            range = [-20, 120]
            [devices.plc]
            model = "plc"
            unit_id = 20
            """
        ),
        encoding="utf-8",
    )
    body = '[[events]]\nkind = "comms_loss"\nat = 60\ndevice = "heatpump"\nmode = "silent"\n'
    path = write(tmp_path, body)
    load_scenario(path)  # the shipped map has a heat pump
    problem = problems_of(path, registers=registers)[0]
    assert problem.field == "events[0].device"


def test_out_of_range_value_must_be_out_of_range_and_sendable(tmp_path: Path) -> None:
    body = """
        [[events]]
        kind = "sensor_out_of_range"
        at = "1h"
        device = "plc"
        point = "dh_supply_temp"
        value = {value}
        """
    assert only_problem(write(tmp_path, body.format(value=70.0))).field == "events[0].value"
    assert "cannot be sent" in only_problem(write(tmp_path, body.format(value=5000.0))).message
    load_scenario(write(tmp_path, body.format(value=850.0)))


def test_unknown_event_kind(tmp_path: Path) -> None:
    path = write(tmp_path, '\n[[events]]\nkind = "meteor_strike"\nat = "1h"\n')
    problem = only_problem(path)
    assert problem.field == "events[0]"
    assert problem.line == 5
    assert "network_outage" in problem.message  # the accepted kinds are listed


def test_bad_time_string(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[events]]
        kind = "hp_trip"
        at = "2 hours"
        """,
    )
    problem = only_problem(path)
    assert problem.field == "events[0].at"
    assert problem.line == 7
    assert "90s" in problem.message


def test_bad_time_in_points_names_the_element_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[series.ambient_temp]\npoints = [\n  [0, 1.0],\n  ["1x", 2.0],\n]\n')
    problem = only_problem(path)
    assert problem.field == "series.ambient_temp.points[1][0]"
    assert problem.line == 7


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ('[[events]]\nkind = "hp_trip"\nat = "2h"\n', "events[0].at", "not before the end"),
        (
            '[[events]]\nkind = "hp_trip"\nat = "1h"\nduration = "2h"\n',
            "events[0].duration",
            "after the end",
        ),
        ('[[events]]\nkind = "hp_trip"\nat = "1h"\nduration = 0\n', "events[0].duration", ""),
        (
            '[[events]]\nkind = "pump_failure"\nat = "1h"\npump = "p1a"\n'
            '[[events]]\nkind = "pump_failure"\nat = "90m"\npump = "p1a"\n',
            "events[1]",
            "overlaps",
        ),
    ],
)
def test_event_timing_problems(tmp_path: Path, body: str, field: str, words: str) -> None:
    problem = only_problem(write(tmp_path, body))
    assert problem.field == field
    assert words in problem.message
    assert problem.line is not None


def test_toml_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "[series.dh_demand]\nvalue = = 3\n")
    problem = only_problem(path)
    assert problem.line == 5
    assert "TOML" in problem.message


def test_csv_bad_row_names_the_csv_line(tmp_path: Path) -> None:
    (tmp_path / "load.csv").write_text(
        "# header comment\nt,it_utilisation\n0,0.5\n10,0.6\n20,lots\n30,0.7\n",
        encoding="utf-8",
    )
    path = write(tmp_path, '[series.it_utilisation]\ncsv = "load.csv"\n')
    problem = only_problem(path)
    assert isinstance(problem, DataFileProblem)
    assert problem.line == 5
    assert problem.file == "load.csv"
    assert problem.field == "series.it_utilisation.csv"
    assert "load.csv line 5" in str(problem)


@pytest.mark.parametrize(
    ("csv_text", "line", "words"),
    [
        ("t,it_utilisation\n0,0.5\n10,1.7\n", 3, "outside"),
        ("t,it_utilisation\n0,0.5\n0,0.6\n", 3, "not after"),
        ("t,it_utilisation\n0,0.5\n10\n", 3, "cells"),
        ("t,load\n0,0.5\n", 1, "no column 'it_utilisation'"),
    ],
)
def test_csv_problems(tmp_path: Path, csv_text: str, line: int, words: str) -> None:
    (tmp_path / "load.csv").write_text(csv_text, encoding="utf-8")
    problem = only_problem(write(tmp_path, '[series.it_utilisation]\ncsv = "load.csv"\n'))
    assert problem.line == line
    assert words in problem.message


def test_missing_csv_file_names_the_toml_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[series.it_utilisation]\ncsv = "traces/gone.csv"\n')
    problem = only_problem(path)
    assert problem.field == "series.it_utilisation.csv"
    assert problem.line == 5
    assert "traces/gone.csv" in problem.message and "not found" in problem.message


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        dt = 0
        colour = "blue"

        [series.ambient_temp]
        value = 80.0

        [[events]]
        kind = "hp_trip"
        at = "soon"
        """,
    )
    fields = {p.field for p in problems_of(path)}
    assert fields == {"dt", "colour", "series.ambient_temp.value", "events[0].at"}
