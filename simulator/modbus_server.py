"""The simulator's Modbus TCP face: the plant's devices, exactly as the map says.

The controller is proven against this server, so it must behave like the real
devices the map describes, including the unfriendly parts: an address outside the
map is ILLEGAL DATA ADDRESS (so a planner that reads through a gap fails here, not
on site), a write is checked against the point's range and access before it
reaches the plant, a 32-bit value can only be written whole, and a device can be
made silent or failing while its neighbours keep answering.

Design notes (pymodbus 3.16.1):

* The server is pymodbus's ``ModbusTcpServer`` with our own datastore in place of
  ``SimDevice``. SimDevice's access hook sees the number of 16-bit *registers* a
  coil request spans, not the number of coils, and runs only after its own address
  checks, so it can neither refuse a read of an unmapped coil inside a mapped
  16-coil word nor let an injected fault take precedence. The datastore interface
  the PDUs call (``async_getValues``, ``async_setValues``, ``device_ids``) is small
  and is exercised end to end by tests/test_modbus_server.py, so an upgrade that
  changes it fails loudly.
* A SILENT device is implemented in ``trace_pdu``: returning no PDU for a received
  request makes pymodbus drop it before any processing, for every function code.
* An EXCEPTION device answers every data request with ``exception_code``
  (default 0x04 SERVER DEVICE FAILURE: the device is there and says it failed).
  A unit id that nothing on a port answers to gets 0x0B GATEWAY TARGET DEVICE
  FAILED TO RESPOND, as a TCP gateway would.
* ``publish()`` is synchronous inside: the clock loop calls ``plant.step(dt)`` N
  times and then ``await server.publish()``; requests never see half a publish.
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Mapping
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimDataType
from pymodbus.simulator import SimData, SimDevice

from controller.config.registermap import DataType, Point, RegisterMap, Table, WordOrder
from controller.fieldbus.codec import EncodeError, decode, encode, in_range
from simulator.pointio import CommsFault, PlantPoints, PointWriteError

log = logging.getLogger(__name__)

_FC_TABLE: dict[int, Table] = {
    1: Table.COIL,
    5: Table.COIL,
    15: Table.COIL,
    2: Table.DISCRETE,
    3: Table.HOLDING,
    6: Table.HOLDING,
    16: Table.HOLDING,
    22: Table.HOLDING,
    23: Table.HOLDING,
    4: Table.INPUT,
}

_FLOAT32_MAX = 3.4028234663852886e38


def _raw_words(raw: int, point: Point) -> list[int]:
    """Words of a raw integer for the point's type and word order (no scale)."""
    plain = point.model_copy(update={"scale": 1.0, "offset": 0.0, "range": None})
    return encode(float(raw), plain, check_range=False)


def _nan_words(point: Point) -> list[int]:
    hi, lo = struct.unpack(">HH", struct.pack(">f", math.nan))
    return [hi, lo] if point.word_order is WordOrder.BIG else [lo, hi]


def unavailable_words(point: Point) -> list[int]:
    """What the device sends for "no value": NaN, the first sentinel, or 0 (bits)."""
    if point.type is DataType.FLOAT32:
        return _nan_words(point)
    if point.type is DataType.BOOL or not point.sentinels:
        return [0] * point.words
    return _raw_words(point.sentinels[0], point)


def publish_words(point: Point, value: float | None) -> list[int]:
    """Words for a plant value, whatever it is: never raises.

    None and non-finite numbers become the type's "not available"; a value the type
    cannot carry is clamped to the nearest one it can that is not a sentinel, so a
    failed sensor reads as an implausible number (which the controller flags), not
    as a crash of the publisher or an accidental "not available".
    """
    if value is None or not math.isfinite(value):
        return unavailable_words(point)
    t = point.type
    if t is DataType.BOOL:
        return [1 if value else 0]
    raw = (value - point.offset) / point.scale
    if t is DataType.FLOAT32:
        raw = min(max(raw, -_FLOAT32_MAX), _FLOAT32_MAX)
        plain = point.model_copy(update={"scale": 1.0, "offset": 0.0, "range": None})
        return encode(raw, plain, check_range=False)
    lo, hi = (int(x) for x in t.raw_limits)
    iraw = min(max(round(raw), lo), hi)
    sentinels = set(point.sentinels)
    while iraw in sentinels:  # step inwards off a sentinel
        iraw += -1 if iraw > 0 else 1
    return _raw_words(iraw, point)


