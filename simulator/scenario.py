"""Scenario files: the boundary conditions and faults a simulation run is judged on.

A scenario is data, not code, so a plant engineer can write a new test day without
touching Python, and a typo must be caught at load time with the field and line
it sits on rather than surface hours into a run as an odd result. Loading is
all-or-nothing: every problem found is reported together and nothing is returned
half-built.

File layout (times accept seconds or "90s", "15m", "2h", "1d6h", "HH:MM",
"HH:MM:SS", always counted from the scenario's start; see ``simulator.timeparse``)::

    name = "winter-steady"
    description = "what it tests and what a good controller does"
    duration = "24h"
    dt = 1.0            # plant step in seconds (default 1)
    seed = 42           # sensor noise (default 0)

    [initial]           # optional
    tank_soc = 0.5      # 0..1, default 0.5
    hp_running = false  # default false: from cold (heat pump off, PLC power-on
                        # outputs, local program until the controller's heartbeat);
                        # true: from a steady operating point (simulator.plant)
    fws_supply_temp = 35.0  # °C, default: left to the plant

    [series.ambient_temp]           # any of series.SERIES; absent ones take defaults
    points = [[0, -8.0], ["15:00", 2.0]]
    interp = "linear"               # or "step" (bool series are always step)
    repeat = "1d"                   # optional: pattern period

    [series.it_utilisation]
    csv = "traces/ai-training.csv"  # relative to this file; column "t" in seconds
    column = "it_utilisation"       # default: the series name

    [[events]]
    kind = "network_outage"
    at = "2h"
    duration = "2h"                 # omitted: until the end of the run
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, StrictBool, StrictInt, ValidationError

from controller.config.registermap import DataType, RegisterMap, Table, load_register_map
from controller.config.strictmodel import StrictModel
from controller.config.tomlfile import (
    ConfigError,
    ConfigProblem,
    format_loc,
    json_text,
    line_of,
    locate_lines,
    problems_from_validation,
    read_toml,
)
from simulator.events import (
    CommsLoss,
    Event,
    EventTimeline,
    HxFouling,
    NetworkOutage,
    PositiveSeconds,
    PumpFailure,
    SensorOutOfRange,
    SensorStuck,
)
from simulator.series import (
    INF,
    SERIES,
    Boundary,
    BoundarySampler,
    Series,
    SeriesSpec,
    check_value,
    read_csv_trace,
)
from simulator.timeparse import Seconds, format_time

__all__ = [
    "Boundary",
    "BoundarySampler",
    "Event",
    "EventTimeline",
    "Scenario",
    "list_scenarios",
    "load_scenario",
]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
DEFAULT_REGISTERS = PROJECT_ROOT / "config" / "registers.toml"

# ---------------------------------------------------------------- the scenario


class Initial(StrictModel):
    """Plant state at t = 0: a steady operating point (``hp_running``) or cold.

    A fault scenario starts in steady recovery so the fault, not the start, is judged;
    a cold start is the PLC's power-on state with the heat pump off.
    """

    tank_soc: Annotated[float, Field(ge=0, le=1)] = 0.5
    hp_running: StrictBool = False
    fws_supply_temp: Annotated[float, Field(ge=5, le=60)] | None = None


class _ScenarioFile(StrictModel):
    """Everything but ``series``, which is checked per name by ``_build_series``."""

    name: Annotated[str, Field(min_length=1)]
    description: Annotated[str, Field(min_length=1)]
    duration: PositiveSeconds
    dt: Annotated[Seconds, Field(gt=0, le=60)] = 1.0
    seed: Annotated[StrictInt, Field(ge=0)] = 0
    initial: Initial = Initial()
    events: list[Event] = Field(default_factory=list)


@dataclass(frozen=True, eq=False)
class Scenario:
    """A checked, compiled scenario; immutable, so one load can feed many runs."""

    name: str
    description: str
    duration: float
    dt: float
    seed: int
    initial: Initial
    series: dict[str, Series]  # all of SERIES, defaults filled in
    events: list[Event]  # sorted by start time (file order among equal times)
    path: Path | None = None

    @property
    def steps(self) -> int:
        return math.ceil(self.duration / self.dt - 1e-9)

    def sampler(self) -> BoundarySampler:
        outages = [(e.at, e.end or INF) for e in self.events if isinstance(e, NetworkOutage)]
        return BoundarySampler(self.series, outages)

    def timeline(self) -> EventTimeline:
        return EventTimeline(self.events)


def list_scenarios(directory: Path | None = None) -> list[str]:
    """Scenario names of a site's ``scenarios/`` folder (default: the shipped ones)."""
    return sorted(p.stem for p in (directory or SCENARIO_DIR).glob("*.toml"))


