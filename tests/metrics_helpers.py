"""Scraping the controller's HTTP endpoints from a test, and a faster-settling site file."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from e2e import write_site
from prometheus_client.parser import text_string_to_metric_families

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def quick_site(tmp: Path, port: int) -> Path:
    """The e2e site file with a 10 s (plant) interlock dwell: a PLC that went to local
    safe mode before the controller's first heartbeat releases in 1 s of wall time
    instead of 12, so the tests see a healthy plant quickly."""
    path = write_site(tmp, port, period_s=0.1, time_scale=10.0)
    path.write_text(path.read_text() + "[interlocks]\ndwell_s = 10.0\n")
    return path


def get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def scrape(base: str) -> Series:
    status, body = get(f"{base}/metrics")
    assert status == 200, body
    out: Series = {}
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def health(base: str) -> tuple[int, dict[str, Any]]:
    status, body = get(f"{base}/healthz")
    return status, json.loads(body)


def wait_health(base: str, want: int, timeout: float) -> dict[str, Any]:
    end = time.monotonic() + timeout
    last: tuple[int, Any] = (0, None)
    while time.monotonic() < end:
        try:
            last = health(base)
        except OSError as exc:
            last = (0, str(exc))
        if last[0] == want:
            return last[1]
        time.sleep(0.1)
    raise AssertionError(f"/healthz did not answer {want} within {timeout} s; last: {last}")


def value(series: Series, name: str, **labels: str) -> float | None:
    return series.get((name, tuple(sorted(labels.items()))))


def scrape_after_cycles(base: str, since: Series, cycles: int, timeout: float = 5.0) -> Series:
    """Scrape again once ``cycles`` more scan cycles have completed."""
    start = value(since, "heatrecovery_scan_cycles_total") or 0.0
    end = time.monotonic() + timeout
    while True:
        now = scrape(base)
        done = (value(now, "heatrecovery_scan_cycles_total") or 0.0) - start
        if done >= cycles or time.monotonic() > end:
            return now
        time.sleep(0.1)
