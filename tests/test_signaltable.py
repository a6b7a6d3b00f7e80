"""The site's signal table: one row per signal generates OPC UA, metrics and the status.

A row added here (not in the shipped table) must appear in the OPC UA address space,
the OPC UA feed, the fleet's Sparkplug catalogue, the status snapshot and ``/metrics``
with no other edit; every register-map point is published or marked internal; the
EURange of a field point is the register map's. The core's per-cycle output is
frozen, so the consumers read one cycle, whole.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any

import pytest
from core_plant import PlantImage, core, shipped_site

from controller.core.conditioning import PlantReadings
from controller.core.image import ProcessImage
from controller.core.outputs import CoreStatus, StatusDraft
from controller.daemon import Daemon
from controller.fieldbus.signals import Quality
from controller.fleet.catalogue import build_catalogue
from controller.metricseries import PlantCollector
from controller.opcua.feed import ScadaFeed
from controller.opcua.points import Kind, PlantShape
from controller.signaltable import (
    INTERNAL,
    SIGNALS,
    FieldRef,
    MetricRef,
    Signal,
    bind_site,
    field_points,
    plant_points,
    point_pattern,
)
from controller.snapshot import SnapshotTaker

SITE = shipped_site()
S = SITE.settings
ROLE_DEVICES = {
    "plc": [S.roles.plc],
    "heatpump": [S.roles.heatpump],
    "drycooler": [S.roles.drycooler],
    "heatmeter": [S.roles.heatmeter],
    "utility": [S.roles.utility],
    "cdu": list(S.plant.cdus),
}
NEW = Signal(
    "hp_evap_sat",
    "Evaporator saturation temperature",
    "HeatPump/EvapSatTemp",
    unit="CEL",
    field=FieldRef("heatpump", "evap_sat_temp"),
    status=True,
    metric=MetricRef("temperature_celsius", ("hp_evap_sat",)),
)


def _patterns(role: str) -> list[Any]:
    return [point_pattern(p) for p in (*field_points()[role], *INTERNAL.get(role, {}))]


@pytest.mark.parametrize("role", sorted(ROLE_DEVICES))
def test_every_register_map_point_is_published_or_marked_internal(role: str) -> None:
    patterns = _patterns(role)
    for dev in ROLE_DEVICES[role]:
        names = [p.name for p in SITE.regmap.points_of(dev)]
        loose = [n for n in names if not any(rx.match(n) for rx in patterns)]
        assert not loose, (
            f"{dev} ({role}): {loose} neither in a row of SIGNALS nor in INTERNAL[{role!r}]"
        )
        stale = [rx.pattern for rx in patterns if not any(rx.match(n) for n in names)]
        assert not stale, f"{role}: rows or INTERNAL name points the map lacks: {stale}"


def test_field_point_ranges_are_the_register_maps() -> None:
    shape = PlantShape.from_site(S, SITE.regmap)
    points = {p.path: p for p in plant_points(shape)}
    checked = 0
    for b in bind_site(S):
        sig = b.signal
        if sig.field is None or b.path is None or sig.kind is not Kind.ANALOG:
            continue
        dev, _, name = (b.key or "").partition(".")
        want = SITE.regmap.point(dev, name).range
        assert want is not None, f"{b.key} has no range in the register map"
        lo, hi = points[b.path].eu_range or (0.0, 0.0)
        if sig.eu_range is None:
            assert (lo, hi) == want, f"{b.path}: EURange {lo}..{hi}, register map {want}"
        else:  # sized to the plant: inside what the device can report
            assert want[0] <= lo < hi <= want[1], f"{b.path}: {lo}..{hi} outside {want}"
        checked += 1
    assert checked >= 30
    assert points["HeatPump/EvapInletTemp"].eu_range == (-10.0, 100.0)


def test_a_field_row_with_a_fixed_range_is_refused() -> None:
    with pytest.raises(ValueError, match="comes from the register map"):
        Signal("x", "x", "X/Y", field=FieldRef("plc", "fws_flow"), eu_range=(0.0, 1.0))


def _one_cycle() -> tuple[Daemon, ProcessImage, Any]:
    daemon = Daemon(SITE)  # not started: no connection, only what the snapshot reads
    plant = PlantImage()
    plant.values[f"{S.roles.heatpump}.evap_sat_temp"] = 4.5
    image = plant.image()
    out = core().step(image, S, 0.0, 1.0)
    return daemon, image, out


async def test_a_new_row_is_published_in_opcua_metrics_and_the_status_snapshot() -> None:
    table = (*SIGNALS, NEW)
    shape = PlantShape.from_site(S, SITE.regmap)
    # OPC UA: the variable the address-space builder creates (``build_address_space``
    # and the NodeSet2 export take the same table), with the register map's range.
    [p] = [p for p in plant_points(shape, table) if p.path == "HeatPump/EvapSatTemp"]
    assert p.eu_range == (-30.0, 100.0) and p.unit == "CEL"
    # The feed publishes its value with the field bus's quality.
    daemon, image, out = _one_cycle()
    readings = ScadaFeed(S, None, table).snapshot(image, out, 1000.0, {})
    assert readings["HeatPump/EvapSatTemp"].value == 4.5
    assert readings["HeatPump/EvapSatTemp"].quality is Quality.GOOD
    # The fleet's catalogue mirrors it.
    assert "HeatPump/EvapSatTemp" in build_catalogue(shape, 0.2, table).by_name
    # Status snapshot and /metrics.
    snap = SnapshotTaker(daemon, table).take(daemon, image, out)
    assert snap.values["hp_evap_sat"] == 4.5
    source: Any = SimpleNamespace(
        snapshot=snap,
        site_name="t",
        cost=SimpleNamespace(count=0, sum_s=0.0, max_s=0.0),
        health=lambda: SimpleNamespace(ok=True, last_cycle_age_s=None),
    )
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in PlantCollector(source, table).collect()
        for s in fam.samples
    }
    assert samples[("heatrecovery_temperature_celsius", (("signal", "hp_evap_sat"),))] == 4.5
    # The shipped table has no such row: the test's row did all of it.
    assert "HeatPump/EvapSatTemp" not in ScadaFeed(S, None).snapshot(image, out, 1000.0, {})


def test_the_core_output_is_frozen_and_new_each_cycle() -> None:
    c = core()
    plant = PlantImage()
    first = c.step(plant.image(), S, 0.0, 1.0)
    seen = repr(first)
    plant.set(fws_supply=41.0)
    for t in range(1, 30):
        c.step(plant.image(), S, float(t), 1.0)
    assert repr(first) == seen, "a later cycle changed an earlier cycle's output"
    for obj, name in ((first, "status"), (first.status, "mode"), (first.plant, "fws_return")):
        with pytest.raises(AttributeError):
            setattr(obj, name, None)
    # The status is frozen field by field from the strategy's draft, positionally.
    assert CoreStatus._fields == tuple(f.name for f in dataclasses.fields(StatusDraft))
    last = c.step(plant.image(), S, 30.0, 1.0)
    v = c.cond.view  # the readings are the view's values, field by field
    assert last.plant._asdict() == {f: getattr(v, f) for f in PlantReadings._fields}
    assert last.status.fws_supply == pytest.approx(41.0)
    assert last.alarms.active and last.alarms.counts.listed == len(last.alarms.active)
