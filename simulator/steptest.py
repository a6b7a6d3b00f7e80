"""Open-loop step tests on the simulated plant: the basis of the default tuning.

A commissioning engineer tunes a loop from a step test: hold everything, step the
actuator, record the measurement, fit a first-order-plus-dead-time model (gain K,
time constant tau, dead time theta) and compute PI gains by lambda (IMC) tuning:
Kc = tau / (K (lambda + theta)), Ti = tau. This module does exactly that against
the plant physics, so the shipped gains in config/site.toml can be re-derived, and
a new site file can be tuned before it meets a real plant. The fit uses the classic
two-point method (times to 28.3 % and 63.2 % of the final change) on what the
controller itself measures (the sensors, with their lag and noise).

Gains follow Skogestad's SIMC rule for a PI controller on a FOPDT process:
Kc = tau / (K (tau_c + theta)), Ti = min(tau, 4 (tau_c + theta)), with the closed-loop
time constant tau_c = max(theta, tau_c_min): "tight but robust" control. The shipped
gains start from these values and are then checked (and where needed refined) in
closed loop over every scenario; docs/tuning.md records both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulator.plant import Plant, PlantBoundary
from simulator.plantconfig import PlantConfig

Reader = Callable[[Plant], float]


@dataclass(frozen=True)
class StepResult:
    loop: str
    description: str
    step: float
    gain: float  # PV units per output unit
    tau_s: float
    dead_time_s: float
    kp: float  # SIMC PI, output units per PV unit
    ki: float  # per second
    tau_c_s: float


@dataclass(frozen=True)
class StepCase:
    loop: str
    description: str
    boundary: PlantBoundary
    hold: dict[tuple[str, str], float]  # commands held during the test
    actuator: tuple[str, str]
    start: float
    step: float
    read: Reader
    settle_s: float = 3600.0
    record_s: float = 3600.0
    tau_c_min_s: float = 30.0
    output_per_actuator: float = 1.0  # loop output units per actuator unit (split range)


def _hold(plant: Plant, cmds: dict[tuple[str, str], float], hb: list[float]) -> None:
    hb[0] = (hb[0] + 1) % 65536
    plant.cmd[("plc", "heartbeat")] = hb[0]
    for key, v in cmds.items():
        plant.cmd[key] = v


def run_step(cfg: PlantConfig, case: StepCase, dt: float = 1.0) -> StepResult:
    plant = Plant(cfg, seed=1, hp_running=True, boundary=case.boundary)
    hb = [0.0]
    cmds = dict(case.hold)
    cmds[case.actuator] = case.start
    for _ in range(int(case.settle_s / dt)):
        _hold(plant, cmds, hb)
        plant.step(dt, case.boundary)
    if case.step == 0:
        raise ValueError(f"{case.loop}: a step of zero moved nothing")
    before: list[float] = []
    for _ in range(60):
        _hold(plant, cmds, hb)
        plant.step(dt, case.boundary)
        before.append(case.read(plant))
    y0 = sum(before) / len(before)
    noise = max(abs(y - y0) for y in before)
    cmds[case.actuator] = case.start + case.step
    ys: list[float] = []
    for _ in range(int(case.record_s / dt)):
        _hold(plant, cmds, hb)
        plant.step(dt, case.boundary)
        ys.append(case.read(plant))
    # The last tenth of the record is the new steady state (averages out the noise).
    tail = ys[-max(1, len(ys) // 10) :]
    dy = sum(tail) / len(tail) - y0
    if abs(dy) < 3.0 * noise + 1e-9:
        raise ValueError(f"{case.loop}: the step moved nothing above the measurement noise")
    gain = dy / (case.step * case.output_per_actuator)
    t28 = next(i for i, y in enumerate(ys) if (y - y0) / dy >= 0.283) * dt
    t63 = next(i for i, y in enumerate(ys) if (y - y0) / dy >= 0.632) * dt
    tau = max(1.5 * (t63 - t28), dt)
    theta = max(t63 - tau, 0.0)
    tau_c = max(theta, case.tau_c_min_s)
    kc = tau / (abs(gain) * (tau_c + theta))
    ti = min(tau, 4.0 * (tau_c + theta))
    return StepResult(case.loop, case.description, case.step, gain, tau, theta, kc, kc / ti, tau_c)


def _winter(**kw: float) -> PlantBoundary:
    b = PlantBoundary(it_utilisation=0.8, ambient_temp=0.0, dh_demand=1000.0,
                      dh_supply_setpoint=70.0, dh_return_temp=40.0)  # fmt: skip
    for k, v in kw.items():
        setattr(b, k, v)
    return b


def _reading(device: str, point: str) -> Reader:
    def read(plant: Plant) -> float:
        v = plant.point_values()[device][point]
        return float("nan") if v is None else v

    return read


def reference_cases(split_pct: float = 30.0) -> list[StepCase]:
    """The step tests behind the shipped tuning (reference site, winter conditions).

    Every case starts from an operating point the plant can hold on its own (heat in
    = heat out), or the "step response" would only be a drift.
    """
    base = {
        ("heatpump", "enable"): 1.0,
        ("heatpump", "supply_setpoint"): 70.0,
        ("heatpump", "load_setpoint"): 60.0,
        ("plc", "p1a_run"): 1.0,
        ("plc", "p1a_speed_cmd"): 100.0,
        ("plc", "p2a_run"): 1.0,
        ("plc", "p2a_speed_cmd"): 60.0,
        ("plc", "bypass_valve_cmd"): 50.0,
        ("drycooler", "fan_speed_cmd"): 0.0,
    }
    fws = _reading("plc", "fws_supply_temp")
    return [
        StepCase(
            "fws (valve range)",
            "bypass valve 50 -> 60 %, fans stopped; PV facility-water supply",
            _winter(),
            base,
            ("plc", "bypass_valve_cmd"),
            50.0,
            10.0,
            fws,
            output_per_actuator=split_pct / 100.0,
        ),
        StepCase(
            "fws (fan range)",
            "fans 20 -> 30 % with the valve open; PV facility-water supply",
            _winter(ambient_temp=10.0),
            {**base, ("plc", "bypass_valve_cmd"): 100.0},
            ("drycooler", "fan_speed_cmd"),
            20.0,
            10.0,
            fws,
            output_per_actuator=(100.0 - split_pct) / 100.0,
        ),
        StepCase(
            "hp_trim",
            "heat-pump outlet setpoint 70 -> 72 °C, network taking the heat; PV water "
            "leaving the plant (the heat-pump outlet: it covers the flow)",
            _winter(),
            {**base, ("plc", "p2a_speed_cmd"): 70.0},
            ("heatpump", "supply_setpoint"),
            70.0,
            2.0,
            _reading("heatpump", "cond_outlet_temp"),
            record_s=1800.0,
        ),
        StepCase(
            "source",
            "heat-pump load 50 -> 60 % (120 kW), valve 50 %, fans off; PV facility-water supply",
            _winter(),
            base,
            ("heatpump", "load_setpoint"),
            50.0,
            10.0,
            fws,
            output_per_actuator=12.0,  # output in kW of condenser heat per % load
        ),
        StepCase(
            "injection",
            "DH pump 70 -> 80 % (above the 58 % that overcomes the network); PV heat "
            "power at the meter",
            _winter(),
            base,
            ("plc", "p2a_speed_cmd"),
            70.0,
            10.0,
            _reading("heatmeter", "power"),
            record_s=600.0,
            tau_c_min_s=10.0,
        ),
    ]
