"""Metrics and health endpoints of the running daemon (issue 7).

The process test runs the real command (``heatrecovery run --metrics``) against
the simulator process, scrapes it twice and then takes the plant away: what an
operator's Prometheus and a container runtime would see. The health rules
themselves are checked on constructed snapshots, which also covers the stalled
scan cycle that a process test cannot provoke without stopping the HTTP thread too.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from e2e import BIN, Proc, free_port, start_simulator
from metrics_helpers import quick_site, scrape, scrape_after_cycles, value, wait_health
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from controller.health import Health, assess
from controller.incidents import INCIDENTS
from controller.metrics import parse_hostport
from controller.metricseries import PlantCollector
from controller.snapshot import Snapshot

pytestmark = pytest.mark.xdist_group("e2e")

PROCESS_SERIES = [
    ("heatrecovery_temperature_celsius", {"signal": "fws_supply"}),
    ("heatrecovery_temperature_celsius", {"signal": "fws_return"}),
    ("heatrecovery_temperature_celsius", {"signal": "dh_supply"}),
    ("heatrecovery_temperature_celsius", {"signal": "dh_return"}),
    ("heatrecovery_temperature_celsius", {"signal": "dh_supply_setpoint"}),
    ("heatrecovery_temperature_celsius", {"signal": "ambient"}),
    ("heatrecovery_heat_kilowatts", {"flow": "it_heat"}),
    ("heatrecovery_heat_kilowatts", {"flow": "hp_heat"}),
    ("heatrecovery_heat_kilowatts", {"flow": "delivered"}),
    ("heatrecovery_heat_kilowatts", {"flow": "demand"}),
    ("heatrecovery_heat_kilowatts", {"flow": "dumped"}),
    ("heatrecovery_tank_state_of_charge_ratio", {}),
    ("heatrecovery_tank_stored_energy_kwh", {}),
    ("heatrecovery_heatpump_load_percent", {}),
    ("heatrecovery_heatpump_electric_power_kilowatts", {}),
    ("heatrecovery_actuator_percent", {"actuator": "bypass_valve", "kind": "feedback"}),
    ("heatrecovery_actuator_percent", {"actuator": "drycooler_fan", "kind": "feedback"}),
]
STATE_SERIES = [
    ("heatrecovery_scan_cycle_seconds_count", {}),
    ("heatrecovery_scan_cycle_seconds_bucket", {"le": "0.05"}),
    ("heatrecovery_scan_cycles_total", {}),
    ("heatrecovery_scan_overruns_total", {}),
    ("heatrecovery_device_requests_total", {"device": "plc"}),
    ("heatrecovery_device_errors_total", {"device": "heatpump"}),
    ("heatrecovery_device_timeouts_total", {"device": "heatmeter"}),
    ("heatrecovery_device_data_quality_ratio", {"device": "cdu01"}),
    ("heatrecovery_loop_output", {"loop": "valve"}),
    ("heatrecovery_loop_output", {"loop": "hp_load_pct"}),
    ("heatrecovery_mode", {"mode": "SAFE"}),
    ("heatrecovery_mode_code", {}),
    ("heatrecovery_interlock_latched", {"interlock": "safety_signal_bad"}),
    ("heatrecovery_alarms_active", {"priority": "critical"}),
    ("heatrecovery_energy_delivered_mwh_total", {}),
    ("heatrecovery_metrics_update_seconds_count", {}),
    ("heatrecovery_healthy", {}),
]
COUNTERS = [
    ("heatrecovery_scan_cycles_total", {}),
    ("heatrecovery_scan_cycle_seconds_count", {}),
    ("heatrecovery_device_requests_total", {"device": "plc"}),
    ("heatrecovery_metrics_update_seconds_count", {}),
]


@pytest.mark.e2e
@pytest.mark.timeout(90)
def test_metrics_move_and_health_fails_when_the_plant_stops_answering(tmp_path: Path) -> None:
    port, mport = free_port(), free_port()
    base = f"http://127.0.0.1:{mport}"
    sim = start_simulator(port)
    site = quick_site(tmp_path, port)
    ctl = Proc([str(BIN), "run", "--config", str(site), "--json", "--metrics", f":{mport}"])
    try:
        body = wait_health(base, 200, timeout=30)
        assert body["status"] == "ok" and body["reasons"] == []
        first = scrape(base)
        missing = [
            (n, lb) for n, lb in PROCESS_SERIES + STATE_SERIES if value(first, n, **lb) is None
        ]
        assert not missing, f"series missing: {missing}"
        assert value(first, "heatrecovery_healthy") == 1.0
        modes = [lb for (n, lb), v in first.items() if n == "heatrecovery_mode" and v == 1.0]
        assert len(modes) == 1, "exactly one mode is in force"

        second = scrape_after_cycles(base, first, cycles=10)
        for name, labels in COUNTERS:
            a, b = value(first, name, **labels), value(second, name, **labels)
            assert a is not None and b is not None and b > a, (name, a, b)
        moved = [
            (n, lb) for n, lb in PROCESS_SERIES if value(first, n, **lb) != value(second, n, **lb)
        ]
        assert len(moved) >= 3, f"process values frozen between scrapes; moved: {moved}"
        cost = value(second, "heatrecovery_metrics_update_seconds_sum") or 0.0
        count = value(second, "heatrecovery_metrics_update_seconds_count") or 1.0
        assert cost / count < 0.002, "metrics must cost the scan cycle little"

        sim.kill()  # the plant stops answering
        body = wait_health(base, 503, timeout=10)
        assert any("PLC" in r or "facility-water" in r for r in body["reasons"]), body
        after = scrape(base)
        assert value(after, "heatrecovery_healthy") == 0.0
        assert value(after, "heatrecovery_device_online", device="plc") == 0.0
        errs = value(after, "heatrecovery_device_errors_total", device="plc") or 0.0
        assert errs > (value(second, "heatrecovery_device_errors_total", device="plc") or 0.0)
        # The scan cycle itself keeps running without the plant.
        later = scrape_after_cycles(base, after, cycles=3)
        assert (value(later, "heatrecovery_scan_cycles_total") or 0.0) > (
            value(after, "heatrecovery_scan_cycles_total") or 0.0
        )
        assert ctl.terminate() == 0
        ctl.wait_for(lambda r: r.get("event") == "controller stopped", timeout=5)
    finally:
        ctl.kill()
        sim.kill()


# ------------------------------------------------------------------ health rules
def snap(**kw: object) -> Snapshot:
    base: dict[str, object] = {
        "mono": 100.0,
        "cycle": 7,
        "period_s": 1.0,
        "mode": "RECOVERY",
        "mode_code": 2,
        "interlocks": (),
        "values": {"fws_supply": 35.0},
        "loops": {},
        "alarms_by_priority": {},
        "alarms_unacked": 0,
        "alarms_shelved": 0,
        "devices": {},
        "links": {},
        "comms_lost": frozenset(),
        "plc": "plc",
        "cycles": 7,
        "overruns": 0,
        "skipped_deadlines": 0,
    }
    base.update(kw)
    return Snapshot(**base)  # type: ignore[arg-type]


def test_healthy_plant_is_healthy() -> None:
    h = assess(snap(), now_mono=100.5, started_mono=0.0, period_s=1.0)
    assert h.ok and h.body()["status"] == "ok"


def test_stalled_scan_cycle_is_unhealthy() -> None:
    h = assess(snap(), now_mono=103.5, started_mono=0.0, period_s=1.0)
    assert not h.ok and "stalled" in h.reasons[0]
    # at 100 ms, three periods would flap on a GC pause: the floor is 1 s
    assert assess(snap(period_s=0.1), 100.9, 0.0, 0.1).ok
    assert not assess(snap(period_s=0.1), 101.2, 0.0, 0.1).ok


def test_no_cycle_yet_is_unhealthy() -> None:
    assert "starting" in assess(None, 1.0, 0.0, 1.0).reasons[0]
    assert "no scan cycle completed" in assess(None, 10.0, 0.0, 1.0).reasons[0]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"values": {"fws_supply": None}}, "facility-water"),
        ({"interlocks": ("safety_signal_bad",)}, "safety_signal_bad"),
        ({"interlocks": ("plc_local_safe",)}, "plc_local_safe"),
        ({"comms_lost": frozenset({"plc"})}, "PLC"),
    ],
)
def test_bad_safety_signal_is_unhealthy(change: dict[str, object], reason: str) -> None:
    h = assess(snap(**change), 100.1, 0.0, 1.0)
    assert not h.ok and any(reason in r for r in h.reasons)


def test_other_trouble_is_for_the_alarm_list_not_the_health_check() -> None:
    h = assess(
        snap(interlocks=("hp_trip",), comms_lost=frozenset({"heatmeter"}), mode="DEGRADED"),
        100.1,
        0.0,
        1.0,
    )
    assert h.ok


class _NoCycleYet:
    snapshot = None
    site_name = "test"
    cost = SimpleNamespace(count=0, sum_s=0.0, max_s=0.0)

    def health(self) -> Health:
        return assess(None, 1.0, 0.0, 1.0)


def test_hostile_traffic_is_exported_by_subsystem_and_cause() -> None:
    INCIDENTS.clear()
    for _ in range(3):
        INCIDENTS.record("opcua", "malformed or oversized frame", "10.0.0.7")
    INCIDENTS.record("modbus", "Invalid Modbus protocol id: #")
    INCIDENTS.absorb("opcua", {"login refused: wrong password": 5})  # from a child process
    registry = CollectorRegistry()
    registry.register(PlantCollector(_NoCycleYet()))
    text = generate_latest(registry).decode()
    series = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }
    name = "heatrecovery_incidents_total"
    assert series[(name, (("cause", "malformed or oversized frame"), ("subsystem", "opcua")))] == 3
    assert (
        series[(name, (("cause", "Invalid Modbus protocol id: #"), ("subsystem", "modbus")))] == 1
    )
    assert series[(name, (("cause", "login refused: wrong password"), ("subsystem", "opcua")))] == 5
    INCIDENTS.clear()


def test_metrics_address_parsing() -> None:
    assert parse_hostport("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_hostport(":9000") == ("127.0.0.1", 9000)
    assert parse_hostport("0.0.0.0") == ("0.0.0.0", 9464)
