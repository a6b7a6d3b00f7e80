"""The OPC UA variables of DESIGN.md section 5, as the server and its tools import them.

The definitions live in ``controller.plantpoints`` and the rows in the site's signal
table (``controller.signaltable``); this module keeps the names the server, the
NodeSet2 export and the fleet have always imported.
"""

from controller.plantpoints import (
    KIND_TYPES,
    SETPOINTS_PATH,
    Kind,
    PlantShape,
    PointDef,
    map_ranges,
    reference_ranges,
    top,
)
from controller.signaltable import plant_points, snapshot_keys

__all__ = [
    "KIND_TYPES",
    "SETPOINTS_PATH",
    "Kind",
    "PlantShape",
    "PointDef",
    "map_ranges",
    "plant_points",
    "reference_ranges",
    "snapshot_keys",
    "top",
]
