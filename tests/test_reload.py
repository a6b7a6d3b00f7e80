"""Site-file reload: refused whole or applied whole, never before the file is stable,
and never able to stop the controller (issue 14)."""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

import pytest
from e2e import write_site
from structlog.testing import capture_logs

from controller import daemon as daemon_module
from controller import reload as reload_module
from controller.config.settings import load_site
from controller.daemon import Daemon
from controller.reload import SiteWatcher
from simulator.modbus_server import PlantModbusServer

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config"


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("HRC_"):
            monkeypatch.delenv(name)


def shipped_site(tmp: Path) -> Path:
    text = (CONFIG / "site.toml").read_text(encoding="utf-8")
    text = text.replace('"registers.toml"', f'"{CONFIG / "registers.toml"}"')
    text = text.replace('"alarms.toml"', f'"{CONFIG / "alarms.toml"}"')
    text = re.sub(r"(?m)^ledger_path = .*$", f'ledger_path = "{tmp / "ledger.sqlite"}"', text)
    path = tmp / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


def rewrite(path: Path, content: str | bytes) -> None:
    """Write and give the file a distinct modification time, as a later save would."""
    before = path.stat().st_mtime_ns
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def test_a_changed_file_is_read_only_once_it_is_stable(tmp_path: Path) -> None:
    path = shipped_site(tmp_path)
    watcher = SiteWatcher(load_site(path), settle_s=1.0)
    text = path.read_text(encoding="utf-8")
    new = text.replace("fws_supply_temp = 35.0", "fws_supply_temp = 34.0")
    # An editor writes the file in two steps; the first leaves it cut before [contract].
    rewrite(path, new[: new.index("\n[contract]") + 1])
    assert watcher.check(now=100.0) is None and watcher.waiting
    assert watcher.check(now=100.5) is None, "read before the file was stable"
    rewrite(path, new)
    assert watcher.check(now=100.9) is None, "the file changed again: wait once more"
    assert watcher.check(now=101.5) is None
    result = watcher.check(now=101.9)
    assert result is not None and result.site is not None, result and result.error
    assert result.site.settings.setpoints.fws_supply_temp == 34.0
    assert result.site.settings.contract.name == "Heat purchase agreement, reference site"
    assert result.changed == [("setpoints.fws_supply_temp", 35.0, 34.0)]
    assert watcher.check(now=200.0) is None, "nothing changed since"


def test_sighup_reads_a_stable_file_at_once(tmp_path: Path) -> None:
    path = shipped_site(tmp_path)
    watcher = SiteWatcher(load_site(path), settle_s=1.0)
    watcher.request()
    result = watcher.check(now=0.0)
    assert result is not None and result.site is not None and result.changed == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\xff\xfe\x00\x81garbage", "not UTF-8"),
        ("_cli_parse_args = true\n", "_cli_parse_args: keys starting with '_' are reserved"),
        ('_env_prefix = "ZZZ_"\n', "_env_prefix: keys starting with '_' are reserved"),
        ("cut", "contract: required field is missing"),
        ("\n[tuning.fws]\nkp = nan\n", "tuning.fws.kp: Input should be a finite number"),
    ],
)
def test_a_bad_file_is_refused_and_the_running_settings_stay(
    tmp_path: Path, content: str | bytes, reason: str
) -> None:
    path = shipped_site(tmp_path)
    site = load_site(path)
    watcher = SiteWatcher(site, settle_s=0.0)
    text = path.read_text(encoding="utf-8")
    if content == "cut":
        content = text[: text.index("\n[contract]") + 1]
    elif isinstance(content, str):
        content = content + text if content.startswith("_") else text + content
    rewrite(path, content)
    assert watcher.check(now=1.0) is None  # seen changing
    result = watcher.check(now=2.0)
    assert result is not None and result.site is None
    assert result.error is not None and reason in result.error and str(path) in result.error
    assert watcher.site is site


@pytest.mark.parametrize(
    ("old", "new", "setting"),
    [
        ("port = 9464", "port = 9465", "metrics.port"),
        ('timezone = "Europe/Copenhagen"', 'timezone = "UTC"', "site.timezone"),
    ],
)
def test_settings_read_only_at_start_are_refused_not_audited_as_applied(
    tmp_path: Path, old: str, new: str, setting: str
) -> None:
    path = shipped_site(tmp_path)
    site = load_site(path)
    watcher = SiteWatcher(site, settle_s=0.0)
    text = path.read_text(encoding="utf-8")
    assert old in text
    rewrite(path, text.replace(old, new, 1))
    watcher.check(now=1.0)
    result = watcher.check(now=2.0)
    assert result is not None and result.site is None and watcher.site is site
    assert result.error is not None and setting in result.error and "restart" in result.error