class DeviceImage:
    """The register image of one device, and the map's rules for requests to it."""

    def __init__(self, name: str, unit_id: int, points: list[Point]) -> None:
        self.name = name
        self.unit_id = unit_id
        self.by_name: dict[str, Point] = {p.name: p for p in points}
        self.owner: dict[Table, dict[int, Point]] = {t: {} for t in Table}
        self.words: dict[Table, dict[int, int]] = {t: {} for t in Table}
        for p in points:
            for addr in range(p.address, p.address + p.words):
                self.owner[p.table][addr] = p
            self.store(p, unavailable_words(p))

    def store(self, point: Point, words: list[int]) -> None:
        for i, w in enumerate(words):
            self.words[point.table][point.address + i] = w & 0xFFFF

    def publish(self, values: Mapping[str, float | None]) -> None:
        for name, value in values.items():
            point = self.by_name.get(name)
            if point is None:
                continue
            try:
                self.store(point, publish_words(point, value))
            except (EncodeError, ValueError, TypeError, OverflowError, struct.error):
                log.exception("%s.%s: cannot publish %r", self.name, name, value)
                self.store(point, unavailable_words(point))

    def read(self, table: Table, address: int, count: int) -> list[int] | ExcCodes:
        owner = self.owner[table]
        if count < 1 or any(a not in owner for a in range(address, address + count)):
            return ExcCodes.ILLEGAL_ADDRESS
        image = self.words[table]
        return [image[a] for a in range(address, address + count)]

    def check_write(
        self, table: Table, address: int, words: list[int]
    ) -> list[tuple[Point, float, list[int]]] | ExcCodes:
        """The points a write covers with their decoded values, or why it is refused."""
        owner = self.owner[table]
        end = address + len(words)
        if not words or any(a not in owner for a in range(address, end)):
            return ExcCodes.ILLEGAL_ADDRESS
        covered: list[Point] = []
        for a in range(address, end):
            p = owner[a]
            if not covered or covered[-1] is not p:
                covered.append(p)
        out: list[tuple[Point, float, list[int]]] = []
        for p in covered:
            if p.address < address or p.address + p.words > end:
                return ExcCodes.ILLEGAL_ADDRESS  # only part of a 32-bit value
            if not p.writable:
                return ExcCodes.ILLEGAL_ADDRESS
            pw = [w & 0xFFFF for w in words[p.address - address : p.address - address + p.words]]
            value = decode(pw, p)
            if value is None or not in_range(value, p):
                return ExcCodes.ILLEGAL_VALUE
            try:
                canonical = encode(value, p, check_range=False)
            except EncodeError:
                return ExcCodes.ILLEGAL_VALUE
            if canonical != pw:  # e.g. 5 written to a bool register
                return ExcCodes.ILLEGAL_VALUE
            out.append((p, value, pw))
        return out


