"""The NodeSet2 file handed to SCADA integrators is the address space the server serves."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from controller.cli import main
from controller.config.settings import load_site
from controller.opcua.addressspace import PlantShape
from controller.opcua.nodeset import points_markdown

ROOT = Path(__file__).resolve().parent.parent
CHECKED_IN = ROOT / "docs" / "opcua-nodeset.xml"
SITE = ROOT / "config" / "site.toml"
NS = {"ua": "http://opcfoundation.org/UA/2011/03/UANodeSet.xsd"}


def test_checked_in_nodeset_is_current(tmp_path: Path) -> None:
    """Regenerated with the export command from the shipped site file: byte-identical
    (the export holds no timestamps or live values, so nothing needs ignoring)."""
    out = tmp_path / "plant.xml"
    assert main(["export-nodeset", str(out), "--site", str(SITE)]) == 0
    assert out.read_bytes() == CHECKED_IN.read_bytes(), (
        "docs/opcua-nodeset.xml is stale: run `heatrecovery export-nodeset docs/opcua-nodeset.xml`"
    )


def test_nodeset_declares_the_namespace_and_the_design_names() -> None:
    root = ElementTree.parse(CHECKED_IN).getroot()
    uris = [u.text for u in root.iterfind("ua:NamespaceUris/ua:Uri", NS)]
    assert uris == ["urn:heat-recovery:plant"]
    variables = {v.get("NodeId"): v for v in root.iterfind("ua:UAVariable", NS)}
    for path in (
        "Status/ModeCode",
        "CDUs/CDU02/FwsSupplyTemp",
        "Pumps/P2B/Speed",
        "DistrictHeating/Setpoints/HeatDemand",
        "Energy/ThermalAvailability",
    ):
        assert f"ns=1;s=Plant/{path}" in variables
    setpoint = variables["ns=1;s=Plant/DistrictHeating/Setpoints/SupplyTempSetpoint"]
    assert setpoint.get("AccessLevel") == "3"  # read + write
    assert "ns=1;s=Plant/DistrictHeating/Setpoints/SupplyTempSetpoint.EURange" in variables


def test_docs_table_is_current() -> None:
    text = (ROOT / "docs" / "opcua.md").read_text(encoding="utf-8")
    begin = text.index("-->\n", text.index("<!-- BEGIN generated")) + len("-->\n")
    end = text.index("<!-- END generated -->")
    site = load_site(SITE)
    expected = points_markdown(PlantShape.from_site(site.settings, site.regmap))
    assert text[begin:end] == expected, "docs/opcua.md table is stale (see points_markdown)"
