"""Boundary time series: what the world outside the plant does, second by second.

The plant physics asks for the boundary every simulated second, so a year-long
study makes tens of millions of look-ups. Series are therefore compiled once into
segments (``value = a + k * t`` on ``[lo, hi)``) and sampled through closures that
keep a cursor: for the usual forward-marching clock a look-up is one range test
and one multiply-add, and only a jump (or the wrap of a repeated pattern) pays for
a bisection. ``Series.value_at`` is the plain bisecting reference the cursor is
tested against.
"""

from __future__ import annotations

import csv
import math
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from controller.config.strictmodel import StrictModel
from controller.config.tomlfile import ConfigProblem
from simulator.timeparse import Seconds, parse_time

INF = math.inf
Value = float | bool


@dataclass(frozen=True)
class SeriesInfo:
    """What a boundary series means and which values are physically credible."""

    kind: Literal["number", "bool"]
    default: Value
    unit: str
    meaning: str
    lo: float = -INF
    hi: float = INF


# Ranges are the envelope of credible inputs, not of normal operation: a value outside
# is a typo in the scenario, and catching it at load time beats a silly run.
SERIES: dict[str, SeriesInfo] = {
    "it_utilisation": SeriesInfo(
        "number", 0.8, "1", "IT power as a fraction of nameplate (1.1 allows boost)", 0.0, 1.1
    ),
    "ambient_temp": SeriesInfo("number", 5.0, "°C", "outdoor air at the dry coolers", -40.0, 55.0),
    "dh_demand": SeriesInfo(
        "number", 1000.0, "kW", "heat the utility asks for (dhi.heat_demand range)", 0.0, 50000.0
    ),
    "dh_supply_setpoint": SeriesInfo(
        "number", 70.0, "°C", "supply temperature the utility asks for", 50.0, 90.0
    ),
    "dh_return_temp": SeriesInfo(
        "number", 40.0, "°C", "water coming back from the network", 20.0, 70.0
    ),
    "network_available": SeriesInfo("bool", True, "", "network can take heat"),
    "injection_enabled": SeriesInfo("bool", True, "", "utility permits injection"),
}


@dataclass(frozen=True)
class DataFileProblem(ConfigProblem):
    """A problem whose line number is in a data file (a CSV trace), not in the TOML."""

    file: str = ""

    def __str__(self) -> str:
        return f"{self.file} line {self.line}: {self.field}: {self.message}"


class SeriesSpec(StrictModel):
    """One ``[series.<name>]`` table, before its values are checked for that series."""

    value: bool | float | None = None
    points: list[tuple[Seconds, bool | float]] | None = Field(default=None, min_length=1)
    csv: str | None = None
    column: str | None = None
    interp: Literal["linear", "step"] | None = None
    repeat: Seconds | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        given = [k for k in ("value", "points", "csv") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'value', 'points' or 'csv'"
                + (f" (found {', '.join(given)})" if given else "")
            )
        if self.column is not None and self.csv is None:
            raise ValueError("'column' only applies to a 'csv' series")
        if self.value is not None and (self.interp is not None or self.repeat is not None):
            raise ValueError("'interp' and 'repeat' only apply to 'points' or 'csv' series")
        if self.repeat is not None and self.repeat <= 0:
            raise ValueError("'repeat' must be a positive period")
        return self


def check_value(info: SeriesInfo, value: Any) -> str | None:
    """Why ``value`` cannot be a sample of the series, or None if it can."""
    if info.kind == "bool":
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a number, got {value!r}"
    if not math.isfinite(value):
        return f"expected a finite number, got {value!r}"
    if not info.lo <= value <= info.hi:
        return f"{value:g} {info.unit} is outside the credible range {info.lo:g}..{info.hi:g}"
    return None


# ---------------------------------------------------------------- compiled series


