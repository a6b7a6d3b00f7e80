"""The [fleet] section of the site file and the fleet host's file: strict, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config.settings import load_site
from controller.config.tomlfile import ConfigError
from controller.fleet.settings import FleetSettings
from fleet.settings import load_fleet_settings

ROOT = Path(__file__).resolve().parent.parent


def site_with(tmp_path: Path, fleet: str) -> Path:
    text = (ROOT / "config" / "site.toml").read_text()
    text = text.replace(
        'register_map = "registers.toml"', f'register_map = "{ROOT}/config/registers.toml"'
    )
    text = text.replace('alarms_file = "alarms.toml"', f'alarms_file = "{ROOT}/config/alarms.toml"')
    p = tmp_path / "site.toml"
    p.write_text(text + "\n[fleet]\n" + fleet)
    return p


def test_fleet_is_off_by_default_in_the_shipped_site_file():
    s = load_site(ROOT / "config" / "site.toml").settings
    assert s.fleet.enabled is False


def test_fleet_section_accepted(tmp_path: Path):
    s = load_site(
        site_with(
            tmp_path,
            'enabled = true\ngroup = "dhn-west"\n[fleet.mqtt]\nport = 8883\n'
            "[fleet.mqtt.tls]\nenabled = true\n",
        )
    ).settings
    assert s.fleet.enabled and s.fleet.mqtt.port == 8883 and s.fleet.mqtt.tls.enabled
    assert s.fleet.node_id(s.site.name) == "Reference-site-8-x-130-kW-racks-1-2-MW-heat-pump"


@pytest.mark.parametrize(
    ("fleet", "field"),
    [
        ("enabeld = true\n", "fleet.enabeld"),
        ('enabled = "yes"\n', "fleet.enabled"),
        ('group = "a/b"\n', "fleet.group"),
        ('edge_node = "site #1"\n', "fleet.edge_node"),
        ("deadband_pct = nan\n", "fleet.deadband_pct"),
        ('[mqtt]\nport = "1883"\n', "fleet.mqtt.port"),
        ("[mqtt]\nport = 70000\n", "fleet.mqtt.port"),
        ('[mqtt.tls]\ncert_file = "c.pem"\n', "fleet.mqtt.tls"),
    ],
)
def test_bad_fleet_settings_name_the_field(tmp_path: Path, fleet: str, field: str):
    with pytest.raises(ConfigError) as err:
        load_site(site_with(tmp_path, fleet.replace("[mqtt", "[fleet.mqtt")))
    assert field in str(err.value)


def test_strict_types_in_code_too():
    with pytest.raises(ValueError, match="deadband_pct"):
        FleetSettings(deadband_pct=float("inf"))


def test_fleet_host_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    p = tmp_path / "fleet.toml"
    p.write_text('host_id = "central"\n[database]\nschema_name = "hr"\n[opcua]\nport = 4850\n')
    monkeypatch.setenv("HRF_MQTT__PORT", "1884")
    monkeypatch.setenv("HRF_MQTT__PASSWORD", "s3cret")
    s = load_fleet_settings(p)
    assert (s.host_id, s.database.schema_name, s.opcua.port) == ("central", "hr", 4850)
    assert s.mqtt.port == 1884 and s.mqtt.password == "s3cret"
    assert s.opcua.data_dir == tmp_path / "var/fleet-opcua"
    p.write_text('[database]\nschema_name = "Robert\'); DROP TABLE x"\n')
    with pytest.raises(ConfigError, match=r"line 2: database.schema_name"):
        load_fleet_settings(p)
    p.write_text("[databse]\n")
    with pytest.raises(ConfigError, match="unknown field"):
        load_fleet_settings(p)


def test_shipped_fleet_file_loads():
    s = load_fleet_settings(ROOT / "config" / "fleet.toml")
    assert s.opcua.enabled and not s.opcua.allow_anonymous
