"""The alarm catalogue of one site: the shipped file, completed from the nameplate.

Written by hand, a catalogue drifts from the plant it watches: a one-CDU site that
kept ``COMMS_CDU02`` used to crash the first command that built a controller, and a
FWS alarm at 38 °C stays at 38 °C when the site's limit moves. So here:

- a limit may name a site setting (``limit = "limits.fws_supply_high"``) instead of
  repeating its number, and ``{limit}`` in the message shows the value in force;
- every device the controller watches gets its ``COMMS_<DEVICE>`` alarm: the file may
  word one itself, the others are derived (a CDU's from the nameplate's CDU list);
- an alarm whose source this site does not have (a CDU it lacks, a misspelt signal)
  is refused with the file, the alarm's index and its line, never a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.config.registermap import RegisterMap
from controller.config.settings import LoadedSite, SiteSettings
from controller.config.tomlfile import (
    ConfigError,
    ConfigProblem,
    line_of,
    locate_lines,
    read_toml,
    validate_data,
)
from controller.core.alarms import (
    AlarmCatalogue,
    AlarmDef,
    AlarmEngine,
    AlarmKind,
    Category,
    Priority,
)
from controller.core.core import ControlCore

__all__ = ["follow_limits", "load_site_alarms", "revert_values"]

LIMIT_SECTIONS = ("limits", "setpoints")
"""Where an alarm's limit may be taken from by name."""


def revert_values(regmap: RegisterMap) -> dict[str, float]:
    """Every point's revert value, keyed ``device.point`` as the control core wants them."""
    return {
        f"{d}.{p.name}": float(p.revert)
        for d in regmap.devices
        for p in regmap.points_of(d)
        if p.revert is not None
    }


def _named_limit(settings: SiteSettings, name: str) -> float | str:
    """The value of ``section.key``, or the reason it cannot be a limit."""
    section, _, key = name.partition(".")
    if section not in LIMIT_SECTIONS or not key:
        return f"a limit by name is 'limits.<key>' or 'setpoints.<key>', not {name!r}"
    value = getattr(getattr(settings, section), key, None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{name!r} is not a numeric setting of the site file"
    return float(value)


def _resolve_limits(
    data: dict[str, Any], settings: SiteSettings, index: Mapping[tuple[Any, ...], int]
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    alarms = data.get("alarm")
    if not isinstance(alarms, list):
        return problems
    for i, alarm in enumerate(alarms):
        if not isinstance(alarm, dict) or not isinstance(alarm.get("limit"), str):
            continue
        value = _named_limit(settings, alarm["limit"])
        if isinstance(value, str):
            problems.append(
                ConfigProblem(f"alarm[{i}].limit", line_of(index, ("alarm", i, "limit")), value)
            )
            continue
        alarm["limit_setting"] = alarm["limit"]
        alarm["limit"] = value
        for key in ("message", "action"):
            if isinstance(alarm.get(key), str):
                alarm[key] = alarm[key].replace("{limit}", f"{value:g}")
    return problems


def follow_limits(engine: AlarmEngine, defs: list[AlarmDef], settings: SiteSettings) -> None:
    """After a reload: alarms whose limit names a setting take its new value."""
    for d in defs:
        if d.limit_setting is not None:
            value = _named_limit(settings, d.limit_setting)
            if isinstance(value, float):
                engine.set_limit(d.id, value)


def _comms_alarm(device: str, cdus: list[str]) -> AlarmDef:
    """The alarm of a watched device the catalogue does not word itself."""
    label = device.upper()
    if device in cdus:
        message = f"No data from {label}; its heat is estimated"
        action = f"Check {label}'s communication card"
    else:
        message = f"No data from {label}"
        action = f"Check {label} and its network link"
    return AlarmDef(
        id=f"COMMS_{label}",
        kind=AlarmKind.FLAG,
        source=f"comms.{device}",
        on_delay_s=5.0,
        off_delay_s=30.0,
        priority=Priority.LOW if device in cdus else Priority.MEDIUM,
        message=message,
        action=action,
        category=Category.COMMS,
    )


def load_site_alarms(
    site: LoadedSite, reverts: Mapping[str, float] | None = None
) -> list[AlarmDef]:
    """The site's alarms: its file checked against its own signals, plus derived ones.

    ``reverts`` are the ones the caller's control core gets (default: every point's).
    A core is cheap to make and is the one authority on its signal names.
    """
    if reverts is None:
        reverts = revert_values(site.regmap)
    signals = ControlCore(site.settings, reverts).signal_names()
    path = site.resolve(site.settings.alarms_file)
    data, text = read_toml(path)
    problems = _resolve_limits(data, site.settings, locate_lines(text))
    if problems:
        raise ConfigError(path, problems)
    try:
        catalogue = validate_data(AlarmCatalogue, data, text, path, known_signals=signals)
    except ConfigError as exc:
        devices = sorted(s.removeprefix("comms.") for s in signals if s.startswith("comms."))
        hint = ConfigProblem("", None, f"this site's devices: {', '.join(devices)}")
        raise ConfigError(path, [*exc.problems, hint]) from None
    defs = list(catalogue.alarm)
    worded = {d.source for d in defs}
    taken = {d.id for d in defs}
    cdus = list(site.settings.plant.cdus)
    for source in sorted(signals):
        if source.startswith("comms.") and source not in worded:
            derived = _comms_alarm(source.removeprefix("comms."), cdus)
            if derived.id in taken:
                raise ConfigError(
                    path,
                    [
                        ConfigProblem(
                            "alarm",
                            None,
                            f"id {derived.id} is used by another alarm, but {source} "
                            "needs it: give that device's comms alarm in the file",
                        )
                    ],
                )
            defs.append(derived)
    return defs
