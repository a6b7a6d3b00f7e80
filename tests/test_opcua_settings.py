"""The [opcua] section: secure defaults, hashed passwords, the opcua-user command."""

from __future__ import annotations

import io
import time
import tomllib
from datetime import UTC, datetime

import pytest
from asyncua import ua
from pydantic import ValidationError

from controller.cli import main
from controller.fieldbus.signals import Quality
from controller.opcua import OpcUaSettings, Reading
from controller.opcua.addressspace import PlantShape, plant_points
from controller.opcua.passwords import hash_password, verify_password
from controller.opcua.security import LoginGuard, PlantUser, PlantUserManager
from controller.opcua.settings import OpcUaUser
from controller.opcua.units import unit_id
from controller.opcua.values import datavalue_of

FAST = {"n": 2**10}


def test_defaults_are_secure() -> None:
    s = OpcUaSettings()
    assert (s.host, s.port) == ("0.0.0.0", 4840)
    assert s.allow_none_security is False
    assert s.allow_anonymous is False
    assert s.history_days >= 7
    assert s.trusted_dir() == s.data_dir / "pki" / "trusted"
    assert s.isolation == "process"


@pytest.mark.parametrize(
    "bad",
    [
        {"history_days": 6},
        {"max_sessions": 0},
        {"port": 70000},
        {"unknown": 1},
        {"users": [{"name": "x", "password_hash": "plain", "role": "utility"}]},
        {"users": [{"name": "x", "password_hash": hash_password("a", **FAST), "role": "root"}]},
    ],
)
def test_invalid_settings_are_refused(bad: dict) -> None:
    with pytest.raises(ValidationError):
        OpcUaSettings(**bad)


def test_duplicate_users_are_refused() -> None:
    h = hash_password("a", **FAST)
    user = {"name": "scada", "password_hash": h, "role": "utility"}
    with pytest.raises(ValidationError, match="defined twice"):
        OpcUaSettings(users=[user, user])


def test_password_hash_round_trip_and_salt() -> None:
    h1, h2 = hash_password("s3cret", **FAST), hash_password("s3cret", **FAST)
    assert h1 != h2  # salted
    assert h1.startswith("scrypt$1024$8$1$")
    assert verify_password("s3cret", h1) and verify_password("s3cret", h2)
    assert not verify_password("s3cre", h1)
    assert not verify_password("s3cret", "scrypt$garbage")
    assert "s3cret" not in h1


def test_user_manager_roles_and_anonymous() -> None:
    users = [
        OpcUaUser(name="ops", password_hash=hash_password("pw", **FAST), role="operator"),
        OpcUaUser(name="dh", password_hash=hash_password("pw2", **FAST), role="utility"),
    ]
    mgr = PlantUserManager(users, allow_anonymous=False)
    ops = mgr.get_user(None, "ops", "pw")
    dh = mgr.get_user(None, "dh", "pw2")
    assert isinstance(ops, PlantUser) and not ops.may_write
    assert isinstance(dh, PlantUser) and dh.may_write
    assert mgr.get_user(None, "dh", "wrong") is None
    assert mgr.get_user(None, "nobody", "pw") is None
    assert mgr.get_user(None) is None
    anon = PlantUserManager(users, allow_anonymous=True).get_user(None)
    assert isinstance(anon, PlantUser) and anon.name == "anonymous" and not anon.may_write


def test_login_guard_caches_good_and_meters_bad_passwords() -> None:
    user = OpcUaUser(name="dh", password_hash=hash_password("pw", **FAST), role="utility")
    guard = LoginGuard(per_source=4, per_user=4, window_s=60)  # good checks count too
    assert guard.check(user, "pw", "10.0.0.1") is True
    assert [guard.check(user, f"guess{i}", "10.0.0.1") for i in range(3)] == [False] * 3
    assert guard.check(user, "guess4", "10.0.0.1") is None  # budget spent: refused unchecked
    t0 = time.perf_counter()
    assert guard.check(user, "pw", "10.0.0.1") is True  # the known password still works
    assert time.perf_counter() - t0 < 0.01


def test_login_budgets_are_per_source_and_per_user_never_global() -> None:
    a, b, c = (
        OpcUaUser(name=n, password_hash=hash_password(n + "-pw", **FAST), role="operator")
        for n in ("a", "b", "c")
    )
    guard = LoginGuard(per_source=3, per_user=5, window_s=60)
    # An address guessing spends its own budget only.
    assert [guard.check(a, "x", "10.0.0.9") for _ in range(4)] == [False] * 3 + [None]
    assert guard.check(b, "b-pw", "10.0.0.9") is None  # same address: throttled
    assert guard.check(b, "b-pw", "10.0.0.2") is True  # another address: served
    # A name guessed from many addresses is throttled by name, not the addresses.
    assert [guard.check(c, "x", f"10.1.0.{i}") for i in range(6)] == [False] * 5 + [None]
    assert guard.check(b, "wrong", "10.1.0.1") is False  # those addresses still get checks


def test_opcua_user_command_prints_a_toml_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert main(["opcua-user", "scada", "--role", "utility", "--password-stdin"]) == 0
    out = capsys.readouterr().out.strip()
    entry = tomllib.loads(f"users = [{out}]")["users"][0]
    assert entry["name"] == "scada" and entry["role"] == "utility"
    assert verify_password("correct horse", entry["password_hash"])
    OpcUaSettings(users=[entry])  # pastes straight into the site file


def test_opcua_user_command_rejects_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["opcua-user", "scada", "--role", "utility", "--password-stdin"]) == 2
    with pytest.raises(SystemExit):
        main(["opcua-user", "scada", "--role", "root", "--password-stdin"])


def test_quality_maps_to_status_codes() -> None:
    [p] = [p for p in plant_points(PlantShape()) if p.path == "HeatPump/COP"]
    now = datetime.now(UTC)
    good = datavalue_of(p, Reading(3.1, Quality.GOOD, 1000.0), now)
    assert good.StatusCode.value == ua.StatusCodes.Good and good.Value.Value == 3.1
    assert good.SourceTimestamp.timestamp() == 1000.0
    unc = datavalue_of(p, Reading(3.1, Quality.UNCERTAIN, 1000.0), now)
    assert unc.StatusCode.value == ua.StatusCodes.UncertainLastUsableValue
    bad = datavalue_of(p, Reading(3.1, Quality.BAD, 1000.0), now)
    assert bad.StatusCode.value == ua.StatusCodes.BadNoCommunication
    assert bad.Value.Value is None


def test_unece_unit_ids() -> None:
    assert unit_id("CEL") == 4408652
    assert unit_id("P1") == 20529
    assert unit_id("KWT") == 4937556
