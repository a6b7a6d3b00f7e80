"""Site-file reload: on change and on SIGHUP, all or nothing.

Operators change setpoints by editing ``config/site.toml``. A new file is loaded
and checked as a whole (with its register map); if anything is wrong the running
controller keeps the old settings and logs the error with field and line. Changes
to the field bus, the device roles or the register map rewire the plant's I/O and
are refused while running (restart to apply) rather than applied halfway.

A file is only read once it has stopped changing: an editor saving or a copy still
writing leaves a file cut short for a moment, and that moment must not become the
settings. The watcher waits until size and modification time have stayed the same
for ``SETTLE_S``, reads, and checks they are still the same after reading. Whatever
goes wrong while reading (binary content, a vanished file, a bug) is a refusal with
the reason; the running settings stay, and the controller never stops for a reload.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from controller.config.settings import LoadedSite, load_site
from controller.config.tomlfile import ConfigError

RESTART_SECTIONS = (
    "fieldbus",
    "roles",
    "register_map",
    "plant",
    "scan",
    "pumps",
    "accounting",
    # Read once at start (metrics server and its labels, the alarm catalogue, the
    # time zone of the ledger and of OPC UA history): a change would be audited as
    # applied while the running controller kept the old value.
    "metrics",
    "alarms_file",
    "site",
    "fleet",  # the edge node connects once, at start
)
SETTLE_S = 1.0
"""A changed file is read once it has been unchanged this long (monotonic seconds)."""
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

    def __init__(self, site: LoadedSite, settle_s: float = SETTLE_S) -> None:
        self.site = site
        self.settle_s = settle_s
        self.requested = False
        self._stamps = self._read_stamps()
        self._pending = False
        self._since = float("-inf")

    def _files(self) -> list[Path]:
        s = self.site
        return [s.path, s.resolve(s.settings.register_map)]

    def _read_stamps(self) -> list[tuple[int, int] | None]:
        return [_stamp(p) for p in self._files()]

    @property
    def waiting(self) -> bool:
        """A change was seen and the file has not yet been stable long enough to read."""
        return self._pending

    def request(self) -> None:
        """SIGHUP: reload on the next check even if the file looks unchanged."""
        self.requested = True

    def check(self, now: float) -> ReloadResult | None:
        """None if nothing to do (yet); otherwise the outcome of a reload attempt.

        ``now`` is monotonic seconds. Never raises: any failure is a refused result.
        """
        stamps = self._read_stamps()
        if stamps != self._stamps:
            self._stamps, self._since, self._pending = stamps, now, True
            return None
        if not (self._pending or self.requested) or now - self._since < self.settle_s:
            return None
        self._pending = self.requested = False
        try:
            new = load_site(self.site.path)
        except ConfigError as exc:
            return ReloadResult(None, exc.render())
        except Exception as exc:  # a reload must never stop the controller
            return ReloadResult(None, f"{self.site.path}: cannot load: {exc!r}")
        if self._read_stamps() != stamps:  # written to while being read: wait again
            self._stamps, self._since, self._pending = self._read_stamps(), now, True
            return None
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
