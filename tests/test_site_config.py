"""The site file and its HRC_* variables accept only what is documented (issue 14).

Every case here was accepted, or crashed the loader, before the settings became
strict: binary files, pydantic-settings switches in the file, a file cut short that
ran on defaults, unknown or unparsable variables, silently converted types, limits
beyond the facility-water class or the register range, and nan/inf anywhere.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from controller.cli import main
from controller.config.registermap import load_register_map
from controller.config.settings import LoadedSite, load_site
from controller.config.tomlfile import ConfigError
from controller.core.alarms import load_alarm_catalogue
from simulator.plantconfig import load_plant_config
from simulator.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config"


def shipped_text() -> str:
    """The shipped site file, its map and alarms addressed absolutely (for a tmp copy)."""
    text = (CONFIG / "site.toml").read_text(encoding="utf-8")
    text = text.replace('"registers.toml"', f'"{CONFIG / "registers.toml"}"')
    return text.replace('"alarms.toml"', f'"{CONFIG / "alarms.toml"}"')


def write(tmp: Path, text: str | bytes) -> Path:
    path = tmp / "site.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def set_key(text: str, section: str, key: str, value: str) -> str:
    """``text`` with ``key`` of ``[section]`` set to the TOML ``value`` (added if absent)."""
    head = f"[{section}]"
    start = text.index(f"\n{head}") + 1
    end = text.find("\n[", start + len(head))
    end = len(text) if end < 0 else end
    body = text[start:end]
    line = re.compile(rf"(?m)^{re.escape(key)}\s*=.*$")
    if line.search(body):
        body = line.sub(f"{key} = {value}", body, count=1)
    else:
        body = body.replace(head, f"{head}\n{key} = {value}", 1)
    return text[:start] + body + text[end:]


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees only the HRC_* variables it sets itself."""
    for name in list(os.environ):
        if name.upper().startswith("HRC_"):
            monkeypatch.delenv(name)


def _with_env(environ: dict[str, str] | None) -> pytest.MonkeyPatch:
    patch = pytest.MonkeyPatch()
    for name, value in (environ or {}).items():
        patch.setenv(name, value)
    return patch


def refused(path: Path, environ: dict[str, str] | None = None) -> str:
    patch = _with_env(environ)
    try:
        with pytest.raises(ConfigError) as err:
            load_site(path)
    finally:
        patch.undo()
    message = err.value.render()
    assert str(path) in message, "the error must name the file"
    return message


def loads(path: Path, environ: dict[str, str] | None = None) -> LoadedSite:
    patch = _with_env(environ)
    try:
        return load_site(path)
    finally:
        patch.undo()


def test_shipped_site_file_loads_strictly(tmp_path: Path) -> None:
    site = loads(write(tmp_path, shipped_text()))
    assert site.settings.limits.facility_water_class == "W40"
    assert site.settings.contract.fixed_price_eur_per_mwh == 32.0


# ---------------------------------------------------------------- unreadable files


def test_binary_file_is_refused_not_raised(tmp_path: Path) -> None:
    message = refused(write(tmp_path, b"\xff\xfe\x00garbage\x80\x81\n[limits]\n"))
    assert "not UTF-8" in message and "line 1" in message


def test_binary_byte_deep_in_the_file_names_its_line(tmp_path: Path) -> None:
    data = shipped_text().encode() + b"\n[manual]\nenabled = \xc3\x28\n"
    message = refused(write(tmp_path, data))
    line = data.count(b"\n", 0, data.index(b"\xc3\x28")) + 1
    assert f"line {line}" in message and "0xc3" in message


# ---------------------------------------------------------------- only documented keys


@pytest.mark.parametrize(
    ("prefix", "where"),
    [
        ("_cli_parse_args = true\n", "_cli_parse_args"),
        ('_env_prefix = "ZZZ_"\n', "_env_prefix"),
        ('_secrets_dir = "/etc"\n', "_secrets_dir"),
    ],
)
def test_settings_library_switches_are_refused_by_name(
    tmp_path: Path, prefix: str, where: str
) -> None:
    message = refused(write(tmp_path, prefix + shipped_text()))
    assert f"line 1: {where}: keys starting with '_' are reserved" in message


def test_underscore_keys_are_refused_inside_sections(tmp_path: Path) -> None:
    text = set_key(shipped_text(), "setpoints", "_env_nested_delimiter", '"_"')
    message = refused(write(tmp_path, text))
    assert "setpoints._env_nested_delimiter" in message and "reserved" in message


