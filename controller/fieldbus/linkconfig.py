"""Settings of the Modbus links, checked before a single request goes out.

Field experience (evcc, OpenEMS, Home Assistant) says most Modbus trouble on site is
configuration: two definitions of one gateway that fight over it, a device listed
twice, a timeout longer than the scan cycle, no pause for a slow RS-485 gateway.
These models refuse such files at load time, with the field named, instead of
letting them surface as intermittent timeouts weeks later.

The register map is needed to know which device names exist. When the site file is
loaded with ``load_model(..., regmap=regmap)`` the check runs during validation;
``FieldBusConfig.check_against(regmap)`` runs it explicitly (FieldBus does).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Self

from pydantic import Field, ValidationInfo, model_validator

from controller.config.registermap import RegisterMap
from controller.config.strictmodel import StrictModel


def _unknown_devices(devices: Iterable[str], regmap: RegisterMap) -> list[str]:
    return [d for d in devices if d not in regmap.devices]


def _regmap_from(info: ValidationInfo) -> RegisterMap | None:
    context: Any = info.context
    if isinstance(context, dict):
        found = context.get("regmap")
        if isinstance(found, RegisterMap):
            return found
    return None


class LinkConfig(StrictModel):
    """One Modbus TCP endpoint (a device or a gateway) and the devices behind it.

    Every request on a link is serialised by one lock: gateways to RS-485 answer one
    request at a time, and several unit ids behind one gateway share that lock.
    """

    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.\-]*$")]
    host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 5020
    devices: Annotated[list[str], Field(min_length=1)]
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 0.3
    """Per request (and per connect attempt); keep it well inside the scan cycle."""
    gap_s: Annotated[float, Field(ge=0, le=5)] = 0.0
    """Quiet time between the end of one request and the next (slow gateways need ~25 ms)."""
    unit_switch_delay_s: Annotated[float, Field(ge=0, le=5)] = 0.0
    """Extra quiet time before a request to a different unit id than the previous one."""
    max_block_registers: Annotated[int, Field(ge=1, le=125)] = 120
    max_block_bits: Annotated[int, Field(ge=1, le=2000)] = 1000
    max_gap: Annotated[int, Field(ge=0, le=125)] = 8
    """Addresses of *other mapped points* a block may read through to join two groups."""
    stale_after_cycles: Annotated[int, Field(ge=1, le=1000)] = 3
    """Missed scheduled reads after which a value turns BAD (before that: UNCERTAIN)."""
    slow_every: Annotated[int, Field(ge=1, le=100000)] = 10
    backoff_initial_s: Annotated[float, Field(gt=0, le=3600)] = 0.5
    backoff_max_s: Annotated[float, Field(gt=0, le=3600)] = 30.0

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Self:
        seen: set[str] = set()
        for dev in self.devices:
            if dev in seen:
                raise ValueError(f"device {dev!r} is listed twice on link {self.name!r}")
            seen.add(dev)
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError(
                f"backoff_max_s ({self.backoff_max_s:g}) is below backoff_initial_s "
                f"({self.backoff_initial_s:g})"
            )
        regmap = _regmap_from(info)
        if regmap is not None:
            unknown = _unknown_devices(self.devices, regmap)
            if unknown:
                raise ValueError(
                    f"link {self.name!r} names unknown device(s) {', '.join(unknown)}; "
                    f"the register map has {', '.join(regmap.devices)}"
                )
        return self

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"


class FieldBusConfig(StrictModel):
    """All links of the site plus the time the scan cycle grants the field bus."""

    links: Annotated[list[LinkConfig], Field(min_length=1)]
    poll_budget_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    """The most a poll cycle may hold up the scan cycle; slower links finish in the
    background and skip their next poll."""
    write_budget_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    refresh_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    """Unchanged commands are re-sent this often (keep it well inside device watchdogs)."""
    verify_writes: bool = True
    """Read every written register back and report a mismatch."""

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Self:
        problems = self.problems()
        regmap = _regmap_from(info)
        if regmap is not None:
            problems += self.problems_with(regmap)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def problems(self) -> list[str]:
        out: list[str] = []
        names: set[str] = set()
        endpoints: dict[tuple[str, int], str] = {}
        owner: dict[str, str] = {}
        for link in self.links:
            if link.name in names:
                out.append(f"link name {link.name!r} is used twice")
            names.add(link.name)
            key = (link.host.strip().lower(), link.port)
            if key in endpoints:
                out.append(
                    f"links {endpoints[key]!r} and {link.name!r} both use {link.endpoint}; "
                    "put every unit id behind one endpoint on one link"
                )
            endpoints.setdefault(key, link.name)
            for dev in link.devices:
                if dev in owner:
                    out.append(f"device {dev!r} is on links {owner[dev]!r} and {link.name!r}")
                owner.setdefault(dev, link.name)
            if link.timeout_s >= self.poll_budget_s:
                out.append(
                    f"link {link.name!r}: timeout_s {link.timeout_s:g} must be below "
                    f"poll_budget_s {self.poll_budget_s:g}"
                )
        return out

    def problems_with(self, regmap: RegisterMap) -> list[str]:
        out: list[str] = []
        for link in self.links:
            unknown = _unknown_devices(link.devices, regmap)
            if unknown:
                out.append(
                    f"link {link.name!r} names unknown device(s) {', '.join(unknown)}; "
                    f"the register map has {', '.join(regmap.devices)}"
                )
        return out

    def check_against(self, regmap: RegisterMap) -> None:
        """Raise ValueError if a link names a device the register map does not know."""
        problems = self.problems_with(regmap)
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def single_link(
        cls,
        regmap: RegisterMap,
        host: str = "127.0.0.1",
        port: int = 5020,
        *,
        name: str = "plant",
        poll_budget_s: float = 0.5,
        **link_settings: Any,
    ) -> FieldBusConfig:
        """Every device of the map behind one endpoint (the simulator's default)."""
        link = LinkConfig(
            name=name, host=host, port=port, devices=list(regmap.devices), **link_settings
        )
        return cls(links=[link], poll_budget_s=poll_budget_s)

    def devices(self) -> list[str]:
        return [dev for link in self.links for dev in link.devices]
