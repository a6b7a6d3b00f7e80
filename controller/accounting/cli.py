"""``heatrecovery report``: registered here, the machinery imported only when it runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from controller.config.sitefolder import add_site_argument, site_folder


def _run(args: argparse.Namespace) -> int:
    from controller.accounting.report import load_report_config, run_report
    from controller.config.tomlfile import ConfigError

    try:
        cfg = load_report_config(site_folder(args.site).site_file)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    ledger_path = args.ledger or cfg.resolve(cfg.accounting.ledger_path)
    try:
        run_report(args.month, cfg, Path(ledger_path), args.csv)
    except (OSError, KeyError, ValueError) as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    return 0


def register_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="monthly heat statement and reconciliation CSV from the energy ledger"
    )
    p.add_argument("--month", required=True, help="billing month, YYYY-MM (site time zone)")
    p.add_argument("--ledger", type=Path, help="ledger file (default: [accounting] ledger_path)")
    add_site_argument(p, "--config")
    p.add_argument("--csv", type=Path, help="write the interval reconciliation CSV here")
    p.set_defaults(func=_run)
