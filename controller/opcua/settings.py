"""The ``[opcua]`` section of the site file: endpoint, security, users, history.

Secure by default: no unencrypted endpoint and no anonymous access unless the site
file asks for them (the demo does). Users carry hashed passwords only; the
``heatrecovery opcua-user`` command prints the line to paste.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from controller.config.strictmodel import StrictModel
from controller.opcua.passwords import hash_password, parse_hash, verify_password

__all__ = ["OpcUaSettings", "OpcUaUser", "Role", "hash_password", "verify_password"]

Role = Literal["operator", "utility", "admin"]
"""operator: read, browse, subscribe, history. utility: also writes the DH setpoints
and acknowledges alarms. admin: the same rights as utility over OPC UA (it never
gets asyncua's address-space-editing Admin role)."""

WRITE_ROLES: frozenset[str] = frozenset({"utility", "admin"})


class OpcUaUser(StrictModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")]
    password_hash: str
    role: Role

    @field_validator("password_hash")
    @classmethod
    def _well_formed(cls, v: str) -> str:
        parse_hash(v)
        return v


class OpcUaSettings(StrictModel):
    """Embedded as ``[opcua]`` in the site file."""

    enabled: bool = True
    host: str = "0.0.0.0"
    port: Annotated[int, Field(ge=0, le=65535)] = 4840
    """0 picks a free port (tests); the product default is 4840."""
    allow_none_security: bool = False
    """Offer the unencrypted None endpoint. Off outside the demo: passwords would still
    be encrypted with the server certificate, but every value travels in clear."""
    allow_anonymous: bool = False
    """Allow sessions without a user; they are read-only (operator rights)."""
    data_dir: Path = Path("var/opcua")
    """Server certificate and key, PKI folders, history database. Relative paths are
    taken from the working directory; the daemon resolves them against the site file."""
    trusted_clients_dir: Path | None = None
    """Client application certificates (DER or PEM) trusted for Sign/SignAndEncrypt.
    None means ``<data_dir>/pki/trusted``. While the folder holds no certificate every
    client certificate is accepted (commissioning); once it holds one, only trusted
    ones are. Refused certificates are copied to ``<data_dir>/pki/rejected``."""
    users: list[OpcUaUser] = Field(default_factory=list)
    history_days: Annotated[int, Field(ge=7, le=3650)] = 14
    max_sessions: Annotated[int, Field(ge=1, le=1000)] = 50
    reserved_write_sessions: Annotated[int, Field(ge=0, le=100)] = 5
    """Of ``max_sessions``, this many are kept for the roles that may write (utility,
    admin): operator and anonymous sessions are refused (BadTooManySessions) once
    only these are left, so a crowd of readers never locks the utility out."""
    max_connections_per_address: Annotated[int, Field(ge=1, le=1000)] = 10
    node_operations_per_s_per_address: Annotated[int, Field(ge=0, le=10_000_000)] = 5000
    """Nodes read, browsed or monitored per second by the read-only sessions of one
    source address (0: unmetered); beyond it their requests are served late. The
    writing roles are never metered. 5000 is 30 Reads of every value of the plant
    per second."""
    """TCP connections one source address may hold (sessions and handshakes alike);
    a flood of half-open sockets from one host is cut here."""
    session_timeout_s: Annotated[float, Field(ge=5, le=3600)] = 600.0
    """Longest idle time a client may ask for; an abandoned session is closed after it."""
    isolation: Literal["thread", "process"] = "process"
    """Where the server runs: a child process at lower priority (the default: shares
    no GIL with the scan cycle) or a thread of the daemon (its own event loop, but a
    busy server holds the GIL the scan needs: a flood of 1000-node Reads made the
    scan 258-428 ms late at p99 in a thread, 11-18 ms in a process). See docs/opcua.md."""
    application_uri: str = "urn:heat-recovery:plant:controller"
    server_name: str = "Heat-recovery plant controller"

    @model_validator(mode="after")
    def _unique_users(self) -> Self:
        names = [u.name for u in self.users]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"opcua users defined twice: {', '.join(dupes)}")
        return self

    @property
    def endpoint_url(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}"

    def trusted_dir(self) -> Path:
        return self.trusted_clients_dir or self.data_dir / "pki" / "trusted"
