"""A reloaded ``[opcua]`` section and write limits take effect, or are refused by name (issue 14).

Before: a removed user kept logging in, the published FWS setpoint stayed at its
startup value, and the write check and EURange kept the startup limits, so a
utility write of 85 after ``dh_supply_max`` went to 80 was acknowledged Good.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest
from asyncua import ua
from e2e import write_site
from opcua_support import PASSWORDS, connect, free_port, plant_node, users

from controller.config.settings import load_site
from controller.core.image import ProcessImage
from controller.daemon import Daemon
from controller.fieldbus.signals import Quality
from controller.opcua.feed import attach_scada
from controller.opcua.model import Reading

SETPOINT = "DistrictHeating/Setpoints/SupplyTempSetpoint"


def _users_toml(names: list[str]) -> str:
    rows = [
        f'{{ name = "{u.name}", password_hash = "{u.password_hash}", role = "{u.role}" }}'
        for u in users()
        if u.name in names
    ]
    return f"users = [{', '.join(rows)}]"


def _set(text: str, section: str, key: str, value: str) -> str:
    """Set ``key = value`` in ``[section]``, adding the section or key if missing."""
    header = re.search(rf"^\[{re.escape(section)}\]\s*$", text, re.M)
    if header is None:
        return text.rstrip("\n") + f"\n[{section}]\n{key} = {value}\n"
    end = re.search(r"^\[", text[header.end() :], re.M)
    stop = header.end() + (end.start() if end else len(text) - header.end())
    body = text[header.end() : stop]
    line = re.compile(rf"^{re.escape(key)}\s*=.*$", re.M)
    body = line.sub(f"{key} = {value}", body) if line.search(body) else f"\n{key} = {value}" + body
    return text[: header.end()] + body + text[stop:]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = write_site(tmp_path, free_port())
    text = path.read_text()
    for key, value in (
        ("host", '"127.0.0.1"'),
        ("port", str(free_port())),
        ("allow_none_security", "true"),
        ("data_dir", f'"{tmp_path / "opcua"}"'),
    ):
        text = _set(text, "opcua", key, value)
    text = text.rstrip("\n") + "\n" + _users_toml(["operator", "utility"]) + "\n"
    path.write_text(text)
    return path


def _edit(path: Path, section: str, key: str, value: str) -> None:
    path.write_text(_set(path.read_text(), section, key, value))


def _drop_operator(path: Path) -> None:
    text = path.read_text()
    path.write_text(text.replace(_users_toml(["operator", "utility"]), _users_toml(["utility"])))


def _reload(daemon: Daemon) -> None:
    """As SIGHUP: the file is looked at once (seen changed) and read once stable."""
    daemon.watcher.settle_s = 0.0
    daemon.watcher.request()
    daemon.reload_now(time.monotonic())
    daemon.reload_now(time.monotonic())


async def test_reloaded_users_limits_and_values_are_applied(site: Path) -> None:
    daemon = Daemon(load_site(site))
    server = attach_scada(daemon)
    try:
        url = server.endpoint_url
        server.publish({SETPOINT: Reading(70.0, Quality.GOOD, time.time())})
        async with connect(url, "operator") as op, connect(url, "utility") as ut:
            sp = await plant_node(ut, SETPOINT)
            # The operator is removed and the utility's upper write limit lowered.
            _drop_operator(site)
            _edit(site, "limits", "dh_supply_max", "80.0")
            _edit(site, "setpoints", "fws_supply_temp", "33.0")
            _reload(daemon)
            assert daemon.settings.limits.dh_supply_max == 80.0  # the file was taken
            # The displayed range and the write check use the new limit.
            eu_range = await sp.get_child("0:EURange")
            deadline = time.monotonic() + 3.0
            while (await eu_range.read_value()).High != 80.0:
                assert time.monotonic() < deadline, "EURange kept the startup limit"
                await asyncio.sleep(0.05)
            with pytest.raises(ua.UaStatusCodeError) as refused:
                await sp.write_value(ua.Variant(85.0, ua.VariantType.Double))
            assert refused.value.code == ua.StatusCodes.BadOutOfRange
            await sp.write_value(ua.Variant(80.0, ua.VariantType.Double))
            # The published FWS setpoint follows the file.
            ext = daemon.extension("opcua")
            assert ext is not None and ext.on_reload is not None
            feed = ext.on_reload.__self__  # type: ignore[attr-defined]  # the ScadaFeed
            image = ProcessImage({})
            out = daemon.core.step(image, daemon.settings, 0.0, 1.0)
            published = feed.snapshot(image, out, time.time(), {})
            assert published["FacilityWater/SupplySetpoint"].value == 33.0
            # The removed user's session is closed and it cannot log in again.
            with pytest.raises((ua.UaError, ConnectionError, TimeoutError)):
                await (await plant_node(op, "HeatPump/COP")).read_data_value()
        with pytest.raises(ua.UaError):
            async with connect(url, "operator", password=PASSWORDS["operator"]):
                pass
    finally:
        server.stop()


async def test_endpoint_changes_are_refused_by_name_and_nothing_is_applied(site: Path) -> None:
    daemon = Daemon(load_site(site))
    before = daemon.settings
    _edit(site, "opcua", "port", str(free_port()))
    _edit(site, "limits", "dh_supply_max", "80.0")
    daemon.watcher.settle_s = 0.0
    assert daemon.watcher.check(now=1.0) is None  # seen changing
    result = daemon.watcher.check(now=2.0)
    assert result is not None and result.site is None
    assert result.error is not None and "opcua.port" in result.error
    assert "restart" in result.error
    assert daemon.settings is before
