"""Heat-pump trip auto-reset as a cycle table (shared by both strategies).

Rows: (time, tripped, expected reset pulse, expected exhausted). A failure names the
row and the time.
"""

from __future__ import annotations

from controller.core.tripreset import TripReset

Row = tuple[float, bool, bool, bool]


def run_table(name: str, r: TripReset, table: list[Row]) -> None:
    for i, (t, tripped, pulse, exhausted) in enumerate(table):
        got = (r.step(tripped, t), r.exhausted)
        assert got == (pulse, exhausted), f"{name} row {i} t={t}: (pulse, exhausted) {got}"


def test_reset_after_the_delay_and_repeated_while_the_trip_stands() -> None:
    run_table(
        "delay",
        TripReset(delay_s=120.0, per_day=2),
        [
            (0, True, False, False),
            (119, True, False, False),
            (120, True, True, False),  # one pulse after the delay
            (121, True, False, False),
            (240, True, True, False),  # the same trip still standing: pulse again
            (250, False, False, False),
        ],
    )


def test_only_per_day_trips_are_reset_then_the_operator_must() -> None:
    table: list[Row] = []
    for start in (0.0, 1000.0):  # two trips reset
        table += [(start, True, False, False), (start + 60, True, True, False)]
        table += [(start + 61, False, False, False)]
    table += [
        (3000, True, False, True),  # the third within a day: not reset, exhausted
        (3100, True, False, True),
        (3200, False, False, False),  # cleared by hand
        (86460, True, False, False),  # a day after the first reset: allowed again
        (86520, True, True, False),
    ]
    run_table("per day", TripReset(delay_s=60.0, per_day=2), table)
