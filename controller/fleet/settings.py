"""The ``[fleet]`` section of the site file: the Sparkplug B edge node (off by default).

Strict like every settings section: unknown keys are refused, numbers must be
numbers (no "5" for 5), floats finite. Paths are strings resolved against the
site file by the daemon. The broker password can come from the environment
(``HRC_FLEET__PASSWORD``) instead of the file.
"""

from __future__ import annotations

import re
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from controller.fleet.sparkplug import check_id

_ID = r"^[^/+#\s]{1,128}$"
Port = Annotated[int, Field(ge=1, le=65535)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class MqttTls(_Strict):
    """TLS to the broker. Without ``ca_file`` the system's trusted CAs are used."""

    enabled: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    """Client certificate (brokers that authenticate clients by certificate)."""
    key_file: str | None = None
    insecure: bool = False
    """Skip the host-name check (a test broker with a self-made certificate only)."""

    @model_validator(mode="after")
    def _pair(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls.cert_file and tls.key_file go together")
        return self


class MqttConnection(_Strict):
    """Where an MQTT client connects and how it authenticates; shared with the fleet host."""

    host: str = "127.0.0.1"
    port: Port = 1883
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    """Default: derived from the node or host id."""
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    tls: MqttTls = MqttTls()
    reconnect_min_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    reconnect_max_s: Annotated[float, Field(gt=0, le=600)] = 30.0


class FleetSettings(_Strict):
    enabled: bool = False
    group: Annotated[str, Field(pattern=_ID)] = "heatrecovery"
    """Sparkplug group id: the operator or the heat network."""
    edge_node: Annotated[str, Field(pattern=_ID)] | None = None
    """Sparkplug edge node id; default: the site name with anything but letters, digits,
    '-' and '_' replaced by '-'."""
    mqtt: MqttConnection = MqttConnection()
    primary_host: Annotated[str, Field(pattern=_ID)] | None = None
    """Host application id whose STATE gates publishing (spec 5.9): while it is not
    online, data goes to the spool. None: publish whenever the broker is reachable."""
    spool_path: str = "var/fleet/spool.sqlite"
    """Store-and-forward file (and the edge node's bdSeq and ledger cursor)."""
    spool_max_messages: Annotated[int, Field(ge=1000, le=100_000_000)] = 2_000_000
    """Oldest spooled data messages are dropped (counted, logged) beyond this."""
    deadband_pct: Annotated[float, Field(ge=0, le=10)] = 0.2
    """Report-by-exception deadband of analog values, % of the value's EURange."""
    max_queue: Annotated[int, Field(ge=1, le=100_000)] = 600
    """Snapshots waiting for the edge thread; beyond, the oldest is dropped."""
    ledger_poll_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    ledger_resend_s: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    """A ledger row the host has not confirmed is sent again after this long."""
    ledger_batch: Annotated[int, Field(ge=1, le=1000)] = 96

    @model_validator(mode="after")
    def _ids(self) -> Self:
        check_id("fleet.group", self.group)
        if self.mqtt.reconnect_min_s > self.mqtt.reconnect_max_s:
            raise ValueError("fleet.mqtt.reconnect_min_s exceeds reconnect_max_s")
        return self

    def node_id(self, site_name: str) -> str:
        if self.edge_node is not None:
            return self.edge_node
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", site_name).strip("-")[:128]
        return slug or "site"
