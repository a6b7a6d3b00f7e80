"""The rule blocks of the conventional baseline (``simulator.baseline``), one per actuator.

Each is what a PLC programmer writes in a few rungs: a thermostat with hysteresis
and a timer, a PI block, a stage sequencer. None looks at the tank's state of
charge, the IT load or the demand forecast; that is the point of the comparison.
The numbers live in ``BaselineTuning`` so the docstring of ``simulator.baseline``
and the code cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from controller.config.settings import SiteSettings
from controller.core.pid import Loop

HP_ON_ABOVE_SUPPLY_K = 4.0
"""The heat pump is called when facility water returns this far above its supply
setpoint: about half the design rise across the CDUs (reference: 35 °C supply,
~7.6 K rise at 884 kW and 100 m3/h), i.e. when the IT load is worth recovering."""
HP_OFF_ABOVE_SUPPLY_K = 1.0
"""...and released when the return falls to within this of the supply setpoint."""
INJ_KP_PER_CAPACITY = 24.0
"""Injection PI: % pump speed per heat-pump capacity of power error (0.02 %/kW on
the 1.2 MW reference)."""


@dataclass(frozen=True, slots=True)
class BaselineTuning:
    """Commissioning values, chosen as an integrator would for the reference site;
    ``for_site`` commissions them for another."""

    # Heat pump: fixed outlet setpoint and fixed load, on/off on FWS return.
    hp_setpoint_margin_k: float = 0.5
    hp_load_pct: float = 75.0
    hp_on_return_c: float = 39.0
    hp_off_return_c: float = 36.0
    hp_off_delay_s: float = 60.0
    # Tank thermostats: off when the bottom sensor is hot, on again when the upper is cold.
    tank_full_below_sp_k: float = 5.0
    tank_empty_below_sp_k: float = 5.0
    tank_upper_sensor: int = 2  # index, top first: the third of ten probes
    # Bypass valve PI on FWS supply (%/K and s), with an input filter.
    valve_kp: float = 25.0
    valve_ti_s: float = 150.0
    pv_filter_s: float = 10.0
    # Dry-cooler fans in stages, sequenced on valve position.
    fan_stages: tuple[float, ...] = (0.0, 40.0, 70.0, 100.0)
    fan_up_valve_pct: float = 95.0
    fan_up_above_sp_k: float = 0.5
    fan_up_delay_s: float = 60.0
    fan_down_valve_pct: float = 20.0
    fan_down_delay_s: float = 600.0
    fan_down_below_sp_k: float = 1.5
    fan_down_cold_delay_s: float = 300.0
    # Injection pump: PI on metered heat power to the utility's demand; cold cut-out.
    inj_kp: float = 0.02
    inj_ti_s: float = 20.0
    inj_start_pct: float = 50.0
    inj_min_pct: float = 10.0
    inj_cold_below_sp_k: float = 5.0
    inj_cold_delay_s: float = 120.0
    inj_restart_lockout_s: float = 600.0

    @classmethod
    def for_site(cls, settings: SiteSettings) -> BaselineTuning:
        """Commissioned for a site as an integrator would: thermostat thresholds from
        its facility-water design temperature, the power PI from its heat pump's size.
        The reference site gets the values above; an air-cooled site (27 °C supply)
        gets a heat pump that runs at all."""
        supply = settings.setpoints.fws_supply_temp
        return replace(
            cls(),
            hp_on_return_c=supply + HP_ON_ABOVE_SUPPLY_K,
            hp_off_return_c=supply + HP_OFF_ABOVE_SUPPLY_K,
            inj_kp=INJ_KP_PER_CAPACITY / settings.plant.hp_capacity_kw,
        )


class Timer:
    """TON: true once its input has been true for ``delay`` seconds."""

    __slots__ = ("delay", "since")

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.since: float | None = None

    def update(self, cond: bool, now: float) -> bool:
        if not cond:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return now - self.since >= self.delay


class HeatPumpCall:
    """On/off wish for the heat pump: FWS return thermostat AND tank thermostats."""

    __slots__ = ("_off_timer", "source_call", "t", "tank_call")

    def __init__(self, t: BaselineTuning, running: bool) -> None:
        self.t = t
        self.source_call = running
        self.tank_call = True
        self._off_timer = Timer(t.hp_off_delay_s)

    def update(
        self,
        now: float,
        fws_return: float | None,
        tank_temps: list[float],
        dh_setpoint: float,
    ) -> bool:
        t = self.t
        if fws_return is not None:
            if fws_return > t.hp_on_return_c:
                self.source_call = True
            if self._off_timer.update(fws_return < t.hp_off_return_c, now):
                self.source_call = False
        if len(tank_temps) > t.tank_upper_sensor:
            if tank_temps[-1] >= dh_setpoint - t.tank_full_below_sp_k:
                self.tank_call = False
            elif tank_temps[t.tank_upper_sensor] < dh_setpoint - t.tank_empty_below_sp_k:
                self.tank_call = True
        return self.source_call and self.tank_call


class ValvePi:
    """Bypass valve PI on filtered FWS supply; reverse acting (hotter -> more open)."""

    __slots__ = ("loop", "pv", "t")

    def __init__(self, t: BaselineTuning, setpoint: float) -> None:
        self.t = t
        self.loop = Loop(
            "bypass_valve",
            t.valve_kp,
            t.valve_kp / t.valve_ti_s,
            0.0,
            setpoint,
            (0.0, 100.0),
            direct=False,
            initial=100.0,
        )
        self.pv: float | None = None

    @property
    def output(self) -> float:
        return self.loop.last_output

    def step(self, pv: float | None, dt: float) -> float:
        if pv is None:
            return self.loop.last_output  # hold; the interlock handles a lost signal
        f = self.pv
        self.pv = f = pv if f is None else f + (pv - f) * dt / (self.t.pv_filter_s + dt)
        return self.loop.update(f, dt)

    def force_open(self) -> None:
        self.loop.track(100.0, self.pv)


class FanStager:
    """Fan speed in fixed stages: up when the open valve is not enough, down when idle."""

    __slots__ = ("_cold", "_down", "_last_change", "_up", "stage", "t")

    def __init__(self, t: BaselineTuning, stage: int) -> None:
        self.t = t
        self.stage = stage
        self._up = Timer(t.fan_up_delay_s)
        self._down = Timer(t.fan_down_delay_s)
        self._cold = Timer(t.fan_down_cold_delay_s)
        self._last_change = -1e18

    @property
    def speed(self) -> float:
        return self.t.fan_stages[self.stage]

    def full(self, now: float) -> None:
        self.stage = len(self.t.fan_stages) - 1
        self._last_change = now

    def step(self, now: float, valve: float, fws: float | None, setpoint: float) -> float:
        t = self.t
        hot = fws is not None and fws > setpoint + t.fan_up_above_sp_k
        up = self._up.update(valve >= t.fan_up_valve_pct and hot, now)
        down = self._down.update(valve <= t.fan_down_valve_pct, now)
        cold = self._cold.update(fws is not None and fws < setpoint - t.fan_down_below_sp_k, now)
        settled = now - self._last_change >= t.fan_up_delay_s
        if up and settled and self.stage < len(t.fan_stages) - 1:
            self.stage += 1
            self._last_change = now
            self._up.since = None
        elif (down or cold) and settled and self.stage > 0:
            self.stage -= 1
            self._last_change = now
            self._down.since = None
            self._cold.since = None
        return self.speed


class InjectionPi:
    """DH injection pump: PI on metered power to demand, stopped below a cold limit."""

    __slots__ = ("_cold", "injecting", "locked_until", "loop", "speed", "t")

    def __init__(self, t: BaselineTuning) -> None:
        self.t = t
        self.loop = Loop(
            "injection_power",
            t.inj_kp,
            t.inj_kp / t.inj_ti_s,
            0.0,
            0.0,
            (t.inj_min_pct, 100.0),
            initial=t.inj_start_pct,
        )
        self._cold = Timer(t.inj_cold_delay_s)
        self.injecting = False
        self.locked_until = -1e18
        self.speed = 0.0

    def step(
        self,
        now: float,
        dt: float,
        allowed: bool,
        demand_kw: float,
        power_kw: float | None,
        supply: float | None,
        dh_setpoint: float,
    ) -> float:
        t = self.t
        cold = supply is not None and supply < dh_setpoint - t.inj_cold_below_sp_k
        if self.injecting and self._cold.update(cold, now):
            self.locked_until = now + t.inj_restart_lockout_s
        want = allowed and demand_kw > 1.0 and now >= self.locked_until
        if not want:
            self.injecting = False
            self.speed = 0.0
            self._cold.since = None
            return 0.0
        self.loop.setpoint = demand_kw
        if not self.injecting:
            self.loop.track(t.inj_start_pct, power_kw)
            self.injecting = True
        if power_kw is not None:
            self.loop.update(power_kw, dt)
        self.speed = self.loop.last_output
        return self.speed