def test_unknown_key_in_a_nested_table_is_refused(tmp_path: Path) -> None:
    text = shipped_text() + "\n[tuning.fws]\nkp = 8.0\nkq = 1.0\n"
    message = refused(write(tmp_path, text))
    assert "tuning.fws.kq: unknown field" in message


# ---------------------------------------------------------------- a file cut short


def cut_before(text: str, header: str) -> str:
    return text[: text.index(f"\n{header}") + 1]


@pytest.mark.parametrize("section", ["plant", "setpoints", "limits", "accounting", "contract"])
def test_a_missing_required_section_is_refused_by_name(tmp_path: Path, section: str) -> None:
    text = shipped_text()
    start = text.index(f"\n[{section}]") + 1
    end = text.find("\n[", start + 1)
    text = text[:start] + (text[end + 1 :] if end >= 0 else "")
    message = refused(write(tmp_path, text))
    assert f"file: {section}: required field is missing" in message


def test_file_cut_before_setpoints_does_not_run_on_defaults(tmp_path: Path) -> None:
    message = refused(write(tmp_path, cut_before(shipped_text(), "[setpoints]")))
    for section in ("setpoints", "limits", "accounting", "contract"):
        assert f"{section}: required field is missing" in message


def test_ledger_path_must_be_given(tmp_path: Path) -> None:
    text = re.sub(r"(?m)^ledger_path = .*\n", "", shipped_text())
    message = refused(write(tmp_path, text))
    assert "accounting.ledger_path: required" in message
    # ...by the file or by the variable the container and the unit set.
    site = loads(write(tmp_path, text), {"HRC_ACCOUNTING__LEDGER_PATH": "/var/lib/ledger.sqlite"})
    assert site.settings.accounting.ledger_path == "/var/lib/ledger.sqlite"


# ---------------------------------------------------------------- HRC_* variables


def test_env_overrides_are_typed_by_their_field(tmp_path: Path) -> None:
    env = {
        "HRC_SETPOINTS__FWS_SUPPLY_TEMP": "34",
        "HRC_OPCUA__HOST": "0.0.0.0",
        "HRC_OPCUA__ENABLED": "true",
        "HRC_OPCUA__DATA_DIR": "/var/lib/heatrecovery/opcua",
        "HRC_SITE__NAME": "1234",
        "HRC_FIELDBUS__LINKS": '[{"name": "plant", "host": "simulator", "port": 5020,'
        ' "devices": ["cdu01", "cdu02", "heatpump", "plc", "drycooler", "heatmeter", "dhi"],'
        ' "timeout_s": 0.25}]',
    }
    s = loads(write(tmp_path, shipped_text()), env).settings
    assert s.setpoints.fws_supply_temp == 34.0
    assert s.opcua.enabled and s.opcua.host == "0.0.0.0"
    assert str(s.opcua.data_dir) == "/var/lib/heatrecovery/opcua"
    assert s.site.name == "1234"
    assert s.fieldbus.links[0].host == "simulator"
    assert s.setpoints.dh_supply_temp == 70.0, "other keys of the table stay as in the file"


@pytest.mark.parametrize(
    "name", ["HRC_SETPOINTZ__FWS_SUPPLY_TEMP", "HRC_SETPOINTS__FWS_SUPPLY", "HRC_", "HRC_SCAN__"]
)
def test_unknown_variable_is_refused_by_name(tmp_path: Path, name: str) -> None:
    message = refused(write(tmp_path, shipped_text()), {name: "30"})
    assert f"environment {name}" in message and "names no setting" in message


def test_unparsable_variable_is_a_clear_error(tmp_path: Path) -> None:
    message = refused(write(tmp_path, shipped_text()), {"HRC_FIELDBUS__LINKS": "notjson"})
    assert "environment HRC_FIELDBUS__LINKS: fieldbus.links" in message
    assert "not valid JSON" in message


def test_variable_with_a_wrong_type_names_the_variable_not_a_line(tmp_path: Path) -> None:
    message = refused(write(tmp_path, shipped_text()), {"HRC_OPCUA__PORT": '"4840"'})
    assert "environment HRC_OPCUA__PORT: opcua.port: Input should be a valid integer" in message


def test_a_cross_field_error_lists_the_overrides_in_effect(tmp_path: Path) -> None:
    env = {"HRC_LIMITS__FWS_SUPPLY_HIGH": "34", "HRC_SITE__NAME": "x"}
    message = refused(write(tmp_path, shipped_text()), env)
    assert "fws_supply_temp 35 must lie between" in message
    assert "environment overrides in effect: HRC_LIMITS__FWS_SUPPLY_HIGH, HRC_SITE__NAME" in message


