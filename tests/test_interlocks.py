"""Interlocks as cycle tables: latch at once, release only after the dwell.

Each row is one scan: (time, causes active now, expected latched, expected tripped
on this scan). A failure names the table, the row and the time.
"""

from __future__ import annotations

from core_plant import PlantImage, shipped_site

from controller.core.conditioning import Conditioner
from controller.core.interlocks import Interlock, Interlocks
from controller.core.safety import InterlockCauses, interlock_state

HH, PUMPS, SIG = Interlock.FWS_HIGH_HIGH, Interlock.FWS_PUMPS_LOST, Interlock.SAFETY_SIGNAL_BAD
PLC, TRIP, NET = Interlock.PLC_LOCAL_SAFE, Interlock.HP_TRIP, Interlock.NETWORK_LOST

Row = tuple[float, set[Interlock], set[Interlock], list[Interlock]]


def run_table(name: str, il: Interlocks, table: list[Row]) -> None:
    for i, (t, active, latched, tripped) in enumerate(table):
        il.update({x: x in active for x in Interlock}, t)
        got = (il.latched, il.tripped_now)
        assert got == (latched, tripped), f"{name} row {i} t={t}: (latched, tripped) {got}"


def test_latch_at_once_release_after_the_dwell() -> None:
    run_table(
        "latch/dwell/release",
        Interlocks(dwell_s=120.0),
        [
            (0, set(), set(), []),
            (1, {HH}, {HH}, [HH]),  # latched on the first scan of its cause
            (2, {HH}, {HH}, []),  # tripped only on the edge
            (10, set(), {HH}, []),  # cause gone: the dwell starts
            (129.9, set(), {HH}, []),
            (130, set(), set(), []),  # 120 s clear: released
            (131, {HH}, {HH}, [HH]),  # and trips again on a new cause
        ],
    )


def test_a_cause_that_returns_restarts_the_dwell() -> None:
    run_table(
        "hovering",
        Interlocks(dwell_s=60.0),
        [
            (0, {TRIP}, {TRIP}, [TRIP]),
            (10, set(), {TRIP}, []),
            (60, {TRIP}, {TRIP}, []),  # back before the dwell ran out: no new trip
            (61, set(), {TRIP}, []),
            (120, set(), {TRIP}, []),  # 59 s after the last cause
            (121, set(), set(), []),
        ],
    )


def test_interlocks_latch_and_release_independently() -> None:
    run_table(
        "independent",
        Interlocks(dwell_s=30.0),
        [
            (0, {PUMPS, NET}, {PUMPS, NET}, [PUMPS, NET]),
            (5, {NET}, {PUMPS, NET}, []),
            (20, {NET, SIG}, {PUMPS, NET, SIG}, [SIG]),
            (35, {NET}, {NET, SIG}, []),  # PUMPS clear since 5: released at 35
            (50, set(), {NET, SIG}, []),
            (80, set(), set(), []),
        ],
    )


def test_which_interlocks_make_the_plant_safe() -> None:
    s = shipped_site().settings
    rows = [
        # (latched, tripped now, expected (force full cooling, SAFE))
        ({HH}, [HH], (True, True)),
        ({PUMPS}, [PUMPS], (True, True)),
        ({SIG}, [], (False, True)),
        ({PLC}, [PLC], (True, True)),
        ({TRIP}, [TRIP], (True, False)),  # the heat pump's heat to the coolers, not SAFE
        ({NET}, [NET], (False, False)),  # network_loss = "store" on the shipped site
    ]
    for i, (latched, tripped, want) in enumerate(rows):
        il = Interlocks(dwell_s=10.0)
        il.latched, il.tripped_now = set(latched), list(tripped)
        assert interlock_state(il, s) == want, f"row {i}: {latched}"


# (time, plant change applied before the scan, expected active causes)
CauseRow = tuple[float, dict[str, object], set[Interlock]]


def run_causes(name: str, table: list[CauseRow]) -> None:
    s = shipped_site().settings
    plant, cond, causes = PlantImage(), Conditioner(s), InterlockCauses()
    for i, (t, change, want) in enumerate(table):
        for key, value in change.items():
            if key == "fws_supply_sensors":
                for k in plant.fws_supply_keys:
                    plant.sensor(k, value)  # type: ignore[arg-type]
            elif key == "pumps":
                plant.pumps(**value)  # type: ignore[arg-type]
            elif key == "heat_pump":
                plant.heat_pump(**value)  # type: ignore[arg-type]
            else:
                plant.set(**{key: value})
        view = cond.update(plant.image(), t, 70.0)
        got = {k for k, v in causes.evaluate(view, s, t).items() if v}
        assert got == want, f"{name} row {i} t={t}: active {got}"


def test_cause_timers() -> None:
    """Signal bad after 3 s, pumps lost after 5 s, network unknown after 30 s."""
    ut = shipped_site().settings.roles.utility
    run_causes(
        "causes",
        [
            (0, {}, set()),
            (1, {"fws_supply": 40.01}, {HH}),  # above 40 °C: at once
            (2, {"fws_supply": 40.0}, set()),  # at the limit is not above it
            (3, {"fws_supply_sensors": None}, set()),
            (5.9, {}, set()),
            (6, {}, {SIG}),  # 3 s without a trustworthy supply temperature
            (7, {"fws_supply_sensors": 35.0, "pumps": {"p1a": False}}, set()),
            (11.9, {}, set()),
            (12, {}, {PUMPS}),  # 5 s with no FWS pump running
            (13, {"pumps": {"p1b": True}}, set()),
            (14, {"heat_pump": {"running": False, "tripped": True}}, {TRIP}),
            (15, {"heat_pump": {"running": True, "load": 50.0}}, set()),
            (16, {f"{ut}.network_available": 0.0}, {NET}),  # known off: at once
            (17, {f"{ut}.network_available": 1.0}, set()),
            (18, {f"{ut}.network_available": None}, set()),  # unknown: held 30 s
            (47.9, {}, set()),
            (48, {}, {NET}),
            (49, {f"{ut}.network_available": 1.0}, set()),
            (50, {"plc.local_safe_mode": 1.0}, {PLC}),
        ],
    )
