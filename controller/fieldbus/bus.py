"""The field bus as the scan cycle sees it: poll all links, never wait past a budget.

The scan cycle must keep its period whatever a device does, so each link polls in
its own task, concurrently with the others, and ``poll_cycle`` waits for them at
most ``poll_budget_s``. A link still busy when the next cycle starts is not given
a second poll (it would only queue behind the first, see HA-FoxESS-Modbus#123);
the skip is counted and the values it would have refreshed age instead.

Ageing is explicit, never silent reuse: every scheduled read that did not deliver
by the end of its cycle counts as a miss. One miss makes a value UNCERTAIN (the
last usable value, still with its old source timestamp), ``stale_after_cycles``
misses make it BAD with no value. Slow and once points age only when a read of
them was due, so a counter read every tenth cycle stays GOOD in between, unless
their device delivered nothing at all this cycle: then every point of it ages (a
nameplate value read once must not stay GOOD from a device that is gone), and a
stale slow or once block is read again as soon as the device answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from controller.config.registermap import PollClass, RegisterMap
from controller.fieldbus.assess import assess
from controller.fieldbus.blocks import ReadBlock, plan_reads
from controller.fieldbus.link import DeviceStats, ExceptionResponseError, Link, LinkError, LinkStats
from controller.fieldbus.linkconfig import FieldBusConfig, LinkConfig
from controller.fieldbus.signals import Quality, Sample
from controller.incidents import quiet_library_loggers

log = logging.getLogger(__name__)

# Exception codes that concern one request (a map error), not the device as a whole.
_REQUEST_SCOPED_EXCEPTIONS = {1, 2, 3}


@dataclass
class _PointState:
    value: float | None = None
    quality: Quality = Quality.BAD
    reason: str = "never read"
    timestamp: float = 0.0
    ok_cycle: int | None = None  # cycle whose poll last delivered this point
    missed: int = 0  # consecutive due reads that did not deliver


@dataclass
class _BlockState:
    last_ok_cycle: int | None = None
    ok_epoch: int = -1  # link epoch (connection) of the last successful read


@dataclass
class CycleReport:
    """What one ``poll_cycle`` did; the scan cycle logs and exports it."""

    cycle_no: int
    duration_s: float = 0.0
    polled: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # busy with the previous poll
    late: list[str] = field(default_factory=list)  # still polling when the budget ran out


@dataclass
class _DueBlock:
    device: str
    index: int
    block: ReadBlock


@dataclass
class _PollJob:
    link: Link
    cycle_no: int
    due: list[_DueBlock]  # recomputed by the poll after a reconnect


class FieldBus:
    """Polls every device of the configured links and keeps their latest samples."""

    def __init__(
        self,
        regmap: RegisterMap,
        config: FieldBusConfig | Sequence[LinkConfig],
        *,
        clock: Callable[[], float] = time.time,
        link_factory: Callable[[LinkConfig, RegisterMap], Link] = Link,
    ) -> None:
        if not isinstance(config, FieldBusConfig):
            config = FieldBusConfig(links=list(config))
        # pymodbus logs every failed request as an ERROR with a dump of the last
        # frames: counted and logged once per cause instead (controller.incidents).
        quiet_library_loggers([("pymodbus", "modbus")])
        config.check_against(regmap)
        self.regmap = regmap
        self.config = config
        self._clock = clock
        self.links: dict[str, Link] = {}
        self._link_of: dict[str, Link] = {}
        self._plans: dict[str, list[ReadBlock]] = {}
        self._blocks: dict[str, list[_BlockState]] = {}
        self._points: dict[str, dict[str, _PointState]] = {}
        for lc in config.links:
            link = link_factory(lc, regmap)
            self.links[lc.name] = link
            for dev in lc.devices:
                self._link_of[dev] = link
                plan = plan_reads(
                    regmap.points_of(dev),
                    max_registers=lc.max_block_registers,
                    max_bits=lc.max_block_bits,
                    max_gap=lc.max_gap,
                )
                self._plans[dev] = plan
                self._blocks[dev] = [_BlockState() for _ in plan]
                self._points[dev] = {p.name: _PointState() for p in regmap.points_of(dev)}
        self._failed_cycles: dict[str, int] = dict.fromkeys(self._link_of, 0)
        self._ever_ok: set[str] = set()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._cycle = 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Connect every link (concurrently); a link that is down retries on its polls."""
        await asyncio.gather(*(link.ensure_connected() for link in self.links.values()))

    async def idle(self) -> None:
        """Wait until no poll is running (late ones included), e.g. before reverting."""
        tasks = [t for t in self._tasks.values() if not t.done()]
        if tasks:
            await asyncio.wait(tasks)

    async def stop(self) -> None:
        tasks = [t for t in self._tasks.values() if not t.done()]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        for link in self.links.values():
            link.close()

    # ------------------------------------------------------------------ access
    @property
    def devices(self) -> list[str]:
        return list(self._link_of)

    def link_of(self, device: str) -> Link:
        return self._link_of[device]

    def plan(self, device: str) -> list[ReadBlock]:
        return list(self._plans[device])

    def device_stats(self) -> dict[str, DeviceStats]:
        return {d: link.device_stats[d] for d, link in self._link_of.items()}

    def link_stats(self) -> dict[str, LinkStats]:
        return {name: link.stats for name, link in self.links.items()}

    def device_online(self, device: str) -> bool:
        """False before the device first answered, and once it has delivered nothing for
        ``stale_after_cycles`` polls in a row (its data is lost: time to revert)."""
        limit = self._link_of[device].config.stale_after_cycles
        return device in self._ever_ok and self._failed_cycles[device] < limit

    # ------------------------------------------------------------------ polling
    def _due(self, link: Link, cycle_no: int) -> list[_DueBlock]:
        slow_every = link.config.slow_every
        due: list[_DueBlock] = []
        for dev in link.devices:
            for i, block in enumerate(self._plans[dev]):
                st = self._blocks[dev][i]
                fresh_epoch = st.ok_epoch == link.epoch and st.last_ok_cycle is not None
                states = self._points[dev]
                stale = any(states[p.name].missed > 0 for p in block.points)
                if block.poll is PollClass.FAST:
                    is_due = True
                elif block.poll is PollClass.SLOW:
                    is_due = (
                        not fresh_epoch or stale or cycle_no - (st.last_ok_cycle or 0) >= slow_every
                    )
                else:
                    is_due = not fresh_epoch or stale
                if is_due:
                    due.append(_DueBlock(dev, i, block))
        return due

    async def poll_cycle(self, cycle_no: int) -> CycleReport:
        """Poll every link once, concurrently; return within ``poll_budget_s``.

        Values that were due this cycle and did not arrive in time age by one miss.
        A link that is still busy when the budget runs out keeps polling in the
        background; its results land when they come, and its next poll is skipped.
        """
        started = time.monotonic()
        self._cycle = cycle_no
        report = CycleReport(cycle_no)
        jobs: list[_PollJob] = []
        running: list[asyncio.Task[None]] = []
        for name, link in self.links.items():
            job = _PollJob(link, cycle_no, self._due(link, cycle_no))
            jobs.append(job)
            previous = self._tasks.get(name)
            if previous is not None and not previous.done():
                link.stats.skipped_polls += 1
                report.skipped.append(name)
                continue
            task = asyncio.create_task(self._poll_link(job), name=f"poll {name}")
            self._tasks[name] = task
            running.append(task)
            report.polled.append(name)
        if running:
            remaining = self.config.poll_budget_s - (time.monotonic() - started)
            _done, pending = await asyncio.wait(running, timeout=max(remaining, 0.0))
            for task in pending:
                name = task.get_name().removeprefix("poll ")
                self.links[name].stats.late_polls += 1
                report.late.append(name)
        for job in jobs:
            self._account(job)
        report.duration_s = time.monotonic() - started
        return report

    def _account(self, job: _PollJob) -> None:
        """Charge a miss to every due point the cycle did not refresh."""
        cycle_no = job.cycle_no
        by_device: dict[str, list[_DueBlock]] = {}
        for item in job.due:
            by_device.setdefault(item.device, []).append(item)
        for dev, items in by_device.items():
            states = self._points[dev]
            delivered = any(self._blocks[dev][i.index].last_ok_cycle == cycle_no for i in items)
            if delivered:
                self._failed_cycles[dev] = 0
                self._ever_ok.add(dev)
                names = [p.name for item in items for p in item.block.points]
            else:
                self._failed_cycles[dev] += 1
                names = list(states)  # the device is gone: all it said ages
            for name in names:
                st = states[name]
                if st.ok_cycle != cycle_no:
                    st.missed += 1

    async def _poll_link(self, job: _PollJob) -> None:
        link = job.link
        t0 = time.monotonic()
        link.stats.polls += 1
        try:
            epoch = link.epoch
            if not await link.ensure_connected():
                return
            if link.epoch != epoch:  # just (re)connected: slow and once reads are due now
                job.due = self._due(link, job.cycle_no)
            # Healthy devices first: a silent one then costs its timeout at the end.
            order = {d: i for i, d in enumerate(link.devices)}
            due = sorted(
                job.due,
                key=lambda x: (
                    link.device_stats[x.device].consecutive_failures > 0,
                    order[x.device],
                ),
            )
            failed_devices: set[str] = set()
            for item in due:
                if item.device in failed_devices:
                    continue
                stamp = self._clock()
                try:
                    data = await link.read(
                        item.device, item.block.table, item.block.start, item.block.count
                    )
                except ExceptionResponseError as exc:
                    if exc.code not in _REQUEST_SCOPED_EXCEPTIONS:
                        failed_devices.add(item.device)
                    continue
                except LinkError:
                    if not link.connected:
                        return
                    failed_devices.add(item.device)
                    continue
                self._store(item, data, stamp, job.cycle_no, link.epoch)
        except Exception:
            log.exception("link %s: poll failed", link.name)
        finally:
            elapsed = time.monotonic() - t0
            link.stats.last_poll_s = elapsed
            link.stats.max_poll_s = max(link.stats.max_poll_s, elapsed)

    def _store(
        self, item: _DueBlock, data: list[int], stamp: float, cycle_no: int, epoch: int
    ) -> None:
        bst = self._blocks[item.device][item.index]
        bst.last_ok_cycle = cycle_no
        bst.ok_epoch = epoch
        states = self._points[item.device]
        for p in item.block.points:
            value, quality, reason = assess(item.block.words_of(data, p), p)
            st = states[p.name]
            st.value, st.quality, st.reason, st.timestamp = value, quality, reason, stamp
            st.ok_cycle = cycle_no
            st.missed = 0

    # ------------------------------------------------------------------ results
    def sample(self, device: str, point: str) -> Sample:
        link = self._link_of[device]
        st = self._points[device][point]
        limit = link.config.stale_after_cycles
        if st.ok_cycle is None:
            err = link.device_stats[device].last_error
            return Sample(None, Quality.BAD, 0.0, f"never read: {err}" if err else "never read")
        age = max(0, self._cycle - st.ok_cycle)
        if st.missed == 0:
            return Sample(st.value, st.quality, st.timestamp, st.reason, age)
        cause = link.device_stats[device].last_error or "poll did not complete in time"
        if not link.connected:
            cause = f"link {link.name} down ({cause})"
        if st.missed >= limit:
            return Sample(
                None,
                Quality.BAD,
                st.timestamp,
                f"stale: no fresh value for {st.missed} scheduled reads: {cause}",
                age,
            )
        if st.quality is Quality.GOOD:
            return Sample(
                st.value,
                Quality.UNCERTAIN,
                st.timestamp,
                f"last usable value, {st.missed} scheduled read(s) missed: {cause}",
                age,
            )
        return Sample(st.value, st.quality, st.timestamp, f"{st.reason}; then {cause}", age)

    def snapshot(self) -> dict[str, dict[str, Sample]]:
        """Every polled point of every device as a Sample (value, quality, time, reason)."""
        return {
            dev: {name: self.sample(dev, name) for name in states}
            for dev, states in self._points.items()
        }