def scenario_path(path_or_name: str | Path, directory: Path | None = None) -> Path:
    """A bare name means a scenario of ``directory`` (a site's scenarios; default the
    shipped ones); anything path-like is taken as a path."""
    text = str(path_or_name)
    if isinstance(path_or_name, Path) or "/" in text or "\\" in text or text.endswith(".toml"):
        return Path(path_or_name)
    where = directory or SCENARIO_DIR
    path = where / f"{text}.toml"
    if not path.is_file():
        known = ", ".join(list_scenarios(where))
        raise ConfigError(path, [ConfigProblem("", None, f"no scenario {text!r}; known: {known}")])
    return path


def load_scenario(
    path_or_name: str | Path,
    registers: str | Path | None = None,
    directory: Path | None = None,
) -> Scenario:
    """Load, check and compile a scenario; ConfigError lists every problem with its line.

    Events are checked against ``registers``, the register map of the site the
    scenario runs on (default: the reference site's); names are looked up in
    ``directory`` (default: the shipped scenarios).
    """
    path = scenario_path(path_or_name, directory)
    data, text = read_toml(path)
    index = locate_lines(text)
    _index_array_elements(text, index)
    problems: list[ConfigProblem] = []

    raw_series = data.pop("series", {})
    if not isinstance(raw_series, dict):
        problems.append(ConfigProblem("series", line_of(index, ("series",)), "expected tables"))
        raw_series = {}
    series = {name: Series.constant(name, info.default) for name, info in SERIES.items()}
    csv_cache: dict[Path, Any] = {}
    for name, raw in raw_series.items():
        built, found = _build_series(name, raw, index, path.parent, csv_cache)
        problems += found
        if built is not None:
            series[name] = built

    head: _ScenarioFile | None = None
    try:
        head = _ScenarioFile.model_validate_json(json_text(data)[0], strict=True)
    except ValidationError as exc:
        problems += _head_problems(exc, data, index)
    if head is not None:
        problems += _check_events(head, index, Path(registers or DEFAULT_REGISTERS))
    if problems or head is None:
        raise ConfigError(path, problems)
    return Scenario(
        name=head.name,
        description=head.description.strip(),
        duration=head.duration,
        dt=head.dt,
        seed=head.seed,
        initial=head.initial,
        series=series,
        events=sorted(head.events, key=lambda e: e.at),
        path=path,
    )


def _head_problems(exc: ValidationError, data: Any, index: dict[Any, int]) -> list[ConfigProblem]:
    """problems_from_validation, minus pydantic's union tags in the error locations.

    A discriminated union puts the tag ("hp_trip") in the location although the file
    has no such key, which would misname the field and lose its line. A location part
    is that tag when the table at that point has it as its ``kind``.
    """
    problems = []
    for problem, err in zip(
        problems_from_validation(exc, index), exc.errors(include_url=False), strict=True
    ):
        node: Any = data
        loc: list[Any] = []
        for part in err["loc"]:
            if isinstance(node, dict) and part not in node and node.get("kind") == part:
                continue  # the tag
            loc.append(part)
            ok = (isinstance(node, dict) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            )
            node = node[part] if ok else None
        problems.append(ConfigProblem(format_loc(loc), line_of(index, tuple(loc)), problem.message))
    return problems


def _problem(index: dict[tuple[Any, ...], int], loc: tuple[Any, ...], msg: str) -> ConfigProblem:
    return ConfigProblem(format_loc(loc), line_of(index, loc), msg)


