"""config/plant.toml: the shipped site loads, and a broken copy is refused with the
field and the line an operator has to fix.

Each broken file is a copy of the shipped one with one deliberate mistake, so the
line numbers asserted are found in the copy, never hard-coded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config.tomlfile import ConfigError, ConfigProblem
from simulator.plantconfig import PlantConfig, load_plant_config

SHIPPED = Path(__file__).resolve().parent.parent / "config" / "plant.toml"


def _lines() -> list[str]:
    return SHIPPED.read_text(encoding="utf-8").splitlines()


def _header(lines: list[str], section: str, nth: int = 0) -> int:
    """0-based index of the ``nth`` header line ``[section]`` / ``[[section]]``."""
    found = [
        i
        for i, line in enumerate(lines)
        if line.split("#")[0].strip() in (f"[{section}]", f"[[{section}]]")
    ]
    return found[nth]


def _key(lines: list[str], section: str, key: str, nth: int = 0) -> int:
    """0-based index of ``key = ...`` inside the ``nth`` ``section`` table."""
    start = _header(lines, section, nth)
    for i in range(start + 1, len(lines)):
        text = lines[i].strip()
        if text.startswith("["):
            break
        if text.split("=")[0].strip() == key:
            return i
    raise AssertionError(f"{section}.{key} is not in the shipped file")


def _write(tmp_path: Path, lines: list[str], site: bool = True) -> Path:
    """The plant file in a site folder (with the shipped site file and its nameplate)."""
    path = tmp_path / "plant.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if site:
        (tmp_path / "site.toml").write_text(
            (SHIPPED.parent / "site.toml").read_text(encoding="utf-8"), encoding="utf-8"
        )
    return path


def _problems(path: Path) -> list[ConfigProblem]:
    with pytest.raises(ConfigError) as info:
        load_plant_config(path)
    err = info.value
    assert err.path == path
    assert err.problems
    for p in err.problems:  # every located problem is rendered with its line
        if p.line is not None:
            assert f"line {p.line}: {p.field}" in str(err)
    return err.problems


def _only(problems: list[ConfigProblem]) -> ConfigProblem:
    assert len(problems) == 1, problems
    return problems[0]


# ---------------------------------------------------------------- the shipped file
def test_shipped_config_loads_as_the_reference_site() -> None:
    cfg = load_plant_config(SHIPPED)
    assert isinstance(cfg, PlantConfig)
    # DESIGN.md §2, figure by figure.
    assert cfg.racks == 8 and cfg.it.rack_power_kw == 130.0
    assert cfg.it.liquid_fraction == 0.85
    assert [c.name for c in cfg.cdus] == ["cdu01", "cdu02"]
    assert cfg.heatpump.capacity_kw == 1200.0
    assert cfg.heatpump.eta_carnot == 0.48  # calibrated on Mäntsälä (issue 10)
    assert cfg.heatpump.compressor == "screw_slide_valve"
    assert cfg.heatpump.min_load_pct == 20.0
    assert cfg.heatpump.min_run_s == 600.0 and cfg.heatpump.min_off_s == 300.0
    assert cfg.tank.volume_m3 == 100.0 and cfg.tank.layers >= 8
    assert (cfg.drycoolers.units, cfg.drycoolers.capacity_kw) == (2, 600.0)
    assert cfg.drycoolers.design_ambient == 35.0
    assert cfg.valve.stroke_s == 15.0
    assert cfg.plc.watchdog_s == 10.0
    assert cfg.heatmeter.flow_in_return is True


# ---------------------------------------------------------------- unknown fields
def test_unknown_field_is_named_with_its_line(tmp_path: Path) -> None:
    lines = _lines()
    at = _key(lines, "drycoolers", "design_ambient") + 1
    lines.insert(at, "fan_speed_max = 1.0")
    p = _only(_problems(_write(tmp_path, lines)))
    assert p.field == "drycoolers.fan_speed_max"
    assert p.line == at + 1
    assert "unknown field" in p.message


def test_misspelt_section_is_named_with_its_header_line(tmp_path: Path) -> None:
    lines = _lines()
    at = _header(lines, "valve")
    lines[at] = "[valves]"
    problems = _problems(_write(tmp_path, lines))
    assert "valves" in {p.field for p in problems}
    p = next(p for p in problems if p.field == "valves")
    assert p.line == at + 1
    assert "unknown field" in p.message


# ---------------------------------------------------------------- wrong types and values
def test_wrong_type_is_named_with_its_line(tmp_path: Path) -> None:
    lines = _lines()
    at = _key(lines, "drycoolers", "capacity_kw")
    lines[at] = 'capacity_kw = "600 kW"'
    p = _only(_problems(_write(tmp_path, lines)))
    assert p.field == "drycoolers.capacity_kw"  # not heatpump.capacity_kw, from the nameplate
    assert p.line == at + 1
    assert "number" in p.message


def test_wrong_type_in_the_second_cdu_is_named_with_its_index_and_line(tmp_path: Path) -> None:
    """A plant file standing alone (no site folder) states its CDUs itself."""
    lines = [*_lines(), "[[cdus]]", 'name = "cdu01"', "racks = 4"]
    lines += ["[[cdus]]", 'name = "cdu02"', "racks = 4"]
    at = _key(lines, "cdus", "racks", nth=1)
    assert at != _key(lines, "cdus", "racks", nth=0)
    lines[at] = 'racks = "four"'
    problems = _problems(_write(tmp_path, lines, site=False))  # pump flows missing too
    p = _only([p for p in problems if p.field.startswith("cdus")])
    assert p.field == "cdus[1].racks"
    assert p.line == at + 1


@pytest.mark.parametrize(
    ("section", "key", "bad"),
    [
        ("valve", "stroke_s", "0.0"),  # must be > 0
        ("tank", "layers", "4"),  # at least 8 layers
        ("heatpump", "eta_carnot", "1.2"),  # a Carnot fraction above 1
        ("heatmeter", "flow_bias_pct", "12.0"),  # MID meters are not 12 % off
    ],
)
def test_out_of_range_value_is_named_with_its_line(
    tmp_path: Path, section: str, key: str, bad: str
) -> None:
    lines = _lines()
    at = _key(lines, section, key)
    lines[at] = f"{key} = {bad}"
    p = _only(_problems(_write(tmp_path, lines)))
    assert p.field == f"{section}.{key}"
    assert p.line == at + 1


# ---------------------------------------------------------------- cross-field checks
@pytest.mark.parametrize(
    ("section", "key", "bad", "named"),
    [
        ("drycoolers", "design_ambient", "45.0", "design_ambient"),  # warmer than water out
        ("drycoolers", "design_water_out", "55.0", "design_water_out"),  # above water in
        ("tank", "cold_temp", "75.0", "cold_temp"),  # above hot_temp
        ("heatpump", "evap_trip_sat", "9.0", "evap_trip_sat"),  # above the unload limit
    ],
)
def test_out_of_order_temperatures_are_refused_in_their_section(
    tmp_path: Path, section: str, key: str, bad: str, named: str
) -> None:
    lines = _lines()
    at = _key(lines, section, key)
    lines[at] = f"{key} = {bad}"
    p = _only(_problems(_write(tmp_path, lines)))
    # The check spans several fields, so it is reported on the section (or the field).
    assert p.field in (section, f"{section}.{key}")
    assert p.line in (_header(lines, section) + 1, at + 1)
    assert named in p.message


# ---------------------------------------------------------------- syntax
@pytest.mark.parametrize(
    ("section", "key", "broken"),
    [
        ("valve", "stroke_s", "stroke_s = 15.0.0"),
        ("tank", "room_temp", "room_temp = "),
        ("plc", "watchdog_s", 'watchdog_s = "10 s'),
    ],
)
def test_toml_syntax_error_names_its_line(
    tmp_path: Path, section: str, key: str, broken: str
) -> None:
    lines = _lines()
    at = _key(lines, section, key)
    lines[at] = broken
    p = _only(_problems(_write(tmp_path, lines)))
    assert p.line == at + 1
    assert "TOML syntax" in p.message


def test_broken_table_header_names_its_line(tmp_path: Path) -> None:
    lines = _lines()
    at = _header(lines, "heatmeter")
    lines[at] = "[heatmeter"
    p = _only(_problems(_write(tmp_path, lines)))
    assert p.line == at + 1
    assert "TOML syntax" in p.message


# ---------------------------------------------------------------- all at once
def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    lines = _lines()
    a = _key(lines, "heatpump", "min_run_s")
    lines[a] = 'min_run_s = "ten minutes"'
    b = _key(lines, "tank", "layers")
    lines[b] = "layers = -12"
    c = _key(lines, "sensors", "temp_lag_s") + 1
    lines.insert(c, "temp_lag_ms = 8000")
    found = {(p.field, p.line) for p in _problems(_write(tmp_path, lines))}
    assert found == {
        ("heatpump.min_run_s", a + 1),
        ("tank.layers", b + 1),
        ("sensors.temp_lag_ms", c + 1),
    }


# ---------------------------------------------------------------- the nameplate, once
@pytest.mark.parametrize(
    ("section", "key", "value", "nameplate"),
    [
        ("heatpump", "capacity_kw", "110.0", "plant.hp_capacity_kw"),
        ("tank", "volume_m3", "10.0", "plant.tank_volume_m3"),
        ("pumps.dh", "nominal_flow_m3h", "4.5", "plant.dh_pump_nominal_m3h"),
        ("pumps.dh", "shutoff_head_bar", "2.0", "plant.dh_pump_shutoff_head_bar"),
        ("dh", "network_dp_bar", "0.5", "plant.dh_network_dp_bar"),
        ("heatpump", "min_load_pct", "30.0", "plant.hp_min_load_pct"),
    ],
)
def test_a_nameplate_figure_restated_differently_is_refused_naming_both(
    tmp_path: Path, section: str, key: str, value: str, nameplate: str
) -> None:
    """The pilot's plant file with the reference site file ran a day DEGRADED unnoticed."""
    lines = _lines()
    at = _header(lines, section) + 1
    lines.insert(at, f"{key} = {value}")
    p = _only(_problems(_write(tmp_path, lines)))
    assert p.field == f"{section}.{key}"
    assert p.line == at + 1
    assert f"site.toml {nameplate} = " in p.message and "disagrees" in p.message