@pytest.fixture
async def plant(tmp_path: Path) -> tuple[PlantModbusServer, Path]:
    from modbus_helpers import shipped_map
    from pointstore import PointStore

    srv = PlantModbusServer(shipped_map(), PointStore(shipped_map()), port=0)
    await srv.start()
    yield srv, tmp_path
    await srv.stop()


async def test_reload_attacks_never_stop_the_running_daemon(
    plant: tuple[PlantModbusServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The running daemon is fed each bad file the attack used, then a good one."""
    server, tmp = plant
    monkeypatch.setattr(daemon_module, "RELOAD_CHECK_S", 0.05)
    path = write_site(tmp, server.endpoints["cdu01"][1], period_s=0.05)
    good = path.read_text(encoding="utf-8")
    attacks: list[str | bytes] = [
        b"\xff\xfe\x00\x81 binary garbage \x9c",
        "_cli_parse_args = true\n" + good,
        '_env_prefix = "ZZZ_"\n' + good,
        good[: good.index("\n[contract]") + 1],
        good.replace("[setpoints]", "[setpoints]\nfws_supply_temp = nan"),
    ]
    with capture_logs() as logs:  # before the daemon binds its loggers
        daemon = Daemon(load_site(path))
        daemon.watcher.settle_s = 0.1
        running = asyncio.create_task(daemon.run())
        await asyncio.sleep(0.3)
        settings = daemon.settings
        for content in attacks:
            rewrite(path, content)
            await asyncio.sleep(0.4)
            assert not running.done(), "a reload stopped the controller"
            assert daemon.settings is settings
        rewrite(path, good.replace("[setpoints]", "[setpoints]\nfws_supply_temp = 34.0"))
        for _ in range(100):  # up to 5 s
            if daemon.settings.setpoints.fws_supply_temp == 34.0:
                break
            await asyncio.sleep(0.05)
        daemon.request_stop()
        await asyncio.wait_for(running, 10.0)
    assert daemon.stopped_cleanly
    assert daemon.settings.setpoints.fws_supply_temp == 34.0
    refused = [e for e in logs if e["event"] == "site file not applied" and e.get("audit")]
    assert len(refused) == len(attacks), [e["event"] for e in logs]
    applied = [e for e in logs if e["event"] == "setting changed"]
    assert [(e["setting"], e["old"], e["new"]) for e in applied] == [
        ("setpoints.fws_supply_temp", 35.0, 34.0)
    ]


async def test_the_site_file_is_read_and_checked_off_the_scan_cycle(
    plant: tuple[PlantModbusServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading and validating a site file took a whole scan cycle (one soak overrun):
    the scan must run on while a reload is read, and the result still applies whole."""
    server, tmp = plant
    monkeypatch.setattr(daemon_module, "RELOAD_CHECK_S", 0.05)
    path = write_site(tmp, server.endpoints["cdu01"][1], period_s=0.05)
    good = path.read_text(encoding="utf-8")
    daemon: Daemon | None = None
    during: list[int] = []

    def slow_load(p: Path) -> object:  # a loaded box: the read takes 3+ scan periods
        assert daemon is not None
        start = daemon.cycle.number
        deadline = time.monotonic() + 3.0
        while daemon.cycle.number < start + 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        during.append(daemon.cycle.number - start)
        return load_site(p)

    with capture_logs() as logs:
        daemon = Daemon(load_site(path))
        daemon.watcher.settle_s = 0.1
        running = asyncio.create_task(daemon.run())
        await asyncio.sleep(0.3)
        monkeypatch.setattr(reload_module, "load_site", slow_load)
        rewrite(path, good.replace("[setpoints]", "[setpoints]\nfws_supply_temp = 34.0"))
        for _ in range(200):  # up to 10 s
            if daemon.settings.setpoints.fws_supply_temp == 34.0:
                break
            await asyncio.sleep(0.05)
        daemon.request_stop()
        await asyncio.wait_for(running, 10.0)
    assert during, "the file was never read"
    assert min(during) >= 3, f"the scan stood still while the file was read ({during} cycles)"
    assert daemon.settings.setpoints.fws_supply_temp == 34.0
    applied = [e for e in logs if e["event"] == "setting changed"]
    assert [(e["setting"], e["old"], e["new"]) for e in applied] == [
        ("setpoints.fws_supply_temp", 35.0, 34.0)
    ]