@dataclass(frozen=True)
class Series:
    """A series ready to sample: breakpoints, interpolation, optional repeat period."""

    name: str
    times: tuple[float, ...]
    values: tuple[Value, ...]
    step: bool
    period: float | None = None
    source: str = "default"

    @classmethod
    def constant(cls, name: str, value: Value, source: str = "default") -> Series:
        return cls(name, (0.0,), (value,), step=True, source=source)

    @cached_property
    def _segments(self) -> tuple[list[float], list[float], list[float], list[Value]]:
        """Bounds (len n+1, -inf..inf), intercepts, slopes and step values of n segments."""
        ts, vs, period = list(self.times), list(self.values), self.period
        if self.step:
            if period is None:  # before the first point its value holds
                return [-INF, *ts[1:], INF], [], [], vs
            return [-INF, *ts, INF], [], [], [vs[-1], *vs]  # wraps from the previous period
        if period is None:
            knots_t, knots_v = [ts[0] - 1.0, *ts, ts[-1] + 1.0], [vs[0], *vs, vs[-1]]
        else:  # interpolate across the wrap: last point -> first point of the next period
            knots_t = [ts[-1] - period, *ts, ts[0] + period]
            knots_v = [vs[-1], *vs, vs[0]]
        bounds, intercepts, slopes = [-INF, *ts, INF], [], []
        for j in range(len(knots_t) - 1):
            t0, t1, v0, v1 = knots_t[j], knots_t[j + 1], float(knots_v[j]), float(knots_v[j + 1])
            k = (v1 - v0) / (t1 - t0)
            slopes.append(k)
            intercepts.append(v0 - k * t0)
        return bounds, intercepts, slopes, []

    def value_at(self, t: float) -> Value:
        """Reference look-up by bisection; the cursor must agree with it everywhere."""
        if self.period is not None:
            t %= self.period
        bounds, intercepts, slopes, values = self._segments
        i = bisect_right(bounds, t) - 1
        return values[i] if self.step else intercepts[i] + slopes[i] * t

    def cursor(self) -> Callable[[float], Value]:
        """A fast sampler with its own cursor (one per consumer: it is stateful)."""
        bounds, intercepts, slopes, values = self._segments
        if len(bounds) == 2 or len(set(self.values)) == 1:
            only = self.values[0]
            return lambda t: only
        if self.step:
            return _step_cursor(bounds, values, self.period)
        return _linear_cursor(bounds, intercepts, slopes, self.period)


def _linear_cursor(
    bounds: list[float], intercepts: list[float], slopes: list[float], period: float | None
) -> Callable[[float], float]:
    i, lo, hi, a, k = 0, bounds[0], bounds[1], intercepts[0], slopes[0]

    def sample(t: float) -> float:
        nonlocal i, lo, hi, a, k
        if period is not None:
            t %= period
        if t < lo or t >= hi:
            # hi is finite here when t >= hi, so bounds[i + 2] exists.
            i = i + 1 if hi <= t < bounds[i + 2] else bisect_right(bounds, t) - 1
            lo, hi, a, k = bounds[i], bounds[i + 1], intercepts[i], slopes[i]
        return a + k * t

    return sample


def _step_cursor(
    bounds: list[float], values: list[Value], period: float | None
) -> Callable[[float], Value]:
    i, lo, hi, v = 0, bounds[0], bounds[1], values[0]

    def sample(t: float) -> Value:
        nonlocal i, lo, hi, v
        if period is not None:
            t %= period
        if t < lo or t >= hi:
            i = i + 1 if hi <= t < bounds[i + 2] else bisect_right(bounds, t) - 1
            lo, hi, v = bounds[i], bounds[i + 1], values[i]
        return v

    return sample


# ---------------------------------------------------------------- boundary sampling


@dataclass(slots=True)
class Boundary:
    """The outside world at one instant, as the plant physics consumes it."""

    it_utilisation: float
    ambient_temp: float
    dh_demand: float
    dh_supply_setpoint: float
    dh_return_temp: float
    network_available: bool
    injection_enabled: bool


