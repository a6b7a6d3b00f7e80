"""Judge freshly read words: a usable value, or BAD with a reason a person can act on.

The poller and the ``probe`` tool must agree on what counts as a good reading,
otherwise an integrator checks a map with one rule and the plant runs on another.
"""

from __future__ import annotations

import math

from controller.config.registermap import Point
from controller.fieldbus.codec import decode, in_range, raw_value
from controller.fieldbus.signals import Quality


def hex_words(words: list[int] | tuple[int, ...]) -> str:
    return " ".join(f"0x{w & 0xFFFF:04X}" for w in words)


def assess(words: list[int] | tuple[int, ...], point: Point) -> tuple[float | None, Quality, str]:
    """Decode ``words`` and judge them: (value, quality, reason).

    A sentinel or NaN gives (None, BAD). A number outside the point's plausible
    range keeps the number (for diagnosis) but is BAD: a failed PT100 reading
    850 °C must never reach a control loop as a temperature.
    """
    try:
        value = decode(words, point)
    except ValueError as exc:
        return None, Quality.BAD, f"undecodable: {exc}"
    if value is None:
        raw = raw_value(words, point)
        if isinstance(raw, float) and not math.isfinite(raw):
            return None, Quality.BAD, f"not available ({raw}, words {hex_words(words)})"
        return None, Quality.BAD, f"not available (sentinel {hex_words(words)})"
    if not in_range(value, point):
        lo, hi = point.range or (0.0, 0.0)
        unit = f" {point.unit_symbol}" if point.unit_symbol else ""
        return (
            value,
            Quality.BAD,
            f"implausible: {value:g}{unit} outside [{lo:g}, {hi:g}]",
        )
    return value, Quality.GOOD, ""
