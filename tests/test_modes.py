"""Supervisory mode transitions as cycle tables: each row is one scan at its time.

A failure names the table, its row and the time, so a broken rule reads as the rule.
"""

from __future__ import annotations

from controller.core.modes import Mode, ModeSelector

S, B, R, D = Mode.STARTUP, Mode.BYPASS, Mode.RECOVERY, Mode.DEGRADED
SAFE, MAN = Mode.SAFE, Mode.MANUAL

# (time, safe, manual, starting, degraded, hp in service, expected mode)
Row = tuple[float, bool, bool, bool, bool, bool, Mode]


def run_table(name: str, table: list[Row], start: float = 0.0) -> ModeSelector:
    m = ModeSelector(start)
    for i, (t, safe, manual, starting, degraded, hp, want) in enumerate(table):
        m.update(
            t, safe=safe, manual=manual, starting=starting, degraded=degraded, hp_in_service=hp
        )
        assert m.mode is want, f"{name} row {i} t={t}: mode {m.mode}, expected {want}"
    return m


def steady(t0: float, t1: float, step: float, **kw: object) -> list[Row]:
    """Rows every ``step`` s over [t0, t1) with the same inputs and expected mode."""
    f = dict(safe=False, manual=False, starting=False, degraded=False, hp=False, want=B)
    f.update(kw)
    rows: list[Row] = []
    t = t0
    while t < t1:
        rows.append((t, f["safe"], f["manual"], f["starting"], f["degraded"], f["hp"], f["want"]))  # type: ignore[arg-type]
        t += step
    return rows


def test_startup_leaves_at_once_then_dwell_between_recovery_and_bypass() -> None:
    run_table(
        "startup",
        [
            (0, False, False, True, False, False, S),
            (30, False, False, True, False, True, S),
            (31, False, False, False, False, True, R),  # STARTUP is left without dwell
            (40, False, False, False, False, False, R),  # heat pump out: 10 s dwell
            (49.9, False, False, False, False, False, R),
            (50, False, False, False, False, False, B),
            (55, False, False, False, False, True, B),  # back in service: dwell again
            (65, False, False, False, False, True, R),
        ],
    )


def test_safe_is_immediate_and_left_after_the_dwell() -> None:
    run_table(
        "safe",
        [
            (0, False, False, False, False, True, R),
            (1, True, False, False, False, True, SAFE),  # immediate
            (100, True, False, False, False, False, SAFE),
            (101, False, False, False, False, False, SAFE),  # released: 10 s dwell
            (110.9, False, False, False, False, False, SAFE),
            (111, False, False, False, False, False, B),
            (112, True, True, False, False, False, SAFE),  # SAFE overrides MANUAL
            (113, False, True, False, False, False, SAFE),
            (123, False, True, False, False, False, MAN),
        ],
    )


def test_degraded_is_entered_5_s_after_the_fault_without_the_dwell() -> None:
    """Field report (issue 14): DEGRADED came 16-20 s after a device fault, not 5 s."""
    rows: list[Row] = [(0, False, False, False, False, True, R)]
    rows += steady(100, 105, 0.5, degraded=True, hp=True, want=R)
    rows += [(105, False, False, False, True, True, D)]
    run_table("degraded enter", rows)


def test_degraded_is_left_after_60_s_whole_without_the_dwell() -> None:
    rows: list[Row] = [(0, False, False, False, False, True, R)]
    rows += [(10, False, False, False, True, True, R), (15, False, False, False, True, True, D)]
    rows += steady(200, 260, 1.0, degraded=False, hp=True, want=D)
    rows += [(260, False, False, False, False, True, R)]
    run_table("degraded leave", rows)


def test_a_degraded_flicker_shorter_than_5_s_changes_nothing() -> None:
    rows: list[Row] = [(0, False, False, False, False, False, B)]
    rows += steady(10, 14.5, 0.5, degraded=True, want=B)
    rows += steady(14.5, 40, 0.5, degraded=False, want=B)
    rows += steady(40, 44.5, 0.5, degraded=True, want=B)  # the timer started again
    run_table("degraded flicker", rows)


def test_safe_during_degraded_and_back() -> None:
    run_table(
        "safe in degraded",
        [
            (0, False, False, False, True, True, R),
            (5, False, False, False, True, True, D),
            (6, True, False, False, True, True, SAFE),
            (20, False, False, False, True, True, SAFE),  # out of SAFE: the 10 s dwell
            (30, False, False, False, True, True, D),
        ],
    )
