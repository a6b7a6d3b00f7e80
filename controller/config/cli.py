"""``heatrecovery registermap``: print the register map for integrators."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from controller.config.registermap import RegisterMap, load_register_map
from controller.config.tomlfile import ConfigError

DEFAULT_MAP = Path("config/registers.toml")


def render_markdown(regmap: RegisterMap, source: str) -> str:
    """Markdown tables of every device's points, the integrator's view of the map."""
    out = [
        "# Register map",
        "",
        f"Generated from `{source}` by `heatrecovery registermap --markdown`; do not edit by hand.",
        "Addresses are 0-based protocol addresses. Engineering value = raw x scale + offset.",
        "32-bit values span two registers; word order `big` sends the high word first.",
        "Writable points are checked against their range; the revert value is what the",
        "controller writes on shutdown, on loss of the device's data and in SAFE mode.",
        "",
        "| device | unit id | model | description |",
        "|---|---|---|---|",
    ]
    for name, dev in regmap.devices.items():
        out.append(f"| {name} | {dev.unit_id} | {dev.model} | {dev.description} |")
    for model_name, model in regmap.models.items():
        users = [n for n, d in regmap.devices.items() if d.model == model_name]
        out += ["", f"## Model `{model_name}` ({', '.join(users) or 'unused'})", ""]
        if model.description:
            out += [model.description, ""]
        out += [
            "| point | table | address | type | words | scale | unit | access | range | revert"
            " | poll | description |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        order = {"coil": 0, "discrete": 1, "holding": 2, "input": 3}
        for p in sorted(model.points, key=lambda p: (order[p.table], p.address)):
            words = f"{p.words} {p.word_order}" if p.words == 2 else "1"
            rng = f"{p.range[0]:g} .. {p.range[1]:g}" if p.range else ""
            scale = f"{p.scale:g}" + (f" {p.offset:+g}" if p.offset else "")
            revert = "" if p.revert is None else f"{p.revert:g}"
            out.append(
                f"| {p.name} | {p.table} | {p.address} | {p.type} | {words} | {scale} | "
                f"{p.unit_symbol or p.unit} | {p.access} | {rng} | {revert} | {p.poll} | "
                f"{p.description} |"
            )
    return "\n".join(out) + "\n"


def _run(args: argparse.Namespace) -> int:
    try:
        regmap = load_register_map(args.map)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    if args.markdown:
        text = render_markdown(regmap, str(args.map))
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    else:
        for name, dev in regmap.devices.items():
            print(f"{name:<10} unit {dev.unit_id:<3} {len(regmap.points_of(name)):>3} points")
    return 0


def register_registermap(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("registermap", help="check the register map and print it for integrators")
    p.add_argument("--map", type=Path, default=DEFAULT_MAP, help="register map file")
    p.add_argument("--markdown", action="store_true", help="print markdown tables")
    p.add_argument("-o", "--output", type=Path, help="write to this file instead of stdout")
    p.set_defaults(func=_run)
