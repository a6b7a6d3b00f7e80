"""``heatrecovery probe``: check the register map against a real device.

Word-order, scale and off-by-one mistakes (evcc-io/evcc#31591, OpenEMS#86) are
only visible with the raw words beside the decoded value, so the integrator's
tool prints both for every point. Each point is read on its own, through the same
Link and the same judgement as the poller, so one wrong address shows up as one
failing line instead of sinking a whole block, and what probe calls GOOD is what
the controller will call GOOD.

Exit status: 0 every point GOOD, 1 some point not GOOD, 2 bad arguments or map,
3 no connection.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

from controller.config.registermap import Point, RegisterMap, load_register_map
from controller.config.tomlfile import ConfigError
from controller.fieldbus.assess import assess, hex_words
from controller.fieldbus.codec import raw_value
from controller.fieldbus.link import Link, LinkError
from controller.fieldbus.linkconfig import LinkConfig
from controller.fieldbus.signals import Quality

DEFAULT_MAP = Path("config/registers.toml")
_TABLE_ORDER = {"coil": 0, "discrete": 1, "holding": 2, "input": 3}


@dataclass(frozen=True)
class ProbeRow:
    point: Point
    words: tuple[int, ...] | None
    raw: int | float | None
    value: float | None
    quality: Quality
    reason: str


@dataclass(frozen=True)
class ProbeResult:
    device: str
    model: str
    unit_id: int
    endpoint: str
    connected: bool
    rows: tuple[ProbeRow, ...]

    @property
    def all_good(self) -> bool:
        return self.connected and all(r.quality is Quality.GOOD for r in self.rows)


async def probe_device(
    regmap: RegisterMap,
    device: str,
    host: str = "127.0.0.1",
    port: int = 5020,
    *,
    unit_id: int | None = None,
    timeout_s: float = 1.0,
) -> ProbeResult:
    """Read every point of ``device`` one by one; never raises for device trouble."""
    if device not in regmap.devices:
        raise KeyError(device)
    dev = regmap.devices[device]
    if unit_id is not None and unit_id != dev.unit_id:
        regmap = regmap.model_copy(
            update={
                "devices": {**regmap.devices, device: dev.model_copy(update={"unit_id": unit_id})}
            }
        )
    config = LinkConfig(
        name="probe",
        host=host,
        port=port,
        devices=[device],
        timeout_s=timeout_s,
        backoff_initial_s=timeout_s,
        backoff_max_s=timeout_s,
    )
    link = Link(config, regmap)
    endpoint = f"{host}:{port}"
    points = sorted(regmap.points_of(device), key=lambda p: (_TABLE_ORDER[p.table], p.address))
    try:
        if not await link.ensure_connected():
            rows = tuple(
                ProbeRow(p, None, None, None, Quality.BAD, f"no connection to {endpoint}")
                for p in points
            )
            return ProbeResult(device, dev.model, link.unit_of(device), endpoint, False, rows)
        out: list[ProbeRow] = []
        for p in points:
            try:
                words = await link.read(device, p.table, p.address, p.words)
            except LinkError as exc:
                out.append(ProbeRow(p, None, None, None, Quality.BAD, str(exc)))
                continue
            value, quality, reason = assess(words, p)
            out.append(ProbeRow(p, tuple(words), raw_value(words, p), value, quality, reason))
        return ProbeResult(device, dev.model, link.unit_of(device), endpoint, True, tuple(out))
    finally:
        link.close()


def _fmt_raw(raw: int | float | None) -> str:
    if raw is None:
        return "-"
    if isinstance(raw, float):
        return f"{raw:.7g}"
    return str(raw)


def render_probe(result: ProbeResult) -> str:
    """A fixed-width table: the integrator reads it beside the vendor's register list."""
    head = (
        f"probe {result.device} (model {result.model}, unit {result.unit_id}) at {result.endpoint}"
    )
    if not result.connected:
        return f"{head}\n  no connection to {result.endpoint}\n"
    header = ("point", "table", "addr", "type", "words", "raw", "value", "quality")
    rows: list[tuple[str, ...]] = []
    for r in result.rows:
        p = r.point
        typ = f"{p.type}/{p.word_order}" if p.words == 2 else str(p.type)
        value = "-" if r.value is None else f"{r.value:.6g}"
        if r.value is not None and p.unit_symbol:
            value += f" {p.unit_symbol}"
        quality = r.quality.name + (f" ({r.reason})" if r.reason else "")
        words = hex_words(r.words) if r.words is not None else "-"
        rows.append(
            (p.name, str(p.table), str(p.address), typ, words, _fmt_raw(r.raw), value, quality)
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = [head, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    good = sum(1 for r in result.rows if r.quality is Quality.GOOD)
    lines.append(f"{good} of {len(result.rows)} points GOOD")
    return "\n".join(lines) + "\n"


def _run(args: argparse.Namespace) -> int:
    try:
        regmap = load_register_map(args.map)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    if args.device not in regmap.devices:
        print(
            f"unknown device {args.device!r}; the map has {', '.join(regmap.devices)}",
            file=sys.stderr,
        )
        return 2
    result = asyncio.run(
        probe_device(
            regmap, args.device, args.host, args.port, unit_id=args.unit, timeout_s=args.timeout
        )
    )
    sys.stdout.write(render_probe(result))
    if not result.connected:
        return 3
    return 0 if result.all_good else 1


def register_probe(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "probe",
        help="read every point of one device and show raw words beside decoded values",
    )
    p.add_argument("--device", required=True, help="device name from the register map")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5020)
    p.add_argument("--map", type=Path, default=DEFAULT_MAP, help="register map file")
    p.add_argument("--unit", type=int, default=None, help="override the map's unit id")
    p.add_argument("--timeout", type=float, default=1.0, help="seconds per request")
    p.set_defaults(func=_run)