class PlantDatastore:
    """The pymodbus datastore of one TCP port: the devices served there."""

    def __init__(
        self,
        images: Mapping[int, DeviceImage],
        points: PlantPoints,
        exception_code: ExcCodes = ExcCodes.DEVICE_FAILURE,
    ) -> None:
        self.images = dict(images)
        self.points = points
        self.exception_code = exception_code
        self.requests = 0
        self.refused = 0

    def image(self, unit_id: int) -> DeviceImage | None:
        found = self.images.get(unit_id)
        if found is None and len(self.images) == 1 and unit_id in (0, 255):
            found = next(iter(self.images.values()))  # "this device" on a dedicated port
        return found

    def fault(self, unit_id: int) -> CommsFault | None:
        img = self.image(unit_id)
        if img is None:
            return None
        try:
            return self.points.comms_fault(img.name)
        except Exception:
            log.exception("comms_fault(%s) failed", img.name)
            return None

    def silent(self, unit_id: int) -> bool:
        return self.fault(unit_id) is CommsFault.SILENT

    def _refuse(self, code: ExcCodes) -> ExcCodes:
        self.refused += 1
        return code

    async def async_getValues(  # noqa: N802 - pymodbus datastore interface
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        self.requests += 1
        img = self.image(device_id)
        if img is None:
            return self._refuse(ExcCodes.GATEWAY_NO_RESPONSE)
        if self.fault(device_id) is not None:
            return self._refuse(self.exception_code)
        table = _FC_TABLE.get(func_code)
        if table is None:
            return self._refuse(ExcCodes.ILLEGAL_FUNCTION)
        words = img.read(table, address, count)
        if isinstance(words, ExcCodes):
            return self._refuse(words)
        if table.is_bit:
            return [bool(w) for w in words]
        return words

    async def async_setValues(  # noqa: N802 - pymodbus datastore interface
        self, device_id: int, func_code: int, address: int, values: list[int] | list[bool]
    ) -> ExcCodes | None:
        self.requests += 1
        img = self.image(device_id)
        if img is None:
            return self._refuse(ExcCodes.GATEWAY_NO_RESPONSE)
        if self.fault(device_id) is not None:
            return self._refuse(self.exception_code)
        table = _FC_TABLE.get(func_code)
        if table is None or not table.writable:
            return self._refuse(ExcCodes.ILLEGAL_FUNCTION)
        words = [int(v) for v in values]
        if table.is_bit:
            words = [1 if v else 0 for v in values]
        checked = img.check_write(table, address, words)
        if isinstance(checked, ExcCodes):
            return self._refuse(checked)
        for point, value, pw in checked:
            try:
                self.points.write_point(img.name, point.name, value)
            except PointWriteError as exc:
                log.info("%s.%s: plant refused %g: %s", img.name, point.name, value, exc)
                return self._refuse(ExcCodes.ILLEGAL_VALUE)
            except Exception:
                log.exception("%s.%s: write_point(%g) failed", img.name, point.name, value)
                return self._refuse(ExcCodes.DEVICE_FAILURE)
            img.store(point, pw)
            # The device shows what it actually took (it may clamp or ignore a write).
            try:
                actual = self.points.point_values().get(img.name, {})
            except Exception:
                log.exception("point_values() failed after a write")
                actual = {}
            if point.name in actual:
                img.publish({point.name: actual[point.name]})
        return None

    def device_ids(self) -> list[int]:
        return list(self.images)


class _MapServer(ModbusTcpServer):
    """ModbusTcpServer whose datastore is a PlantDatastore."""

    def __init__(self, store: PlantDatastore, address: tuple[str, int]) -> None:
        # The constructor insists on a SimDevice; it is replaced at once.
        placeholder = SimDevice(id=0, simdata=SimData(0, datatype=SimDataType.REGISTERS))
        super().__init__(placeholder, address=address, trace_pdu=self._trace_pdu)
        self.store = store
        self.context: Any = store

    def _trace_pdu(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending and self.store.silent(pdu.dev_id):
            return None  # type: ignore[return-value]  # pymodbus drops the request
        return pdu

    @property
    def bound_port(self) -> int:
        sockets = getattr(self.transport, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else 0


class PlantModbusServer:
    """Serve every device of the register map from a PlantPoints source.

    All devices share ``host:port``, each under its unit id, unless ``device_ports``
    gives a device its own port (devices given the same port share it). Port 0
    binds a free port; ``endpoints`` tells which one.
    """

    def __init__(
        self,
        regmap: RegisterMap,
        points: PlantPoints,
        host: str = "127.0.0.1",
        port: int = 5020,
        device_ports: dict[str, int] | None = None,
        *,
        exception_code: ExcCodes = ExcCodes.DEVICE_FAILURE,
    ) -> None:
        device_ports = dict(device_ports or {})
        unknown = [d for d in device_ports if d not in regmap.devices]
        if unknown:
            raise ValueError(f"device_ports names unknown device(s): {', '.join(unknown)}")
        self.regmap = regmap
        self.points = points
        self.host = host
        self.images: dict[str, DeviceImage] = {
            name: DeviceImage(name, dev.unit_id, regmap.points_of(name))
            for name, dev in regmap.devices.items()
        }
        self._port_of: dict[str, int] = {d: device_ports.get(d, port) for d in regmap.devices}
        groups: dict[int, dict[int, DeviceImage]] = {}
        for name, p in self._port_of.items():
            groups.setdefault(p, {})[self.images[name].unit_id] = self.images[name]
        self.stores: dict[int, PlantDatastore] = {
            p: PlantDatastore(imgs, points, exception_code) for p, imgs in groups.items()
        }
        self._servers: dict[int, _MapServer] = {}
        self._bound: dict[int, int] = {}  # configured port -> port bound (resolves 0)

    async def start(self) -> None:
        """Publish the plant's current values, then listen on every port.

        A restart after ``stop()`` listens on the same ports as before, port 0 included,
        so clients can reconnect as they would to a rebooted device.
        """
        if self._servers:
            return
        await self.publish()
        try:
            for port, store in self.stores.items():
                server = _MapServer(store, (self.host, self._bound.get(port, port)))
                await server.serve_forever(background=True)
                self._servers[port] = server
                self._bound[port] = server.bound_port
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            await server.shutdown()

    async def __aenter__(self) -> PlantModbusServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def publish(self) -> None:
        """Copy every point value the plant reports into the devices' registers."""
        values = self.points.point_values()
        for name, img in self.images.items():
            dev_values = values.get(name)
            if dev_values:
                img.publish(dev_values)

    @property
    def running(self) -> bool:
        return bool(self._servers)

    @property
    def endpoints(self) -> dict[str, tuple[str, int]]:
        """Device name -> (host, port) actually listening (resolves port 0)."""
        return {name: (self.host, self._bound.get(p, p)) for name, p in self._port_of.items()}
