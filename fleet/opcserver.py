"""The fleet's OPC UA endpoint for the utility: ``Objects/Sites/<site>/...``.

Each site's subtree is built from its birth certificates: the metric names are the
section 5 browse paths and their properties carry what the address space needs,
so the same node classes, types, units and ranges appear as on the site's own
server (``controller.opcua.addressspace`` builds both). Values carry the site's
quality; while the site is offline every value is Bad (BadNoCommunication), never
a good-looking last number.

Writes go through the site server's ``SetpointGuard`` (role, type, range, audit),
one guard per site, with one check added: a site that is offline refuses with
BadNoCommunication, since the write could not reach it. An accepted write is
handed to the host, which sends it to that site alone as a DCMD.

Like the site server, this runs in its own thread and event loop: the host's MQTT
and database work never waits for an OPC UA client.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asyncua import ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.internal_session import InternalSession

from controller import __version__
from controller.opcua.addressspace import (
    NAMESPACE_URI,
    PlantAddressSpace,
    PointNode,
    _object_item,
    _property_items,
    _variable_item,
)
from controller.opcua.audit import log
from controller.opcua.certs import ClientTrust, ensure_server_certificate, pki_dirs
from controller.opcua.model import Reading, SetpointWrite
from controller.opcua.points import KIND_TYPES, PointDef
from controller.opcua.security import PlantRuleset, PlantUser, PlantUserManager
from controller.opcua.settings import OpcUaSettings
from controller.opcua.transport import PlantOpcServer
from controller.opcua.uatyped import node_id, status_code, ua_time
from controller.opcua.values import datavalue_of
from controller.opcua.writes import SetpointGuard

SITES = "Sites"
FOLDERS = frozenset({"CDUs", "Pumps"})
_O = ua.ObjectIds
_INTERNAL = User(role=UserRole.Admin)
_OFFLINE = status_code(ua.StatusCodes.BadNoCommunication)

WriteRoute = Callable[[str, SetpointWrite], None]
BUILD_CHUNK = 32
BUILD_PAUSE_S = 0.005
"""A site's subtree (a few hundred nodes) is added in chunks with a pause between:
without it, 50 sites born together held the GIL for seconds and the host's MQTT
thread, which needs the GIL after every socket read, fell seconds behind."""


class _SiteGuard(SetpointGuard):
    """The site server's checks, then: is the site there to take the write?"""

    def __init__(self, *args: Any, online: Callable[[], bool], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._online = online

    def _check(self, item: ua.WriteValue, node: Any, variant: Any, user: PlantUser) -> int | None:
        code = super()._check(item, node, variant, user)
        if code is None and not self._online():
            return ua.StatusCodes.BadNoCommunication
        return code


@dataclass(slots=True)
class SiteTree:
    name: str
    signature: tuple[Any, ...]
    plant: PlantAddressSpace
    guard: _SiteGuard
    node_ids: list[ua.NodeId]
    online: bool = False
    last: dict[str, Reading] = field(default_factory=dict)


def _signature(points: list[PointDef]) -> tuple[Any, ...]:
    return tuple(
        (p.path, p.kind, p.unit, p.eu_range, p.states, p.writable, p.length) for p in points
    )


class FleetOpcServer:
    """Thread-safe facade: every call queues work for the server loop and returns."""

    def __init__(
        self,
        settings: OpcUaSettings,
        route_write: WriteRoute,
        link_ok: Callable[[], bool] = lambda: True,
    ) -> None:
        self.settings = settings
        self._route = route_write
        self._link_ok = link_ok
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._server: PlantOpcServer | None = None
        self._ns = 0
        self._sites: dict[str, SiteTree] = {}
        self._site_of: dict[ua.NodeId, str] = {}
        self._pending: deque[Callable[[], Coroutine[Any, Any, None]]] = deque()
        self._wake: asyncio.Event | None = None
        self._original_write: Any = None
        self._none_guard: SetpointGuard | None = None
        self.port = settings.port

    # ------------------------------------------------------------ lifecycle
    def start(self, timeout: float = 60.0) -> None:
        self._thread = threading.Thread(target=self._main, name="fleet-opcua", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("fleet OPC UA server did not start")
        if self._error is not None:
            raise self._error

    def stop(self, timeout: float = 15.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def endpoint_url(self) -> str:
        return f"opc.tcp://{self.settings.host}:{self.port}"

    # ------------------------------------------------------------ host -> server
    def site_birth(self, site: str, points: list[PointDef]) -> None:
        self._submit(lambda: self._birth(site, points))

    def site_values(self, site: str, values: Mapping[str, Reading]) -> None:
        vals = dict(values)
        self._submit(lambda: self._values(site, vals))

    def site_online(self, site: str, online: bool) -> None:
        self._submit(lambda: self._liveness(site, online))

    def sites(self) -> dict[str, bool]:
        return {name: t.online for name, t in self._sites.items()}

    def _submit(self, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._pending.append(job)
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    # ------------------------------------------------------------ server thread
    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        try:
            server = await self._build()
            await server.start()
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        assert server.bserver is not None
        self.port = server.bserver.port
        self._server = server
        self._loop = asyncio.get_running_loop()
        self._ready.set()
        log.info("fleet.opcua_started", endpoint=self.endpoint_url)
        stop_task = asyncio.create_task(self._stop.wait())
        try:
            while not self._stop.is_set():
                wake_task = asyncio.create_task(self._wake.wait())
                await asyncio.wait({stop_task, wake_task}, return_when=asyncio.FIRST_COMPLETED)
                wake_task.cancel()
                self._wake.clear()
                while self._pending:
                    job = self._pending.popleft()
                    try:
                        await job()
                    except Exception:
                        log.exception("fleet.opcua_update_failed")
        finally:
            task = server.iserver.time_task
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                server.iserver.time_task = None
            await server.stop()

    async def _build(self) -> PlantOpcServer:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        _, rejected = pki_dirs(s.data_dir)
        s.trusted_dir().mkdir(parents=True, exist_ok=True)
        server = PlantOpcServer(user_manager=PlantUserManager(s.users, s.allow_anonymous))
        InternalSession.max_connections = s.max_sessions
        await server.init()
        server.set_endpoint(s.endpoint_url)
        server.set_server_name(s.server_name)
        await server.set_application_uri(s.application_uri)
        await server.set_build_info(
            "urn:heat-recovery:fleet", "heat-recovery", s.server_name, __version__, "0",
            datetime.now(UTC),
        )  # fmt: skip
        cert = await asyncio.to_thread(
            ensure_server_certificate,
            s.data_dir,
            s.application_uri,
            s.server_name,
            [socket.gethostname(), "localhost"],
        )
        await server.load_certificate(str(cert.cert_path))
        await server.load_private_key(str(cert.key_path))
        policies = [
            ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
            ua.SecurityPolicyType.Basic256Sha256_Sign,
        ]
        if s.allow_none_security:
            policies.append(ua.SecurityPolicyType.NoSecurity)
        # asyncua's hint names its SimpleRoleRuleset; it takes any PermissionRuleset.
        server.set_security_policy(policies, permission_ruleset=PlantRuleset())  # type: ignore[arg-type]
        tokens: list[type] = [ua.UserNameIdentityToken]
        if s.allow_anonymous:
            tokens.append(ua.AnonymousIdentityToken)
        server.set_identity_tokens(tokens)
        trust = ClientTrust(s.trusted_dir(), rejected)
        await trust.refresh()
        server.set_certificate_validator(trust)
        self._ns = await server.register_namespace(NAMESPACE_URI)
        root = _object_item(
            self._ns, self._nid(SITES), node_id(_O.ObjectsFolder), SITES, True, True
        )
        await self._add(server, [root])
        iserver = server.iserver
        self._original_write = iserver.attribute_service.write
        empty = PlantAddressSpace(
            self._ns, self._nid(SITES), {}, self._nid(SITES), self._nid(SITES)
        )
        self._none_guard = SetpointGuard(
            empty, iserver.aspace, self._original_write, lambda w: None
        )
        iserver.attribute_service.write = self._write  # type: ignore[method-assign]
        return server

    def _nid(self, path: str) -> ua.NodeId:
        return node_id(path, self._ns)

    @staticmethod
    async def _add(server: PlantOpcServer, items: list[ua.AddNodesItem]) -> None:
        results = await server.iserver.isession.add_nodes(items)
        for item, res in zip(items, results, strict=True):
            if not res.StatusCode.is_good():
                raise RuntimeError(f"cannot add {item.RequestedNewNodeId}: {res.StatusCode}")

    # ------------------------------------------------------------ writes
    async def _write(self, params: ua.WriteParameters, user: User = _INTERNAL) -> list[Any]:
        if not isinstance(user, PlantUser):
            return await self._original_write(params, user=user)
        out = []
        for item in params.NodesToWrite:
            site = self._site_of.get(item.NodeId)
            tree = self._sites.get(site) if site is not None else None
            guard = tree.guard if tree is not None else self._none_guard
            assert guard is not None
            out.append(await guard._write_one(item, user))
        return out

    # ------------------------------------------------------------ tree and values
    async def _birth(self, site: str, points: list[PointDef]) -> None:
        server = self._server
        assert server is not None
        sig = _signature(points)
        tree = self._sites.get(site)
        if tree is not None and tree.signature == sig:
            await self._liveness(site, True)
            return
        if tree is not None:
            await server.delete_nodes(
                [server.get_node(n) for n in tree.node_ids[:1]], recursive=True
            )
            for n in tree.node_ids:
                self._site_of.pop(n, None)
        base = f"{SITES}/{site}"
        items = [_object_item(self._ns, self._nid(base), self._nid(SITES), site, False, True)]
        seen: set[str] = set()
        built: dict[str, PointNode] = {}
        for p in points:
            parts = p.parent.split("/") if p.parent else []
            for i in range(1, len(parts) + 1):
                obj = "/".join(parts[:i])
                if obj in seen:
                    continue
                seen.add(obj)
                parent = "/".join(parts[: i - 1])
                items.append(
                    _object_item(
                        self._ns,
                        self._nid(f"{base}/{obj}"),
                        self._nid(f"{base}/{parent}" if parent else base),
                        parts[i - 1],
                        obj in FOLDERS,
                        parent in FOLDERS,
                    )
                )
            typedef, dtype, _, rank = KIND_TYPES[p.kind]
            nodeid = self._nid(f"{base}/{p.path}")
            items.append(
                _variable_item(
                    nodeid,
                    self._nid(f"{base}/{p.parent}" if p.parent else base),
                    ua.QualifiedName(p.name, self._ns),
                    p.description,
                    property_=False,
                    typedef=typedef,
                    dtype=dtype,
                    value=ua.Variant(),
                    rank=rank,
                    dims=[p.length] if rank == 1 else None,
                    writable=p.writable,
                )
            )
            items += _property_items(p, nodeid)
            built[p.path] = PointNode(p, nodeid)
        for i in range(0, len(items), BUILD_CHUNK):
            await self._add(server, items[i : i + BUILD_CHUNK])
            await asyncio.sleep(BUILD_PAUSE_S)
        plant = PlantAddressSpace(
            self._ns, self._nid(base), built, self._nid(base), self._nid(base)
        )
        iserver = server.iserver
        guard = _SiteGuard(
            plant,
            iserver.aspace,
            self._original_write,
            lambda w: self._route(site, w),
            online=lambda: self._sites[site].online and self._link_ok(),
        )
        ids = [i.RequestedNewNodeId for i in items]
        self._sites[site] = SiteTree(site, sig, plant, guard, ids, online=True)
        for n in ids:
            self._site_of[n] = site
        log.info("fleet.opcua_site_built", site=site, variables=len(built))

    async def _values(self, site: str, values: Mapping[str, Reading]) -> None:
        tree = self._sites.get(site)
        server = self._server
        if tree is None or server is None:
            return
        tree.last.update(values)
        if tree.online:
            await self._write_values(tree, values)

    async def _write_values(self, tree: SiteTree, values: Mapping[str, Reading]) -> None:
        server = self._server
        assert server is not None
        now = datetime.now(UTC)
        aspace = server.iserver.aspace
        for path, r in values.items():
            node = tree.plant.points.get(path)
            if node is None:
                continue
            try:
                dv = datavalue_of(node.point, r, now)
            except (TypeError, ValueError):
                continue
            await aspace.write_attribute_value(node.nodeid, ua.AttributeIds.Value, dv)

    async def _liveness(self, site: str, online: bool) -> None:
        tree = self._sites.get(site)
        server = self._server
        if tree is None or server is None or tree.online == online:
            if tree is not None:
                tree.online = online
            return
        tree.online = online
        if online:
            await self._write_values(tree, tree.last)
            return
        now = datetime.now(UTC)
        aspace = server.iserver.aspace
        for node in tree.plant.points.values():
            dv = ua.DataValue(ua.Variant(), StatusCode=_OFFLINE, ServerTimestamp=ua_time(now))
            await aspace.write_attribute_value(node.nodeid, ua.AttributeIds.Value, dv)
        log.info("fleet.opcua_site_offline", site=site)
