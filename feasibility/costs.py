"""CapEx and O&M from the shipped cost catalogue (data/costs.csv, every row with its source).

Each row is ``cost_eur * (size / ref_size) ** scale_exponent`` in euros of its own
currency year, brought to the study's price year at the study's inflation rate.
The route type scales the paved-urban pipe cost of the Danish Energy Agency by the
ratio of THERMOS's trench-cost formula for that surface to its urban-hard one.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

CATALOGUE = Path(__file__).resolve().parent / "data" / "costs.csv"
COLUMNS = (
    "item",
    "block",
    "unit",
    "ref_size",
    "cost_eur",
    "currency_year",
    "scale_exponent",
    "source",
)
# THERMOS civil cost (A, B) per surface, pipe cost = mech 50 + (700 d)^1.3 + A + (B d)^1.1.
THERMOS_CIVIL = {
    "urban_hard": (1200.0, 500.0),
    "urban_soft": (450.0, 0.0),
    "suburban_hard": (850.0, 200.0),
    "suburban_soft": (100.0, 0.0),
}
# Plate / shell-and-tube U values implied by economics.md (1 MW at 4 K: 62 / 208 m2).
HX_U_KW_M2K = {"plate": 1000.0 / (62.0 * 4.0), "shell_and_tube": 1000.0 / (208.0 * 4.0)}
HX_MEAN_DT_K = 4.0


@dataclass(frozen=True, slots=True)
class CostRow:
    item: str
    block: str
    unit: str
    ref_size: float
    cost_eur: float
    currency_year: int
    scale_exponent: float
    source: str

    def cost(self, size: float, price_year: int, inflation_pct: float) -> float:
        if size <= 0.0:
            return 0.0
        base = self.cost_eur * (size / self.ref_size) ** self.scale_exponent
        return base * (1.0 + inflation_pct / 100.0) ** (price_year - self.currency_year)


def load_catalogue(path: Path = CATALOGUE) -> dict[str, CostRow]:
    """Rows by item; a malformed file is refused whole, with its line."""
    rows: dict[str, CostRow] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        lines = [(n, line) for n, line in enumerate(fh, start=1) if not line.startswith("#")]
    reader = csv.reader(line for _, line in lines)
    header = next(reader, None)
    if header is None or tuple(header) != COLUMNS:
        raise ValueError(f"{path}: header must be {','.join(COLUMNS)}")
    for (n, _), rec in zip(lines[1:], reader, strict=False):
        if not rec:
            continue
        if len(rec) != len(COLUMNS):
            raise ValueError(f"{path}:{n}: {len(rec)} columns, expected {len(COLUMNS)}")
        try:
            row = CostRow(
                rec[0], rec[1], rec[2], float(rec[3]), float(rec[4]), int(rec[5]), float(rec[6]),
                rec[7],
            )  # fmt: skip
        except ValueError as exc:
            raise ValueError(f"{path}:{n}: {exc}") from None
        numbers = (row.ref_size, row.cost_eur, row.scale_exponent)
        if not all(math.isfinite(x) for x in numbers) or row.ref_size <= 0 or row.cost_eur < 0:
            raise ValueError(f"{path}:{n}: sizes and costs must be finite, ref_size > 0")
        if not row.source.strip():
            raise ValueError(f"{path}:{n}: {row.item} has no source")
        if row.item in rows:
            raise ValueError(f"{path}:{n}: {row.item} given twice")
        rows[row.item] = row
    return rows


def _pipe_diameter_m(capacity_kw: float, delta_t_k: float = 30.0, velocity: float = 1.5) -> float:
    m3s = capacity_kw / (4.186 * delta_t_k) / 985.0
    return math.sqrt(4.0 * m3s / (math.pi * velocity))


def route_factor(route: str, capacity_kw: float) -> float:
    d = _pipe_diameter_m(capacity_kw)

    def thermos(surface: str) -> float:
        a, b = THERMOS_CIVIL[surface]
        return 50.0 + (700.0 * d) ** 1.3 + a + (b * d) ** 1.1

    return thermos(route) / thermos("urban_hard")


@dataclass(frozen=True, slots=True)
class Capex:
    blocks: dict[str, float]
    sources: dict[str, str]

    @property
    def total(self) -> float:
        return sum(self.blocks.values())


def capex(
    cat: dict[str, CostRow],
    *,
    hp_kw: float,
    tank_m3: float,
    evap_kw: float,
    distance_m: float,
    route: str,
    source_hx: str,
    price_year: int,
    inflation_pct: float,
    factor: float = 1.0,
) -> Capex:
    """CapEx by block for a design (EUR of ``price_year``)."""

    def c(item: str, size: float) -> float:
        return cat[item].cost(size, price_year, inflation_pct) * factor

    band = (
        "dh_pipe_250kw_1mw"
        if hp_kw <= 1000
        else "dh_pipe_1_5mw"
        if hp_kw <= 5000
        else "dh_pipe_5_25mw"
    )
    station = "small" if hp_kw < 1000 else "large"
    area = evap_kw / (HX_U_KW_M2K[source_hx] * HX_MEAN_DT_K)
    if source_hx == "plate":
        hx = c("source_hx_plate_area", area) + c("source_hx_plate_fixed", 1.0)
        hx_items = "source_hx_plate_area, source_hx_plate_fixed"
    else:
        hx = c("source_hx_shell_and_tube_area", area)
        hx_items = "source_hx_shell_and_tube_area"
    blocks = {
        "heat pump": c("heat_pump", hp_kw),
        "buffer tank": c("tank", tank_m3),
        "DH connection pipe": c(band, 1.0) * distance_m * route_factor(route, hp_kw),
        "heat-exchanger station": c(f"hx_station_{station}", hp_kw),
        "pumping station": c(f"pump_station_{station}", hp_kw),
        "source heat exchanger": hx,
    }
    sources = {
        "heat pump": "heat_pump",
        "buffer tank": "tank",
        "DH connection pipe": f"{band} x THERMOS route factor ({route})",
        "heat-exchanger station": f"hx_station_{station}",
        "pumping station": f"pump_station_{station}",
        "source heat exchanger": f"{hx_items} ({area:.0f} m2 at {HX_MEAN_DT_K:g} K)",
    }
    return Capex(blocks, sources)


def annual_om(
    cat: dict[str, CostRow], cap: Capex, hp_kw: float, hp_heat_mwh: float, price_year: int,
    inflation_pct: float,
) -> float:  # fmt: skip
    """O&M a year: DEA fixed + variable for the heat pump, a share of CapEx for the rest."""
    hp = cat["heat_pump_om_fixed"].cost(hp_kw, price_year, inflation_pct)
    hp += cat["heat_pump_om_variable"].cost(1.0, price_year, inflation_pct) * hp_heat_mwh
    rest = cap.total - cap.blocks["heat pump"]
    return hp + rest * cat["other_om"].cost_eur
