"""One Modbus TCP link: the connection, its lock, its pacing and its counters.

A gateway serves one request at a time and some devices fall over without a pause
between requests or after a change of unit id (OpenEMS PR #3099, #3814; Home
Assistant #50245). So every request on a link, read or write, goes through one
lock that also enforces the configured gap and unit-switch delay. Each request is
bounded by the link's own timeout (pymodbus retries are off: a retry would only
push the scan cycle further), and the connection is re-established by this class
with a growing backoff instead of pymodbus's automatic reconnect, so the time a
reconnect costs is always inside a poll and never hidden in the library.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.pdu import ModbusPDU

from controller.config.registermap import RegisterMap, Table
from controller.fieldbus.linkconfig import LinkConfig

log = logging.getLogger(__name__)

EXCEPTION_NAMES: dict[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class LinkError(Exception):
    """A request did not produce data; ``kind`` says why."""

    kind = "error"


class LinkTimeoutError(LinkError):
    kind = "timeout"


class NotConnectedError(LinkError):
    kind = "connection"


class ExceptionResponseError(LinkError):
    """The device answered with a Modbus exception response."""

    kind = "exception"

    def __init__(self, code: int) -> None:
        self.code = code
        super().__init__(f"exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')})")


@dataclass
class DeviceStats:
    """Communication counters of one device (exported as metrics)."""

    requests: int = 0
    errors: int = 0  # every failed request, whatever the cause
    timeouts: int = 0
    exceptions: int = 0
    consecutive_failures: int = 0
    last_error: str = ""
    last_error_time: float | None = None
    last_ok_time: float | None = None


@dataclass
class LinkStats:
    """Counters of one link: polls, skips, connection history, utilisation."""

    polls: int = 0
    skipped_polls: int = 0  # poll not started because the previous one still ran
    late_polls: int = 0  # polls that outlived the scan cycle's budget
    connects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    backoff_s: float = 0.0  # wait before the next connect attempt after a failure
    busy_s: float = 0.0  # time spent holding the link (utilisation = busy / elapsed)
    last_poll_s: float = 0.0
    max_poll_s: float = 0.0
    backoff_history: list[float] = field(default_factory=list)


ClientFactory = Callable[[LinkConfig], AsyncModbusTcpClient]


def _default_client(config: LinkConfig) -> AsyncModbusTcpClient:
    # The library's own timeout is a backstop only; the link's asyncio timeout is
    # authoritative (it cancels cleanly and late answers are dropped by transaction id).
    return AsyncModbusTcpClient(
        config.host,
        port=config.port,
        name=config.name,
        timeout=config.timeout_s + 1.0,
        retries=0,
        reconnect_delay=0,
    )


class Link:
    """A Modbus TCP client for one endpoint and the unit ids behind it."""

    def __init__(
        self,
        config: LinkConfig,
        regmap: RegisterMap,
        *,
        client_factory: ClientFactory = _default_client,
    ) -> None:
        unknown = [d for d in config.devices if d not in regmap.devices]
        if unknown:
            raise ValueError(f"link {config.name!r}: unknown device(s) {', '.join(unknown)}")
        self.config = config
        self.name = config.name
        self.devices: tuple[str, ...] = tuple(config.devices)
        self._units = {d: regmap.devices[d].unit_id for d in config.devices}
        self._client = client_factory(config)
        self._lock = asyncio.Lock()
        self._last_end = 0.0
        self._last_unit: int | None = None
        self._was_connected = False
        self._next_connect_at = 0.0
        self._backoff = config.backoff_initial_s
        self.epoch = 0
        """Incremented on every successful (re)connect: slow and once reads restart."""
        self.stats = LinkStats()
        self.device_stats: dict[str, DeviceStats] = {d: DeviceStats() for d in config.devices}

    def unit_of(self, device: str) -> int:
        return self._units[device]

    @property
    def connected(self) -> bool:
        return bool(self._client.connected)

    # ------------------------------------------------------------------ connection
    async def ensure_connected(self) -> bool:
        """Connect if the link is down and its backoff has expired; True if up.

        One attempt at most, bounded by the link timeout. The first attempt after a
        loss is immediate; each failure doubles the wait up to ``backoff_max_s``.
        """
        if self.connected:
            return True
        if self._was_connected:
            self._was_connected = False
            self.stats.disconnects += 1
            log.warning("link %s: connection to %s lost", self.name, self.config.endpoint)
        now = time.monotonic()
        if now < self._next_connect_at:
            return False
        async with self._lock:
            if self.connected:
                return True
            ok = False
            try:
                async with asyncio.timeout(self.config.timeout_s):
                    ok = bool(await self._client.connect())
            except (TimeoutError, OSError, ModbusException) as exc:
                log.debug("link %s: connect failed: %s", self.name, exc)
            if ok:
                self._was_connected = True
                self.epoch += 1
                self.stats.connects += 1
                self.stats.backoff_s = 0.0
                self._backoff = self.config.backoff_initial_s
                self._last_unit = None
                log.info("link %s: connected to %s", self.name, self.config.endpoint)
                return True
            self._client.close()
            self.stats.connect_failures += 1
            self.stats.backoff_s = self._backoff
            self.stats.backoff_history.append(self._backoff)
            del self.stats.backoff_history[:-20]
            self._next_connect_at = time.monotonic() + self._backoff
            self._backoff = min(self._backoff * 2, self.config.backoff_max_s)
            return False

    def close(self) -> None:
        self._client.close()
        self._was_connected = False

    # ------------------------------------------------------------------ requests
    async def read(self, device: str, table: Table, address: int, count: int) -> list[int]:
        """Read ``count`` registers (or bits, as 0/1) of a device's table."""
        c = self._client
        readers: dict[Table, Callable[..., Awaitable[ModbusPDU]]] = {
            Table.HOLDING: c.read_holding_registers,
            Table.INPUT: c.read_input_registers,
            Table.COIL: c.read_coils,
            Table.DISCRETE: c.read_discrete_inputs,
        }
        fn = readers[table]
        rr = await self._request(device, lambda unit: fn(address, count=count, device_id=unit))
        if table.is_bit:
            bits = list(rr.bits)[:count]
            if len(bits) != count:
                raise self._failed(device, LinkError(f"short answer: {len(bits)} of {count} bits"))
            return [1 if b else 0 for b in bits]
        regs = list(rr.registers)
        if len(regs) != count:
            raise self._failed(device, LinkError(f"short answer: {len(regs)} of {count} registers"))
        return regs

    async def write(self, device: str, table: Table, address: int, words: list[int]) -> None:
        """Write registers (function 6 for one, 16 for several) or coils (5 / 15)."""
        c = self._client
        if table is Table.HOLDING:
            if len(words) == 1:
                await self._request(
                    device, lambda unit: c.write_register(address, words[0], device_id=unit)
                )
            else:
                await self._request(
                    device, lambda unit: c.write_registers(address, words, device_id=unit)
                )
        elif table is Table.COIL:
            bits = [bool(w) for w in words]
            if len(bits) == 1:
                await self._request(
                    device, lambda unit: c.write_coil(address, bits[0], device_id=unit)
                )
            else:
                await self._request(
                    device, lambda unit: c.write_coils(address, bits, device_id=unit)
                )
        else:
            raise ValueError(f"{table} table cannot be written over Modbus")

    async def _pace(self, unit: int) -> None:
        wait = self._last_end + self.config.gap_s
        if self._last_unit is not None and unit != self._last_unit:
            wait = max(wait, self._last_end + self.config.unit_switch_delay_s)
        delay = wait - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def _failed(self, device: str, exc: LinkError) -> LinkError:
        st = self.device_stats[device]
        st.errors += 1
        st.consecutive_failures += 1
        st.last_error = str(exc)
        st.last_error_time = time.time()
        if isinstance(exc, LinkTimeoutError):
            st.timeouts += 1
        elif isinstance(exc, ExceptionResponseError):
            st.exceptions += 1
        return exc

    async def _request(self, device: str, call: Callable[[int], Awaitable[ModbusPDU]]) -> ModbusPDU:
        unit = self._units[device]
        st = self.device_stats[device]
        if not self.connected:
            raise self._failed(
                device, NotConnectedError(f"not connected to {self.config.endpoint}")
            )
        async with self._lock:
            await self._pace(unit)
            started = time.monotonic()
            st.requests += 1
            try:
                async with asyncio.timeout(self.config.timeout_s):
                    rr = await call(unit)
            except TimeoutError:
                raise self._failed(
                    device,
                    LinkTimeoutError(f"no response within {self.config.timeout_s * 1000:.0f} ms"),
                ) from None
            except ConnectionException as exc:
                raise self._failed(device, NotConnectedError(f"connection: {exc}")) from None
            except (ModbusException, OSError) as exc:
                raise self._failed(device, LinkError(f"i/o: {exc}")) from None
            finally:
                self._last_end = time.monotonic()
                self._last_unit = unit
                self.stats.busy_s += self._last_end - started
        if rr.isError():
            raise self._failed(
                device, ExceptionResponseError(int(getattr(rr, "exception_code", 0)))
            )
        st.consecutive_failures = 0
        st.last_ok_time = time.time()
        return rr
