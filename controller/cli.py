"""The ``heatrecovery`` command.

Subcommands are registered by functions that add a parser to the subparser set.
The controller's own commands are listed here; the simulator contributes its
commands through the ``heatrecovery.commands`` entry-point group, so a gateway that
installs only the controller gets a CLI without them and this package never imports
the simulator.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from importlib.metadata import entry_points

from controller import __version__

Register = Callable[[argparse._SubParsersAction], None]

# Controller commands: "module:function" so that importing the CLI stays cheap.
BUILTIN_COMMANDS: tuple[str, ...] = (
    "controller.config.cli:register_registermap",
    "controller.fieldbus.probe:register_probe",
    "controller.opcua.cli:register_opcua",
    "controller.runcli:register_run",
    "controller.runcli:register_check",
    "controller.accounting.cli:register_report",
    "controller.accounting.replacecli:register_meter_replaced",
)


def _load(spec: str) -> Register:
    module, _, attr = spec.partition(":")
    return getattr(import_module(module), attr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heatrecovery",
        description="Data-centre heat recovery: plant controller and plant simulator.",
    )
    parser.add_argument("--version", action="version", version=f"heatrecovery {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for spec in BUILTIN_COMMANDS:
        _load(spec)(sub)
    for ep in sorted(entry_points(group="heatrecovery.commands"), key=lambda e: e.name):
        ep.load()(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
