"""UNECE Recommendation 20 units as OPC UA EUInformation (OPC 10000-8, 5.6.3).

Why UNECE codes: every SCADA package maps them to its own unit catalogue, so the
utility's engineers see "°C" and "kW" without configuring anything per tag.
"""

from __future__ import annotations

from asyncua import ua

UNECE_NAMESPACE = "http://www.opcfoundation.org/UA/units/un/cefact"

# code: (display name, description)
UNITS: dict[str, tuple[str, str]] = {
    "CEL": ("°C", "degree Celsius"),
    "KWT": ("kW", "kilowatt"),
    "MQH": ("m³/h", "cubic metre per hour"),
    "MWH": ("MWh", "megawatt hour"),
    "KWH": ("kWh", "kilowatt hour"),
    "P1": ("%", "percent"),
    "C26": ("ms", "millisecond"),
    "C62": ("1", "one (dimensionless)"),
}


def unit_id(code: str) -> int:
    """The numeric UnitId OPC UA derives from the common code (Part 8, 5.6.3)."""
    value = 0
    for ch in code.upper():
        value = (value << 8) | ord(ch)
    return value


def eu_information(code: str) -> ua.EUInformation:
    display, description = UNITS[code]
    return ua.EUInformation(
        NamespaceUri=UNECE_NAMESPACE,
        UnitId=unit_id(code),
        DisplayName=ua.LocalizedText(display),
        Description=ua.LocalizedText(description),
    )
