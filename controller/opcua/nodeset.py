"""NodeSet2 XML of the address space, for SCADA integrators.

Why build a throwaway server: the export must show exactly what the running server
serves, so it runs the same builder on an initialised, never started asyncua
server and asks asyncua's XmlExporter for the nodes below Objects/Plant. Values
are exported (EURange, EngineeringUnits, state texts, method arguments); live
measurements have none yet, so the file only changes when the model or the
site's shape does, and a test keeps the checked-in copy current.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

from asyncua import Server
from asyncua.common.xmlexporter import XmlExporter

from controller.opcua.addressspace import Kind, PlantShape, build_address_space, plant_points
from controller.opcua.units import UNITS
from controller.signaltable import SIGNALS, Signal


async def nodeset_xml(shape: PlantShape, table: Sequence[Signal] = SIGNALS) -> bytes:
    server = Server()
    await server.init()
    plant = await build_address_space(server, shape, table)
    exporter_log = logging.getLogger("asyncua.common.xmlexporter")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)  # "values export is limited": ours are standard types
    try:
        exporter = XmlExporter(server, export_values=True)
        await exporter.build_etree([server.get_node(n) for n in plant.node_ids])
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "nodeset.xml"
            await exporter.write_xml(str(path))
            return path.read_bytes()
    finally:
        exporter_log.setLevel(level)


def export_nodeset(path: Path, shape: PlantShape) -> None:
    path.write_bytes(asyncio.run(nodeset_xml(shape)))


def points_markdown(shape: PlantShape) -> str:
    """The variable table of docs/opcua.md (kept current by a test)."""
    rows = [
        "| browse path below Objects/Plant | type | unit | EURange | notes |",
        "|---|---|---|---|---|",
    ]
    for p in plant_points(shape):
        unit = f"{UNITS[p.unit][0]} ({p.unit})" if p.unit else ""
        rng = f"{p.eu_range[0]:g} .. {p.eu_range[1]:g}" if p.eu_range else ""
        notes = [p.description]
        if p.states:
            notes.append(" / ".join(p.states))
        if p.writable:
            notes.append("**writable: utility, admin**")
        if p.historized:
            notes.append("history")
        text = "; ".join(notes).replace("|", "\\|")
        rows.append(f"| `{p.path}` | {_TYPE_NAMES[p.kind]} | {unit} | {rng} | {text} |")
    return "\n".join(rows) + "\n"


_TYPE_NAMES = {
    Kind.ANALOG: "Double, AnalogItemType",
    Kind.ANALOG_ARRAY: "Double[], AnalogItemType",
    Kind.TWO_STATE: "Boolean, TwoStateDiscreteType",
    Kind.MULTI_STATE: "UInt16, MultiStateDiscreteType",
    Kind.STRING: "String",
    Kind.INT32: "Int32",
    Kind.UINT32: "UInt32",
    Kind.STRING_ARRAY: "String[]",
}
