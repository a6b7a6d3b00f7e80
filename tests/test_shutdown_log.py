"""A stop that cannot hand the plant over says which outputs it left where they were.

The daemon runs in-process against a port nobody listens on (the simulator gone)
and against one that accepts and never answers (a silent link); ``shutdown`` must
log, by name, every output whose revert value was not written.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from e2e import free_port, write_site
from structlog.testing import capture_logs

from controller.config.settings import load_site
from controller.daemon import Daemon


def daemon_for(tmp_path: Path, port: int) -> Daemon:
    site = write_site(tmp_path, port)
    text = site.read_text()
    if "[accounting]" not in text:  # a ledger of its own, next to the site file
        site.write_text(text + '[accounting]\nledger_path = "ledger.sqlite"\n')
    return Daemon(load_site(site))


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A TCP port that accepts connections and reads requests, and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        while await reader.read(1024):
            pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for w in held:
        w.close()
    server.close()
    await server.wait_closed()


async def shutdown_log(d: Daemon) -> list[dict[str, object]]:
    with capture_logs() as logs:
        await d.shutdown()
    return logs


def expected_outputs(d: Daemon) -> list[str]:
    return sorted(d.reverts)


async def test_stop_with_the_simulator_gone_names_every_unreverted_output(
    tmp_path: Path,
) -> None:
    d = daemon_for(tmp_path, free_port())
    logs = await shutdown_log(d)
    assert not [e for e in logs if e["event"] == "revert on shutdown failed"], logs
    (err,) = [e for e in logs if e["event"] == "revert values not written"]
    assert err["log_level"] == "error"
    assert err["unreverted"] == expected_outputs(d)
    reasons = err["reasons"]
    assert isinstance(reasons, dict) and all(reasons.values())
    assert d.stopped_cleanly


async def test_stop_with_a_silent_link_names_every_unreverted_output(
    tmp_path: Path, silent_port: int
) -> None:
    d = daemon_for(tmp_path, silent_port)
    logs = await shutdown_log(d)
    assert not [e for e in logs if e["event"] == "revert on shutdown failed"], logs
    (err,) = [e for e in logs if e["event"] == "revert values not written"]
    assert err["unreverted"] == expected_outputs(d)
    assert d.stopped_cleanly
