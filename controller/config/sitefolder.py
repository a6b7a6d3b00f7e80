"""A site is one folder: the unit every ``heatrecovery`` command takes (``--site DIR``).

The folder holds ``site.toml`` (nameplate in ``[plant]``, setpoints, limits, tuning,
field bus, contract), the register map and alarm catalogue it names, and for the
simulated plant ``plant.toml`` and a ``scenarios/`` folder. The reference site of
DESIGN section 2 is the repository's ``config/`` and is the default, so a command
typed without ``--site`` behaves as it always did. A path to a file inside the
folder (``config/site.toml``, ``config/plant.toml``) is accepted too: deployments
and scripts written before site folders keep working.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from controller.config.tomlfile import ConfigError, ConfigProblem

__all__ = ["REFERENCE_SITE", "SiteFolder", "add_site_argument", "site_folder"]

REFERENCE_SITE = Path(__file__).resolve().parents[2] / "config"
SITE_FILE = "site.toml"
PLANT_FILE = "plant.toml"
SCENARIO_DIR = "scenarios"


@dataclass(frozen=True)
class SiteFolder:
    """Where the files of one site are; nothing is read until a loader asks."""

    root: Path
    site_file: Path

    @property
    def plant_file(self) -> Path:
        """The simulated plant's physics (only the simulator reads it)."""
        return self.root / PLANT_FILE

    @property
    def scenario_dir(self) -> Path:
        return self.root / SCENARIO_DIR

    @property
    def is_reference(self) -> bool:
        return self.root.resolve() == REFERENCE_SITE


def site_folder(path: Path | str | None = None) -> SiteFolder:
    """The site at ``path`` (a folder, or a file in it); the reference site if None.

    A folder without a site file is refused by name here, before any command starts
    half its work on it.
    """
    if path is None:
        return SiteFolder(REFERENCE_SITE, REFERENCE_SITE / SITE_FILE)
    p = Path(path)
    if p.is_dir():
        folder = SiteFolder(p, p / SITE_FILE)
    elif p.is_file():
        # A plant file names its folder; any other file is the site file itself.
        site_file = p.parent / SITE_FILE if p.name == PLANT_FILE else p
        folder = SiteFolder(p.parent, site_file)
    else:
        raise ConfigError(p, [ConfigProblem("", None, "no such site folder or file")])
    if not folder.site_file.is_file():
        raise ConfigError(
            folder.site_file,
            [ConfigProblem("", None, f"the site folder {folder.root} has no {SITE_FILE}")],
        )
    return folder


def add_site_argument(parser: argparse.ArgumentParser, *aliases: str) -> None:
    """``--site DIR`` (plus old option names kept as aliases, e.g. ``--config``)."""
    parser.add_argument(
        "--site",
        *aliases,
        dest="site",
        type=Path,
        default=None,
        metavar="DIR",
        help="site folder (or a file in it); default: the reference site config/",
    )