def _build_series(
    name: str, raw: Any, index: dict[tuple[Any, ...], int], base: Path, cache: dict[Path, Any]
) -> tuple[Series | None, list[ConfigProblem]]:
    loc: tuple[Any, ...] = ("series", name)
    info = SERIES.get(name)
    if info is None:
        return None, [_problem(index, loc, f"unknown series; known: {', '.join(SERIES)}")]
    if not isinstance(raw, dict):
        return None, [_problem(index, loc, "expected a table ([series.<name>])")]
    try:
        spec = SeriesSpec.model_validate_json(json_text(raw)[0], strict=True)
    except ValidationError as exc:
        return None, problems_from_validation(exc, index, loc)
    if info.kind == "bool" and spec.interp == "linear":
        return None, [_problem(index, (*loc, "interp"), "a true/false series can only step")]
    problems: list[ConfigProblem] = []
    if spec.value is not None:
        why = check_value(info, spec.value)
        if why:
            return None, [_problem(index, (*loc, "value"), why)]
        return Series.constant(name, spec.value, source="value"), []
    times: list[float] = []
    values: list[Any] = []
    if spec.points is not None:
        source = "points"
        for i, (t, v) in enumerate(spec.points):
            why = check_value(info, v)
            if why is None and times and t <= times[-1]:
                why = (
                    f"time {format_time(t)} is not after {format_time(times[-1])} (points[{i - 1}])"
                )
            if why:
                problems.append(_problem(index, (*loc, "points", i), why))
            times.append(t)
            values.append(v)
    else:
        assert spec.csv is not None
        source = f"csv:{spec.csv}"
        times, values, found = read_csv_trace(
            base / spec.csv,
            spec.column or name,
            info,
            shown=spec.csv,
            field=format_loc((*loc, "csv")),
            cache=cache,
            toml_line=line_of(index, (*loc, "csv")),
        )
        problems += found
    if spec.repeat is not None and times and times[-1] >= spec.repeat:
        problems.append(
            _problem(
                index,
                (*loc, "repeat"),
                f"pattern reaches {format_time(times[-1])}, not shorter than its period "
                f"{format_time(spec.repeat)}",
            )
        )
    if problems:
        return None, problems
    step = (spec.interp or ("step" if info.kind == "bool" else "linear")) == "step"
    return Series(name, tuple(times), tuple(values), step, spec.repeat, source), []