# ---------------------------------------------------------------- strict types


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("setpoints", "fws_supply_temp", '"34"', "valid number"),
        ("manual", "enabled", '"yes"', "valid boolean"),
        ("setpoints", "dh_demand_kw", "true", "valid number"),
        ("heatpump", "max_starts_per_hour", "4.0", "valid integer"),
    ],
)
def test_wrong_types_are_not_converted(
    tmp_path: Path, section: str, key: str, value: str, expected: str
) -> None:
    text = set_key(shipped_text(), section, key, value)
    path = write(tmp_path, text)
    message = refused(path)
    line = next(
        n
        for n, ln in enumerate(text.splitlines(), 1)
        if ln.startswith(f"{key} = {value}") and n > text[: text.index(f"[{section}]")].count("\n")
    )
    assert f"line {line}: {section}.{key}" in message and expected in message


def test_toml_integers_are_accepted_for_float_fields(tmp_path: Path) -> None:
    text = shipped_text() + "\n[tuning.fws]\nkp = 2\nki = 0\n"
    text = set_key(text, "setpoints", "fws_supply_temp", "34")
    s = loads(write(tmp_path, text)).settings
    assert s.tuning.fws.kp == 2.0 and isinstance(s.tuning.fws.kp, float)
    assert s.setpoints.fws_supply_temp == 34.0


# ---------------------------------------------------------------- bounds


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("limits", "fws_supply_high_high", "95.0", "above 40 °C, the limit of facility-water"),
        ("limits", "hp_setpoint_max", "200.0", "outside the range of heatpump.supply_setpoint"),
        ("limits", "hp_setpoint_min", "30.0", "outside the range of heatpump.supply_setpoint"),
        ("interlocks", "device_loss_grace_s", "inf", "finite number"),
        ("interlocks", "device_loss_grace_s", "3600.0", "less than or equal to 300"),
        ("interlocks", "dwell_s", "1e9", "less than or equal to 3600"),
        ("heatpump", "min_run_s", "1e9", "less than or equal to 86400"),
        ("limits", "fws_supply_low", "0.0", "greater than or equal to 2"),
        ("limits", "dh_supply_max", "94.0", "above hp_setpoint_max"),
    ],
)
def test_limits_a_plant_engineer_would_not_sign_are_refused(
    tmp_path: Path, section: str, key: str, value: str, expected: str
) -> None:
    message = refused(write(tmp_path, set_key(shipped_text(), section, key, value)))
    assert section in message and expected in message


def test_high_high_limit_follows_the_sites_facility_water_class(tmp_path: Path) -> None:
    text = set_key(shipped_text(), "limits", "facility_water_class", '"W32"')
    message = refused(write(tmp_path, text))
    assert "fws_supply_high_high 40 is above 32 °C, the limit of facility-water class W32" in (
        message
    )
    text = set_key(text, "limits", "fws_supply_high", "30.0")
    text = set_key(text, "limits", "fws_supply_high_high", "32.0")
    text = set_key(text, "setpoints", "fws_supply_temp", "28.0")
    assert loads(write(tmp_path, text)).settings.limits.fws_supply_high_high == 32.0


@pytest.mark.parametrize("gain", ["-8.0", "0.0"])
def test_gain_of_the_wrong_sign_is_refused(tmp_path: Path, gain: str) -> None:
    text = shipped_text() + f"\n[tuning.fws]\nkp = {gain}\n"
    assert "tuning.fws.kp: Input should be greater than 0" in refused(write(tmp_path, text))


def test_manual_heat_pump_setpoint_is_checked_against_the_register(tmp_path: Path) -> None:
    reg = (CONFIG / "registers.toml").read_text(encoding="utf-8")
    reg = reg.replace("range = [45, 95]\nrevert = 65", "range = [50, 95]\nrevert = 65", 1)
    (tmp_path / "registers.toml").write_text(reg, encoding="utf-8")
    text = shipped_text().replace(str(CONFIG / "registers.toml"), str(tmp_path / "registers.toml"))
    text = set_key(text, "limits", "hp_setpoint_min", "50.0")
    text = set_key(text, "manual", "hp_supply_setpoint", "48.0")
    message = refused(write(tmp_path, text))
    assert "manual.hp_supply_setpoint: 48 lies outside" in message and "[50, 95]" in message


