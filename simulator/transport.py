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
        """The process image for this cycle.

        Per-point quality is not built here: the control core reads only values (None
        for BAD) and ``comms_lost``; the quality map is what the OPC UA server
        publishes, which an in-process study has no use for.
        """
        values: dict[str, float | None] = {}
        lost: set[str] = set()
        pv = plant.point_values()
        through = self.through_registers
        for dev, plist in self.points.items():
            fault = plant.comms_fault(dev)
            if fault is not None:
                missed = self._missed.get(dev, 0) + 1
                self._missed[dev] = missed
                held = self._held.get(dev, {})
                if missed >= self.stale_after:
                    lost.add(dev)
                    for _, key, _, _ in plist:
                        values[key] = None
                else:  # UNCERTAIN: the last values, for a few missed polls
                    for name, key, _, _ in plist:
                        values[key] = held.get(name)
                continue
            self._missed[dev] = 0
            dv = pv.get(dev, {})
            held = self._held.setdefault(dev, {})
            if through:
                dv = self._through_words(dev, dv)
            for name, key, lo, hi in plist:
                v = dv.get(name)
                # NaN fails both comparisons, so it is caught with the implausible values.
                if v is None or not lo <= v <= hi:
                    v = None
                values[key] = v
                held[name] = v
        if extra:
            values.update(extra)
        return ProcessImage(values, {}, frozenset(lost))

    def _through_words(self, dev: str, dv: Mapping[str, float | None]) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for name, key, _, _ in self.points[dev]:
            v = dv.get(name)
            if v is not None:
                p = self.point_defs[key]
                try:
                    v = decode(encode(v, p, check_range=False), p)
                except (EncodeError, OverflowError):
                    v = None
            out[name] = v
        return out

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
