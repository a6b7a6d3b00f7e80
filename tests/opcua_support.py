"""Shared helpers for the OPC UA tests: settings, client certificates, clients, browsing."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from asyncua import Client, Node, ua
from asyncua.client.ua_client import UaClientState
from asyncua.crypto import cert_gen
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import UniformResourceIdentifier
from cryptography.x509.oid import ExtendedKeyUsageOID

from controller.opcua.addressspace import NAMESPACE_URI
from controller.opcua.passwords import hash_password
from controller.opcua.settings import OpcUaSettings, OpcUaUser

PASSWORDS = {"operator": "op-secret", "utility": "ut-secret", "admin": "ad-secret"}
_HASHES: dict[str, str] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def users() -> list[OpcUaUser]:
    """One user per role, named like the role (hashing once per test run)."""
    out = []
    for role, pw in PASSWORDS.items():
        if role not in _HASHES:
            _HASHES[role] = hash_password(pw, n=2**12)  # cheap for tests; format as real
        out.append(OpcUaUser(name=role, password_hash=_HASHES[role], role=role))  # type: ignore[arg-type]
    return out


def settings(data_dir: Path, **overrides: Any) -> OpcUaSettings:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": free_port(),
        "allow_none_security": True,
        "allow_anonymous": True,
        "data_dir": data_dir,
        "users": users(),
    }
    base.update(overrides)
    return OpcUaSettings(**base)


def client_certificate(folder: Path, name: str, uri: str) -> tuple[Path, Path]:
    """A self-signed client application certificate (DER) and key (PEM)."""
    folder.mkdir(parents=True, exist_ok=True)
    key = cert_gen.generate_private_key()
    cert = cert_gen.generate_self_signed_app_certificate(
        key,
        name,
        {"organizationName": "test utility"},
        [UniformResourceIdentifier(uri)],
        extended=[ExtendedKeyUsageOID.CLIENT_AUTH],
        days=30,
    )
    cert_path, key_path = folder / f"{name}.der", folder / f"{name}.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    key_path.write_bytes(cert_gen.dump_private_key_as_pem(key))
    return cert_path, key_path


def bind_source(client: Client, source_ip: str) -> None:
    """Make the client connect from ``source_ip`` (any 127.x.y.z is local on Linux),
    so one test can play clients on different hosts."""
    uac = client.uaclient

    async def connect_socket(host: str, port: int) -> None:
        uac._set_state(UaClientState.CONNECTING)
        await asyncio.wait_for(
            asyncio.get_running_loop().create_connection(
                uac._make_protocol, host, port, local_addr=(source_ip, 0)
            ),
            uac._timeout,
        )
        uac._set_state(UaClientState.SOCKET_OPEN)

    uac.connect_socket = connect_socket  # type: ignore[method-assign]


@asynccontextmanager
async def connect(
    url: str,
    user: str | None = None,
    *,
    password: str | None = None,
    cert: tuple[Path, Path, str] | None = None,
    server_cert: Path | None = None,
    mode: ua.MessageSecurityMode = ua.MessageSecurityMode.SignAndEncrypt,
    request_timeout: float = 4.0,
    source: str | None = None,
) -> AsyncIterator[Client]:
    client = Client(url, timeout=request_timeout)
    if source is not None:
        bind_source(client, source)
    if user is not None:
        client.set_user(user)
        client.set_password(password if password is not None else PASSWORDS.get(user, ""))
    if cert is not None:
        cert_path, key_path, uri = cert
        client.application_uri = uri
        await client.set_security(
            SecurityPolicyBasic256Sha256,
            certificate=str(cert_path),
            private_key=str(key_path),
            server_certificate=str(server_cert) if server_cert else None,
            mode=mode,
        )
    async with client:
        yield client


async def plant_node(client: Client, path: str) -> Node:
    ns = await client.get_namespace_index(NAMESPACE_URI)
    parts = ["Plant", *[p for p in path.split("/") if p]]
    return await client.nodes.objects.get_child([f"{ns}:{p}" for p in parts])


async def browse_variables(node: Node, prefix: str = "") -> dict[str, Node]:
    """Every variable below ``node`` (objects recursed, properties skipped)."""
    found: dict[str, Node] = {}
    for child in await node.get_children(refs=ua.ObjectIds.HierarchicalReferences):
        name = (await child.read_browse_name()).Name
        cls = await child.read_node_class()
        path = f"{prefix}{name}"
        if cls == ua.NodeClass.Object:
            found.update(await browse_variables(child, path + "/"))
        elif cls == ua.NodeClass.Variable:
            found[path] = child
    return found
