"""The process image: the one snapshot of the plant the control core reads.

Keys are ``device.point`` as in the register map, plus ``scada.*`` for what the
utility wrote over OPC UA. A value the field bus could not vouch for is None here:
the core never sees a stale number dressed as a good one. UNCERTAIN values (a
missed poll, still within the staleness limit) are kept with their quality.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.fieldbus.signals import Quality, Sample


@dataclass(slots=True)
class ProcessImage:
    values: dict[str, float | None]
    quality: dict[str, Quality] = field(default_factory=dict)
    comms_lost: frozenset[str] = frozenset()
    """Devices with no usable data this cycle (every point BAD)."""
    timestamps: dict[str, float] | None = None

    def get(self, key: str) -> float | None:
        return self.values.get(key)

    @classmethod
    def from_samples(
        cls,
        samples: Mapping[str, Mapping[str, Sample]],
        extra: Mapping[str, float | None] | None = None,
    ) -> ProcessImage:
        values: dict[str, float | None] = {}
        quality: dict[str, Quality] = {}
        stamps: dict[str, float] = {}
        lost: set[str] = set()
        for device, points in samples.items():
            any_usable = False
            for name, s in points.items():
                key = f"{device}.{name}"
                usable = s.value is not None and s.quality is not Quality.BAD
                values[key] = s.value if usable else None
                quality[key] = s.quality
                stamps[key] = s.timestamp
                any_usable = any_usable or usable
            if points and not any_usable:
                lost.add(device)
        if extra:
            for key, v in extra.items():
                values[key] = v
                quality[key] = Quality.GOOD if v is not None else Quality.BAD
        return cls(values, quality, frozenset(lost), stamps)
