"""Helpers for the fleet tests: the real broker and database, a raw Sparkplug
subscriber, a TCP proxy that stands in for a broker outage, ledger rows.

Every test run gets its own Sparkplug group, host id and PostgreSQL schema (a
random suffix), so runs on a shared Mosquitto and PostgreSQL cannot see each
other, and every schema is dropped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from controller.accounting.ledger import Ledger
from controller.accounting.rows import missing_row
from controller.fleet import sparkplug as sp

BROKER = ("127.0.0.1", 1883)
DSN = os.environ.get("FLEET_TEST_DSN", "postgresql://postgres@127.0.0.1:5432/test")
"""The development and CI machines' PostgreSQL (trust auth, database "test"); elsewhere,
e.g. the compose profile's: FLEET_TEST_DSN=postgresql://postgres:PASSWORD@127.0.0.1/postgres"""


def services_problem() -> str | None:
    """Why the fleet tests cannot run here (None: broker and database answer)."""
    try:
        with socket.create_connection(BROKER, 2.0):
            pass
    except OSError as exc:
        return f"no MQTT broker on {BROKER[0]}:{BROKER[1]} ({exc})"
    try:
        import psycopg

        with psycopg.connect(DSN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:
        return f"no PostgreSQL at {DSN} ({str(exc).strip()})"
    return None


def unique(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"


def wait_until(pred: Callable[[], Any], timeout: float, what: str, step: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"not within {timeout} s: {what}")


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: Any  # decoded Payload, or None for STATE
    raw: bytes
    retained: bool


class RawSubscriber:
    """A plain paho client that records every message of a topic filter, decoded."""

    def __init__(self, topic_filter: str) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self.client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        ready = threading.Event()
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.connect(*BROKER)
        self.client.loop_start()
        self.client.subscribe(topic_filter, qos=1)
        assert ready.wait(5), "subscription not acknowledged"

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        raw = bytes(msg.payload)
        try:
            payload = None if "/STATE/" in msg.topic else sp.decode(raw)
        except ValueError:
            payload = None  # a test sent rubbish on purpose
        with self._lock:
            self.messages.append(Message(msg.topic, payload, raw, bool(msg.retain)))

    def of(self, kind: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if f"/{kind}/" in m.topic]

    def snapshot(self) -> list[Message]:
        with self._lock:
            return list(self.messages)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to the broker; ``stop`` is a broker outage for the
    clients behind it (listener closed, live connections cut), ``start`` its return."""

    def __init__(self, target: tuple[str, int] = BROKER) -> None:
        self.target = target
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(16)
        self._listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def stop(self) -> None:
        ls, self._listener = self._listener, None
        if ls is not None:
            with contextlib.suppress(OSError):
                ls.shutdown(socket.SHUT_RDWR)
            ls.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
            c.close()

    def _accept(self, ls: socket.socket) -> None:
        while True:
            try:
                client, _ = ls.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, 2.0)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def write_ledger(path: Path, start: int, count: int, *, seed: int = 0) -> list[Any]:
    """``count`` closed 15-minute rows from ``start`` into a real ledger file; every
    third one measured with a seeded energy, the others 'missing' (both kinds travel)."""
    from dataclasses import replace

    rows = []
    for i in range(count):
        s = start + 900 * i
        row = missing_row(s, s + 900, time.strftime("%Y-%m-%d", time.gmtime(s)))
        kwh = 100.0 + ((seed * 7919 + s // 900) % 997) / 7.0
        row = replace(
            row,
            kind="measured",
            flags="",
            covered_s=900.0,
            uncovered_s=0.0,
            meter_kwh=kwh,
            gap_meter_kwh=0.5 if i % 5 == 0 else None,
            check_kwh=kwh * 1.001,
            hp_heat_kwh=kwh,
            hp_elec_kwh=kwh / 4.5,
            aux_elec_kwh=1.25,
            requested_s=900.0,
            available_s=880.0,
        )
        rows.append(row)
    with Ledger(path) as led:
        led.write_closed(rows)
    return rows
