"""The fleet host's file (``config/fleet.toml``): broker, database, OPC UA endpoint.

Strict like the site file: unknown keys are errors, numbers must be numbers and
finite. Environment overrides use the prefix ``HRF_`` with ``__`` for nesting
(``HRF_DATABASE__DSN=...``, ``HRF_MQTT__PASSWORD=...``), so secrets need not be in
the file.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from controller.config.tomlfile import (
    ConfigError,
    ConfigProblem,
    locate_lines,
    problems_from_validation,
)
from controller.fleet.settings import MqttConnection
from controller.opcua.settings import OpcUaSettings

_ID = r"^[^/+#\s]{1,128}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class DatabaseSettings(_Strict):
    dsn: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    schema_name: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] = "fleet"
    """PostgreSQL schema holding the fleet's tables and views."""
    timescaledb: Literal["auto", "off"] = "auto"
    """auto: make the time series a TimescaleDB hypertable when the extension is
    installed on the server; otherwise (and with off) native daily partitions."""
    flush_interval_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    retry_s: Annotated[float, Field(gt=0, le=300)] = 2.0
    max_pending_samples: Annotated[int, Field(ge=1000, le=100_000_000)] = 2_000_000
    """Samples held in memory while the database is unreachable (oldest dropped)."""


OPCUA_DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "port": 4841,
    "data_dir": Path("var/fleet-opcua"),
    "application_uri": "urn:heat-recovery:fleet:host",
    "server_name": "Heat-recovery fleet",
}
"""The fleet's endpoint differs from a site's (port, names, folder); an ``[opcua]``
section in the file changes these defaults key by key."""


class FleetHostSettings(_Strict):
    host_id: Annotated[str, Field(pattern=_ID)] = "heatrecovery-fleet"
    """Sparkplug host application id: STATE is announced on spBv1.0/STATE/<host_id>."""
    group: Annotated[str, Field(pattern=_ID)] = "heatrecovery"
    mqtt: MqttConnection = MqttConnection()
    database: DatabaseSettings = DatabaseSettings()
    opcua: OpcUaSettings = OpcUaSettings(**OPCUA_DEFAULTS)
    rebirth_min_interval_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    """A node is asked for a rebirth at most this often (sequence gaps come in bursts)."""
    stats_interval_s: Annotated[float, Field(gt=0, le=3600)] = 10.0


ENV_PREFIX = "HRF_"


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``HRF_A__B=value`` as ``{"a": {"b": value}}``; values are read as JSON when they
    parse (numbers, true/false, lists), else kept as text, so strict types still hold."""
    out: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        parts = key[len(ENV_PREFIX) :].lower().split("__")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


def load_fleet_settings(path: Path | None) -> FleetHostSettings:
    """The file (or defaults when None), environment applied; ``ConfigError`` names the key."""
    data: dict[str, Any] = {}
    text = ""
    where = path or Path("<fleet settings>")
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(where, [ConfigProblem("", None, str(exc))]) from exc
    data = _merge({"opcua": OPCUA_DEFAULTS}, _merge(data, env_overrides(os.environ)))
    try:
        s = FleetHostSettings(**data)
    except ValidationError as exc:
        raise ConfigError(where, problems_from_validation(exc, locate_lines(text))) from exc
    if path is not None and not s.opcua.data_dir.is_absolute():
        s = s.model_copy(
            update={
                "opcua": s.opcua.model_copy(update={"data_dir": path.parent / s.opcua.data_dir})
            }
        )
    return s
