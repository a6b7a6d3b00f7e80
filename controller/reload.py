"""Site-file reload: on change and on SIGHUP, all or nothing.

Operators change setpoints by editing ``config/site.toml``. A new file is loaded
and checked as a whole (with its register map); if anything is wrong the running
controller keeps the old settings and logs the error with field and line. Changes
to the field bus, the device roles or the register map rewire the plant's I/O and
are refused while running (restart to apply) rather than applied halfway.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from controller.config.settings import LoadedSite, load_site
from controller.config.tomlfile import ConfigError

RESTART_SECTIONS = ("fieldbus", "roles", "register_map", "plant", "scan", "pumps", "accounting")
RESTART_KEYS = tuple(
    f"opcua.{key}"
    for key in (
        "enabled",
        "host",
        "port",
        "allow_none_security",
        "allow_anonymous",
        "data_dir",
        "trusted_clients_dir",
        "isolation",
        "application_uri",
        "server_name",
        "history_days",
    )
)
"""The OPC UA server's endpoint, security and identity: fixed while it runs. Its
users, session limits and the write ranges (``[limits]``) are applied live."""


@dataclass
class ReloadResult:
    site: LoadedSite | None
    error: str | None = None
    changed: list[tuple[str, object, object]] | None = None


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def diff(old: LoadedSite, new: LoadedSite) -> list[tuple[str, object, object]]:
    """Every changed leaf setting as (dotted path, old, new)."""
    out: list[tuple[str, object, object]] = []

    def walk(prefix: str, a: object, b: object) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(f"{prefix}.{key}" if prefix else str(key), a.get(key), b.get(key))
        elif a != b:
            out.append((prefix, a, b))

    walk("", old.settings.model_dump(), new.settings.model_dump())
    if old.regmap != new.regmap:
        out.append(("register_map (file content)", "previous", "changed"))
    return out


class SiteWatcher:
    """Notices a changed site file (or a SIGHUP) and produces a checked new site."""

    def __init__(self, site: LoadedSite) -> None:
        self.site = site
        self.requested = False
        self._stamps = self._read_stamps()

    def _files(self) -> list[Path]:
        s = self.site
        return [s.path, s.resolve(s.settings.register_map)]

    def _read_stamps(self) -> list[tuple[int, int] | None]:
        return [_stamp(p) for p in self._files()]

    def request(self) -> None:
        """SIGHUP: reload on the next check even if the file looks unchanged."""
        self.requested = True

    def check(self) -> ReloadResult | None:
        """None if nothing to do; otherwise the outcome of a reload attempt."""
        stamps = self._read_stamps()
        if not self.requested and stamps == self._stamps:
            return None
        self.requested = False
        self._stamps = stamps
        try:
            new = load_site(self.site.path)
        except ConfigError as exc:
            return ReloadResult(None, exc.render())
        changes = diff(self.site, new)
        structural = [
            c
            for c in changes
            if c[0].split(".", 1)[0].split(" ")[0] in RESTART_SECTIONS
            or c[0].startswith(RESTART_KEYS)
        ]
        if structural:
            names = ", ".join(sorted({c[0] for c in structural}))
            return ReloadResult(
                None,
                f"{names} changed: these rewire the plant's I/O or the OPC UA endpoint;"
                " restart the controller to apply",
            )
        self.site = new
        return ReloadResult(new, None, changes)
