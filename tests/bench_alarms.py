"""Micro-benchmark (not a test): per-step cost of the pure control blocks.

Run: .venv/bin/python tests/bench_alarms.py
The core must run a simulated day (86,400 one-second steps) in a few seconds, so each
block's step should cost microseconds. Signals are pre-generated so only the block
itself is timed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from controller.core.alarms import AlarmDef, AlarmEngine
from controller.core.antishortcycle import AntiShortCycle, AntiShortCycleConfig
from controller.core.pumps import PumpGroup, PumpGroupConfig
from controller.core.ramp import Ramp, RampConfig

STEPS = 86_400


def forty_alarms(delay: float = 5.0, deadband: float = 1.0) -> list[AlarmDef]:
    defs = []
    for i in range(40):
        kind = ("high", "low", "flag", "high")[i % 4]
        common = {
            "id": f"ALARM_{i:02d}",
            "kind": kind,
            "source": f"sig_{i:02d}",
            "priority": ("low", "medium", "high", "critical")[i % 4],
            "message": "m",
            "action": "a",
            "category": "process",
            "on_delay_s": delay,
            "off_delay_s": 2 * delay,
        }
        if kind != "flag":
            common |= {"limit": 50.0, "deadband": deadband}
        defs.append(AlarmDef(**common))
    return defs


def signal_frames(
    rng: random.Random, n: int = 1000, at_limit: bool = False
) -> list[dict[str, float | bool | None]]:
    frames = []
    for _ in range(n):
        frame: dict[str, float | bool | None] = {}
        for i in range(40):
            if i % 4 == 2:
                frame[f"sig_{i:02d}"] = rng.random() < (0.5 if at_limit else 0.05)
            else:
                # Mostly normal, a few signals hovering at the limit, rare bad quality.
                base = 50.0 if at_limit or i % 10 == 0 else 30.0
                frame[f"sig_{i:02d}"] = None if rng.random() < 0.001 else base + rng.gauss(0, 1)
        frames.append(frame)
    return frames


def per_step(label: str, fn: Callable[[float], object]) -> float:
    t0 = time.perf_counter()
    for k in range(STEPS):
        fn(float(k))
    dt = time.perf_counter() - t0
    us = dt / STEPS * 1e6
    print(f"{label:<38} {us:7.2f} µs/step   {dt:6.2f} s per simulated day")
    return us


def main() -> None:
    rng = random.Random(1)
    engine = AlarmEngine(forty_alarms(), known_signals={f"sig_{i:02d}" for i in range(40)})
    frames = signal_frames(rng)
    nf = len(frames)
    events = 0

    def alarm_step(now: float) -> None:
        nonlocal events
        events += len(engine.update(frames[int(now) % nf], now))

    per_step("AlarmEngine.update (40 alarms)", alarm_step)
    print(f"{'':<38} ({events} events in the day: a mostly quiet plant)")

    # Worst case: no delays, a token deadband, every signal at its limit: the engine
    # then builds an event on a large share of steps.
    engine = AlarmEngine(forty_alarms(delay=0.0, deadband=0.1))
    frames = signal_frames(rng, at_limit=True)
    events = 0
    per_step("AlarmEngine.update (40, chattering)", alarm_step)
    print(f"{'':<38} ({events} events in the day: about {events / STEPS:.0f} per step)")

    guard = AntiShortCycle(AntiShortCycleConfig())
    per_step("AntiShortCycle.request", lambda now: guard.request(int(now) % 2000 < 1200, True, now))

    group = PumpGroup(PumpGroupConfig(name="FWS", pumps=["P1A", "P1B"], rotation_s=3600.0))
    avail = {"P1A": True, "P1B": True}
    fb = {"P1A": True, "P1B": False}
    per_step("PumpGroup.step (2 pumps)", lambda now: group.step(True, 80.0, avail, fb, now))

    ramp = Ramp(RampConfig(up_per_min=1.0, down_per_min=2.0), 60.0)
    per_step("Ramp.step", lambda now: ramp.step(70.0 if int(now) % 3600 < 1800 else 60.0, now))


if __name__ == "__main__":
    main()
