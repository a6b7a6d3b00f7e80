"""A year of hourly outdoor temperature: a shipped typical year, a CSV, or a seeded generator.

Typical years (data/climate/, sources in the README there) are what a study should
use where one exists near the site. Elsewhere twelve monthly means are what is
easy to find; the generator turns them into an hourly year with a daily cycle and
day-to-day weather (a first-order autoregressive anomaly), seeded so a study gives
the same numbers on every machine, and corrected so each month's mean is exactly
the one given: the heating degree-hours, which drive demand, come out right.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

HOURS = 8760
DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
CLIMATE_DIR = Path(__file__).resolve().parent / "data" / "climate"
Array = NDArray[np.float64]


def shipped_years() -> list[str]:
    return sorted(p.stem for p in CLIMATE_DIR.glob("*.csv"))


def month_of_hour() -> NDArray[np.int64]:
    """Month index 0-11 for each hour of a non-leap year."""
    return np.repeat(np.arange(12), np.array(DAYS_IN_MONTH) * 24)


def load_year(path: Path) -> Array:
    """``hour,temp_c`` CSV with ``#`` comments; exactly 8760 finite values."""
    temps: list[float] = []
    with path.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line or line.startswith("#") or line.startswith("hour"):
                continue
            parts = line.split(",")
            try:
                value = float(parts[1])
            except (IndexError, ValueError):
                raise ValueError(f"{path}:{n}: expected 'hour,temp_c', got {line!r}") from None
            if not np.isfinite(value) or not -60.0 <= value <= 60.0:
                raise ValueError(f"{path}:{n}: temperature {value} is not plausible")
            temps.append(value)
    if len(temps) != HOURS:
        raise ValueError(f"{path}: {len(temps)} hourly values, expected {HOURS}")
    return np.array(temps)


def shipped_year(name: str) -> Array:
    path = CLIMATE_DIR / f"{name}.csv"
    if not path.exists():
        raise ValueError(f"no shipped climate year {name!r}; shipped: {', '.join(shipped_years())}")
    return load_year(path)


def generate_year(
    monthly_means: list[float],
    diurnal_amplitude_k: float = 3.0,
    day_sigma_k: float = 2.5,
    day_correlation: float = 0.7,
    seed: int = 1,
) -> Array:
    """Hourly year whose monthly means are exactly ``monthly_means``.

    The seasonal curve is linear between mid-month points (so months join smoothly),
    the daily cycle a sinusoid with its minimum at 05:00 and maximum at 15:00 (half
    ``diurnal_amplitude_k`` either side), and each day carries an AR(1) anomaly of
    standard deviation ``day_sigma_k``.
    """
    if len(monthly_means) != 12:
        raise ValueError("monthly_means needs 12 values")
    rng = np.random.default_rng(seed)
    days = np.cumsum((0, *DAYS_IN_MONTH))
    mid = (days[:-1] + days[1:]) / 2.0
    day = np.arange(365) + 0.5
    xp = np.concatenate(([mid[-1] - 365], mid, [mid[0] + 365]))
    fp = np.concatenate(([monthly_means[-1]], monthly_means, [monthly_means[0]]))
    seasonal = np.interp(day, xp, fp)
    anomaly = np.empty(365)
    a = 0.0
    scale = day_sigma_k * np.sqrt(1.0 - day_correlation**2)
    for i in range(365):
        a = day_correlation * a + rng.normal(0.0, scale)
        anomaly[i] = a
    # Daily cycle: a half cosine rising from 05:00 to 15:00, another falling back
    # over the 14 hours to the next 05:00.
    hour = np.arange(24.0)
    rise = -np.cos((hour - 5.0) / 10.0 * np.pi)
    fall = np.cos(((hour - 15.0) % 24.0) / 14.0 * np.pi)
    cycle = np.where((hour >= 5.0) & (hour <= 15.0), rise, fall) * diurnal_amplitude_k / 2.0
    temps = (seasonal + anomaly)[:, None] + cycle[None, :]
    temps = temps.reshape(-1)
    months = month_of_hour()
    for m in range(12):
        sel = months == m
        temps[sel] += monthly_means[m] - temps[sel].mean()
    return temps


def heating_degree_hours(temps: Array, base_c: float) -> float:
    return float(np.sum(np.maximum(base_c - temps, 0.0)))
