"""``heatrecovery meter-replaced``: the operator's record of a heat meter exchange.

The record goes into the ledger's ``meter_events`` table, nowhere else. A running
daemon takes new ``replaced`` rows from there at its next scan cycle (the ledger is
SQLite in WAL mode, so this second writer needs no stop of the controller); a
stopped one replays them at its next start. Either way the daemon applies it
exactly as ``EnergyAccounting.record_meter_replacement`` does: the old meter's
increment up to its final reading is counted, the new meter counts from its start.

An exchange is recorded while the plant runs, so refusing the command while the
daemon runs would make the operator stop heat delivery to write one row.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from controller.accounting.ledger import Ledger, LedgerError
from controller.accounting.meter import RegisterEvent
from controller.accounting.rows import MeterEvent
from controller.config.sitefolder import add_site_argument, site_folder

FUTURE_TOLERANCE_S = 60.0
"""Clocks of the operator's machine and the gateway may differ this much."""


class ReplacementError(ValueError):
    """The record cannot be stored as given; the message says which value and why."""


def parse_time(text: str, timezone: str) -> float:
    """ISO 8601 to epoch seconds; a time without offset is in the site's time zone."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise ReplacementError(
            f"--at {text!r}: not an ISO 8601 time (e.g. 2026-11-30T10:02 or 2026-11-30T09:02:00Z)"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=ZoneInfo(timezone))
    return t.timestamp()


def _reading(name: str, value: float | None) -> None:
    if value is not None and (not math.isfinite(value) or value < 0):
        raise ReplacementError(f"{name} {value}: must be a finite register reading >= 0 kWh")


def record_replacement(
    ledger: Ledger,
    at_epoch: float,
    new_start_kwh: float,
    old_final_kwh: float | None,
    note: str,
    now_epoch: float,
) -> MeterEvent:
    """Check the record against the ledger and store it; nothing is stored on error.

    A replacement at or before the register mark of the last closed row would be
    skipped by a restart's replay (the rows up to it are final), so it is refused.
    """
    _reading("--new-start-kwh", new_start_kwh)
    _reading("--old-final-kwh", old_final_kwh)
    if at_epoch > now_epoch + FUTURE_TOLERANCE_S:
        raise ReplacementError(
            f"--at {_utc(at_epoch)} is in the future (now {_utc(now_epoch)}): record the "
            "exchange when it has happened"
        )
    mark = ledger.resume().energy_mark
    if mark is not None and at_epoch <= mark.time:
        raise ReplacementError(
            f"--at {_utc(at_epoch)} is not after the last closed ledger row's meter "
            f"reading ({_utc(mark.time)}, {mark.value:g} kWh): those rows are final; "
            "give the time the old meter was removed, which is later"
        )
    event = MeterEvent(at_epoch, RegisterEvent.REPLACED.value, old_final_kwh, new_start_kwh, note)
    ledger.record_meter_event(event)
    return event


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run(args: argparse.Namespace) -> int:
    from controller.accounting.report import load_report_config
    from controller.config.tomlfile import ConfigError

    try:
        cfg = load_report_config(site_folder(args.site).site_file)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    path = Path(args.ledger or cfg.resolve(cfg.accounting.ledger_path))
    if not path.is_file():
        print(
            f"meter-replaced: no ledger at {path}: give the site file the daemon runs "
            "with (--site) or the ledger (--ledger)",
            file=sys.stderr,
        )
        return 2
    try:
        at = parse_time(args.at, cfg.timezone)
        with Ledger(path) as ledger:
            ev = record_replacement(
                ledger, at, args.new_start_kwh, args.old_final_kwh, args.note, time.time()
            )
    except (ReplacementError, LedgerError, OSError) as exc:
        print(f"meter-replaced: {exc}", file=sys.stderr)
        return 2
    old = "not given" if ev.register_before is None else f"{ev.register_before:g} kWh"
    print(
        f"meter replacement recorded in {path}: at {_utc(ev.time)}, new meter from "
        f"{ev.register_after:g} kWh, old meter's final reading {old}. A running controller "
        "applies it at its next scan cycle (log: 'meter replacement applied'); a stopped "
        "one at its next start."
    )
    return 0


def register_meter_replaced(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "meter-replaced",
        help="record a heat meter exchange in the energy ledger (billing)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_site_argument(p, "--config")
    p.add_argument("--ledger", type=Path, help="ledger file (default: [accounting] ledger_path)")
    p.add_argument(
        "--at",
        required=True,
        help="when the old meter was removed, ISO 8601; without offset: site time zone",
    )
    p.add_argument(
        "--new-start-kwh", type=float, required=True, help="the new meter's register at start"
    )
    p.add_argument(
        "--old-final-kwh",
        type=float,
        help="the old meter's last register reading (its last increment is then billed)",
    )
    p.add_argument("--note", default="", help="free text kept with the record (e.g. serials)")
    p.set_defaults(func=_run)
