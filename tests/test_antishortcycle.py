"""Anti-short-cycle guard as cycle tables with time leaps, plus a randomised soak."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest
from pydantic import ValidationError

from controller.core.antishortcycle import AntiShortCycle, AntiShortCycleConfig, BlockReason

MR, MO = BlockReason.MIN_RUN, BlockReason.MIN_OFF
MS = BlockReason.MAX_STARTS

# (now, wish, measured running, expected permitted command, expected blocked reason)
Row = tuple[float, bool, bool, bool, BlockReason | None]


def guard(
    min_run: float = 600.0, min_off: float = 300.0, starts: int = 4, fresh: bool = False
) -> AntiShortCycle:
    return AntiShortCycle(
        AntiShortCycleConfig(
            min_run_s=min_run,
            min_off_s=min_off,
            max_starts_per_hour=starts,
            assume_fresh_on_boot=fresh,
        )
    )


def run_table(g: AntiShortCycle, table: list[Row]) -> None:
    for now, wish, running, cmd, reason in table:
        got = g.request(wish, running, now)
        assert (got, g.blocked_reason) == (cmd, reason), f"t={now}"


def test_min_run_counts_from_measured_start_not_from_command() -> None:
    g = guard()
    run_table(
        g,
        [
            (0, True, False, True, None),
            (120, True, False, True, None),  # heat pump still preparing, compressor off
            (180, True, True, True, None),  # measured compressor start
            # 600 s after the command but only 420 s of running: still held.
            (600, False, True, True, MR),
            (779, False, True, True, MR),
            (780, False, True, False, None),
            (782, False, False, False, None),  # measured stop
        ],
    )
    assert g.starts_total == 1


def test_min_off_counts_from_measured_stop() -> None:
    g = guard()
    run_table(
        g,
        [
            (0, True, False, True, None),
            (1, True, True, True, None),
            (601, False, True, False, None),
            (660, False, True, False, None),  # still running down for a minute
            (661, False, False, False, None),  # measured stop
            (900, True, False, False, MO),  # 300 s after the command, 239 s after the stop
            (960, True, False, False, MO),
            (961, True, False, True, None),
        ],
    )


def test_cancelled_start_before_compressor_runs_is_allowed() -> None:
    g = guard()
    run_table(
        g,
        [
            (0, True, False, True, None),
            (30, False, False, False, None),  # never ran: no short cycle to prevent
            (31, True, False, True, None),  # and no measured stop, so no min off
        ],
    )
    assert g.starts_total == 0


def test_max_starts_per_rolling_hour() -> None:
    g = guard(min_run=60, min_off=60, starts=3)
    table: list[Row] = []
    for start in (0, 200, 400):
        table += [
            (start, True, False, True, None),
            (start + 1, True, True, True, None),  # measured start at start + 1
            (start + 100, False, True, False, None),
            (start + 101, False, False, False, None),
        ]
    table += [
        (600, True, False, False, MS),
        (3600, True, False, False, MS),  # first start was at t=1
        (3601, True, False, True, None),
    ]
    run_table(g, table)
    assert g.starts_last_hour == 2  # starts at 201 and 401 remain in the hour


def test_timers_are_reported() -> None:
    g = guard(min_run=600, min_off=300, starts=2)
    g.request(True, False, 0)
    g.request(True, True, 10)
    g.request(False, True, 100)
    assert g.min_run_remaining == pytest.approx(510)
    assert g.min_off_remaining == 0
    assert g.blocked_reason is MR
    g.request(False, True, 610)
    g.request(False, False, 620)
    g.request(True, False, 700)
    assert g.min_off_remaining == pytest.approx(220)
    assert g.min_run_remaining == 0
    assert g.starts_last_hour == 1
    assert g.next_start_allowed_in == pytest.approx(220)
    assert g.request(True, False, 920) is True
    g.request(True, True, 921)
    g.request(False, True, 1600)
    g.request(False, False, 1601)
    # Two starts (10 and 921) in the hour: the budget, not min off, sets the wait.
    g.request(True, False, 2000)
    assert g.blocked_reason is MS
    assert g.next_start_allowed_in == pytest.approx(10 + 3600 - 2000)


def test_force_off_overrides_min_run_and_counts_once() -> None:
    g = guard()
    g.request(True, False, 0)
    g.request(True, True, 1)
    for t in (30, 31, 32):  # an interlock calling every scan while it is active
        assert g.force_off(t) is False
        assert g.command is False
    assert g.forced_stops == 1
    run_table(
        g,
        [
            (33, True, False, False, MO),  # measured stop at 33: min off from here
            (332, True, False, False, MO),
            (333, True, False, True, None),
        ],
    )


def test_trip_drops_command_and_applies_min_off() -> None:
    g = guard()
    run_table(
        g,
        [
            (0, True, False, True, None),
            (1, True, True, True, None),
            # The machine stops by itself (trip) while we ask it to run: we must not
            # keep the enable on and let it restart behind the min off time.
            (50, True, False, False, MO),
            (349, True, False, False, MO),
            (350, True, False, True, None),
        ],
    )
    assert g.unexpected_stops == 1


def test_still_running_is_no_new_start() -> None:
    g = guard(starts=1)
    run_table(
        g,
        [
            (0, True, False, True, None),
            (1, True, True, True, None),
            (700, False, True, False, None),
            (705, True, True, True, None),  # still running down: carry on, no start
            (800, True, True, True, None),
        ],
    )
    assert g.starts_total == 1


def test_boot_assumes_fresh_history_by_default() -> None:
    g = guard(fresh=True)
    assert g.request(True, False, 1000) is False  # it may have stopped just before
    assert g.blocked_reason is MO
    assert g.request(True, False, 1300) is True

    g2 = guard(fresh=True)
    assert g2.request(False, True, 1000) is True  # adopts the running machine
    assert g2.blocked_reason is MR
    assert g2.request(False, True, 1600) is False


def test_boot_without_fresh_assumption_allows_at_once() -> None:
    g = guard(fresh=False)
    assert g.request(True, False, 1000) is True
    g2 = guard(fresh=False)
    assert g2.request(False, True, 1000) is False
    assert g2.starts_total == 0  # adopting a running machine is no start


def test_zero_max_starts_disables_the_budget() -> None:
    g = guard(min_run=0, min_off=0, starts=0)
    t = 0.0
    for _ in range(20):
        assert g.request(True, False, t) is True
        g.request(True, True, t + 1)
        g.request(False, True, t + 2)
        g.request(False, False, t + 3)
        t += 4
    assert g.starts_total == 20


def test_randomised_wishes_never_short_cycle() -> None:
    """A nervous thermostat toggling the wish at random for 12 h against a machine
    with a random start delay: every measured run, off period and hour respects the
    limits, and the machine still runs when it is asked for long enough.
    """
    rng = random.Random(20261125)
    g = guard(min_run=600, min_off=300, starts=3, fresh=False)
    running = False
    start_at: float | None = None
    wish = False
    edges: list[tuple[float, bool]] = []
    reasons: set[BlockReason] = set()
    for now in range(12 * 3600):
        if rng.random() < 0.02:
            wish = not wish
        cmd = g.request(wish, running, float(now))
        if g.blocked_reason is not None:
            reasons.add(g.blocked_reason)
        # Plant: compressor starts 0-60 s after enable, stops 2 s after disable.
        if cmd and not running:
            start_at = start_at if start_at is not None else now + rng.randint(0, 60)
            if now >= start_at:
                running, start_at = True, None
                edges.append((now + 1.0, True))  # seen by the guard next scan
        elif not cmd:
            start_at = None
            if running:
                running = False
                edges.append((now + 1.0, False))
    starts = [t for t, on in edges if on]
    assert len(starts) == g.starts_total
    assert len(starts) >= 10  # it does run
    assert reasons == {MR, MO, MS}  # and every limit was exercised
    for (t0, on0), (t1, _) in pairwise(edges):
        if on0:
            assert t1 - t0 >= 600 - 1, f"short run at {t0}"
        else:
            assert t1 - t0 >= 300 - 1, f"short off at {t0}"
    for i, t in enumerate(starts):
        in_hour = [s for s in starts[i:] if s - t < 3600]
        assert len(in_hour) <= 3


def test_config_validation() -> None:
    with pytest.raises(ValidationError):
        AntiShortCycleConfig(min_run_s=-1)
    with pytest.raises(ValidationError):
        AntiShortCycleConfig(max_starts_per_hour=-1)
    with pytest.raises(ValidationError):
        AntiShortCycleConfig(min_run_s=600, surprise=1)
