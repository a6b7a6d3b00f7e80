"""Shared set-up for the Modbus tests: the shipped map, quiet pymodbus, servers on free ports."""

from __future__ import annotations

import logging
from pathlib import Path

from controller.config.registermap import RegisterMap, load_register_map

MAP_PATH = Path(__file__).resolve().parent.parent / "config" / "registers.toml"

# pymodbus logs every timeout and refused connect at WARNING/ERROR; the tests
# provoke both on purpose.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

_REGMAP: RegisterMap | None = None


def shipped_map() -> RegisterMap:
    global _REGMAP  # noqa: PLW0603 - parsed once per test session
    if _REGMAP is None:
        _REGMAP = load_register_map(MAP_PATH)
    return _REGMAP
