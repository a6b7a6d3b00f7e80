"""Golden register words for every data type, and round trips for every mapped point.

A word swap turns -221 W into -14 417.9 kW (evcc-io/evcc#31591); these words are
written out by hand from the Modbus/IEEE 754 definitions, and float32 words are
also checked against pymodbus's own converter as an independent oracle.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from modbus_helpers import shipped_map
from pymodbus.client import AsyncModbusTcpClient

from controller.config.registermap import DataType, Point, WordOrder
from controller.fieldbus.codec import EncodeError, decode, encode, in_range, raw_value


def pt(type_: str, **kw: Any) -> Point:
    table = "coil" if type_ == "bool" and kw.pop("bit", False) else "holding"
    return Point(name="p", table=table, address=0, type=type_, **kw)


GOLDEN = [
    # (point, engineering value, words)
    (pt("bool"), 1.0, [0x0001]),
    (pt("bool"), 0.0, [0x0000]),
    (pt("bool", bit=True), 1.0, [1]),
    (pt("uint16"), 4660.0, [0x1234]),
    (pt("uint16", scale=0.1), 56.7, [0x0237]),
    (pt("uint16", scale=0.5, offset=-40), 10.0, [0x0064]),
    (pt("int16"), -1.0, [0xFFFF]),  # -1 is a number, only 0x8000 is "not available"
    (pt("int16"), -32767.0, [0x8001]),
    (pt("int16", scale=0.1), -12.5, [0xFF83]),
    (pt("int16", scale=0.1), 85.3, [0x0355]),
    (pt("uint32"), 305419896.0, [0x1234, 0x5678]),
    (pt("uint32", word_order="little"), 305419896.0, [0x5678, 0x1234]),
    (pt("uint32", scale=0.01), 1234.56, [0x0001, 0xE240]),
    (pt("int32"), -2.0, [0xFFFF, 0xFFFE]),
    (pt("int32", word_order="little"), -2.0, [0xFFFE, 0xFFFF]),
    (pt("int32"), -100000.0, [0xFFFE, 0x7960]),
    (pt("float32"), 3.14159, [0x4049, 0x0FD0]),
    (pt("float32", word_order="little"), 3.14159, [0x0FD0, 0x4049]),
    (pt("float32"), -12.5, [0xC148, 0x0000]),
    (pt("float32", word_order="little"), -221.0, [0x0000, 0xC35D]),
    (pt("float32", scale=0.001), 1.5, [0x44BB, 0x8000]),  # raw 1500.0
]


@pytest.mark.parametrize(("point", "value", "words"), GOLDEN)
def test_golden_words(point: Point, value: float, words: list[int]) -> None:
    assert encode(value, point) == words
    decoded = decode(words, point)
    assert decoded is not None
    if point.type is DataType.FLOAT32:
        assert decoded == pytest.approx(value, rel=1e-6)
    else:
        assert decoded == pytest.approx(value, abs=1e-9)


@pytest.mark.parametrize("order", ["big", "little"])
@pytest.mark.parametrize("value", [3.14159, -221.0, 0.0, 1e-3, 65.25, -40.0, 12345.678])
def test_float32_words_match_pymodbus(order: str, value: float) -> None:
    c = AsyncModbusTcpClient
    expected = c.convert_to_registers(value, c.DATATYPE.FLOAT32, word_order=order)
    assert encode(value, pt("float32", word_order=order)) == expected


def test_word_order_swap_is_visible() -> None:
    # The evcc#31591 failure: little-endian words read as big give nonsense, not -221.
    words = encode(-221.0, pt("float32", word_order="little"))
    wrong = decode(words, pt("float32", word_order="big"))
    assert wrong is not None and wrong != pytest.approx(-221.0)


SENTINELS = [
    (pt("uint16"), [0xFFFF]),
    (pt("uint16", scale=0.1), [0xFFFF]),
    (pt("int16"), [0x8000]),
    (pt("int16", scale=0.1), [0x8000]),
    (pt("uint32"), [0xFFFF, 0xFFFF]),
    (pt("int32"), [0x8000, 0x0000]),
    (pt("int32", word_order="little"), [0x0000, 0x8000]),
    (pt("float32"), [0x7FC0, 0x0000]),  # quiet NaN
    (pt("float32"), [0x7FA0, 0x0001]),  # signalling NaN
    (pt("float32", word_order="little"), [0x0000, 0x7FC0]),
    (pt("float32"), [0x7F80, 0x0000]),  # +inf
    (pt("float32"), [0xFF80, 0x0000]),  # -inf
    (pt("uint16", sentinel=(0x7FFF,)), [0x7FFF]),
]


@pytest.mark.parametrize(("point", "words"), SENTINELS)
def test_sentinels_decode_to_none(point: Point, words: list[int]) -> None:
    assert decode(words, point) is None


def test_custom_sentinel_replaces_type_default() -> None:
    point = pt("uint16", sentinel=(0x7FFF,))
    assert decode([0xFFFF], point) == 65535.0
    assert decode([0x7FFF], point) is None


def test_raw_value_shows_the_number_behind_a_sentinel() -> None:
    assert raw_value([0x8000], pt("int16")) == -32768
    assert math.isnan(raw_value([0x7FC0, 0x0000], pt("float32")))
    with pytest.raises(ValueError, match="expected 2 word"):
        raw_value([0x1234], pt("float32"))


def test_encode_refuses_out_of_range() -> None:
    point = pt("float32", range=(45, 95), access="rw", revert=65)
    with pytest.raises(EncodeError, match=r"outside allowed range \[45, 95\]"):
        encode(120.0, point)
    with pytest.raises(EncodeError):
        encode(44.99, point)
    assert encode(95.0, point) == [0x42BE, 0x0000]
    assert encode(120.0, point, check_range=False) == [0x42F0, 0x0000]


def test_encode_refuses_what_the_type_cannot_carry() -> None:
    with pytest.raises(EncodeError, match="does not fit"):
        encode(70000.0, pt("uint16"), check_range=False)
    with pytest.raises(EncodeError, match="does not fit"):
        encode(-1.0, pt("uint32"), check_range=False)
    with pytest.raises(EncodeError, match="does not fit"):
        encode(3276.8, pt("int16", scale=0.1), check_range=False)
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(EncodeError, match="not a finite number"):
            encode(bad, pt("float32"), check_range=False)


def test_encode_rounds_to_register_resolution() -> None:
    point = pt("uint16", scale=0.1)
    assert encode(50.04, point) == encode(50.0, point) == [500]
    assert encode(50.06, point) == [501]


# ---------------------------------------------------------------- the shipped map
def _map_points() -> list[tuple[str, Point]]:
    regmap = shipped_map()
    return [(f"{name}.{p.name}", p) for name, m in regmap.models.items() for p in m.points]


def _test_values(p: Point) -> list[float]:
    if p.type is DataType.BOOL:
        return [0.0, 1.0]
    assert p.range is not None, f"{p.name}: analog points need a plausible range"
    lo, hi = p.range
    values = [lo, hi, (lo + hi) / 2, lo + (hi - lo) / 3]
    if p.revert is not None:
        values.append(p.revert)
    return values


@pytest.mark.parametrize(("label", "point"), _map_points(), ids=[x[0] for x in _map_points()])
def test_every_mapped_point_round_trips(label: str, point: Point) -> None:
    resolution = point.scale / 2 + 1e-9
    for value in _test_values(point):
        words = encode(value, point)
        assert len(words) == point.words
        assert all(0 <= w <= 0xFFFF for w in words)
        back = decode(words, point)
        assert back is not None, f"{label}: {value} encodes to a sentinel"
        if point.type is DataType.FLOAT32:
            assert back == pytest.approx(value, rel=1e-6, abs=1e-6), label
        else:
            assert abs(back - value) <= resolution, label
        assert in_range(back, point) or not in_range(value, point)


def test_heat_meter_floats_are_low_word_first() -> None:
    # The shipped heat meter sends 32-bit floats low word first (its model says so).
    p = shipped_map().point("heatmeter", "power")
    assert p.word_order is WordOrder.LITTLE
    hi, lo = struct.unpack(">HH", struct.pack(">f", 1500.0))
    assert encode(1500.0, p) == [lo, hi]