class BoundarySampler:
    """Samples all boundary series at once; cheapest when t only moves forward.

    ``sample`` is a closure built at construction, not a method, because closure
    cells are faster to reach than attributes and this runs every simulated second.
    Each sampler has its own cursors: create one per simulation run.
    """

    __slots__ = ("sample",)

    def __init__(
        self, series: Mapping[str, Series], outages: Sequence[tuple[float, float]] = ()
    ) -> None:
        util, amb, dem, setp, ret, net_base, inj = (series[n].cursor() for n in SERIES)
        net = net_base
        if outages:
            # An outage window is a step series "network forced off"; merge overlaps first.
            outage = _windows_series(outages).cursor()

            def net(t: float) -> bool:
                return bool(net_base(t)) and not outage(t)

        def sample(t: float) -> Boundary:
            return Boundary(util(t), amb(t), dem(t), setp(t), ret(t), bool(net(t)), bool(inj(t)))

        self.sample: Callable[[float], Boundary] = sample


def _windows_series(windows: Sequence[tuple[float, float]]) -> Series:
    """A step series that is True inside any window; overlapping windows merge."""
    merged: list[list[float]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    points: dict[float, Value] = {0.0: False}  # a window at 0 overwrites the initial False
    for start, end in merged:
        points[start] = True
        if end != INF:
            points[end] = False
    return Series("outage", tuple(points), tuple(points.values()), step=True, source="events")


# ---------------------------------------------------------------- CSV traces


def read_csv_trace(
    path: Path,
    column: str,
    info: SeriesInfo,
    *,
    shown: str,
    field: str,
    cache: dict[Path, Any],
    toml_line: int | None = None,
) -> tuple[list[float], list[Value], list[ConfigProblem]]:
    """Times and values of one column of a trace; problems carry CSV line numbers.

    Lines starting with ``#`` are comments (provenance of recorded or generated data).
    At most a handful of bad rows are reported: a wholly broken file is one mistake.
    """
    rows = cache.get(path)
    if rows is None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            reason = "file not found" if isinstance(exc, FileNotFoundError) else str(exc)
            return [], [], [ConfigProblem(field, toml_line, f"{shown}: {reason}")]
        lines = [(n, s) for n, s in enumerate(text.splitlines(), 1) if s.strip()]
        rows = [(n, next(csv.reader([s]))) for n, s in lines if not s.lstrip().startswith("#")]
        cache[path] = rows
    if not rows:
        return [], [], [DataFileProblem(field, 1, "no header row", file=shown)]
    header_line, header = rows[0]
    header = [h.strip() for h in header]
    problems: list[ConfigProblem] = []
    for needed in ("t", column):
        if needed not in header:
            problems.append(
                DataFileProblem(
                    field, header_line, f"no column {needed!r} (header: {header})", file=shown
                )
            )
    if problems:
        return [], [], problems
    t_col, v_col = header.index("t"), header.index(column)
    times: list[float] = []
    values: list[Value] = []
    for lineno, cells in rows[1:]:
        if len(problems) >= 5:
            problems.append(DataFileProblem(field, lineno, "further rows not checked", file=shown))
            break
        try:
            if len(cells) != len(header):
                raise ValueError(f"{len(cells)} cells, header has {len(header)}")
            t_cell = cells[t_col].strip()
            try:
                t = parse_time(float(t_cell))
            except ValueError:
                t = parse_time(t_cell)
            v = _csv_value(info, cells[v_col].strip())
            if times and t <= times[-1]:
                raise ValueError(f"time {t:g} s is not after the previous row's {times[-1]:g} s")
        except ValueError as exc:
            problems.append(DataFileProblem(field, lineno, str(exc), file=shown))
            continue
        times.append(t)
        values.append(v)
    if not times and not problems:
        problems.append(DataFileProblem(field, header_line, "no data rows", file=shown))
    return times, values, problems


def _csv_value(info: SeriesInfo, cell: str) -> Value:
    if info.kind == "bool":
        lowered = cell.lower()
        if lowered in ("1", "true"):
            return True
        if lowered in ("0", "false"):
            return False
        raise ValueError(f"expected 0/1/true/false, got {cell!r}")
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f"expected a number, got {cell!r}") from None
    problem = check_value(info, value)
    if problem:
        raise ValueError(problem)
    return value
