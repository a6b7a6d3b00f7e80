"""In-process field bus: the plant's points reach the control core as the real bus would.

A closed-loop study must not be kinder to the controller than the site will be. The
image built here applies the same judgements as ``controller.fieldbus``: values
outside a point's plausible range or "not available" are BAD; a device with a comms
fault keeps its last values as UNCERTAIN for ``stale_after_cycles`` and then turns
BAD; commands to such a device are lost. With ``through_registers`` every value also
goes through the register map's encode/decode (word order, scale, int16 rounding),
exactly the words a Modbus client would see; that costs speed, so it is optional.
"""

from __future__ import annotations

from collections.abc import Mapping

from controller.config.registermap import RegisterMap
from controller.core.image import ProcessImage
from controller.fieldbus.codec import EncodeError, decode, encode
from controller.fieldbus.signals import Quality
from simulator.pointio import PlantPoints, PointWriteError


class InProcessBus:
    def __init__(
        self, regmap: RegisterMap, stale_after_cycles: int = 3, through_registers: bool = False
    ) -> None:
        self.regmap = regmap
        self.stale_after = stale_after_cycles
        self.through_registers = through_registers
        self.ranges: dict[str, tuple[float, float]] = {}
        self.points: dict[str, list[tuple[str, str, float, float]]] = {}
        self.point_defs = {}
        inf = float("inf")
        for dev in regmap.devices:
            plist = []
            for p in regmap.points_of(dev):
                key = f"{dev}.{p.name}"
                lo, hi = p.range if p.range is not None else (-inf, inf)
                plist.append((p.name, key, lo, hi))
                self.point_defs[key] = p
                if p.range is not None:
                    self.ranges[key] = p.range
            self.points[dev] = plist
        self._held: dict[str, dict[str, float | None]] = {}
        self._missed: dict[str, int] = {}
        self.last_written: dict[str, float] = {}
        self.writes = 0
        self.refused = 0

    def image(
        self, plant: PlantPoints, extra: Mapping[str, float | None] | None = None
    ) -> ProcessImage:
        values: dict[str, float | None] = {}
        quality: dict[str, Quality] = {}
        lost: set[str] = set()
        pv = plant.point_values()
        good, unc, bad = Quality.GOOD, Quality.UNCERTAIN, Quality.BAD
        through = self.through_registers
        for dev, plist in self.points.items():
            fault = plant.comms_fault(dev)
            if fault is not None:
                missed = self._missed.get(dev, 0) + 1
                self._missed[dev] = missed
                held = self._held.get(dev, {})
                stale = missed >= self.stale_after
                if stale:
                    lost.add(dev)
                for name, key, _, _ in plist:
                    v = None if stale else held.get(name)
                    values[key] = v
                    quality[key] = bad if v is None else unc
                continue
            self._missed[dev] = 0
            dv = pv.get(dev, {})
            held = self._held.setdefault(dev, {})
            for name, key, lo, hi in plist:
                v = dv.get(name)
                if v is not None and through:
                    p = self.point_defs[key]
                    try:
                        v = decode(encode(v, p, check_range=False), p)
                    except (EncodeError, OverflowError):
                        v = None
                # NaN fails both comparisons, so it is caught with the implausible values.
                if v is None or not lo <= v <= hi:
                    values[key] = None
                    quality[key] = bad
                    held[name] = None
                else:
                    values[key] = v
                    quality[key] = good
                    held[name] = v
        if extra:
            for key, v in extra.items():
                values[key] = v
                quality[key] = good if v is not None else bad
        return ProcessImage(values, quality, frozenset(lost))

    def write(self, plant: PlantPoints, commands: Mapping[str, float]) -> None:
        """Send commands that changed; a device with a comms fault never receives them."""
        last = self.last_written
        for key, value in commands.items():
            if last.get(key) == value:
                continue
            dev, _, name = key.partition(".")
            if plant.comms_fault(dev) is not None:
                continue
            sent: float | None = value
            if self.through_registers:
                p = self.point_defs[key]
                try:
                    sent = decode(encode(value, p), p)
                except EncodeError:
                    self.refused += 1
                    continue
            if sent is None:
                self.refused += 1
                continue
            try:
                plant.write_point(dev, name, sent)
            except PointWriteError:
                self.refused += 1
                continue
            last[key] = value
            self.writes += 1
