"""Live status of the running controller for a person at a terminal (``--status``).

What an operator looks at first, in the order they look: is the plant in the mode
it should be, are the data centre's facility water and the network's supply where
they belong, where is the heat going, what is alarmed, and what just happened.

The view is built in the daemon's event loop between scan cycles (so it reads one
consistent cycle, with no locks) and drawn by rich's refresh thread once a second.
While it is on screen the log goes to a file; the warnings and the mode, interlock
and alarm events of the log are shown in the view instead of scrolling past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from controller.core.conditioning import PlantReadings
from controller.core.modes import Mode
from controller.signaltable import Scan, bind_site, status_rows, status_values

if TYPE_CHECKING:
    from controller.daemon import Daemon

MODE_STYLE = {
    Mode.STARTUP: "bold blue",
    Mode.BYPASS: "bold cyan",
    Mode.RECOVERY: "bold green",
    Mode.DEGRADED: "bold yellow",
    Mode.SAFE: "bold white on red",
    Mode.MANUAL: "bold magenta",
}
MODE_MEANING = {
    Mode.STARTUP: "taking over the plant as found",
    Mode.BYPASS: "heat pump out of service: IT heat to the dry coolers",
    Mode.RECOVERY: "heat pump in service: heat to the network and the tank",
    Mode.DEGRADED: "running on a fallback: see alarms",
    Mode.SAFE: "safety interlock: bypass open, heat pump off, no injection",
    Mode.MANUAL: "fixed outputs from the site file",
}
PRIORITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}
EVENT_KINDS = frozenset({"mode", "interlock", "alarm", "comms", "heatpump", "setpoint"})
_SKIP_KEYS = frozenset({"event", "timestamp", "level", "logger", "kind", "plant_time", "audit"})


@dataclass(frozen=True, slots=True)
class LogLine:
    epoch: float
    level: str
    text: str


class RecentEvents(logging.Handler):
    """Keeps the last warnings and plant events from the log for the view."""

    def __init__(self, size: int = 8) -> None:
        super().__init__(logging.INFO)
        self.lines: deque[LogLine] = deque(maxlen=size)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            ev: dict[str, Any] = (
                record.msg if isinstance(record.msg, dict) else {"event": record.getMessage()}
            )
            if record.levelno < logging.WARNING and ev.get("kind") not in EVENT_KINDS:
                return
            text = str(ev.get("event", ""))
            if ev.get("kind") == "alarm":
                text = f"{text} {ev.get('alarm', '')}: {ev.get('message', '')}"
            elif ev.get("kind") == "mode":
                text = f"{text}  ({ev.get('cause', '')})"
            else:
                extras = [f"{k}={v}" for k, v in ev.items() if k not in _SKIP_KEYS]
                if extras:
                    text += "  " + " ".join(extras[:4])
            self.lines.append(LogLine(record.created, record.levelname.lower(), text))
        except Exception:  # a view must never break logging
            self.handleError(record)


def _f(x: float | None, fmt: str = "{:.1f}", unit: str = "") -> str:
    return "—" if x is None else fmt.format(x) + unit


def _age(seconds: float) -> str:
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class StatusView:
    def __init__(
        self,
        daemon: Daemon,
        endpoints: Sequence[tuple[str, str]],
        recent: RecentEvents | None = None,
        console: Console | None = None,
    ) -> None:
        self.daemon = daemon
        self.endpoints = list(endpoints)
        self.recent = recent
        self.console = console or Console()
        self.rows = status_rows(bind_site(daemon.settings))

    def _values(self) -> dict[str, float | None]:
        """The status snapshot's values (rows of the signal table) of the last cycle."""
        d = self.daemon
        out, img = d.last_output, d.last_image
        if out is None or img is None:
            return {}
        return status_values(self.rows, Scan(img, out, d.settings, 0.0))

    # ----------------------------------------------------------------- parts
    def _header(self) -> RenderableType:
        d = self.daemon
        out = d.last_output
        st = d.clock.stats()
        title = Text.assemble(
            ("heatrecovery controller", "bold"),
            f"  {d.settings.site.name}",
        )
        clock = Text(
            f"cycle {d.cycle.number}  scan p99 {st.duration_p99_ms:.1f} ms  "
            f"overruns {st.overruns}  {time.strftime('%H:%M:%S')}",
            style="dim",
        )
        if out is None:
            return Group(title, clock, Text("waiting for the first scan cycle…", style="yellow"))
        status = out.status
        mode = status.mode
        since = d.core_now(time.monotonic()) - out.mode_since
        line = Text.assemble(
            ("Mode ", "bold"),
            (f" {mode} ", MODE_STYLE.get(mode, "bold")),
            f"  {MODE_MEANING.get(mode, '')}  (for {_age(since)} plant time)",
        )
        il = ", ".join(status.interlocks) or "none"
        detail = Text(
            f"interlocks: {il}   setpoint source: {status.setpoint_source}   "
            f"injecting: {'yes' if status.injecting else 'no'}",
            style="red" if status.interlocks else "",
        )
        parts: list[RenderableType] = [title, clock, line, detail]
        if status.degraded_reasons:
            parts.append(Text("degraded: " + "; ".join(status.degraded_reasons), style="yellow"))
        return Group(*parts)

    def _temperatures(self) -> RenderableType:
        d = self.daemon
        out = d.last_output
        v = out.plant if out else PlantReadings()
        s = d.settings
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column(justify="right")
        t.add_column(style="dim")
        fws = out.status.fws_supply if out else None
        fws_style = ""
        if fws is None or fws > s.limits.fws_supply_high:
            fws_style = "bold red"
        elif fws > s.setpoints.fws_supply_temp + 1.0:
            fws_style = "yellow"
        t.add_row(
            "FWS supply",
            Text(_f(fws, unit=" °C"), style=fws_style),
            f"setpoint {s.setpoints.fws_supply_temp:g}, "
            f"alarm {s.limits.fws_supply_high:g}, limit {s.limits.fws_supply_high_high:g}",
        )
        t.add_row("FWS return", _f(v.fws_return, unit=" °C"), "")
        dh_sp = out.status.dh_setpoint if out else None
        dh = out.status.dh_supply if out else None
        dh_style = ""
        if (
            out is not None
            and out.status.injecting
            and dh is not None
            and dh_sp is not None
            and abs(dh - dh_sp) > s.limits.dh_supply_tolerance_k
        ):
            dh_style = "yellow"
        t.add_row(
            "DH supply",
            Text(_f(dh, unit=" °C"), style=dh_style),
            f"setpoint {_f(dh_sp)} ± {s.limits.dh_supply_tolerance_k:g}",
        )
        t.add_row("DH return", _f(v.dh_return, unit=" °C"), "")
        t.add_row("HP condenser out", _f(v.hp_cond_out, unit=" °C"), "")
        t.add_row("tank top", _f(v.tank_top, unit=" °C"), "")
        t.add_row("ambient", _f(v.ambient, unit=" °C"), "")
        return Panel(t, title="temperatures", border_style="blue")

    def _heat(self) -> RenderableType:
        d = self.daemon
        out = d.last_output
        v = out.plant if out else PlantReadings()
        st = out.status if out else None
        dumped = self._values().get("dumped")
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column(justify="right")
        t.add_column(style="dim")
        t.add_row("IT heat", _f(st.it_heat_kw if st else None, "{:.0f}", " kW"), "from the CDUs")
        hp_state = "tripped" if v.hp_tripped else ("running" if v.hp_running else "off")
        t.add_row(
            "heat pump",
            _f(v.hp_heat_kw, "{:.0f}", " kW"),
            f"{hp_state}, load {_f(v.hp_load, '{:.0f}', ' %')}, COP {_f(v.hp_cop, '{:.2f}')}, "
            f"{_f(v.hp_power_kw, '{:.0f}', ' kWe')}",
        )
        t.add_row(
            "delivered",
            _f(v.dh_power_kw, "{:.0f}", " kW"),
            f"demand {_f(st.demand_kw if st else None, '{:.0f}', ' kW')}, "
            f"target {_f(st.deliver_kw if st else None, '{:.0f}', ' kW')}",
        )
        t.add_row(
            "dumped",
            _f(dumped, "{:.0f}", " kW"),
            f"dry coolers: valve {_f(v.valve_pos, '{:.0f}', ' %')}, "
            f"fans {_f(v.fan_speed, '{:.0f}', ' %')}",
        )
        soc = st.soc if st else None
        t.add_row(
            "tank",
            _f(None if soc is None else soc * 100, "{:.0f}", " % SOC"),
            _f(st.stored_kwh if st else None, "{:.0f}", " kWh stored"),
        )
        acc = getattr(d, "accounting", None)
        if acc is not None:
            tot = acc.totals
            t.add_row(
                "ledger",
                f"{tot.delivered_total_mwh:.2f} MWh",
                f"today {tot.delivered_today_mwh:.2f} MWh, "
                f"seasonal COP {_f(tot.seasonal_cop, '{:.2f}')}",
            )
        return Panel(t, title="heat flows", border_style="blue")

    def _alarms(self) -> RenderableType:
        d = self.daemon
        active = d.last_output.alarms.active if d.last_output else ()
        now = d.core_now(time.monotonic())
        if not active:
            return Panel(Text("no active alarms", style="green"), title="alarms")
        t = Table.grid(padding=(0, 1))
        for col in ("priority", "id", "state", "since", "message"):
            t.add_column(col, no_wrap=col != "message")
        for a in active[:8]:
            style = PRIORITY_STYLE.get(str(a.priority), "")
            t.add_row(
                Text(str(a.priority).upper(), style=style),
                Text(a.id, style="bold"),
                str(a.status).replace("_", " "),
                _age(now - a.raised_at) if a.raised_at is not None else "",
                a.message,
            )
        more = f" (+{len(active) - 8} more)" if len(active) > 8 else ""
        return Panel(t, title=f"alarms: {len(active)} active{more}", border_style="red")

    def _events(self) -> RenderableType | None:
        if self.recent is None:
            return None
        t = Table.grid(padding=(0, 1))
        t.add_column(style="dim", no_wrap=True)
        t.add_column()
        lines = list(self.recent.lines)
        if not lines:
            t.add_row("", Text("nothing yet", style="dim"))
        for ln in lines:
            style = {"warning": "yellow", "error": "bold red", "critical": "bold red"}.get(
                ln.level, ""
            )
            t.add_row(time.strftime("%H:%M:%S", time.localtime(ln.epoch)), Text(ln.text, style))
        return Panel(t, title="recent events (full log in the log file)", border_style="dim")

    def _endpoints(self) -> RenderableType:
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column()
        for name, where in self.endpoints:
            t.add_row(name, where)
        t.add_row("", Text("Ctrl-C stops (outputs are left at their revert values)", "dim"))
        return Panel(t, title="endpoints", border_style="dim")

    def render(self) -> RenderableType:
        flows = Table.grid(expand=True)
        flows.add_column(ratio=1)
        flows.add_column(ratio=1)
        flows.add_row(self._temperatures(), self._heat())
        parts = [self._header(), flows, self._alarms()]
        events = self._events()
        if events is not None:
            parts.append(events)
        parts.append(self._endpoints())
        return Group(*parts)

    def line(self) -> str:
        """One line of the essentials, for output that is not a terminal (a pipe, a file)."""
        d = self.daemon
        out = d.last_output
        if out is None:
            return f"{time.strftime('%H:%M:%S')} waiting for the first scan cycle"
        st, v = out.status, out.plant
        soc = None if st.soc is None else st.soc * 100
        return (
            f"{time.strftime('%H:%M:%S')} cycle {d.cycle.number} mode {st.mode}"
            f" | FWS {_f(st.fws_supply)} °C (setpoint {d.settings.setpoints.fws_supply_temp:g})"
            f" | DH {_f(st.dh_supply)} °C (setpoint {_f(st.dh_setpoint)})"
            f" | IT {_f(st.it_heat_kw, '{:.0f}')} kW, HP {_f(v.hp_heat_kw, '{:.0f}')} kW,"
            f" delivered {_f(v.dh_power_kw, '{:.0f}')} of {_f(st.demand_kw, '{:.0f}')} kW,"
            f" SOC {_f(soc, '{:.0f}')} %"
            f" | alarms {out.alarms.counts.listed}"
            f" | interlocks {', '.join(st.interlocks) or 'none'}"
        )

    # ----------------------------------------------------------------- loop
    async def run(self, every_s: float = 1.0, line_every_s: float = 10.0) -> None:
        """Redraw every ``every_s`` until the daemon stops.

        Not on a terminal, a redrawn screen would be a stream of frames (or, with
        rich, nothing until the end): print one status line every ``line_every_s``.
        """
        if not self.console.is_terminal:
            while not self.daemon.stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.daemon.stopping.wait(), timeout=line_every_s)
                self.console.print(self.line(), soft_wrap=True, highlight=False)
            return
        # Drawn here, not by rich's refresh thread: the view then shows one scan
        # cycle, never a mix of two, and costs one render a second.
        with Live(self.render(), console=self.console, auto_refresh=False) as live:
            while not self.daemon.stopping.is_set():
                live.update(self.render(), refresh=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.daemon.stopping.wait(), timeout=every_s)
            live.update(self.render(), refresh=True)
