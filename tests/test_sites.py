"""Site folders (issue 11): every shipped site passes check-config; what a site's
files say twice must agree; what follows from the nameplate follows it; and no
configuration mistake reaches a traceback. Runs are an hour or less of plant time."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from controller.cli import main
from controller.config.settings import SiteSettings, kw_gains, load_site, per_kw_gains
from controller.config.sitefolder import REFERENCE_SITE, site_folder
from controller.config.tomlfile import ConfigError
from controller.core.alarms import AlarmEngine
from controller.sitealarms import follow_limits, load_site_alarms
from simulator.baseline_rules import BaselineTuning
from simulator.runner import ClosedLoop, load_sim_site

ROOT = Path(__file__).resolve().parent.parent
PILOT = ROOT / "sites" / "pilot"
SHIPPED_SITES = [REFERENCE_SITE, *sorted(p for p in (ROOT / "sites").iterdir() if p.is_dir())]

SHORT = """name = "{name}"
description = "A short steady hour for the site tests."
duration = "{duration}"
dt = 1.0
seed = 3

[initial]
tank_soc = 0.5
hp_running = true
fws_supply_temp = 35.0

[series.it_utilisation]
value = 0.8

[series.dh_demand]
value = {demand}
{events}"""


def copy_site(src: Path, dst: Path) -> Path:
    """A site folder in tmp_path, its relative references to the repository made absolute."""
    shutil.copytree(src, dst)
    site = dst / "site.toml"
    text = site.read_text(encoding="utf-8")
    text = text.replace('"../../config/alarms.toml"', f'"{REFERENCE_SITE / "alarms.toml"}"')
    site.write_text(text, encoding="utf-8")
    return dst


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def short_scenario(path: Path, *, demand: float = 90.0, duration: str = "1h", events: str = ""):
    path.write_text(
        SHORT.format(name=path.stem, duration=duration, demand=demand, events=events),
        encoding="utf-8",
    )
    return path


# ---------------------------------------------------------------- shipped sites
@pytest.mark.parametrize("folder", SHIPPED_SITES, ids=lambda p: p.name)
def test_every_shipped_site_passes_check_config(folder: Path, capsys) -> None:
    assert main(["check-config", "--site", str(folder)]) == 0
    assert "OK" in capsys.readouterr().out


def test_site_folder_finds_its_files_and_old_file_paths_still_work() -> None:
    assert site_folder(PILOT).site_file == PILOT / "site.toml"
    assert site_folder(PILOT / "plant.toml").site_file == PILOT / "site.toml"
    assert site_folder(PILOT / "site.toml").root == PILOT
    assert site_folder(None).root == REFERENCE_SITE
    with pytest.raises(ConfigError, match="no such site folder"):
        site_folder(PILOT / "absent")


def test_controller_commands_take_the_site_folder(tmp_path: Path, capsys) -> None:
    """report reads the pilot's site file: its ledger path, not the reference's."""
    site = copy_site(PILOT, tmp_path / "sites" / "pilot")
    assert main(["report", "--month", "2026-11", "--site", str(site)]) == 2
    assert "var/pilot/energy-ledger.sqlite" in capsys.readouterr().err


def test_a_folder_without_a_site_file_is_refused_by_name(tmp_path: Path, capsys) -> None:
    assert main(["check-config", "--site", str(tmp_path)]) == 2
    assert "has no site.toml" in capsys.readouterr().err


# ---------------------------------------------------------------- the nameplate, once
def test_pilot_plant_with_the_reference_site_file_is_refused_naming_the_field(
    tmp_path: Path, capsys
) -> None:
    """Issue 11: the pilot's plant with the shipped site file ran a day DEGRADED."""
    site = copy_site(PILOT, tmp_path / "pilot")
    edit(site / "plant.toml", "[heatpump]\n", "[heatpump]\ncapacity_kw = 1200.0\n")
    assert main(["scenario", "hp-trip", "--site", str(site), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "heatpump.capacity_kw" in err and "site.toml plant.hp_capacity_kw = 110.0" in err


def test_a_nameplate_figure_left_out_is_refused_not_defaulted(tmp_path: Path, capsys) -> None:
    """A default would be the reference's 1.2 MW: the pilot would run on it, silently."""
    site = copy_site(PILOT, tmp_path / "pilot")
    edit(site / "site.toml", "hp_capacity_kw = 110.0", "")
    assert main(["check-config", "--site", str(site)]) == 2
    assert "plant.hp_capacity_kw: required field is missing" in capsys.readouterr().err


def test_plausible_ranges_too_small_for_the_nameplate_are_refused(tmp_path: Path) -> None:
    """A 26 MW hall on the reference map read heat-pump output and flows BAD all day."""
    site = copy_site(REFERENCE_SITE, tmp_path / "hall")
    edit(site / "site.toml", "hp_capacity_kw = 1200.0", "hp_capacity_kw = 30000.0")
    edit(site / "site.toml", "fws_pump_nominal_m3h = 100.0", "fws_pump_nominal_m3h = 2500.0")
    with pytest.raises(ConfigError) as info:
        load_site(site)
    text = info.value.render()
    assert "plant.hp_capacity_kw: heatpump.heat_output reads at most 5000" in text
    assert "37500" in text  # 1.25 x 30 MW
    assert "plant.fws_pump_nominal_m3h: plc.fws_flow reads at most 3000" in text
    assert "plant.hp_capacity_kw: heatpump.electric_power reads at most 2000" in text
    assert "cdu01.it_load" not in text  # the racks did not change: their readings fit


def test_the_pilot_nameplate_sizes_the_settings() -> None:
    s = load_site(PILOT).settings
    assert s.source_min_kw == pytest.approx(13.75)  # 12.5 % of 110 kW, not 150 kW
    assert s.dh_demand_max_kw == pytest.approx(440.0)
    assert s.meter_max_power_kw == pytest.approx(110.0 * 5 / 3)
    ref = load_site(REFERENCE_SITE).settings
    # The reference keeps its kW figures exactly: 150 kW, 2000 kW, and its gains.
    assert (ref.source_min_kw, ref.meter_max_power_kw) == (150.0, 2000.0)
    assert kw_gains(ref.tuning.soc, 1200.0)[:2] == (2000.0, 2000.0 / 3600.0)
    assert kw_gains(ref.tuning.source, 1200.0)[:2] == (250.0, 250.0 / 300.0)
    assert per_kw_gains(ref.tuning.injection, 1200.0)[:2] == (0.02, 0.02 / 20.0)


def test_pilot_heat_pump_is_not_stopped_for_lack_of_source(tmp_path: Path) -> None:
    """With the absolute 150 kW threshold the 110 kW pilot (88 kW of IT heat here)
    stopped its heat pump after source_low_s (30 min)."""
    sim = load_sim_site(PILOT)
    assert sim.site.settings.heatpump.source_low_s == 1800.0
    sc = sim.scenario(short_scenario(tmp_path / "pilot-hour.toml", duration="40m"))
    loop = ClosedLoop(sc, plant_cfg=sim.plant, site=sim.site)
    result = loop.run()
    assert loop.plant.hp.running
    assert result.hp_starts == 0
    assert result.kpis["mode_hours"].get("DEGRADED", 0.0) == 0.0


# ---------------------------------------------------------------- alarms from the site
def test_comms_alarms_follow_the_nameplates_cdus() -> None:
    ids = {d.id for d in load_site_alarms(load_site(REFERENCE_SITE))}
    assert {"COMMS_CDU01", "COMMS_CDU02", "COMMS_HEATPUMP"} <= ids
    pilot = {d.id for d in load_site_alarms(load_site(PILOT))}
    assert "COMMS_CDU01" in pilot and "COMMS_CDU02" not in pilot


def test_a_leftover_cdu_alarm_is_refused_by_name_not_a_traceback(tmp_path: Path, capsys) -> None:
    """Issue 11: a leftover COMMS_CDU02 on a one-CDU site crashed `scenario` (exit 1)."""
    site = copy_site(PILOT, tmp_path / "pilot")
    alarms = (REFERENCE_SITE / "alarms.toml").read_text(encoding="utf-8")
    alarms += (
        '\n[[alarm]]\nid = "COMMS_CDU02"\nkind = "flag"\nsource = "comms.cdu02"\n'
        'priority = "low"\nmessage = "No data from CDU02"\naction = "Check CDU02"\n'
        'category = "comms"\n'
    )
    (site / "alarms.toml").write_text(alarms, encoding="utf-8")
    edit(site / "site.toml", f'"{REFERENCE_SITE / "alarms.toml"}"', '"alarms.toml"')
    assert main(["scenario", "hp-trip", "--site", str(site), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "source: unknown signal 'comms.cdu02'" in err
    assert "this site's devices:" in err and "cdu01" in err
    assert "Traceback" not in err
    assert main(["check-config", "--site", str(site)]) == 2


def test_alarm_limits_are_the_site_files(tmp_path: Path) -> None:
    site = copy_site(REFERENCE_SITE, tmp_path / "ref")
    edit(site / "site.toml", "fws_supply_high = 38.0", "fws_supply_high = 37.0")
    alarm = {d.id: d for d in load_site_alarms(load_site(site))}["FWS_SUPPLY_HIGH"]
    assert alarm.limit == 37.0 and "above 37 °C" in alarm.message


def test_a_reloaded_limit_moves_its_alarm() -> None:
    site = load_site(REFERENCE_SITE)
    defs = load_site_alarms(site)
    engine = AlarmEngine(defs)
    s = site.settings
    lowered = SiteSettings.model_validate(
        {**s.model_dump(), "limits": {**s.limits.model_dump(), "fws_supply_high": 37.0}}
    )
    follow_limits(engine, defs, lowered)
    raised = [
        e.alarm_id
        for t in range(0, 90)
        for e in engine.update({"fws_supply": 37.5}, float(t))
        if e.kind == "raise"
    ]
    assert raised == ["FWS_SUPPLY_HIGH"]  # 37.5 °C: above the reloaded 37, below 38


def test_an_alarm_limit_naming_no_setting_is_refused_with_its_line(tmp_path: Path) -> None:
    site = copy_site(REFERENCE_SITE, tmp_path / "ref")
    edit(site / "alarms.toml", '"limits.fws_supply_high"', '"limits.fws_supply_hihg"')
    with pytest.raises(ConfigError, match=r"line \d+: alarm\[1\]\.limit: 'limits.fws_supply_hihg'"):
        load_site_alarms(load_site(site))


# ---------------------------------------------------------------- scenarios of the site
def test_scenario_events_are_checked_against_the_sites_register_map(tmp_path: Path) -> None:
    """cdu02 exists in the reference map but not on the pilot."""
    events = (
        '\n[[events]]\nkind = "sensor_stuck"\nat = "10m"\nduration = "10m"\n'
        'device = "cdu02"\npoint = "fws_supply_temp"\n'
    )
    path = short_scenario(tmp_path / "stuck.toml", events=events)
    load_sim_site(REFERENCE_SITE).scenario(path)  # fine on the reference site
    with pytest.raises(ConfigError, match="cdu02"):
        load_sim_site(PILOT).scenario(path)


def test_bench_takes_a_site_and_scenario_files(tmp_path: Path) -> None:
    path = short_scenario(tmp_path / "pilot-quarter.toml", duration="15m")
    out = tmp_path / "bench.json"
    code = main(
        ["bench", "--site", str(PILOT), str(path), "--workers", "1", "--quiet",
         "--json", str(out)]
    )  # fmt: skip
    assert code == 0
    runs = json.loads(out.read_text(encoding="utf-8"))["scenarios"]["pilot-quarter"]
    assert runs["ours"]["kpis"]["fws_s_above_limit"] == 0.0
    assert runs["bound"]["delivered_kwh"] > 0


def test_site_scenarios_are_found_by_name() -> None:
    sim = load_sim_site(PILOT)
    assert "winter-steady" in sim.scenario_names()
    assert sim.scenario("hp-trip").path == PILOT / "scenarios" / "hp-trip.toml"


# ---------------------------------------------------------------- the baseline, per site
def test_baseline_is_commissioned_from_the_sites_design_temperature() -> None:
    ref = load_site(REFERENCE_SITE).settings
    assert BaselineTuning.for_site(ref) == BaselineTuning()  # the reference is unchanged
    air = SiteSettings.model_validate(
        {**ref.model_dump(), "setpoints": {**ref.setpoints.model_dump(), "fws_supply_temp": 27.0}}
    )
    t = BaselineTuning.for_site(air)
    assert (t.hp_on_return_c, t.hp_off_return_c) == (31.0, 28.0)  # not 39/36: it would never run
