"""Facility-water supply temperature: split range over the bypass valve and the fans.

One PI loop holds the water going to the CDUs at its setpoint; its output strokes
the 3-way valve over the first ``split`` percent and then runs the dry-cooler fans.
Whatever heat the heat pump does not take leaves here, so IT cooling never depends
on the network or the heat pump. The valve span is kept short (30 % by default)
because with fans stopped the coils reject a fraction of what they do at full
speed: a shorter valve span evens out the loop gain across the two ranges.

``force_full()`` is the interlock action: fans to full at once; the loop then comes
down from there as fast as the water temperature allows, bumplessly.

IT cooling must never hang on this loop being sound: an output that is not a finite
number inside the loop's limits, or one that stays frozen while the water is well
above its setpoint, is a fault (``fault`` says which) and puts valve and fans at
full cooling until the output is sound again.

Frost: the coils run glycol, but the plate exchanger that feeds them has facility
water on its other side. An integrating limiter caps the fans so the glycol entering
that exchanger stays ``FROST_MARGIN_K`` above the site's frost limit; when it binds
the loop tracks the capped output (no wind-up), and the valve still opens fully
first, so IT cooling keeps the whole coil surface with the air it gets for free.

The frost limiter holding the fans is a reason for a steady output, not a fault: the
stuck-output check does not count while it binds (it would otherwise force the fans
to full and freeze the exchanger it protects).
"""

from __future__ import annotations

import math

from controller.config.settings import SiteSettings
from controller.core.conditioning import PlantView
from controller.core.pid import Loop

PV_FILTER_S = 10.0
STUCK_ABOVE_K = 1.0  # water this far above setpoint must move a sound loop's output
STUCK_S = 60.0  # ... within this time (a PI moves it every step)
_TOL = 1e-6
FROST_MARGIN_K = 2.0
FROST_GAIN = 2.0  # %/s of fan cap per K away from the frost target


class FwsLoop:
    __slots__ = (
        "_stuck_s",
        "_stuck_u",
        "fan",
        "fault",
        "frost_cap",
        "loop",
        "pv",
        "split",
        "valve",
    )

    def __init__(self, settings: SiteSettings) -> None:
        t = settings.tuning
        self.split = t.fws_split_pct
        self.loop = Loop(
            "fws_supply",
            t.fws.kp,
            t.fws.ki,
            t.fws.kd,
            settings.setpoints.fws_supply_temp,
            (0.0, 100.0),
            direct=False,
            initial=100.0,
        )
        self.valve = 100.0
        self.fan = 100.0
        self.frost_cap = 100.0
        self.pv: float | None = None
        self.fault = ""
        """Why the loop's output is not trusted now; empty while it is sound."""
        self._stuck_s = 0.0
        self._stuck_u: float | None = None

    def output_for(self, valve: float, fan: float) -> float:
        """The loop output that corresponds to measured actuator positions."""
        if fan > 0.5:
            return self.split + fan / 100.0 * (100.0 - self.split)
        return valve / 100.0 * self.split

    def track_actuators(self, valve: float | None, fan: float | None, pv: float | None) -> None:
        if valve is None or fan is None:
            return
        self.loop.track(self.output_for(valve, fan), pv)

    def take_over(self, view: PlantView, setpoint: float) -> None:
        """Start regulating from a safe state without dumping heat for an hour.

        After start-up or SAFE the valve and fans stand at their safe values (full
        cooling). Unwinding from there bumplessly on a process with a 25-minute time
        constant overcools the water, the heat pump's source limit gives way, and the
        heat goes to the dry coolers. If the water is at or below its setpoint, the
        loop starts instead from the output that rejects the heat the heat pump does
        not take, scaled by what the coolers reject now per % of output, if that is
        lower. Above setpoint it stays bumpless: IT cooling is never traded for heat.
        """
        pv = view.fws_supply
        u = self.loop.last_output
        rejected = view.dc_heat_kw
        if pv is None or pv > setpoint or rejected is None or u < 5.0 or rejected <= 0.0:
            return
        it = view.it_heat_kw or 0.0
        taken = 0.0
        if view.hp_running and view.hp_heat_kw is not None and view.hp_power_kw is not None:
            taken = max(0.0, view.hp_heat_kw - view.hp_power_kw)
        estimate = max(0.0, it - taken) / (rejected / u)
        if estimate < u:
            self.loop.track(estimate, pv)

    def force_full(self, pv: float | None) -> None:
        self.loop.track(100.0, self.pv if self.pv is not None else pv)

    def step(
        self,
        pv: float | None,
        dt: float,
        *,
        valve_pinned_open: bool,
        glycol: float | None = None,
        frost_limit: float | None = None,
    ) -> None:
        loop = self.loop
        loop.set_limits(self.split if valve_pinned_open else 0.0, 100.0)
        # Without a trustworthy temperature the loop holds (the interlock handles safety).
        if pv is None:
            u = loop.last_output
        else:
            # A short filter keeps sensor noise off the valve (it wore out as travel),
            # small beside the ~150 s of the facility-water loop.
            f = self.pv
            f = pv if f is None else f + (pv - f) * dt / (PV_FILTER_S + dt)
            self.pv = f
            u = loop.update(f, dt)
        lo, hi = loop.limits
        if not (math.isfinite(u) and lo - _TOL <= u <= hi + _TOL):
            self._fail(f"fws loop output {u!r} outside [{lo:g}, {hi:g}]")
            return
        split = self.split
        valve = min(u, split) / split * 100.0
        fan = max(0.0, u - split) / (100.0 - split) * 100.0
        cap = self._frost(glycol, frost_limit, dt)
        held = fan > cap
        if self._stuck(u, dt, hi, held=held):
            self._fail(f"fws loop output stuck at {u:.1f} with the water above setpoint")
            return
        self.fault = ""
        self.valve = valve
        self.fan = fan
        if held:
            # The loop tracks the capped output: no wind-up against the frost limit.
            self.fan = cap
            loop.track(self.output_for(valve, cap), self.pv)

    def _frost(self, glycol: float | None, frost_limit: float | None, dt: float) -> float:
        """The fan cap that keeps the glycol ``FROST_MARGIN_K`` above the frost limit."""
        if glycol is None or frost_limit is None:
            self.frost_cap = 100.0
        else:
            err = glycol - (frost_limit + FROST_MARGIN_K)
            self.frost_cap = min(100.0, max(0.0, self.frost_cap + FROST_GAIN * err * dt))
        return self.frost_cap

    def _stuck(self, u: float, dt: float, hi: float, *, held: bool) -> bool:
        """True once the output has not moved for ``STUCK_S`` with the water hot.

        Once judged stuck it stays so until the output moves: full cooling bringing
        the water down must not hand the plant back to a loop that does nothing.
        ``held``: the frost limiter holds the output, which explains a steady one.
        """
        pv = self.pv
        if held or u != self._stuck_u:
            self._stuck_u = u
            self._stuck_s = 0.0
            return False
        if self._stuck_s >= STUCK_S:
            return True
        if pv is not None and pv > self.loop.setpoint + STUCK_ABOVE_K and u < hi - _TOL:
            self._stuck_s += dt
        else:
            self._stuck_s = 0.0
        return self._stuck_s >= STUCK_S

    def _fail(self, why: str) -> None:
        self.fault = why
        self.valve = 100.0
        self.fan = 100.0
