"""OPC UA server for the utility's SCADA (DESIGN.md section 5).

The daemon builds a ``ScadaServer`` from ``OpcUaSettings`` and the plant's
``PlantShape``, calls ``publish``/``alarm_update`` every scan and reads back
``take_setpoints``/``take_acknowledgements``. See docs/opcua.md.
"""

from controller.opcua.addressspace import NAMESPACE_URI, PlantShape, snapshot_keys
from controller.opcua.model import Reading, SetpointWrite
from controller.opcua.process import ScadaProcess
from controller.opcua.server import ScadaServer, ScadaStats
from controller.opcua.settings import OpcUaSettings, OpcUaUser, hash_password


def create_scada_server(settings: OpcUaSettings, shape: PlantShape) -> ScadaServer | ScadaProcess:
    """The server as ``settings.isolation`` asks; both have the same methods."""
    if settings.isolation == "process":
        return ScadaProcess(settings, shape)
    return ScadaServer(settings, shape)


__all__ = [
    "NAMESPACE_URI",
    "OpcUaSettings",
    "OpcUaUser",
    "PlantShape",
    "Reading",
    "ScadaProcess",
    "ScadaServer",
    "ScadaStats",
    "SetpointWrite",
    "create_scada_server",
    "hash_password",
    "snapshot_keys",
]
