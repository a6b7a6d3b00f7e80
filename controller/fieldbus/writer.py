"""Commands to the plant: sent on change, re-sent periodically, read back, revertible.

Devices forget (a PLC restarts with defaults), drop a write on the floor, clamp it
or lock into a fallback when the manager goes quiet (evcc-io/evcc#20536), so a
command is not "sent once and trusted": it is written when it changes, re-sent
every ``refresh_s`` even when it does not, and read back after every write with a
mismatch counted and reported. Change is judged on the encoded words, so noise
below a register's resolution does not cause traffic.

A command outside its point's range is refused here, with the point and range
named, and never reaches the wire. ``revert_all`` writes each writable point's
revert (safe) value from the register map: on shutdown, on loss of a device's
data and in SAFE mode. Writes share the link lock with polls, so they interleave
with reads request by request and never collide with them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from controller.config.registermap import Point
from controller.fieldbus.bus import FieldBus
from controller.fieldbus.codec import EncodeError, encode
from controller.fieldbus.link import ExceptionResponseError, Link, LinkError


class CommandError(ValueError):
    """A command was refused locally (unknown point, read-only, out of range)."""


@dataclass
class _Command:
    device: str
    point: Point
    value: float
    words: list[int]
    sent_words: list[int] | None = None  # what the device last confirmed
    sent_at: float | None = None  # monotonic time of that write


@dataclass(frozen=True)
class WriteOutcome:
    device: str
    point: str
    value: float
    ok: bool
    reason: str = ""
    written: tuple[int, ...] = ()
    read_back: tuple[int, ...] | None = None

    @property
    def mismatch(self) -> bool:
        return self.read_back is not None and self.read_back != self.written


@dataclass
class WriteReport:
    """What a flush did. ``pending`` lists writes still running when the budget ran out."""

    written: list[WriteOutcome] = field(default_factory=list)
    failed: list[WriteOutcome] = field(default_factory=list)
    mismatched: list[WriteOutcome] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # device, point, why
    pending: list[str] = field(default_factory=list)  # links
    pending_points: list[str] = field(default_factory=list)  # "device.point" on those links
    already: list[str] = field(default_factory=list)
    """"device.point" written whose device had already confirmed the same words (the
    write re-asserted the value, it changed nothing)."""

    @property
    def ok(self) -> bool:
        return not (self.failed or self.mismatched or self.skipped or self.pending)

    def not_written(self) -> dict[str, str]:
        """Every output this flush did not leave at its value ("device.point" -> why).

        An operator reading the shutdown log must learn which outputs a silent link
        or a vanished device left where they were, not just that something failed.
        """
        out = {f"{o.device}.{o.point}": o.reason for o in self.failed}
        out.update({f"{d}.{p}": why for d, p, why in self.skipped})
        out.update({f"{o.device}.{o.point}": "read back differs" for o in self.mismatched})
        out.update(dict.fromkeys(self.pending_points, "link still busy when the budget ran out"))
        return out


@dataclass
class WriterStats:
    writes: int = 0
    failures: int = 0
    mismatches: int = 0
    refused: int = 0  # refused locally before sending
    last_error: str = ""


class CommandWriter:
    """Writes commands through the FieldBus's links."""

    def __init__(
        self,
        bus: FieldBus,
        *,
        refresh_s: float | None = None,
        verify: bool | None = None,
        budget_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self.refresh_s = bus.config.refresh_s if refresh_s is None else refresh_s
        self.verify = bus.config.verify_writes if verify is None else verify
        self.budget_s = bus.config.write_budget_s if budget_s is None else budget_s
        self._clock = clock
        self._commands: dict[tuple[str, str], _Command] = {}
        self._tasks: dict[str, asyncio.Task[list[WriteOutcome]]] = {}
        self.stats: dict[str, WriterStats] = {d: WriterStats() for d in bus.devices}

    # ------------------------------------------------------------------ commands
    def _check(self, device: str, point_name: str, value: float) -> tuple[Point, list[int]]:
        if device not in self.stats:
            raise CommandError(f"{device}: not a device on any link")
        try:
            point = self.bus.regmap.point(device, point_name)
        except KeyError:
            raise CommandError(f"{device}.{point_name}: no such point") from None
        if not point.writable:
            raise CommandError(f"{device}.{point_name}: point is read-only")
        try:
            words = encode(float(value), point)
        except (EncodeError, TypeError, ValueError) as exc:
            raise CommandError(f"{device}.{exc}") from None
        return point, words

    def set(self, device: str, point: str, value: float) -> None:
        """Make ``value`` the command for a point; raise CommandError if it cannot be sent."""
        self.set_many({device: {point: value}})

    def set_many(self, commands: Mapping[str, Mapping[str, float]]) -> None:
        """Set several commands; if any is refused, none is taken."""
        checked: list[tuple[str, Point, float, list[int]]] = []
        for device, points in commands.items():
            for name, value in points.items():
                try:
                    point, words = self._check(device, name, value)
                except CommandError as exc:
                    if device in self.stats:
                        self.stats[device].refused += 1
                        self.stats[device].last_error = str(exc)
                    raise
                checked.append((device, point, float(value), words))
        for device, point, value, words in checked:
            cmd = self._commands.get((device, point.name))
            if cmd is None:
                self._commands[(device, point.name)] = _Command(device, point, value, words)
            else:
                cmd.value, cmd.words = value, words

    def command(self, device: str, point: str) -> float | None:
        cmd = self._commands.get((device, point))
        return None if cmd is None else cmd.value

    def _due(self, now: float) -> list[_Command]:
        return [
            c
            for c in self._commands.values()
            if c.sent_words != c.words or c.sent_at is None or now - c.sent_at >= self.refresh_s
        ]

    # ------------------------------------------------------------------ writing
    async def apply(self, commands: Mapping[str, Mapping[str, float]]) -> WriteReport:
        """Set the commands and write whatever changed or is due for refresh."""
        self.set_many(commands)
        return await self.flush()

    async def flush(self) -> WriteReport:
        """Write changed and refresh-due commands, all links concurrently, within budget."""
        return await self._write(self._due(self._clock()))

    async def idle(self, wait_s: float | None = None) -> bool:
        """Wait (at most ``wait_s``) for writes still running from an earlier flush
        (one that ran out of its budget); True if none is left running."""
        running = [t for t in self._tasks.values() if not t.done()]
        if running:
            await asyncio.wait(running, timeout=wait_s)
        return all(t.done() for t in self._tasks.values())

    async def revert_all(
        self, devices: Iterable[str] | None = None, *, budget_s: float | None = None
    ) -> WriteReport:
        """Command and write every writable point's revert value (all devices by default).

        ``budget_s`` replaces the per-cycle write budget: at shutdown the reverts are
        the last thing the controller does and must be waited for, not cut off after
        a scan cycle's share of time.
        """
        targets = list(self.stats) if devices is None else list(devices)
        commands = {
            dev: {
                p.name: float(p.revert)
                for p in self.bus.regmap.points_of(dev)
                if p.writable and p.revert is not None
            }
            for dev in targets
        }
        self.set_many({d: c for d, c in commands.items() if c})
        chosen = [self._commands[(dev, name)] for dev, pts in commands.items() for name in pts]
        return await self._write(chosen, budget_s)

    async def _write(self, commands: list[_Command], budget_s: float | None = None) -> WriteReport:
        started = time.monotonic()
        budget = self.budget_s if budget_s is None else budget_s
        report = WriteReport()
        already = {f"{c.device}.{c.point.name}" for c in commands if c.sent_words == c.words}
        by_link: dict[str, list[_Command]] = {}
        for cmd in commands:
            by_link.setdefault(self.bus.link_of(cmd.device).name, []).append(cmd)
        running: dict[str, asyncio.Task[list[WriteOutcome]]] = {}
        for name, cmds in by_link.items():
            previous = self._tasks.get(name)
            if previous is not None and not previous.done():
                report.skipped += [
                    (c.device, c.point.name, "previous writes on the link still running")
                    for c in cmds
                ]
                continue
            link = self.bus.links[name]
            task = asyncio.create_task(self._write_link(link, cmds), name=f"write {name}")
            self._tasks[name] = task
            running[name] = task
        if running:
            remaining = budget - (time.monotonic() - started)
            await asyncio.wait(running.values(), timeout=max(remaining, 0.0))
        for name, task in running.items():
            if not task.done():
                report.pending.append(name)
                report.pending_points += [f"{c.device}.{c.point.name}" for c in by_link[name]]
                continue
            try:
                outcomes = task.result()
            except Exception as exc:  # a bug or a library surprise: name every point
                report.failed += [
                    WriteOutcome(c.device, c.point.name, c.value, False, f"write task: {exc!r}")
                    for c in by_link[name]
                ]
                continue
            for o in outcomes:
                if not o.ok and o.reason.startswith("skipped"):
                    report.skipped.append((o.device, o.point, o.reason))
                elif not o.ok:
                    report.failed.append(o)
                elif o.mismatch:
                    report.mismatched.append(o)
                else:
                    report.written.append(o)
                    if f"{o.device}.{o.point}" in already:
                        report.already.append(f"{o.device}.{o.point}")
        return report

    async def _write_link(self, link: Link, commands: list[_Command]) -> list[WriteOutcome]:
        outcomes: list[WriteOutcome] = []
        dead: dict[str, str] = {}
        for cmd in sorted(commands, key=lambda c: (c.device, c.point.table, c.point.address)):
            if cmd.device in dead:
                outcomes.append(
                    WriteOutcome(
                        cmd.device, cmd.point.name, cmd.value, False, f"skipped: {dead[cmd.device]}"
                    )
                )
                continue
            outcome = await self._write_one(link, cmd)
            outcomes.append(outcome)
            if not outcome.ok and outcome.reason.startswith("device:"):
                dead[cmd.device] = outcome.reason
        return outcomes

    async def _write_one(self, link: Link, cmd: _Command) -> WriteOutcome:
        st = self.stats[cmd.device]
        words = list(cmd.words)
        value = cmd.value
        p = cmd.point
        try:
            await link.write(cmd.device, p.table, p.address, words)
        except ExceptionResponseError as exc:
            st.failures += 1
            st.last_error = f"{p.name}: {exc}"
            scope = "point" if exc.code in (2, 3) else "device"
            return WriteOutcome(cmd.device, p.name, value, False, f"{scope}: {exc}", tuple(words))
        except LinkError as exc:
            st.failures += 1
            st.last_error = f"{p.name}: {exc}"
            return WriteOutcome(cmd.device, p.name, value, False, f"device: {exc}", tuple(words))
        st.writes += 1
        cmd.sent_words, cmd.sent_at = words, self._clock()
        read_back: tuple[int, ...] | None = None
        if self.verify:
            try:
                read_back = tuple(await link.read(cmd.device, p.table, p.address, len(words)))
            except LinkError as exc:
                st.last_error = f"{p.name}: read-back failed: {exc}"
                return WriteOutcome(
                    cmd.device, p.name, value, True, f"read-back failed: {exc}", tuple(words)
                )
            if list(read_back) != words:
                st.mismatches += 1
                st.last_error = f"{p.name}: read back {list(read_back)} after writing {words}"
        return WriteOutcome(cmd.device, p.name, value, True, "", tuple(words), read_back)
