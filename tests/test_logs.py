"""Logging set-up: JSON lines for the daemon, console for people, one output for all."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import structlog

from controller.logs import NOISY_LOGGERS, audit_logger, configure_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    noisy = {n: logging.getLogger(n).level for n in NOISY_LOGGERS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for n, lvl in noisy.items():
        logging.getLogger(n).setLevel(lvl)
    logging.captureWarnings(False)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def json_lines(text: str) -> list[dict]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return [json.loads(ln) for ln in lines]  # every line must be one JSON object


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_line_on_stdout_with_expected_keys(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True, level="INFO")
    structlog.get_logger("controller.scan").info("cycle_overrun", cycle=42, duration_ms=1130.5)
    [rec] = json_lines(capsys.readouterr().out)
    assert rec["event"] == "cycle_overrun"
    assert rec["level"] == "info"
    assert rec["logger"] == "controller.scan"
    assert (rec["cycle"], rec["duration_ms"]) == (42, 1130.5)
    assert list(rec)[:4] == ["timestamp", "level", "logger", "event"]
    assert rec["timestamp"].endswith("Z")
    ts = datetime.fromisoformat(rec["timestamp"])
    assert ts.tzinfo is not None and ts.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - ts).total_seconds()) < 60


def test_level_filter_and_noisy_libraries(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True, level="DEBUG")
    log = structlog.get_logger("controller")
    log.debug("debug_shown")
    logging.getLogger("pymodbus.logging").info("frame sent")  # noisy: held at WARNING
    logging.getLogger("asyncua.server").warning("client %s timed out", "scada-1")
    logging.getLogger("controller.fieldbus").debug("own stdlib debug")
    events = [r["event"] for r in json_lines(capsys.readouterr().out)]
    assert events == ["debug_shown", "client scada-1 timed out", "own stdlib debug"]

    configure_logging(json=True, level="WARNING")
    log.info("info_hidden")
    log.warning("warning_shown")
    assert [r["event"] for r in json_lines(capsys.readouterr().out)] == ["warning_shown"]


def test_stdlib_records_share_format_and_context(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True, level="INFO")
    with structlog.contextvars.bound_contextvars(link="hp-01"):
        logging.getLogger("pymodbus.client").error("connection to %s lost", "10.0.0.5:502")
        structlog.get_logger().info("own_event")
    foreign, own = json_lines(capsys.readouterr().out)
    assert foreign["event"] == "connection to 10.0.0.5:502 lost"
    assert (foreign["level"], foreign["logger"]) == ("error", "pymodbus.client")
    assert foreign["link"] == own["link"] == "hp-01"
    assert set(foreign) >= {"timestamp", "level", "event", "logger"}


def _fail_with_secret() -> None:
    # A local that must never reach a log; built at run time so that the source
    # lines a console traceback quotes do not contain it either.
    api_password = "-".join(["s3cr3t", "hunter2"])
    raise RuntimeError(f"login failed for user {len(api_password)}")


def test_json_traceback_has_no_locals(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True, level="INFO")
    try:
        _fail_with_secret()
    except RuntimeError:
        structlog.get_logger().exception("opcua_login_failed")
        logging.getLogger("asyncua").exception("stdlib view of the same")
    out = capsys.readouterr().out
    assert "s3cr3t-hunter2" not in out
    own, foreign = json_lines(out)
    for rec in (own, foreign):
        [exc] = rec["exception"]
        assert exc["exc_type"] == "RuntimeError"
        assert any(f["name"] == "_fail_with_secret" for f in exc["frames"])
        assert all("locals" not in f for f in exc["frames"])


def test_console_rendering_for_people() -> None:
    tty = FakeTTY()
    configure_logging(json=None, level="INFO", stream=tty)  # auto: a terminal
    structlog.get_logger("controller").info("mode_change", mode="RECOVERY")
    try:
        _fail_with_secret()
    except RuntimeError:
        structlog.get_logger().exception("crashed")
    out = tty.getvalue()
    assert "mode_change" in out and "RECOVERY" in out
    assert not out.lstrip().startswith("{")
    assert "RuntimeError" in out
    assert "s3cr3t-hunter2" not in out  # rich tracebacks would show locals by default


def test_auto_picks_json_when_not_a_terminal() -> None:
    pipe = io.StringIO()
    configure_logging(json=None, level="INFO", stream=pipe)
    structlog.get_logger().info("started")
    assert json_lines(pipe.getvalue())[0]["event"] == "started"


def test_audit_logger(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True, level="INFO")
    audit_logger(user="utility1").info(
        "setpoint_write", node="SupplyTempSetpoint", old=70.0, new=72.5, accepted=True
    )
    structlog.get_logger().info("not_audit")
    audit, plain = json_lines(capsys.readouterr().out)
    assert audit["audit"] is True
    assert (audit["user"], audit["node"], audit["new"]) == ("utility1", "SupplyTempSetpoint", 72.5)
    assert audit["logger"] == "audit"
    assert "audit" not in plain


def test_reconfiguration_reaches_existing_loggers() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging(json=True, level="INFO", stream=first)
    log = structlog.get_logger("controller")
    log.info("one")
    configure_logging(json=True, level="INFO", stream=second)
    log.info("two")
    assert [r["event"] for r in json_lines(first.getvalue())] == ["one"]
    assert [r["event"] for r in json_lines(second.getvalue())] == ["two"]
    assert len(logging.getLogger().handlers) == 1  # replaced, not stacked


def test_unknown_level_is_rejected() -> None:
    with pytest.raises(ValueError, match="VERBOSE"):
        configure_logging(json=True, level="VERBOSE")
