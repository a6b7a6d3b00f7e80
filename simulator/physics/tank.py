"""Stratified buffer tank: plug-flow layers that keep the thermocline sharp.

A fixed-grid upwind model smears the thermocline over half the tank after a few
charge cycles (numerical diffusion), which makes a well-stratified tank look like
a mixed one and its top temperature sag as soon as it discharges. Here water moves
as it does in a stratified tank: in layers. The tank is a stack of segments, each
one nominal layer (volume / ``layers``) except the two ends, which are partial:
charging adds the inflow to the top segment (opening a new one when it is full)
and takes the same mass from the bottom; discharging the reverse. There is no
numerical diffusion at all; physical mixing is the configured conductance between
neighbours, a colder segment above a warmer one overturns at once, and losses go
to the room in proportion to each segment's size.

Inlet mixing: water entering through a diffuser entrains some of the water at its
end of the tank (``inlet_entrainment`` times its own mass) and the mixture settles
as one layer, so an inflow a little colder than the top blurs the top instead of
sliding under it as a perfect layer.

Energy is exact: the caller asks ``outlet_temp`` for the temperature of the mass
that will leave (before the step, for its header mixing) and ``step`` removes
exactly that.
"""

from __future__ import annotations

from simulator.physics import CP_WATER, RHO_WATER
from simulator.plantconfig import TankConfig

RHO = RHO_WATER  # the physics' one density (simulator.physics)
MERGE_K = 0.005  # neighbouring segments closer than this are one segment
LAYER_K = 0.5  # an entrained inflow this far from the end segment forms its own layer


