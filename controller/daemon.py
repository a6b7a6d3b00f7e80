"""The controller daemon: the imperative shell around the pure control core.

Every scan cycle, on a monotonic deadline: poll the field bus (bounded), build the
process image (plus the utility's SCADA setpoints), step the control core, write
the commands (bounded), log what happened. SIGHUP or an edited site file reloads
the settings all-or-nothing; SIGTERM writes every output's revert value (the
hand-over state a plant PLC expects from a controller that leaves) and stops.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from controller.accounting.service import AccountingService
from controller.config.settings import LoadedSite
from controller.core.alarms import AlarmEvent
from controller.core.core import ControlCore, CoreOutput
from controller.core.image import ProcessImage
from controller.fieldbus.bus import FieldBus
from controller.fieldbus.writer import CommandError, CommandWriter
from controller.logs import audit_logger
from controller.reload import ReloadResult, SiteWatcher
from controller.scan import ScanClock
from controller.sitealarms import follow_limits, load_site_alarms

log = structlog.get_logger("controller")

RELOAD_CHECK_S = 2.0
REVERT_BUDGET_S = 5.0
"""How long a stop waits for the revert writes (and for writes still running from
the last cycle): long enough for every point over a slow link, short enough that a
dead link cannot hold the stop (systemd's stop timeout is 90 s)."""
OVERRUN_ALARM_COUNT = 3


def settle_heap() -> float:
    """Exempt everything alive at start from later full collections; return ms.

    Why: start-up leaves some 80,000-100,000 long-lived objects (the libraries, the
    settings, the register map). A full (generation 2) collection walks all of them:
    100-300 ms on a loaded 2-core gateway, one to three scan periods at 100 ms, set
    off by start-up's and each reload's allocations (soak overruns with poll and
    write each 20-50 ms over their budgets). Frozen objects are never walked again;
    what the scan allocates later is collected as usual. Only the young generations
    are collected first (about a millisecond): a full collection here would delay
    the first heartbeat by as much, for a few hundred objects of start-up garbage
    kept for good.
    """
    t0 = time.perf_counter()
    gc.collect(1)
    gc.freeze()
    return (time.perf_counter() - t0) * 1000.0


def nest(commands: Mapping[str, float]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key, value in commands.items():
        dev, _, point = key.partition(".")
        out.setdefault(dev, {})[point] = value
    return out


@dataclass
class Extension:
    """A part of the daemon that sees every cycle (OPC UA server, ledger, metrics)."""

    name: str
    on_cycle: Callable[[Daemon, ProcessImage, CoreOutput], Awaitable[None] | None]
    on_stop: Callable[[Daemon], Any] | None = None
    image_extra: Callable[[Daemon], Mapping[str, float | None]] | None = None
    on_reload: Callable[[Daemon], None] | None = None
    """Called after a reloaded site file became ``daemon.settings``: an extension that
    copied settings at start applies the new ones here (or the reload says what it
    changed while nothing did)."""


@dataclass
class CycleInfo:
    number: int = 0
    duration_s: float = 0.0
    poll_s: float = 0.0
    write_s: float = 0.0


def _user_roles(users: object) -> object:
    if not isinstance(users, list):
        return users
    return [f"{u.get('name')}:{u.get('role')}" for u in users if isinstance(u, dict)]


class Daemon:
    def __init__(self, site: LoadedSite, *, duration_s: float | None = None) -> None:
        self.site = site
        s = site.settings
        self.settings = s
        self.duration_s = duration_s
        self.bus = FieldBus(site.regmap, s.fieldbus)
        self.writer = CommandWriter(self.bus)
        self.reverts = {
            f"{dev}.{p.name}": float(p.revert)
            for dev in site.regmap.devices
            for p in site.regmap.points_of(dev)
            if p.revert is not None and p.writable
        }
        self.alarm_defs = load_site_alarms(site, self.reverts)
        self.time_scale = s.scan.time_scale
        self.core = ControlCore(s, self.reverts, self.alarm_defs, now=0.0)
        self.watcher = SiteWatcher(site)
        self.clock = ScanClock(s.scan.period_s)
        self.extensions: list[Extension] = []
        self.last_output: CoreOutput | None = None
        self.last_image: ProcessImage | None = None
        self.cycle = CycleInfo()
        self.stopping = asyncio.Event()
        self.stopped_cleanly = False
        self.audit = audit_logger(source="site file")
        self._next_reload_check = 0.0
        self._reload_job: asyncio.Future[tuple[ReloadResult | None, bool]] | None = None
        self.pending_acks: list[tuple[str, str]] = []
        if s.accounting.enabled:
            self._add_accounting()

    def _add_accounting(self) -> None:
        svc = AccountingService(self.site)
        self.accounting = svc
        self.extensions.append(
            Extension(
                "accounting",
                on_cycle=lambda d, img, out: svc.cycle(time.time(), img, out),
                on_stop=lambda d: svc.close(),
                image_extra=lambda d: {"ctl.meter_mismatch": svc.meter_mismatch()},
            )
        )

    def extension(self, name: str) -> Extension | None:
        """The attached extension of that name (``opcua``, ``fleet``, ...), if any."""
        return next((e for e in self.extensions if e.name == name), None)

    # ----------------------------------------------------------------- time
    def core_now(self, mono: float) -> float:
        """Control time: monotonic seconds since start, scaled for an accelerated plant."""
        return (mono - self.clock.t0) * self.time_scale

    # ----------------------------------------------------------------- lifecycle
    def request_stop(self) -> None:
        self.stopping.set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.watcher.request)

    async def run(self) -> None:
        s = self.settings
        log.info(
            "controller starting",
            site=s.site.name,
            period_s=s.scan.period_s,
            links=[f"{link.name}={link.endpoint}" for link in s.fieldbus.links],
            time_scale=self.time_scale,
        )
        await self.bus.start()
        settle_heap()
        self.clock = ScanClock(s.scan.period_s)
        end = None if self.duration_s is None else self.clock.t0 + self.duration_s
        try:
            while not self.stopping.is_set():
                await self.clock.wait()
                if self.stopping.is_set():
                    break
                await self.cycle_once()
                before = self.clock.overruns
                duration = self.clock.done()
                if self.clock.overruns > before:
                    log.warning(
                        "scan overrun",
                        cycle=self.cycle.number,
                        duration_ms=round(duration * 1000, 1),
                        poll_ms=round(self.cycle.poll_s * 1000, 1),
                        write_ms=round(self.cycle.write_s * 1000, 1),
                        skipped_deadlines=self.clock.skipped,
                    )
                if end is not None and time.monotonic() >= end:
                    break
        finally:
            await self.shutdown()

    async def cycle_once(self) -> CoreOutput:
        mono = self.clock.cycle_started
        info = self.cycle
        info.number = self.clock.k
        report = await self.bus.poll_cycle(self.clock.k)
        info.poll_s = report.duration_s
        extra: dict[str, float | None] = {
            "ctl.scan_overrun": 1.0 if self.clock.recent_overruns() >= OVERRUN_ALARM_COUNT else 0.0
        }
        for ext in self.extensions:
            if ext.image_extra is not None:
                extra.update(ext.image_extra(self))
        image = ProcessImage.from_samples(self.bus.snapshot(), extra)
        now = self.core_now(mono)
        for alarm_id, user in self.pending_acks:
            ev = self.core.acknowledge(alarm_id, user, now)
            if ev is not None:
                self.audit.info("alarm acknowledged", alarm=alarm_id, user=user)
        self.pending_acks.clear()
        self._maybe_reload(mono)
        out = self.core.step(
            image, self.settings, now, self.settings.scan.period_s * self.time_scale
        )
        t_write = time.monotonic()
        try:
            await self.writer.apply(nest(out.commands))
        except CommandError as exc:  # the core asked for something the map refuses
            log.error("command refused", error=str(exc))
        info.write_s = time.monotonic() - t_write
        self._log_output(out)
        self.last_output = out
        self.last_image = image
        for ext in self.extensions:
            try:
                res = ext.on_cycle(self, image, out)
                if res is not None:
                    await res
            except Exception:  # an extension must never stop the scan cycle
                log.exception("extension failed", extension=ext.name)
        info.duration_s = time.monotonic() - mono
        return out

    def _maybe_reload(self, mono: float) -> None:
        """Apply a reload prepared off the loop; start preparing the next one when due.

        Reading and checking the site file and the register map (tens of ms of
        parsing and validation, more on a loaded box) runs in a worker thread, never
        inside a scan cycle; the prepared result is applied here, in the cycle after
        it is ready, before the control core steps, all or nothing as before.
        """
        job = self._reload_job
        if job is not None:
            if not job.done():
                return
            self._reload_job = None
            try:
                result, was_waiting = job.result()
            except Exception as exc:  # belt and braces: a reload never stops the scan
                log.exception("site file reload failed; keeping the running settings")
                self.audit.error(
                    "site file not applied", reason=repr(exc), file=str(self.site.path)
                )
                self._next_reload_check = mono + RELOAD_CHECK_S
                return
            self._apply_reload(result, was_waiting, mono)
            return
        if mono < self._next_reload_check and not self.watcher.requested:
            return
        self._reload_job = asyncio.ensure_future(asyncio.to_thread(self._check_reload, mono))

    def _check_reload(self, mono: float) -> tuple[ReloadResult | None, bool]:
        """In a worker thread: the watcher's look at the files (and the load, if due)."""
        waiting = self.watcher.waiting
        return self.watcher.check(mono), waiting

    def reload_now(self, mono: float) -> None:
        """Check the site file and apply what it gives, here and now (tests, tools)."""
        waiting = self.watcher.waiting
        self._apply_reload(self.watcher.check(mono), waiting, mono)

    def _apply_reload(self, result: ReloadResult | None, waiting: bool, mono: float) -> None:
        # While a changed file settles, look again soon rather than in RELOAD_CHECK_S.
        settle = self.watcher.settle_s
        self._next_reload_check = mono + (settle if self.watcher.waiting else RELOAD_CHECK_S)
        if result is None:
            if self.watcher.waiting and not waiting:
                log.info("site file changed; reading it once it is stable", settle_s=settle)
            return
        if result.site is None:
            log.error("site file not applied; keeping the running settings", reason=result.error)
            self.audit.error("site file not applied", reason=result.error, file=str(self.site.path))
            return
        self.site = result.site
        self.settings = result.site.settings
        for ext in self.extensions:
            if ext.on_reload is not None:
                try:
                    ext.on_reload(self)
                except Exception:  # an extension must never stop the scan cycle
                    log.exception("extension reload failed", extension=ext.name)
        follow_limits(self.core.alarm_engine, self.alarm_defs, self.settings)
        for path, before, after in result.changed or []:
            old, new = before, after
            if path == "opcua.users":  # names and roles; password hashes stay out of logs
                old, new = _user_roles(before), _user_roles(after)
            self.audit.info(
                "setting changed", setting=path, old=old, new=new, file=str(self.site.path)
            )
        log.info("site file reloaded", changes=len(result.changed or []))

    def _log_output(self, out: CoreOutput) -> None:
        for e in out.events:
            level = "warning" if e.kind in ("interlock", "comms") or "SAFE" in e.message else "info"
            getattr(log, level)(e.message, kind=e.kind, plant_time=round(e.time, 1), **e.data)
        for a in out.alarm_events:
            self._log_alarm(a)

    @staticmethod
    def _log_alarm(a: AlarmEvent) -> None:
        level = "warning" if a.kind == "raise" and a.severity >= 700 else "info"
        getattr(log, level)(
            "alarm " + str(a.kind),
            kind="alarm",
            alarm=a.alarm_id,
            priority=str(a.priority),
            value=a.value,
            message=a.message,
            user=a.user or None,
        )

    async def shutdown(self) -> None:
        """Leave the plant in its hand-over state: every output at its revert value."""
        log.info("controller stopping: writing revert values")
        if self._reload_job is not None:  # a reload still being read is not applied
            self._reload_job.cancel()
            self._reload_job = None
        try:
            await self.bus.idle()
            # The last cycle's writes may still be running (they ran out of the cycle's
            # write budget); reverting now would find the link busy and skip it.
            await self.writer.idle(REVERT_BUDGET_S)
            report = await self.writer.revert_all(budget_s=REVERT_BUDGET_S)
            left = report.not_written()
            unconfirmed = sorted(f"{o.device}.{o.point}" for o in report.written if o.reason)
            fields = {
                "written": len(report.written),
                "already_at_revert": len(report.already),
                "unconfirmed": unconfirmed,
                "unreverted": sorted(left),
            }
            if left:
                log.error("revert values not written", **fields, reasons=left)
            else:
                log.info("revert values written", **fields)
        except Exception:
            log.exception("revert on shutdown failed")
        for ext in self.extensions:
            if ext.on_stop is not None:
                try:
                    res = ext.on_stop(self)
                    if asyncio.iscoroutine(res):
                        await res
                except Exception:
                    log.exception("extension stop failed", extension=ext.name)
        await self.bus.stop()
        st = self.clock.stats()
        log.info(
            "controller stopped",
            cycles=st.cycles,
            overruns=st.overruns,
            jitter_p99_ms=round(st.jitter_p99_ms, 2),
            duration_p99_ms=round(st.duration_p99_ms, 2),
        )
        self.stopped_cleanly = True
