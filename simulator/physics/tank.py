"""Stratified buffer tank: N fully mixed layers, top first.

Flow enters at the top while charging and at the bottom while discharging and moves
through the layers by upwind advection; conduction and plume mixing between layers
are one conductance; a colder layer above a warmer one is mixed at once (buoyancy).
Losses go to the room per layer. Every term is an exchange between layers or an
explicit flow across the boundary, so the stored energy changes by exactly what
enters, leaves and is lost.
"""

from __future__ import annotations

from simulator.physics import CP_WATER
from simulator.plantconfig import TankConfig

RHO = 985.0  # kg/m3, water around 55 °C; one density for the mass of each layer


class Tank:
    def __init__(self, cfg: TankConfig, soc: float) -> None:
        self.cfg = cfg
        self.n = cfg.layers
        self.layer_mass = cfg.volume_m3 * RHO / self.n
        self.layer_cap = self.layer_mass * CP_WATER  # kJ/K
        self.g_mix = cfg.mixing_w_per_k / 1000.0  # kW/K
        self.ua_layer = cfg.loss_w_per_k / 1000.0 / self.n
        self.room = cfg.room_temp
        self.t = self.profile_for_soc(soc)
        self.loss_kj = 0.0
        self.last_loss_kw = 0.0

    def profile_for_soc(self, soc: float) -> list[float]:
        """A sharp thermocline placed so that the tank holds ``soc`` of its capacity."""
        soc = min(1.0, max(0.0, soc))
        hot, cold = self.cfg.hot_temp, self.cfg.cold_temp
        hot_layers = soc * self.n
        out = []
        for i in range(self.n):
            frac = min(1.0, max(0.0, hot_layers - i))
            out.append(cold + (hot - cold) * frac)
        return out

    @property
    def top(self) -> float:
        return self.t[0]

    @property
    def bottom(self) -> float:
        return self.t[-1]

    def stored_kj(self) -> float:
        """Enthalpy above 0 °C (for the energy balance)."""
        return self.layer_cap * sum(self.t)

    def temp_at(self, height_fraction: float) -> float:
        """Temperature at a height (1 = top, 0 = bottom), linear between layer centres."""
        n = self.n
        pos = (1.0 - height_fraction) * n - 0.5
        if pos <= 0:
            return self.t[0]
        if pos >= n - 1:
            return self.t[-1]
        i = int(pos)
        f = pos - i
        return self.t[i] * (1 - f) + self.t[i + 1] * f

    def step(self, dt: float, m_net: float, t_in: float) -> None:
        """Advance by ``dt`` with ``m_net`` kg/s entering the top (negative: the bottom).

        The water leaving is at the pre-step outlet layer temperature, which is what
        the caller used for its header mixing; that keeps the balance exact.
        """
        t = self.t
        n = self.n
        if m_net != 0.0:
            k = abs(m_net) * dt / self.layer_mass
            sub = 1
            while k > 0.5:
                k *= 0.5
                sub *= 2
            for _ in range(sub):
                if m_net > 0.0:
                    for i in range(n - 1, 0, -1):
                        t[i] += k * (t[i - 1] - t[i])
                    t[0] += k * (t_in - t[0])
                else:
                    for i in range(n - 1):
                        t[i] += k * (t[i + 1] - t[i])
                    t[n - 1] += k * (t_in - t[n - 1])
        # Conduction and mixing between neighbours, and losses to the room.
        cap = self.layer_cap
        g = self.g_mix * dt / cap
        ua = self.ua_layer * dt / cap
        room = self.room
        loss = 0.0
        prev = t[0]
        for i in range(n - 1):
            nxt = t[i + 1]
            q = g * (prev - nxt)
            t[i] -= q
            t[i + 1] += q
            prev = nxt + q
        for i in range(n):
            d = ua * (t[i] - room)
            t[i] -= d
            loss += d
        loss_kj = loss * cap
        self.loss_kj += loss_kj
        self.last_loss_kw = loss_kj / dt if dt > 0 else 0.0
        # Buoyancy: a colder layer above a warmer one overturns.
        for _ in range(n):
            inverted = False
            for i in range(n - 1):
                if t[i] < t[i + 1] - 1e-12:
                    avg = 0.5 * (t[i] + t[i + 1])
                    t[i] = t[i + 1] = avg
                    inverted = True
            if not inverted:
                break
