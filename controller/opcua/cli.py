"""``heatrecovery export-nodeset`` and ``heatrecovery opcua-user``."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from controller.config.sitefolder import add_site_argument, site_folder


def register_opcua(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export-nodeset",
        help="write the OPC UA address space as NodeSet2 XML",
        description="Write the OPC UA address space of the site (Objects/Plant) as a "
        "NodeSet2 XML file for SCADA integrators.",
    )
    p.add_argument("file", type=Path, help="output file")
    add_site_argument(p)
    p.set_defaults(func=_export)

    u = sub.add_parser(
        "opcua-user",
        help="hash a password and print the OPC UA user entry for the site file",
        description="Ask for a password (or read one line from stdin) and print the "
        "inline TOML table to add to `users = [...]` in the [opcua] section.",
    )
    u.add_argument("name", help="user name the SCADA logs in with")
    u.add_argument("--role", required=True, choices=["operator", "utility", "admin"])
    u.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    u.set_defaults(func=_user)


def _export(args: argparse.Namespace) -> int:
    from controller.config.settings import load_site
    from controller.config.tomlfile import ConfigError
    from controller.opcua.addressspace import PlantShape
    from controller.opcua.nodeset import export_nodeset

    try:
        site = load_site(site_folder(args.site).site_file)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    export_nodeset(args.file, PlantShape.from_site(site.settings, site.regmap))
    print(f"wrote {args.file}", file=sys.stderr)
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _user(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from controller.opcua.settings import OpcUaUser, hash_password

    try:
        password = _read_password(args.password_stdin)
        user = OpcUaUser(name=args.name, role=args.role, password_hash=hash_password(password))
    except (ValueError, ValidationError) as exc:
        print(f"opcua-user: {exc}", file=sys.stderr)
        return 2
    print("# add to the users list of the [opcua] section of the site file:", file=sys.stderr)
    print(
        f'{{ name = "{user.name}", role = "{user.role}", password_hash = "{user.password_hash}" }}'
    )
    return 0
