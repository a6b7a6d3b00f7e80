"""The safety layer every control strategy stands on, written once.

The project's controller and the conventional baseline it is benchmarked against
must share one safety layer - the same interlock causes and timings, the same
hand-over at start-up, the same SAFE outputs, the same handling of a silent device,
the same alarm signals - or the comparison would say nothing. Everything here is
strategy-independent: conditions on the plant view, and what they do to commands.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Set
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from controller.config.settings import PumpGroupSettings, SiteSettings
from controller.core.interlocks import Interlock, Interlocks
from controller.core.pumps import PumpGroup, PumpGroupConfig, PumpGroupOutput

if TYPE_CHECKING:
    from controller.core.conditioning import Conditioner, PlantView
    from controller.core.image import ProcessImage

SIGNAL_BAD_S = 3.0
PUMPS_LOST_S = 5.0
NETWORK_UNKNOWN_S = 30.0

# Interlocks that push the dry coolers to full at once when they trip.
FORCE_FULL_COOLING = frozenset(
    {
        Interlock.FWS_HIGH_HIGH,
        Interlock.FWS_PUMPS_LOST,
        Interlock.SAFETY_SIGNAL_BAD,
        Interlock.PLC_LOCAL_SAFE,
        Interlock.HP_TRIP,
    }
)


def interlock_state(il: Interlocks, s: SiteSettings) -> tuple[bool, bool]:
    """(push the dry coolers to full now, the plant is SAFE) after ``il.update``.

    With ``network_loss = "safe"`` a network loss counts as a safety interlock too.
    """
    safe_policy = s.interlocks.network_loss == "safe"
    network = Interlock.NETWORK_LOST
    force = any(t in FORCE_FULL_COOLING or (safe_policy and t is network) for t in il.tripped_now)
    return force, il.safe or (safe_policy and il.active(network))


def pump_config(name: str, group: PumpGroupSettings, min_running: int) -> PumpGroupConfig:
    return PumpGroupConfig(
        name=name,
        pumps=list(group.pumps),
        min_running=min_running,
        proof_s=group.proof_s,
        rotation_s=group.rotation_h * 3600.0,
        overlap_s=group.overlap_s,
    )


def pct(x: float) -> float:
    return min(100.0, max(0.0, x))


def clip(x: float | None, default: float) -> float:
    return pct(x) if x is not None else default


@dataclass(frozen=True)
class CommandKeys:
    """Command keys, built once: a scan cycle should not format strings."""

    heartbeat: str
    valve: str
    fan: str
    hp_enable: str
    hp_load: str
    hp_setpoint: str
    hp_reset: str
    fws_pumps: tuple[tuple[str, str, str], ...]
    dh_pumps: tuple[tuple[str, str, str], ...]

    @classmethod
    def of(cls, s: SiteSettings) -> CommandKeys:
        plc, hpd, dc = s.roles.plc, s.roles.heatpump, s.roles.drycooler
        pumps = s.pumps

        def keys(names: list[str]) -> tuple[tuple[str, str, str], ...]:
            return tuple((p, f"{plc}.{p}_run", f"{plc}.{p}_speed_cmd") for p in names)

        return cls(
            heartbeat=f"{plc}.heartbeat",
            valve=f"{plc}.bypass_valve_cmd",
            fan=f"{dc}.fan_speed_cmd",
            hp_enable=f"{hpd}.enable",
            hp_load=f"{hpd}.load_setpoint",
            hp_setpoint=f"{hpd}.supply_setpoint",
            hp_reset=f"{hpd}.trip_reset",
            fws_pumps=keys(list(pumps.fws.pumps)),
            dh_pumps=keys(list(pumps.dh.pumps)),
        )


class InterlockCauses:
    """The interlock conditions, with the timers some of them need."""

    def __init__(self) -> None:
        self._signal_bad_since: float | None = None
        self._pumps_down_since: float | None = None
        self._network_unknown_since: float | None = None
        self._network_last = True

    def evaluate(self, view: PlantView, s: SiteSettings, now: float) -> dict[Interlock, bool]:
        fws = view.fws_supply
        if fws is None:
            if self._signal_bad_since is None:
                self._signal_bad_since = now
        else:
            self._signal_bad_since = None
        signal_bad = (
            self._signal_bad_since is not None and now - self._signal_bad_since >= SIGNAL_BAD_S
        )
        any_running = any(view.pumps_running.get(p, False) for p in s.pumps.fws.pumps)
        if view.plc_known and not any_running:
            if self._pumps_down_since is None:
                self._pumps_down_since = now
        else:
            self._pumps_down_since = None
        pumps_lost = (
            self._pumps_down_since is not None and now - self._pumps_down_since >= PUMPS_LOST_S
        )
        net = view.network_available
        if net is None:
            if self._network_unknown_since is None:
                self._network_unknown_since = now
            if now - self._network_unknown_since >= NETWORK_UNKNOWN_S:
                self._network_last = False
        else:
            self._network_unknown_since = None
            self._network_last = net
        return {
            Interlock.FWS_HIGH_HIGH: fws is not None and fws > s.limits.fws_supply_high_high,
            Interlock.FWS_PUMPS_LOST: pumps_lost,
            Interlock.SAFETY_SIGNAL_BAD: signal_bad,
            Interlock.PLC_LOCAL_SAFE: view.plc_local_safe,
            Interlock.HP_TRIP: view.hp_tripped,
            Interlock.NETWORK_LOST: not self._network_last,
        }


def startup_commands(
    c: dict[str, float],
    keys: CommandKeys,
    view: PlantView,
    reverts: Mapping[str, float],
    fws_speed_pct: float,
) -> None:
    """Hand-over: keep the plant as found until the controller has seen it whole."""
    c[keys.valve] = clip(view.valve_pos, 100.0)
    c[keys.fan] = clip(view.fan_speed, 100.0)
    c[keys.hp_enable] = 1.0 if view.hp_running else 0.0
    c[keys.hp_load] = clip(view.hp_load, 0.0)
    c[keys.hp_setpoint] = (
        view.hp_setpoint if view.hp_setpoint is not None else reverts.get(keys.hp_setpoint, 65.0)
    )
    c[keys.hp_reset] = 0.0
    for p, k_run, k_speed in keys.fws_pumps + keys.dh_pumps:
        running = view.pumps_running.get(p, False)
        c[k_run] = 1.0 if running else 0.0
        c[k_speed] = clip(view.pump_speed.get(p), 0.0) if running else 0.0
    if not any(view.pumps_running.get(p, False) for p, _, _ in keys.fws_pumps):
        _, k_run, k_speed = keys.fws_pumps[0]
        c[k_run] = 1.0
        c[k_speed] = fws_speed_pct


def pump_commands(
    c: dict[str, float], keys: CommandKeys, fws_out: PumpGroupOutput, dh_out: PumpGroupOutput
) -> None:
    for out, group in ((fws_out, keys.fws_pumps), (dh_out, keys.dh_pumps)):
        run, speed = out.run, out.speed
        for p, k_run, k_speed in group:
            c[k_run] = 1.0 if run.get(p) else 0.0
            c[k_speed] = pct(speed.get(p, 0.0))


class SafeOutputs:
    """SAFE: every output at its revert value, except the fans and the heartbeat.

    The fans are left to the facility-water loop (it brings them down from full
    only as far as the water allows) but never depend on it: while the water is
    above its high-high limit, or unknown, under the high-high or signal-bad
    interlock they run at full, whatever the loop says, and a loop output that is
    not sound has already been replaced by full cooling (``OutputGuard``).
    """

    def __init__(self, keys: CommandKeys, reverts: Mapping[str, float]) -> None:
        self.keys = keys
        self.values = [(k, v) for k, v in reverts.items() if k not in (keys.fan, keys.heartbeat)]

    def apply(self, c: dict[str, float], trip_reset: bool, full_cooling: bool) -> None:
        for key, value in self.values:
            c[key] = value
        c[self.keys.hp_reset] = 1.0 if trip_reset else 0.0
        if full_cooling:
            c[self.keys.fan] = 100.0


def full_cooling_needed(il: Interlocks, fws_supply: float | None, s: SiteSettings) -> bool:
    """The dry coolers at full, loop or no loop: the water is over its hard limit."""
    if not (il.active(Interlock.FWS_HIGH_HIGH) or il.active(Interlock.SAFETY_SIGNAL_BAD)):
        return False
    return fws_supply is None or fws_supply > s.limits.fws_supply_high_high


class OutputGuard:
    """The last check on every command a regulating loop produced.

    A loop fed a NaN gain or a broken input answers NaN or infinity, and the
    clamps downstream turn that into 0 % without a trace: fans stopped, IT heat
    trapped. Here a command that is not a finite number inside its range is a
    fault: it takes its revert value (the safe value the register map gives it),
    and ``faults`` names it for the alarm until it is sound again. Values within a
    rounding hair of the range are clamped, as before.
    """

    TOL = 1e-6

    def __init__(self, keys: CommandKeys, reverts: Mapping[str, float]) -> None:
        percent = [keys.valve, keys.fan, keys.hp_load]
        percent += [k for _, _, k in keys.fws_pumps + keys.dh_pumps]
        self.ranges = [(k, 0.0, 100.0, reverts.get(k, 0.0)) for k in percent]
        self.setpoint = (keys.hp_setpoint, reverts.get(keys.hp_setpoint, 65.0))
        self.faults: tuple[str, ...] = ()
        self.bad: dict[str, float] = {}
        """The rejected value of each command faulty on this step."""

    def apply(self, c: dict[str, float], extra_faults: tuple[str, ...] = ()) -> tuple[str, ...]:
        """Check ``c`` in place; returns the faults that are new on this step.

        ``extra_faults`` are faults a loop found itself (one that stopped moving)."""
        faults: list[str] = list(extra_faults)
        bad = self.bad
        if bad:
            bad.clear()
        lo_tol = -self.TOL
        for key, lo, hi, safe in self.ranges:
            v = c.get(key)
            if v is None:
                continue
            if not lo + lo_tol <= v <= hi + self.TOL:  # NaN, inf, out of range: all fail
                bad[key] = v
                c[key] = safe
                faults.append(key)
            elif v < lo:
                c[key] = lo
            elif v > hi:
                c[key] = hi
        key, safe = self.setpoint
        v = c.get(key)
        if v is not None and not math.isfinite(v):
            bad[key] = v
            c[key] = safe
            faults.append(key)
        new = tuple(f for f in faults if f not in self.faults)
        self.faults = tuple(faults)
        return new


class DeviceLoss:
    """Outputs to a device whose data is lost revert after a grace time."""

    def __init__(self, reverts: Mapping[str, float]) -> None:
        self.reverts = dict(reverts)
        self.lost_since: dict[str, float] = {}

    def apply(
        self,
        commands: dict[str, float],
        lost: frozenset[str],
        now: float,
        grace_s: float,
        events: list[tuple[str, str]] | None = None,
    ) -> None:
        """``events`` (if given) receives ("lost"|"restored", device) transitions."""
        for dev in list(self.lost_since):
            if dev not in lost:
                del self.lost_since[dev]
                if events is not None:
                    events.append(("restored", dev))
        for dev in lost:
            since = self.lost_since.get(dev)
            if since is None:
                self.lost_since[dev] = now
                if events is not None:
                    events.append(("lost", dev))
                continue
            if now - since < grace_s:
                continue
            prefix = dev + "."
            for key in commands:
                if (
                    key.startswith(prefix)
                    and key in self.reverts
                    and not key.endswith(".heartbeat")
                ):
                    commands[key] = self.reverts[key]


def alarm_devices(s: SiteSettings, reverts: Mapping[str, float]) -> list[str]:
    """Devices whose silence is an alarm: every commanded one, the CDUs, meter and RTU."""
    r = s.roles
    return sorted(
        {d.split(".", 1)[0] for d in reverts} | set(s.plant.cdus) | {r.heatmeter, r.utility}
    )


STRATEGY_SIGNALS = ("dh_supply_error", "hx_ua_ratio", "hp_reset_exhausted")


class AlarmSignals:
    """The signal map the alarm engine reads, shared by every strategy.

    The strategy supplies the few signals that are its own (``STRATEGY_SIGNALS``);
    the rest comes from the plant view and the safety layer. Flag families that
    rarely change are rewritten only when their inputs do: this runs every scan.
    """

    def __init__(self, cond: Conditioner, devices: list[str]) -> None:
        self.cond = cond
        self.sig: dict[str, float | bool | None] = {}
        self._il_keys = [(i, f"interlock.{i}") for i in Interlock]
        self._comms_keys = [(d, f"comms.{d}") for d in devices]
        self._group_keys = [
            (
                grp,
                f"sensor.{grp.name}.disagreement",
                [(i, f"sensor.{k}", k.split(".", 1)[0]) for i, k in enumerate(grp.keys)],
            )
            for grp in cond.groups
        ]
        self._latched: Set[Interlock] | None = None
        self._lost: frozenset[str] | None = None
        self._sensors_dirty = True

    def names(self) -> set[str]:
        """Every name an alarm definition may use as its source."""
        names = {
            "fws_supply",
            "fws_return",
            "dh_supply",
            "it_heat_kw",
            "tank_soc",
            "tank_sensor_faults",
            "hp_tripped",
            "mode_safe",
            "network_unavailable",
            "ctl_scan_overrun",
            "meter_mismatch",
            "loop_output_fault",
            *STRATEGY_SIGNALS,
        }
        names |= {key for _, key in self._il_keys}
        names |= {key for _, key in self._comms_keys}
        for g in ("fws", "dh"):
            names |= {f"pumps.{g}.failed", f"pumps.{g}.standby_unavailable"}
        for _, dkey, members in self._group_keys:
            names.add(dkey)
            names |= {skey for _, skey, _ in members}
        return names

    def update(
        self,
        view: PlantView,
        interlocks: Interlocks,
        safe_mode: bool,
        pumps: tuple[PumpGroup, PumpGroup],
        outs: tuple[PumpGroupOutput, PumpGroupOutput],
        s: SiteSettings,
        image: ProcessImage,
        own: Mapping[str, Any],
        output_faults: tuple[str, ...] = (),
    ) -> dict[str, float | bool | None]:
        sig = self.sig
        cond = self.cond
        sig["fws_supply"] = view.fws_supply
        sig["fws_return"] = view.fws_return
        sig["dh_supply"] = view.dh_supply
        sig["it_heat_kw"] = view.it_heat_kw
        sig["tank_soc"] = cond.tank.soc
        sig["tank_sensor_faults"] = float(cond.tank.bad_sensors)
        sig["hp_tripped"] = view.hp_tripped
        sig["mode_safe"] = safe_mode
        sig["network_unavailable"] = interlocks.active(Interlock.NETWORK_LOST)
        sig["ctl_scan_overrun"] = bool(image.values.get("ctl.scan_overrun"))
        sig["meter_mismatch"] = bool(image.values.get("ctl.meter_mismatch"))
        sig["loop_output_fault"] = bool(output_faults)
        sig.update(own)
        latched = interlocks.latched
        if latched != self._latched:
            self._latched = frozenset(latched)
            for i, key in self._il_keys:
                sig[key] = i in latched
        lost = view.comms_lost
        if lost != self._lost:
            self._lost = lost
            for d, key in self._comms_keys:
                sig[key] = d in lost
        fws_pumps, dh_pumps = pumps
        fws_out, dh_out = outs
        sig["pumps.fws.failed"] = not all(fws_pumps.healthy(p) for p in s.pumps.fws.pumps)
        sig["pumps.fws.standby_unavailable"] = fws_out.standby_unavailable
        sig["pumps.dh.failed"] = not all(dh_pumps.healthy(p) for p in s.pumps.dh.pumps)
        sig["pumps.dh.standby_unavailable"] = dh_out.standby_unavailable
        any_degraded = any(grp.degraded for grp in cond.groups)
        if any_degraded or self._sensors_dirty or lost:
            self._sensors_dirty = any_degraded or bool(lost)
            for grp, dkey, members in self._group_keys:
                sig[dkey] = grp.disagreement
                for n, skey, dev in members:
                    # A sensor on a silent device is a comms problem, not a sensor fault.
                    sig[skey] = grp.faulty(n) and not (grp.bad[n] and dev in lost)
        return sig
