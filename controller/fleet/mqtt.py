"""A paho-mqtt client configured from ``MqttConnection``: TLS, credentials, back-off.

MQTT 3.1.1 with a clean session, as Sparkplug 3.0 asks of edge nodes and hosts
(state lives in births, not in broker sessions). paho runs its own network thread
(``loop_start``) and reconnects by itself, with the back-off given here.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from controller.fleet.settings import MqttConnection

Resolve = Callable[[str], Path]


def make_client(conn: MqttConnection, client_id: str, resolve: Resolve = Path) -> paho.Client:
    client = paho.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=conn.client_id or client_id,
        clean_session=True,
        protocol=paho.MQTTv311,
    )
    if conn.username is not None:
        client.username_pw_set(conn.username, conn.password)
    tls = conn.tls
    if tls.enabled:
        client.tls_set(
            ca_certs=str(resolve(tls.ca_file)) if tls.ca_file else None,
            certfile=str(resolve(tls.cert_file)) if tls.cert_file else None,
            keyfile=str(resolve(tls.key_file)) if tls.key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
        client.tls_insecure_set(tls.insecure)
    client.reconnect_delay_set(
        min_delay=max(1, round(conn.reconnect_min_s)), max_delay=round(conn.reconnect_max_s)
    )
    client.max_queued_messages_set(0)
    return client