def _check_events(
    head: _ScenarioFile, index: dict[tuple[Any, ...], int], registers: Path
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    register_map = None
    claimed: dict[tuple[str, ...], list[tuple[int, float, float]]] = {}
    for i, event in enumerate(head.events):
        loc = ("events", i)
        if event.at >= head.duration:
            msg = f"starts at {format_time(event.at)}, not before the end of the run"
            problems.append(_problem(index, (*loc, "at"), msg))
        elif event.end is not None and event.end > head.duration + 1e-9:
            msg = (
                f"ends at {format_time(event.end)}, after the end {format_time(head.duration)}; "
                "omit duration for 'until the end'"
            )
            problems.append(_problem(index, (*loc, "duration"), msg))
        if isinstance(event, SensorStuck | SensorOutOfRange | CommsLoss):
            register_map = register_map or _register_map(registers)
            problems += _check_point(event, register_map, index, loc)
        # Two events acting on the same thing at once have no defined meaning.
        target = _target(event)
        end = INF if isinstance(event, HxFouling) else (event.end or INF)
        for j, other_at, other_end in claimed.get(target, []):
            if event.at < other_end and other_at < end:
                msg = f"overlaps events[{j}] acting on the same {' '.join(target)}"
                problems.append(_problem(index, loc, msg))
        claimed.setdefault(target, []).append((i, event.at, end))
    return problems


def _target(event: Event) -> tuple[str, ...]:
    if isinstance(event, SensorStuck | SensorOutOfRange):
        return ("sensor", event.device, event.point)
    if isinstance(event, CommsLoss):
        return ("device", event.device)
    if isinstance(event, PumpFailure):
        return ("pump", event.pump)
    if isinstance(event, HxFouling):
        return ("exchanger", event.exchanger)
    return (event.kind,)


def _check_point(
    event: SensorStuck | SensorOutOfRange | CommsLoss,
    register_map: RegisterMap,
    index: dict[tuple[Any, ...], int],
    loc: tuple[Any, ...],
) -> list[ConfigProblem]:
    if event.device not in register_map.devices:
        known = ", ".join(register_map.devices)
        return [
            _problem(index, (*loc, "device"), f"unknown device {event.device!r}; known: {known}")
        ]
    if isinstance(event, CommsLoss):
        return []
    try:
        point = register_map.point(event.device, event.point)
    except KeyError:
        names = ", ".join(p.name for p in register_map.points_of(event.device))
        msg = f"device {event.device!r} has no point {event.point!r}; it has: {names}"
        return [_problem(index, (*loc, "point"), msg)]
    if point.table not in (Table.INPUT, Table.HOLDING) or point.type is DataType.BOOL:
        msg = f"{event.device}.{event.point} is a {point.table} {point.type}, not an analog reading"
        return [_problem(index, (*loc, "point"), msg)]
    if point.writable:
        msg = f"{event.device}.{event.point} is a command register, not a measurement"
        return [_problem(index, (*loc, "point"), msg)]
    if isinstance(event, SensorOutOfRange):
        lo, hi = sorted(x * point.scale + point.offset for x in point.type.raw_limits)
        if not lo <= event.value <= hi:
            msg = f"{event.value:g} cannot be sent as {point.type} (limits {lo:g}..{hi:g})"
            return [_problem(index, (*loc, "value"), msg)]
        if point.range is not None and point.range[0] <= event.value <= point.range[1]:
            msg = (
                f"{event.value:g} lies inside the plausible range {point.range[0]:g}.."
                f"{point.range[1]:g} of {event.device}.{event.point}: that is a wrong reading, "
                "not an out-of-range one"
            )
            return [_problem(index, (*loc, "value"), msg)]
    return []


@lru_cache(maxsize=4)
def _cached_register_map(path: Path, stamp: tuple[int, int]) -> RegisterMap:
    return load_register_map(path)


def _register_map(path: Path) -> RegisterMap:
    """The register map, reloaded only when the file changes (tests load many scenarios)."""
    try:
        st = path.stat()
    except OSError:
        return load_register_map(path)  # raises the ConfigError naming the missing file
    return _cached_register_map(path.resolve(), (st.st_mtime_ns, st.st_size))


def _index_array_elements(text: str, index: dict[tuple[Any, ...], int]) -> None:
    """Add the line of each element of every inline array to the locate_lines index.

    Without this, a bad ``points`` entry would be reported at the ``points =`` line,
    which in a 40-line array is little help.
    """
    lines = text.splitlines()
    for path, lineno in list(index.items()):
        line = lines[lineno - 1]
        if line.lstrip().startswith("[") or "=" not in line:
            continue  # a table header, not a key
        for i, element_line in enumerate(_element_lines(lines, lineno - 1, line.index("=") + 1)):
            index.setdefault((*path, i), element_line)


def _element_lines(lines: list[str], row: int, col: int) -> list[int]:
    found: list[int] = []
    depth, expecting, quote = 0, False, ""
    for r in range(row, len(lines)):
        line, c = lines[r], (col if r == row else 0)
        while c < len(line):
            ch = line[c]
            if quote:
                if ch == "\\" and quote == '"':
                    c += 1
                elif ch == quote:
                    quote = ""
            elif ch == "#":
                break
            elif depth == 0 and not ch.isspace():
                if ch != "[":
                    return found  # the value is not an array
                depth, expecting = 1, True
            elif depth > 0:
                if depth == 1 and expecting and not ch.isspace() and ch not in ",]":
                    found.append(r + 1)
                    expecting = False
                if ch in "\"'":
                    quote = ch
                elif ch in "[{":
                    depth += 1
                elif ch in "]}":
                    depth -= 1
                    if depth == 0:
                        return found
                elif ch == "," and depth == 1:
                    expecting = True
            c += 1
    return found
