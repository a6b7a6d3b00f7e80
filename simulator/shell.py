"""The simulator served over Modbus TCP, on a real-time or accelerated clock.

The plant steps in simulated time; a wall-clock tick (``tick_s``) advances it by
``speed * tick_s`` seconds in steps of the scenario's ``dt``, applies the scenario's
events and boundary, then publishes every point to the Modbus server. The plant
runs the scenario's boundary conditions (load, weather, utility demand) so a
controller attached over Modbus sees a living plant, not frozen numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

from controller.config.registermap import RegisterMap, load_register_map
from simulator.modbus_server import PlantModbusServer
from simulator.plant import Plant
from simulator.plantconfig import PlantConfig
from simulator.scenario import Scenario


@dataclass
class ShellStats:
    ticks: int = 0
    late_ticks: int = 0
    plant_steps: int = 0


def register_map_for(cfg: PlantConfig, config_path: Path) -> RegisterMap:
    p = Path(cfg.modbus.register_map)
    return load_register_map(p if p.is_absolute() else config_path.parent / p)


class SimulatorShell:
    def __init__(
        self,
        cfg: PlantConfig,
        regmap: RegisterMap,
        scenario: Scenario,
        *,
        speed: float = 1.0,
        host: str | None = None,
        port: int | None = None,
        tick_s: float = 0.1,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.cfg = cfg
        self.scenario = scenario
        self.speed = speed
        self.tick_s = tick_s
        self.sampler = scenario.sampler()
        self.timeline = scenario.timeline()
        init = scenario.initial
        self.plant = Plant(
            cfg,
            seed=scenario.seed,
            tank_soc=init.tank_soc,
            hp_running=init.hp_running,
            fws_supply_temp=init.fws_supply_temp,
            boundary=self.sampler.sample(0.0),
        )
        self.server = PlantModbusServer(
            regmap,
            self.plant,
            host=host or cfg.modbus.host,
            port=cfg.modbus.port if port is None else port,
            device_ports=dict(cfg.modbus.device_ports),
        )
        self.stats = ShellStats()
        self._debt = 0.0
        self._stop = asyncio.Event()

    async def start(self) -> None:
        await self.server.start()
        await self.server.publish()

    async def stop(self) -> None:
        self._stop.set()
        await self.server.stop()

    def advance(self, seconds: float) -> None:
        """Step the plant by ``seconds`` of plant time (whole ``dt`` steps; the rest carries)."""
        dt = self.scenario.dt
        self._debt += seconds
        plant = self.plant
        end = self.scenario.duration
        while self._debt >= dt and plant.time < end:
            t = plant.time
            for ev, phase in self.timeline.due(t):
                if ev.kind != "controller_stop":
                    plant.apply_event(ev, phase)
            plant.step(dt, self.sampler.sample(t))
            self._debt -= dt
            self.stats.plant_steps += 1

    async def run(self, duration_s: float | None = None) -> None:
        """Run until stopped, the scenario ends, or ``duration_s`` of wall time has passed."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        next_tick = start + self.tick_s
        while not self._stop.is_set():
            self.advance(self.tick_s * self.speed)
            await self.server.publish()
            self.stats.ticks += 1
            if self.plant.time >= self.scenario.duration:
                break
            if duration_s is not None and loop.time() - start >= duration_s:
                break
            delay = next_tick - loop.time()
            if delay < 0:
                self.stats.late_ticks += 1
                next_tick = loop.time()
            next_tick += self.tick_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, delay))

    @property
    def endpoints(self) -> dict[str, tuple[str, int]]:
        return self.server.endpoints
