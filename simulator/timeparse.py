"""Times in scenario files, written the way people think about a plant day.

Scenario authors place events "at 2h" or "at 06:30" and repeat patterns "every
1d"; plain seconds are accepted too so generated files need no formatting. Every
time is an offset from the scenario's start, never a wall-clock time of day:
"06:30" means six and a half hours into the run. A scenario that starts at
midnight (as all shipped ones do) makes the two coincide, which is why the
clock form is offered at all.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
# Components in descending order, each at most once: "1d6h", "2h30m", "1.5h", "90s".
_DURATION = re.compile(
    r"^(?:(?P<d>\d+(?:\.\d+)?)d)?\s*(?:(?P<h>\d+(?:\.\d+)?)h)?\s*"
    r"(?:(?P<m>\d+(?:\.\d+)?)m)?\s*(?:(?P<s>\d+(?:\.\d+)?)s)?$"
)
# Clock form: hours may exceed 23 ("36:00" is a day and a half in).
_CLOCK = re.compile(r"^(?P<h>\d+):(?P<m>[0-5]\d)(?::(?P<s>[0-5]\d(?:\.\d+)?))?$")

TIME_FORMS = "seconds (number) or a string like '90s', '15m', '2h', '1d6h', 'HH:MM' or 'HH:MM:SS'"


def parse_time(value: Any) -> float:
    """Seconds since scenario start; ValueError (with the accepted forms) otherwise.

    Booleans are refused although Python treats them as ints: ``at = true`` is a
    typo, not one second.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a time, got a boolean; use {TIME_FORMS}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value.strip())
    else:
        raise ValueError(f"expected a time, got {type(value).__name__}; use {TIME_FORMS}")
    if not math.isfinite(seconds):
        raise ValueError(f"time must be finite, got {value!r}")
    if seconds < 0:
        raise ValueError(f"time must not be negative, got {value!r}")
    return seconds


def _parse_text(text: str) -> float:
    clock = _CLOCK.match(text)
    if clock:
        return int(clock["h"]) * 3600.0 + int(clock["m"]) * 60.0 + float(clock["s"] or 0)
    match = _DURATION.match(text)
    if text and match:
        return sum(float(match[u]) * f for u, f in _UNIT_SECONDS.items() if match[u] is not None)
    raise ValueError(f"cannot read {text!r} as a time; use {TIME_FORMS}")


def format_time(seconds: float) -> str:
    """Render seconds in the file syntax, so messages quote times as authors wrote them."""
    if seconds != int(seconds):
        return f"{seconds:g}s"
    rest = int(seconds)
    out = ""
    for unit, size in _UNIT_SECONDS.items():
        count, rest = divmod(rest, int(size))
        if count:
            out += f"{count}{unit}"
    return out or "0s"


Seconds = Annotated[float, BeforeValidator(parse_time)]
"""A pydantic field type accepting every time form above, stored as float seconds."""
