"""The plant as its devices present it: named points, as the register map names them.

This is the only place that knows both the physics' attributes and the devices'
point names. Analog channels pass through the sensor bank (lag, noise); states,
counters and commands are read back exactly. Injected sensor faults replace a
reading here, after the physics, which is where a real failed sensor acts.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from simulator.physics import RHO_WATER
from simulator.physics.sensors import SensorBank

if TYPE_CHECKING:
    from simulator.plant import Plant

M3H = 3.6 * 1000.0 / RHO_WATER  # kg/s -> m3/h with the physics' one density


class DevicePoints:
    def __init__(self, plant: Plant, seed: int) -> None:
        self.plant = plant
        cfg = plant.cfg.sensors
        keys: list[str] = []
        lags: list[float] = []
        absn: list[float] = []
        reln: list[float] = []

        def add(key: str, kind: str) -> None:
            keys.append(key)
            if kind == "temp":
                lags.append(cfg.temp_lag_s)
                absn.append(cfg.temp_noise_k)
                reln.append(0.0)
            elif kind == "flow":
                lags.append(cfg.flow_lag_s)
                absn.append(0.0)
                reln.append(cfg.flow_noise_pct / 100.0)
            else:  # power, saturation temperatures from pressure transducers
                lags.append(cfg.flow_lag_s)
                absn.append(0.02 if kind == "sat" else 0.0)
                reln.append(cfg.power_noise_pct / 100.0 if kind == "power" else 0.0)

        for cdu in plant.cdus:
            n = cdu.name
            for pt, kind in (
                ("fws_supply_temp", "temp"),
                ("fws_return_temp", "temp"),
                ("fws_flow", "flow"),
                ("heat_to_fws", "power"),
                ("tcs_supply_temp", "temp"),
                ("tcs_return_temp", "temp"),
            ):
                add(f"{n}.{pt}", kind)
        for pt, kind in (
            ("evap_inlet_temp", "temp"),
            ("evap_outlet_temp", "temp"),
            ("cond_inlet_temp", "temp"),
            ("cond_outlet_temp", "temp"),
            ("evap_sat_temp", "sat"),
            ("cond_sat_temp", "sat"),
            ("heat_output", "power"),
            ("electric_power", "power"),
            ("cond_flow", "flow"),
            ("evap_flow", "flow"),
        ):
            add(f"heatpump.{pt}", kind)
        for pt, kind in (
            ("fws_supply_temp", "temp"),
            ("fws_supply_temp_b", "temp"),
            ("fws_return_temp", "temp"),
            ("fws_flow", "flow"),
            ("dh_supply_temp", "temp"),
            ("dh_return_temp", "temp"),
            ("dh_flow", "flow"),
            ("ambient_temp", "temp"),
        ):
            add(f"plc.{pt}", kind)
        self.tank_heights = [
            1.0 - (i + 0.5) / plant.cfg.tank.sensors for i in range(plant.cfg.tank.sensors)
        ]
        for i in range(len(self.tank_heights)):
            add(f"plc.tank_temp_{i + 1:02d}", "temp")
        for pt, kind in (
            ("inlet_temp", "temp"),
            ("outlet_temp", "temp"),
            ("ambient_temp", "temp"),
            ("heat_rejected", "power"),
            ("water_flow", "flow"),
            ("glycol_supply_temp", "temp"),
        ):
            add(f"drycooler.{pt}", kind)
        self.bank = SensorBank(keys, lags, absn, reln, seed)
        self.split = [tuple(k.split(".", 1)) for k in keys]
        self.values: dict[str, dict[str, float | None]] = {}
        self.update(0.0)

    def _true_values(self) -> list[float]:
        p = self.plant
        hp = p.hp
        dc = p.drycoolers
        b = p.boundary
        out: list[float] = []
        for c in p.cdus:
            out += (c.t_fws_in, c.t_fws_out, c.m_fws * M3H, c.q_hx, c.t_tcs_sup, c.t_tcs_ret)
        out += (
            p.t_fws_return,
            p.t_evap_out,
            hp.t_cond_in,
            hp.t_cond_out,
            hp.t_evap_sat,
            hp.t_cond_sat,
            hp.q_cond,
            hp.w_el,
            hp.m_cond * M3H,
            p.m_fws * M3H,
            p.t_fws_supply,
            p.t_fws_supply,
            p.t_fws_return,
            p.m_fws * M3H,
            p.t_dh_supply,
            b.dh_return_temp,
            p.m_dh * M3H,
            b.ambient_temp,
        )
        out += p.tank.temps_at(self.tank_heights)
        out += (dc.t_in, dc.t_out, b.ambient_temp, dc.q, dc.m_water * M3H, dc.t_glycol)
        return out

    def update(self, dt: float) -> None:
        """Refresh every point after a physics step."""
        p = self.plant
        bank = self.bank
        bank.update(self._true_values(), dt if dt > 0 else 1.0)
        vals = self.values
        if not vals:
            vals = {dev: {} for dev, _ in self.split}
            vals.update({d: {} for d in ("heatpump", "plc", "drycooler", "heatmeter", "dhi")})
            vals.update({c.name: {} for c in p.cdus})
            self.values = vals
            self._targets = [(vals[dev], pt) for dev, pt in self.split]
            self.refresh_commands()
        for (d, pt), r in zip(self._targets, bank.readings, strict=True):
            d[pt] = r
        hp = p.hp
        now = p.time
        for c in p.cdus:
            d = vals[c.name]
            d["it_load"] = c.it_kw
            d["status"] = 1.0 if c.m_fws > 0.5 and c.it_kw > 0 else (3.0 if c.it_kw > 0 else 0.0)
        h = vals["heatpump"]
        h["cop"] = hp.cop
        h["load_actual"] = hp.load
        h["starts_total"] = float(hp.starts)
        h["run_hours"] = round(hp.run_seconds / 36.0) / 100.0
        h["state"] = float(int(hp.state))
        h["fault_code"] = float(hp.fault)
        h["min_run_remaining"] = round(hp.min_run_remaining(now))
        h["min_off_remaining"] = round(hp.min_off_remaining(now))
        h["running"] = 1.0 if hp.running else 0.0
        h["tripped"] = 1.0 if hp.state == 4 else 0.0
        plc = vals["plc"]
        plc["bypass_valve_pos"] = p.valve.pos
        plc["tank_flow"] = p.m_tank * M3H
        for group in (p.fws_pumps, p.dh_pumps):
            for pump in group.pumps:
                plc[f"{pump.name}_speed_fb"] = pump.speed * 100.0
                plc[f"{pump.name}_running"] = 1.0 if pump.running else 0.0
                plc[f"{pump.name}_fault"] = 1.0 if pump.faulted else 0.0
        plc["local_safe_mode"] = 1.0 if p.local_safe_mode else 0.0
        vals["drycooler"]["fan_speed_fb"] = p.drycoolers.fan * 100.0
        m = p.meter
        hm = vals["heatmeter"]
        hm["energy"] = float(int(m.energy_kwh) % 100_000_000)
        hm["volume"] = float(int(m.volume_m3 * 100) % 100_000_000) / 100.0
        hm["power"] = m.power_kw
        hm["flow"] = m.flow_m3h
        hm["supply_temp"] = m.t_supply
        hm["return_temp"] = m.t_return
        hm["error_code"] = float(m.error_code)
        b = p.boundary
        u = vals["dhi"]
        u["network_available"] = 1.0 if b.network_available else 0.0
        u["injection_enabled"] = 1.0 if b.injection_enabled else 0.0
        u["heat_demand"] = b.dh_demand
        u["supply_setpoint"] = b.dh_supply_setpoint
        for (dev, pt), v in p.sensor_overrides.items():
            vals[dev][pt] = None if math.isnan(v) else v  # NaN: the device cannot give a value

    def refresh_commands(self) -> None:
        """Writable points read back what was last written."""
        vals = self.values
        for (dev, pt), v in self.plant.cmd.items():
            vals[dev][pt] = v

    def command_written(self, device: str, point: str, value: float) -> None:
        self.values[device][point] = value
