"""``heatrecovery bench``: the target check, the README block and one run end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulator.bench import check_targets, run_bench, strip_series
from simulator.benchdoc import BEGIN, END, results_markdown, update_headline
from simulator.benchreport import markdown_table

pytestmark = pytest.mark.xdist_group("scenarios")


def _k(**kw: Any) -> dict[str, Any]:
    base = {
        "fws_s_above_limit": 0.0,
        "hp_starts": 0,
        "dumped_mwh": 0.1,
        "dh_in_band_pct": 100.0,
        "recovery_ratio": 0.99,
        "wall_s_per_24h": 8.0,
    }
    base.update(kw)
    return {"kpis": base}


def _results(**scenarios: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    return {
        "scenarios": {
            name.replace("_", "-"): {"ours": ours, "baseline": base}
            for name, (ours, base) in scenarios.items()
        }
    }


def _verdicts(results: dict[str, Any]) -> dict[tuple[str, str], bool]:
    return {(r["target"], r["scenario"]): r["met"] for r in check_targets(results)}


def test_targets_each_can_fail() -> None:
    good = _verdicts(
        _results(
            winter_steady=(_k(hp_starts=0), _k(hp_starts=0, dumped_mwh=0.5)),
            ai_training=(_k(hp_starts=1), _k(hp_starts=3, dumped_mwh=2.0)),
            summer_low_demand=(_k(hp_starts=1, dumped_mwh=11.0), _k(hp_starts=2, dumped_mwh=12)),
        )
    )
    assert all(good.values())
    bad = _verdicts(
        _results(
            winter_steady=(
                _k(fws_s_above_limit=1.0, dh_in_band_pct=98.9, wall_s_per_24h=10.0),
                _k(),
            ),
            ai_training=(_k(hp_starts=2, recovery_ratio=0.969), _k(hp_starts=2)),
            summer_low_demand=(_k(dumped_mwh=12.0), _k(dumped_mwh=12.0)),
        )
    )
    assert not bad[("0 s above the FWS limit", "winter-steady")]
    assert not bad[("DH supply within +/-1 K", "winter-steady")]
    assert not bad[("24 h of plant in wall time", "winter-steady")]
    assert not bad[("recovery ratio", "ai-training")]
    assert not bad[("fewer heat-pump starts than baseline", "ai-training")]  # a tie
    assert not bad[("less heat dumped than baseline", "summer-low-demand")]  # a tie
    assert bad[("fewer heat-pump starts than baseline", "winter-steady")]  # 0 and 0


def test_readme_block_is_replaced_between_its_markers_only() -> None:
    results = _results(winter_steady=(_k(), _k(recovery_ratio=0.95)))
    text = f"# Title\n\nintro\n\n{BEGIN}\nold table\n{END}\n\n## Next\nkept\n"
    new = update_headline(text, results)
    assert new is not None
    assert "old table" not in new
    assert new.startswith("# Title\n\nintro\n\n" + BEGIN)
    assert new.endswith(END + "\n\n## Next\nkept\n")
    assert "| winter-steady | 0.990 / 0.950 |" in new
    assert update_headline("no markers here", results) is None


def test_bench_end_to_end_on_a_short_scenario(tmp_path: Path) -> None:
    from simulator.benchplots import plot_all

    results = run_bench(["controller-stop"], workers=1)
    sc = results["scenarios"]["controller-stop"]
    for ctl in ("ours", "baseline"):
        k = sc[ctl]["kpis"]
        assert k["fws_s_above_limit"] == 0.0
        assert 0.5 < k["recovery_ratio"] <= 1.0
        (fault,) = k["faults"]
        assert fault["kind"] == "controller_stop"
        assert 10.0 <= fault["safe_after_s"] <= 20.0  # the PLC's 10 s watchdog
    assert sc["bound"]["delivered_kwh"] == pytest.approx(1000.0, rel=0.01)
    doc = json.loads(json.dumps(strip_series(results)))
    assert "series" not in doc["scenarios"]["controller-stop"]["ours"]
    (png,) = plot_all(
        results,
        tmp_path,
        {"fws_setpoint": 35.0, "fws_high": 38.0, "fws_limit": 40.0, "dh_band_k": 1.0},
    )
    assert png.stat().st_size > 10_000
    md = results_markdown(results, "plots", ("controller-stop",))
    assert markdown_table(results) in md
    assert "![controller-stop](plots/controller-stop.png)" in md
