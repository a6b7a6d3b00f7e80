"""N+1 pump group: one duty pump, the others on standby, with failover and rotation.

The FWS pumps carry the data centre's heat; losing flow for more than a few seconds
cooks the CDUs, so a failed duty pump is replaced *at once*, not after an operator
notices. "Failed" means either the drive reports a fault / lost comms (``available``
false) or the pump was commanded and its running feedback did not appear, or
vanished, for ``proof_s`` (a tripped contactor or a broken coupling reports no
fault, only silence).

Duty rotates after ``rotation_s`` of measured running so both pumps age alike and
the standby is known to work. Rotation starts the incoming pump first and stops the
outgoing one only when the incoming has proven running for ``overlap_s``, so flow
never drops; a group that is idle swaps duty without an overlap.

A repaired pump comes back as standby: switching back would be a needless flow bump.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class PumpGroupConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1)]
    pumps: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=2)]
    # 1: a pump always runs (FWS: the IT load never stops); 0: only on demand (DH).
    min_running: Annotated[int, Field(ge=0, le=1)] = 1
    proof_s: Annotated[float, Field(gt=0)] = 3.0
    rotation_s: Annotated[float, Field(ge=0)] = 168 * 3600.0  # 0 disables rotation
    overlap_s: Annotated[float, Field(ge=0)] = 10.0
    min_speed: Annotated[float, Field(ge=0, le=100)] = 0.0  # % of rated speed
    max_speed: Annotated[float, Field(ge=0, le=100)] = 100.0

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.pumps)) != len(self.pumps):
            raise ValueError(f"pump names must be unique: {self.pumps}")
        if self.min_speed > self.max_speed:
            raise ValueError(f"min_speed {self.min_speed} exceeds max_speed {self.max_speed}")
        return self


class PumpEventKind(StrEnum):
    PROOF_FAILED = "proof_failed"  # commanded, no running feedback within proof_s
    FAILOVER = "failover"  # duty moved to a standby because the duty failed
    ROTATION_STARTED = "rotation_started"  # incoming pump started, overlap begins
    ROTATION_COMPLETED = "rotation_completed"  # duty handed over
    ROTATION_ABORTED = "rotation_aborted"  # incoming pump failed during the overlap
    RESET = "reset"  # a proof failure cleared (fault reset, or operator reset)


@dataclass(frozen=True, slots=True)
class PumpEvent:
    time: float
    group: str
    kind: PumpEventKind
    pump: str  # the pump the event is about (new duty for failover/rotation)
    previous: str = ""  # the old duty, for failover and rotation
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PumpGroupOutput:
    """What to write this scan, plus the conditions the alarm engine watches."""

    run: dict[str, bool]
    speed: dict[str, float]
    duty: str
    events: tuple[PumpEvent, ...]
    all_failed: bool  # no healthy pump left: loss of flow is imminent or happening
    standby_unavailable: bool  # redundancy lost: one more failure stops the flow


class PumpGroup:
    """Lead/lag logic for one group; call ``step`` once per scan."""

    __slots__ = (
        "_available",
        "_commanded",
        "_dead_since",
        "_duty",
        "_duty_run_s",
        "_duty_was_running",
        "_healthy",
        "_incoming",
        "_last",
        "_max_speed",
        "_min_running",
        "_min_speed",
        "_n",
        "_name",
        "_names",
        "_overlap_s",
        "_overlap_since",
        "_proof_failed",
        "_proof_s",
        "_rotation_s",
    )

    def __init__(self, config: PumpGroupConfig) -> None:
        self._name = config.name
        self._names = tuple(config.pumps)
        self._n = len(self._names)
        self._min_running = config.min_running
        self._proof_s = config.proof_s
        self._rotation_s = config.rotation_s
        self._overlap_s = config.overlap_s
        self._min_speed = config.min_speed
        self._max_speed = config.max_speed
        n = self._n
        self._commanded = [False] * n
        # While commanded and not running: since when (the command time for a start).
        self._dead_since: list[float | None] = [None] * n
        self._proof_failed = [False] * n
        self._available = [False] * n
        self._healthy = [False] * n
        self._duty = 0
        self._duty_run_s = 0.0
        self._duty_was_running = False
        self._incoming: int | None = None
        self._overlap_since: float | None = None
        self._last: float | None = None

    # -- reporting ----------------------------------------------------------------------

    @property
    def duty(self) -> str:
        return self._names[self._duty]

    @property
    def duty_run_s(self) -> float:
        """Measured running time of the current duty pump since it took duty."""
        return self._duty_run_s

    @property
    def rotating(self) -> bool:
        return self._incoming is not None

    def healthy(self, pump: str) -> bool:
        """Available and not failed on proof, as of the last ``step`` or ``reset``."""
        i = self._names.index(pump)
        return self._available[i] and not self._proof_failed[i]

    def proof_failed(self, pump: str) -> bool:
        return self._proof_failed[self._names.index(pump)]

    # -- operation ----------------------------------------------------------------------

    def reset(self, now: float, pump: str | None = None) -> list[PumpEvent]:
        """Operator reset of proof failures (after checking the pump), one or all."""
        events = []
        for i, name in enumerate(self._names):
            if (pump is None or pump == name) and self._proof_failed[i]:
                self._proof_failed[i] = False
                self._dead_since[i] = None
                events.append(PumpEvent(now, self._name, PumpEventKind.RESET, name, "", "operator"))
        return events

    def step(
        self,
        demand: bool,
        speed: float,
        available: Mapping[str, bool],
        running: Mapping[str, bool],
        now: float,
    ) -> PumpGroupOutput:
        """Decide which pumps run at which speed.

        ``available``: no fault and comms good, per pump; ``running``: the measured
        feedback. A pump missing from either mapping counts as unavailable / stopped:
        a wiring mistake then shows up as a failure alarm instead of a silent pump.
        """
        events: list[PumpEvent] = []
        names = self._names
        group = self._name
        last = self._last
        dt = now - last if last is not None and now > last else 0.0
        self._last = now
        commanded = self._commanded
        dead_since = self._dead_since
        proof_failed = self._proof_failed
        healthy = self._healthy
        was_available = self._available
        run_fb = [bool(running.get(name, False)) for name in names]

        for i, name in enumerate(names):
            av = bool(available.get(name, False))
            if av and not was_available[i] and proof_failed[i]:
                # Fault reset at the drive: maintenance has looked at it, try it again.
                proof_failed[i] = False
                events.append(PumpEvent(now, group, PumpEventKind.RESET, name, "", "fault reset"))
            was_available[i] = av
            if commanded[i] and av and not run_fb[i]:
                since = dead_since[i]
                if since is None:
                    dead_since[i] = since = now
                if not proof_failed[i] and now - since >= self._proof_s:
                    proof_failed[i] = True
                    events.append(
                        PumpEvent(
                            now, group, PumpEventKind.PROOF_FAILED, name, "", "no running feedback"
                        )
                    )
            else:
                dead_since[i] = None
            healthy[i] = av and not proof_failed[i]

        want = bool(demand) or self._min_running > 0
        duty = self._duty
        incoming = self._incoming

        if not healthy[duty]:
            new = self._next_healthy(duty)
            if new is not None:
                reason = "not running" if was_available[duty] else "fault"
                events.append(
                    PumpEvent(now, group, PumpEventKind.FAILOVER, names[new], names[duty], reason)
                )
                duty = new
                self._duty_run_s = 0.0
                incoming = None  # a rotation in progress is overtaken by the failover
        elif incoming is not None and not healthy[incoming]:
            events.append(
                PumpEvent(now, group, PumpEventKind.ROTATION_ABORTED, names[incoming], names[duty])
            )
            incoming = None

        # Run time accrues over the interval only if the duty was proven running at its
        # start: with coarse time leaps the other choice would count the start-up time.
        if duty == self._duty and self._duty_was_running:
            self._duty_run_s += dt

        if incoming is None and self._rotation_s > 0 and self._duty_run_s >= self._rotation_s:
            candidate = self._next_healthy(duty)
            # While flow is wanted, rotate only from a proven-running duty (with overlap);
            # an idle group just swaps. A duty momentarily without feedback waits.
            if candidate is not None and (run_fb[duty] or not want):
                if want:
                    incoming = candidate
                    self._overlap_since = None
                    events.append(
                        PumpEvent(
                            now,
                            group,
                            PumpEventKind.ROTATION_STARTED,
                            names[candidate],
                            names[duty],
                        )
                    )
                else:
                    events.append(
                        PumpEvent(
                            now,
                            group,
                            PumpEventKind.ROTATION_COMPLETED,
                            names[candidate],
                            names[duty],
                            "idle swap",
                        )
                    )
                    duty = candidate
                    self._duty_run_s = 0.0

        # The outgoing pump stops only once the incoming one has *proven* running for
        # the overlap, so the flow never depends on an unproven pump.
        if incoming is not None and (not want or run_fb[incoming]):
            if self._overlap_since is None:
                self._overlap_since = now
            if not want or now - self._overlap_since >= self._overlap_s:
                events.append(
                    PumpEvent(
                        now, group, PumpEventKind.ROTATION_COMPLETED, names[incoming], names[duty]
                    )
                )
                duty = incoming
                incoming = None
                self._duty_run_s = 0.0

        self._duty = duty
        self._incoming = incoming
        self._duty_was_running = run_fb[duty]

        all_failed = not any(healthy)
        cmd = [False] * self._n
        if want:
            if all_failed:
                # Last resort: a pump with a broken feedback may still pump. Anything
                # not reporting a fault is better than no flow at all.
                cmd = list(was_available)
            else:
                cmd[duty] = True
                if incoming is not None:
                    cmd[incoming] = True

        spd = min(self._max_speed, max(self._min_speed, speed))
        run_out: dict[str, bool] = {}
        speed_out: dict[str, float] = {}
        for i, name in enumerate(names):
            on = cmd[i]
            if on and not commanded[i]:
                dead_since[i] = now  # the proof time runs from the start command
            elif not on:
                dead_since[i] = None
            commanded[i] = on
            run_out[name] = on
            speed_out[name] = spd if on else 0.0

        return PumpGroupOutput(
            run=run_out,
            speed=speed_out,
            duty=names[duty],
            events=tuple(events),
            all_failed=all_failed,
            standby_unavailable=sum(healthy) < 2,
        )

    def _next_healthy(self, after: int) -> int | None:
        """The next healthy pump in ring order, so duty moves round the group fairly."""
        n = self._n
        for k in range(1, n):
            i = (after + k) % n
            if self._healthy[i]:
                return i
        return None