# ---------------------------------------------------------------- nan and inf


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "+nan"])
def test_non_finite_gain_in_the_file_is_refused(tmp_path: Path, value: str) -> None:
    text = shipped_text() + f"\n[tuning.fws]\nkp = {value}\n"
    assert "tuning.fws.kp: Input should be a finite number" in refused(write(tmp_path, text))


def test_non_finite_weather_curve_point_is_refused(tmp_path: Path) -> None:
    text = shipped_text() + "\n[weather_curve]\npoints = [[-15.0, 80.0], [nan, 70.0]]\n"
    assert "weather_curve.points[1][0]: Input should be a finite number" in refused(
        write(tmp_path, text)
    )


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "Infinity", "-Infinity"])
def test_non_finite_gain_in_a_variable_is_refused(tmp_path: Path, value: str) -> None:
    message = refused(write(tmp_path, shipped_text()), {"HRC_TUNING__FWS__KP": value})
    assert "environment HRC_TUNING__FWS__KP: tuning.fws.kp" in message
    assert "not a finite number" in message


def test_check_config_refuses_a_nan_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, shipped_text())
    assert main(["check-config", str(path)]) == 0
    monkeypatch.setenv("HRC_TUNING__FWS__KP", "nan")
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "HRC_TUNING__FWS__KP" in err and "finite" in err


def test_check_config_reports_the_same_refusals_as_the_loader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "_cli_parse_args = true\n" + cut_before(shipped_text(), "[contract]"))
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "_cli_parse_args" in err and "reserved" in err
    path = write(tmp_path, cut_before(shipped_text(), "[contract]"))
    assert main(["check-config", str(path)]) == 2
    assert "contract: required field is missing" in capsys.readouterr().err


def test_non_finite_numbers_are_refused_in_every_other_file(tmp_path: Path) -> None:
    """Plant file, register map, alarm catalogue and scenario: fields that took nan."""
    plant = (CONFIG / "plant.toml").read_text(encoding="utf-8")
    plant = re.sub(r"(?m)^design_supply_temp = .*$", "design_supply_temp = nan", plant)
    assert "design_supply_temp = nan" in plant
    (tmp_path / "plant.toml").write_text(plant, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"fws.design_supply_temp: Input should be a finite"):
        load_plant_config(tmp_path / "plant.toml")

    reg = (CONFIG / "registers.toml").read_text(encoding="utf-8")
    reg = reg.replace("scale = 0.01", "scale = nan", 1)
    (tmp_path / "registers.toml").write_text(reg, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"scale: Input should be a finite number"):
        load_register_map(tmp_path / "registers.toml")

    alarms = (CONFIG / "alarms.toml").read_text(encoding="utf-8")
    alarms = alarms.replace('limit = "limits.fws_supply_high"', "limit = inf", 1)
    (tmp_path / "alarms.toml").write_text(alarms, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"alarm\[\d+\]\.limit: Input should be a finite"):
        load_alarm_catalogue(tmp_path / "alarms.toml")

    src = ROOT / "simulator" / "scenarios" / "sensor-out-of-range.toml"
    scenario = src.read_text(encoding="utf-8").replace("value = 850.0", "value = nan", 1)
    (tmp_path / "scenario.toml").write_text(scenario, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"events\[\d+\]\.value: Input should be a finite"):
        load_scenario(tmp_path / "scenario.toml")


def test_other_files_do_not_convert_types_either(tmp_path: Path) -> None:
    plant = (CONFIG / "plant.toml").read_text(encoding="utf-8")
    plant = re.sub(r"(?m)^design_supply_temp = .*$", 'design_supply_temp = "35"', plant)
    (tmp_path / "plant.toml").write_text(plant, encoding="utf-8")
    (tmp_path / "site.toml").write_text((CONFIG / "site.toml").read_text(encoding="utf-8"))
    with pytest.raises(ConfigError, match=r"line \d+: fws.design_supply_temp: Input should be a"):
        load_plant_config(tmp_path / "plant.toml")
    # The nameplate moved to the site file: no conversion there either.
    site = (CONFIG / "site.toml").read_text(encoding="utf-8")
    site = re.sub(r"(?m)^rack_power_kw = .*$", 'rack_power_kw = "130"', site)
    (tmp_path / "site.toml").write_text(site, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line \d+: plant.rack_power_kw: Input should be a"):
        load_plant_config(tmp_path / "plant.toml")
