"""Downtime is billed: every kWh the register counts between closed marks lands in a row.

The daemon's accounting service passes ``dt = 0`` on its first cycle (it has no
previous one), so the first cycle after a start covers no time. The register step
from the last closed mark to that first reading must still be placed (as flagged
gap energy) and never dropped while the meter's baseline moves past it. These runs
follow the daemon's calling convention on a real SQLite ledger; a kill is the
accounting object abandoned without ``close`` (its committed rows are all a killed
process leaves), a clean stop closes the ledger with the interval still open.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from accounting_helpers import T0, FakeMeter, config

from controller.accounting import rows as rf
from controller.accounting.accounting import EnergyAccounting
from controller.accounting.ledger import Ledger
from controller.cli import main

SITE = """
[site]
name = "Downtime test"
timezone = "UTC"

[accounting]
ledger_path = "ledger.sqlite"
availability_target_pct = 99.5

[contract]
name = "HPA-7"
buyer = "Fjernvarme A/S"
pricing = "fixed"
fixed_price_eur_per_mwh = 45.5
contracted_capacity_mw = 1.2
capacity_price_eur_per_mw_month = 2500.0
penalty_pct_per_point = 10.0
take_or_pay_min_mwh_per_month = 10.0
"""


def run_like_the_daemon(
    path: Path, meter: FakeMeter, start: int, end: int
) -> tuple[EnergyAccounting, Ledger]:
    """Open the ledger at ``start`` and account one cycle a second up to ``end``.

    The first cycle gets ``dt = 0`` as ``AccountingService.cycle`` gives it.
    """
    ledger = Ledger(path)
    acc = EnergyAccounting(config(), ledger, start)
    prev = start
    for t in range(start + 1, end + 1):
        meter.advance(t - prev)
        acc.update(t, 0.0 if prev == start else t - prev, meter.inputs())
        prev = t
    return acc, ledger


def billed(path: Path) -> tuple[float, float, float]:
    """(sum of meter + gap energy over the rows, last closed register mark, gap energy)."""
    with Ledger(path) as ledger:
        rows = ledger.intervals()
    total = sum((r.meter_kwh or 0.0) + (r.gap_meter_kwh or 0.0) for r in rows)
    gap = sum(r.gap_meter_kwh or 0.0 for r in rows)
    last_mark = next(r.register_kwh for r in reversed(rows) if r.register_kwh is not None)
    assert last_mark is not None
    return total, last_mark, gap


def report_mwh(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> float:
    site = tmp_path / "site.toml"
    site.write_text(SITE)
    capsys.readouterr()
    assert main(["report", "--month", "2026-11", "--config", str(site)]) == 0
    text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if "Heat delivered (meter register)" in x)
    billed_mwh = float(line.split()[-2])
    # The money line prices the same energy.
    assert re.search(rf"{billed_mwh:.3f} MWh x 45\.50 EUR/MWh", text), text
    return billed_mwh


def test_clean_stop_and_restart_bill_the_register_delta(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite"
    m = FakeMeter()
    first_register = float(int(m.energy + m.power_kw / 3600.0))  # the first reading, at +1 s
    _, ledger = run_like_the_daemon(path, m, T0 + 10, T0 + 2000)  # 2 rows closed, 200 s open
    ledger.close()  # SIGTERM: the ledger is closed with the third interval open
    m.advance(40)  # 40 s down, as in the field report
    _, ledger = run_like_the_daemon(path, m, T0 + 2040, T0 + 4500)  # closes at 2700, 3600, 4500
    ledger.close()
    end_register = m.register()  # read at T0 + 4500, the last close
    assert end_register is not None
    total, last_mark, gap = billed(path)
    assert last_mark == end_register
    # Register delta equals the rows to the kWh; the restart's part is flagged gap energy.
    assert total == pytest.approx(end_register - first_register, abs=0.5)
    assert gap > 0
    with Ledger(path) as ledger:
        after = [r for r in ledger.intervals() if r.start == T0 + 1800]
    assert len(after) == 1 and rf.GAP_ENERGY in after[0].flag_set
    assert report_mwh(tmp_path, capsys) == pytest.approx(total / 1000.0, abs=0.0006)


def test_kills_mid_interval_lose_no_register_energy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ledger.sqlite"
    m = FakeMeter()
    first_register = float(int(m.energy + m.power_kw / 3600.0))
    abandoned: list[tuple[EnergyAccounting, Ledger]] = []  # never closed, as after kill -9
    t = T0 + 10
    for i in range(12):
        up = 150 + 97 * i  # some runs close a row, some die inside their first interval
        abandoned.append(run_like_the_daemon(path, m, t, t + up))
        down = 20 + 37 * i
        m.advance(down)
        t += up + down
    end = (t // 900 + 2) * 900  # the last run closes two rows, the last exactly on a reading
    _, ledger = run_like_the_daemon(path, m, t, end)
    ledger.close()
    end_register = m.register()
    assert end_register is not None
    total, last_mark, gap = billed(path)
    assert last_mark == end_register
    assert total == pytest.approx(end_register - first_register, abs=0.5)
    assert gap > 0
    assert report_mwh(tmp_path, capsys) == pytest.approx(total / 1000.0, abs=0.0006)
