"""Encode and decode register words for a point of the register map.

Both the controller (reading the plant) and the simulator (serving it) use these
functions, so a word-order or scale mistake shows up on both sides at once and the
golden-word tests pin it down.
"""

from __future__ import annotations

import math
import struct

from controller.config.registermap import DataType, Point, WordOrder


class EncodeError(ValueError):
    """An engineering value cannot be written to a point (range or type)."""


def _words_to_raw(words: list[int] | tuple[int, ...], point: Point) -> int | float:
    t = point.type
    if t is DataType.BOOL:
        return 1 if words[0] else 0
    if t is DataType.UINT16:
        return words[0] & 0xFFFF
    if t is DataType.INT16:
        w = words[0] & 0xFFFF
        return w - 0x10000 if w & 0x8000 else w
    hi, lo = (words[0], words[1]) if point.word_order is WordOrder.BIG else (words[1], words[0])
    packed = struct.pack(">HH", hi & 0xFFFF, lo & 0xFFFF)
    if t is DataType.UINT32:
        return int(struct.unpack(">I", packed)[0])
    if t is DataType.INT32:
        return int(struct.unpack(">i", packed)[0])
    return float(struct.unpack(">f", packed)[0])


def raw_value(words: list[int] | tuple[int, ...], point: Point) -> int | float:
    """The raw number held in the words, before scale and offset."""
    if len(words) != point.words:
        raise ValueError(f"{point.name}: expected {point.words} word(s), got {len(words)}")
    return _words_to_raw(words, point)


def decode(words: list[int] | tuple[int, ...], point: Point) -> float | None:
    """Engineering value of the words, or None when the device says "not available".

    None covers the type's sentinels and NaN/infinity. Plausibility against the
    point's range is a separate judgement (``in_range``) because a stuck-high value
    is still a number the integrator wants to see in ``probe``.
    """
    raw = raw_value(words, point)
    if isinstance(raw, float):
        if not math.isfinite(raw):
            return None
    elif raw in point.sentinels:
        return None
    return raw * point.scale + point.offset


def in_range(value: float, point: Point) -> bool:
    if point.range is None:
        return True
    lo, hi = point.range
    return lo <= value <= hi


def encode(value: float, point: Point, *, check_range: bool = True) -> list[int]:
    """Register words for an engineering value; raise EncodeError if it cannot be sent."""
    if not math.isfinite(value):
        raise EncodeError(f"{point.name}: value {value} is not a finite number")
    if check_range and not in_range(value, point):
        lo, hi = point.range or (0, 0)
        raise EncodeError(f"{point.name}: {value:g} outside allowed range [{lo:g}, {hi:g}]")
    raw = (value - point.offset) / point.scale
    t = point.type
    if t is DataType.FLOAT32:
        hi, lo = struct.unpack(">HH", struct.pack(">f", raw))
    else:
        iraw = round(raw)
        rlo, rhi = t.raw_limits
        if not rlo <= iraw <= rhi:
            raise EncodeError(f"{point.name}: {value:g} does not fit {t} (raw {iraw})")
        if t is DataType.BOOL:
            return [1 if iraw else 0]
        if t in (DataType.UINT16, DataType.INT16):
            return [iraw & 0xFFFF]
        fmt = ">I" if t is DataType.UINT32 else ">i"
        hi, lo = struct.unpack(">HH", struct.pack(fmt, iraw))
    return [hi, lo] if point.word_order is WordOrder.BIG else [lo, hi]