def test_a_nameplate_figure_restated_equally_is_accepted(tmp_path: Path) -> None:
    lines = _lines()
    lines.insert(_header(lines, "heatpump") + 1, "capacity_kw = 1200")
    assert load_plant_config(_write(tmp_path, lines)).heatpump.capacity_kw == 1200.0


def test_the_plant_follows_the_nameplate_of_its_site(tmp_path: Path) -> None:
    site = (SHIPPED.parent / "site.toml").read_text(encoding="utf-8")
    path = _write(tmp_path, _lines())
    (tmp_path / "site.toml").write_text(
        site.replace('cdus = ["cdu01", "cdu02"]', 'cdus = ["cdu01", "cdu02", "cdu03"]'),
        encoding="utf-8",
    )
    cfg = load_plant_config(path)
    assert [(c.name, c.racks) for c in cfg.cdus] == [("cdu01", 3), ("cdu02", 3), ("cdu03", 2)]


def test_the_injection_pump_and_network_come_from_the_nameplate(tmp_path: Path) -> None:
    site = (SHIPPED.parent / "site.toml").read_text(encoding="utf-8")
    path = _write(tmp_path, _lines())
    (tmp_path / "site.toml").write_text(
        site.replace("dh_network_dp_bar = 1.0", "dh_network_dp_bar = 0.5"), encoding="utf-8"
    )
    cfg = load_plant_config(path)
    assert (cfg.pumps.dh.shutoff_head_bar, cfg.dh.network_dp_bar) == (3.0, 0.5)


def test_a_minimum_load_below_the_part_load_curve_is_refused(tmp_path: Path) -> None:
    """The EIRfPLR record holds down to its PLRMin; the nameplate may not ask for less."""
    site = (SHIPPED.parent / "site.toml").read_text(encoding="utf-8")
    path = _write(tmp_path, _lines())
    (tmp_path / "site.toml").write_text(
        site.replace("hp_min_load_pct = 20.0", "hp_min_load_pct = 10.0"), encoding="utf-8"
    )
    p = _only(_problems(path))
    assert p.field == "heatpump" and "part-load curve" in p.message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    p = _only(_problems(tmp_path / "absent.toml"))
    assert "not found" in p.message