class Tank:
    def __init__(
        self,
        cfg: TankConfig,
        soc: float,
        hot_temp: float | None = None,
        cold_temp: float | None = None,
    ) -> None:
        self.cfg = cfg
        self.n = cfg.layers
        self.mass = cfg.volume_m3 * RHO
        self.layer_mass = self.mass / self.n
        self.g_mix = cfg.mixing_w_per_k / 1000.0  # kW/K between nominal neighbours
        self.ua = cfg.loss_w_per_k / 1000.0  # kW/K, whole tank
        self.room = cfg.room_temp
        self.entrainment = cfg.inlet_entrainment
        self.hot_init = cfg.hot_temp if hot_temp is None else hot_temp
        self.cold_init = cfg.cold_temp if cold_temp is None else cold_temp
        # Segments top to bottom: parallel lists of mass (kg) and temperature (°C).
        self.m: list[float] = [self.layer_mass] * self.n
        self.temp: list[float] = self.profile_for_soc(soc)
        self.loss_kj = 0.0
        self.last_loss_kw = 0.0

    def profile_for_soc(self, soc: float) -> list[float]:
        """Layer temperatures with a sharp thermocline holding ``soc`` of the capacity."""
        soc = min(1.0, max(0.0, soc))
        hot, cold = self.hot_init, self.cold_init
        hot_layers = soc * self.n
        return [cold + (hot - cold) * min(1.0, max(0.0, hot_layers - i)) for i in range(self.n)]

    # ----------------------------------------------------------------- views
    @property
    def top(self) -> float:
        return self.temp[0]

    @property
    def bottom(self) -> float:
        return self.temp[-1]

    @property
    def t(self) -> list[float]:
        """Temperatures of ``layers`` equal slices, top first (mass-weighted)."""
        return [
            self._slice_mean(i * self.layer_mass, (i + 1) * self.layer_mass) for i in range(self.n)
        ]

    def stored_kj(self) -> float:
        """Enthalpy above 0 °C (for the energy balance)."""
        return CP_WATER * sum(m * t for m, t in zip(self.m, self.temp, strict=True))

    def temp_at(self, height_fraction: float) -> float:
        """Temperature at a height (1 = top, 0 = bottom), linear between segment centres."""
        target = (1.0 - height_fraction) * self.mass
        acc = 0.0
        prev_centre = None
        prev_t = self.temp[0]
        for m, t in zip(self.m, self.temp, strict=True):
            centre = acc + 0.5 * m
            if target <= centre:
                if prev_centre is None or centre <= prev_centre:
                    return t
                f = (target - prev_centre) / (centre - prev_centre)
                return prev_t + (t - prev_t) * f
            prev_centre, prev_t = centre, t
            acc += m
        return self.temp[-1]

    def temps_at(self, height_fractions: list[float]) -> list[float]:
        """``temp_at`` for many heights in one pass; heights must be descending (top first)."""
        out: list[float] = []
        targets = [(1.0 - h) * self.mass for h in height_fractions]
        m, temp = self.m, self.temp
        n = len(m)
        j = 0
        acc = 0.0
        prev_centre = -1.0
        prev_t = temp[0]
        centre = 0.5 * m[0]
        for target in targets:
            while j < n and target > centre:
                prev_centre, prev_t = centre, temp[j]
                acc += m[j]
                j += 1
                if j < n:
                    centre = acc + 0.5 * m[j]
            if j >= n:
                out.append(temp[-1])
            elif prev_centre < 0.0 or centre <= prev_centre:
                out.append(temp[j])
            else:
                f = (target - prev_centre) / (centre - prev_centre)
                out.append(prev_t + (temp[j] - prev_t) * f)
        return out

    def _slice_mean(self, start: float, end: float) -> float:
        acc = 0.0
        e = 0.0
        for m, t in zip(self.m, self.temp, strict=True):
            lo, hi = max(start, acc), min(end, acc + m)
            if hi > lo:
                e += (hi - lo) * t
            acc += m
            if acc >= end:
                break
        return e / (end - start)

    # ----------------------------------------------------------------- flow
    def outlet_temp(self, dm: float, from_top: bool) -> float:
        """Mean temperature of the ``dm`` kg that leaves at one end on the next step."""
        if dm <= 0.0:
            return self.temp[0] if from_top else self.temp[-1]
        need = dm
        e = 0.0
        order = range(len(self.m)) if from_top else range(len(self.m) - 1, -1, -1)
        for i in order:
            take = min(self.m[i], need)
            e += take * self.temp[i]
            need -= take
            if need <= 0.0:
                break
        return e / (dm - need)

    def _remove(self, dm: float, from_top: bool) -> None:
        m, temp = self.m, self.temp
        while dm > 1e-12 and m:
            i = 0 if from_top else len(m) - 1
            take = min(m[i], dm)
            m[i] -= take
            dm -= take
            if m[i] <= 1e-9:
                del m[i]
                del temp[i]

    def _add(self, dm: float, t_in: float, at_top: bool, new_layer: bool = False) -> None:
        m, temp = self.m, self.temp
        i = 0 if at_top else len(m) - 1
        fill = m and m[i] < self.layer_mass and not new_layer
        if m and (fill or abs(temp[i] - t_in) < MERGE_K):
            temp[i] = (m[i] * temp[i] + dm * t_in) / (m[i] + dm)
            m[i] += dm
        elif at_top:
            m.insert(0, dm)
            temp.insert(0, t_in)
        else:
            m.append(dm)
            temp.append(t_in)

    def step(self, dt: float, m_net: float, t_in: float) -> None:
        """Advance by ``dt`` with ``m_net`` kg/s entering the top (negative: the bottom)."""
        if m_net != 0.0:
            top = m_net > 0.0
            dm = abs(m_net) * dt
            self._remove(dm, from_top=not top)
            e = self.entrainment * dm
            if e > 0.0:
                t_e = self.outlet_temp(e, from_top=top)
                self._remove(e, from_top=top)
                t_in = (dm * t_in + e * t_e) / (dm + e)
                dm += e
            # A mixture unlike the end segment settles as its own layer (not into what
            # entrainment left of that segment); one within LAYER_K joins it.
            end = self.temp[0] if top else self.temp[-1]
            self._add(dm, t_in, at_top=top, new_layer=e > 0.0 and abs(end - t_in) > LAYER_K)
        m, temp = self.m, self.temp
        n = len(m)
        # Conduction and plume mixing between neighbours (bounded for stability).
        g_dt = self.g_mix * dt * self.layer_mass / CP_WATER
        for i in range(n - 1):
            mi, mj = m[i], m[i + 1]
            d = temp[i] - temp[i + 1]
            # Conductance scales with 1 / distance between segment centres.
            q = g_dt * 2.0 / (mi + mj) * d  # kg*K exchanged
            cap = 0.25 * min(mi, mj) * abs(d)
            if q > cap:
                q = cap
            elif q < -cap:
                q = -cap
            temp[i] -= q / mi
            temp[i + 1] += q / mj
        # Losses to the room, in proportion to each segment's share of the wall.
        k = self.ua * dt / (self.mass * CP_WATER)
        room = self.room
        loss = 0.0
        for i in range(n):
            d = k * (temp[i] - room)
            temp[i] -= d
            loss += m[i] * d
        loss_kj = loss * CP_WATER
        self.loss_kj += loss_kj
        self.last_loss_kw = loss_kj / dt if dt > 0 else 0.0
        # Buoyancy and housekeeping: overturn inversions, join equal neighbours, and
        # keep interior segments no smaller than a nominal layer.
        i = 0
        while i < len(m) - 1:
            small = m[i] < 0.5 * self.layer_mass and 0 < i < len(m) - 1
            inverted = temp[i] < temp[i + 1] - 1e-12
            alike = (
                abs(temp[i] - temp[i + 1]) < MERGE_K and m[i] + m[i + 1] <= 1.5 * self.layer_mass
            )
            if inverted or alike or small:
                mt = m[i] + m[i + 1]
                temp[i] = (m[i] * temp[i] + m[i + 1] * temp[i + 1]) / mt
                m[i] = mt
                del m[i + 1]
                del temp[i + 1]
                if i > 0:
                    i -= 1
                continue
            i += 1
