"""Builds Objects/Plant in an asyncua server from the table in ``points``.

Why string NodeIds (``ns=<urn:heat-recovery:plant>;s=Plant/HeatPump/COP``): they
stay the same when a site adds a CDU, and an integrator can read them. Historized
nodes use them too; ``history.PlantHistory`` stores them under safe table names.

Why the nodes are added in one batch of AddNodes items instead of ``instantiate``:
it is the same node structure (AnalogItemType with EURange and EngineeringUnits,
TwoStateDiscreteType with its state texts, MultiStateDiscreteType with EnumStrings),
but with deterministic NodeIds for the properties (the NodeSet2 export is compared
byte for byte) and without the optional, never-filled children ``instantiate``
creates.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from asyncua import Server, ua

from controller.opcua.model import SETPOINT_NAMES
from controller.opcua.points import (
    KIND_TYPES,
    SETPOINTS_PATH,
    Kind,
    PlantShape,
    PointDef,
    plant_points,
    snapshot_keys,
)
from controller.opcua.uatyped import node_id, property_id, status_code
from controller.opcua.units import eu_information
from controller.signaltable import SIGNALS, Signal

__all__ = [
    "NAMESPACE_URI",
    "SETPOINTS_PATH",
    "Kind",
    "PlantAddressSpace",
    "PlantShape",
    "PointDef",
    "PointNode",
    "build_address_space",
    "plant_points",
    "snapshot_keys",
]

NAMESPACE_URI = "urn:heat-recovery:plant"
ROOT = "Plant"
CONDITIONS = "Alarms/Conditions"  # one object per alarm, made when it first fires
FOLDERS = frozenset({"", "CDUs", "Pumps", CONDITIONS})  # containers (Organizes)
ACK_METHOD = "Alarms/Acknowledge"
_O = ua.ObjectIds


@dataclass(slots=True)
class PointNode:
    """A built variable plus what the publisher remembers of it."""

    point: PointDef
    nodeid: ua.NodeId
    last: object = None  # (value, quality) last written; None: never


@dataclass(slots=True)
class PlantAddressSpace:
    ns: int
    root: ua.NodeId
    points: dict[str, PointNode]
    ack_method: ua.NodeId
    alarms: ua.NodeId
    node_ids: list[ua.NodeId] = field(default_factory=list)  # every node, parents first

    def nodeid(self, path: str) -> ua.NodeId:
        return node_id(f"{ROOT}/{path}" if path else ROOT, self.ns)

    def setpoints(self) -> dict[ua.NodeId, PointNode]:
        return {
            n.nodeid: n
            for n in self.points.values()
            if n.point.writable and n.point.name in SETPOINT_NAMES
        }


def _objects_of(points: list[PointDef]) -> Iterator[str]:
    seen: set[str] = set()
    for p in points:
        parts = p.parent.split("/")
        for i in range(1, len(parts) + 1):
            path = "/".join(parts[:i])
            if path not in seen:
                seen.add(path)
                yield path


def _object_item(
    ns: int, nodeid: ua.NodeId, parent: ua.NodeId, name: str, folder: bool, parent_is_folder: bool
) -> ua.AddNodesItem:
    item = ua.AddNodesItem()
    item.RequestedNewNodeId = nodeid
    item.BrowseName = ua.QualifiedName(name, ns)
    item.ParentNodeId = parent
    item.ReferenceTypeId = node_id(_O.Organizes if parent_is_folder else _O.HasComponent)
    item.NodeClass = ua.NodeClass.Object
    item.TypeDefinition = node_id(_O.FolderType if folder else _O.BaseObjectType)
    attrs = ua.ObjectAttributes()
    attrs.DisplayName = ua.LocalizedText(name)
    attrs.Description = ua.LocalizedText(name)
    attrs.EventNotifier = 0
    attrs.WriteMask = attrs.UserWriteMask = 0
    item.NodeAttributes = attrs
    return item


def _variable_item(
    nodeid: ua.NodeId,
    parent: ua.NodeId,
    bname: ua.QualifiedName,
    description: str,
    *,
    property_: bool,
    typedef: int,
    dtype: int,
    value: ua.Variant,
    rank: int = -1,
    dims: list[int] | None = None,
    writable: bool = False,
) -> ua.AddNodesItem:
    item = ua.AddNodesItem()
    item.RequestedNewNodeId = nodeid
    item.BrowseName = bname
    item.ParentNodeId = parent
    item.ReferenceTypeId = node_id(_O.HasProperty if property_ else _O.HasComponent)
    item.NodeClass = ua.NodeClass.Variable
    item.TypeDefinition = node_id(_O.PropertyType if property_ else typedef)
    attrs = ua.VariableAttributes()
    attrs.DisplayName = ua.LocalizedText(bname.Name)
    attrs.Description = ua.LocalizedText(description)
    attrs.DataType = node_id(dtype)
    attrs.Value = value
    attrs.ValueRank = rank
    # None, not [], for a scalar: asyncua encodes it as a null array (its hint says list).
    attrs.ArrayDimensions = dims  # type: ignore[assignment]
    access = ua.AccessLevel.CurrentRead.mask
    if writable:
        access |= ua.AccessLevel.CurrentWrite.mask
    attrs.AccessLevel = attrs.UserAccessLevel = access
    attrs.WriteMask = attrs.UserWriteMask = 0
    attrs.Historizing = False
    item.NodeAttributes = attrs
    return item


def _property_items(p: PointDef, nodeid: ua.NodeId) -> list[ua.AddNodesItem]:
    """EURange/EngineeringUnits, TrueState/FalseState or EnumStrings, per the type."""

    def prop(name: str, dtype: int, value: ua.Variant, rank: int = -1) -> ua.AddNodesItem:
        pid = property_id(nodeid, name)
        return _variable_item(
            pid,
            nodeid,
            ua.QualifiedName(name, 0),
            name,
            property_=True,
            typedef=_O.PropertyType,
            dtype=dtype,
            value=value,
            rank=rank,
        )

    items: list[ua.AddNodesItem] = []
    if p.kind in (Kind.ANALOG, Kind.ANALOG_ARRAY):
        lo, hi = p.eu_range or (0.0, 0.0)
        items.append(prop("EURange", _O.Range, ua.Variant(ua.Range(Low=lo, High=hi))))
        if p.unit:
            items.append(
                prop("EngineeringUnits", _O.EUInformation, ua.Variant(eu_information(p.unit)))
            )
    elif p.kind is Kind.TWO_STATE:
        true_text, false_text = p.states
        items.append(prop("TrueState", _O.LocalizedText, ua.Variant(ua.LocalizedText(true_text))))
        items.append(prop("FalseState", _O.LocalizedText, ua.Variant(ua.LocalizedText(false_text))))
    elif p.kind is Kind.MULTI_STATE:
        texts = [ua.LocalizedText(s) for s in p.states]
        items.append(
            prop(
                "EnumStrings",
                _O.LocalizedText,
                ua.Variant(texts, ua.VariantType.LocalizedText),
                rank=1,
            )
        )
    return items


def _initial_value(p: PointDef) -> ua.Variant:
    if p.kind is Kind.STRING_ARRAY:
        return ua.Variant([], ua.VariantType.String)
    if p.kind is Kind.UINT32 and p.path.startswith("Alarms/"):
        return ua.Variant(0, ua.VariantType.UInt32)
    return ua.Variant()  # null until the first publish (status BadWaitingForInitialData)


async def build_address_space(
    server: Server, shape: PlantShape, table: Sequence[Signal] = SIGNALS
) -> PlantAddressSpace:
    """Add Objects/Plant and everything below it to a server that is initialised but
    not yet started. The Acknowledge method is created without a callback; the
    running server binds its own. The variables are the rows of ``table``.
    """
    ns = await server.register_namespace(NAMESPACE_URI)
    points = plant_points(shape, table)

    def nid(path: str) -> ua.NodeId:
        return node_id(f"{ROOT}/{path}" if path else ROOT, ns)

    items = [_object_item(ns, nid(""), node_id(_O.ObjectsFolder), ROOT, True, True)]
    for path in [*_objects_of(points), CONDITIONS]:
        parent, _, name = path.rpartition("/")
        items.append(
            _object_item(ns, nid(path), nid(parent), name, path in FOLDERS, parent in FOLDERS)
        )
    built: dict[str, PointNode] = {}
    for p in points:
        typedef, dtype, _, rank = KIND_TYPES[p.kind]
        nodeid = nid(p.path)
        dims = [p.length] if rank == 1 else None
        items.append(
            _variable_item(
                nodeid,
                nid(p.parent),
                ua.QualifiedName(p.name, ns),
                p.description,
                property_=False,
                typedef=typedef,
                dtype=dtype,
                value=_initial_value(p),
                rank=rank,
                dims=dims,
                writable=p.writable,
            )
        )
        items += _property_items(p, nodeid)
        built[p.path] = PointNode(p, nodeid)

    ack = nid(ACK_METHOD)
    items += _method_items(ns, ack, nid("Alarms"))
    results = await server.iserver.isession.add_nodes(items)
    for item, res in zip(items, results, strict=True):
        if not res.StatusCode.is_good():
            raise RuntimeError(f"cannot add {item.RequestedNewNodeId}: {res.StatusCode}")
    waiting = ua.DataValue(StatusCode=status_code(ua.StatusCodes.BadWaitingForInitialData))
    for node in built.values():
        if not node.point.path.startswith("Alarms/"):
            await server.write_attribute_value(node.nodeid, waiting)
    return PlantAddressSpace(
        ns=ns,
        root=nid(""),
        points=built,
        ack_method=ack,
        alarms=nid("Alarms"),
        node_ids=[i.RequestedNewNodeId for i in items],
    )


def _method_items(ns: int, method: ua.NodeId, parent: ua.NodeId) -> list[ua.AddNodesItem]:
    item = ua.AddNodesItem()
    item.RequestedNewNodeId = method
    item.BrowseName = ua.QualifiedName("Acknowledge", ns)
    item.ParentNodeId = parent
    item.ReferenceTypeId = node_id(_O.HasComponent)
    item.NodeClass = ua.NodeClass.Method
    attrs = ua.MethodAttributes()
    attrs.DisplayName = ua.LocalizedText("Acknowledge")
    attrs.Description = ua.LocalizedText(
        "Acknowledge an alarm of the active-alarm list (utility and admin roles)"
    )
    attrs.Executable = attrs.UserExecutable = True
    attrs.WriteMask = attrs.UserWriteMask = 0
    item.NodeAttributes = attrs
    args = [
        ua.Argument(
            Name="AlarmId",
            DataType=node_id(_O.String),
            ValueRank=-1,
            Description=ua.LocalizedText("Id from Alarms/ActiveAlarmIds"),
        ),
        ua.Argument(
            Name="Comment",
            DataType=node_id(_O.String),
            ValueRank=-1,
            Description=ua.LocalizedText("Free text kept in the audit log"),
        ),
    ]
    prop = _variable_item(
        property_id(method, "InputArguments"),
        method,
        ua.QualifiedName("InputArguments", 0),
        "InputArguments",
        property_=True,
        typedef=_O.PropertyType,
        dtype=_O.Argument,
        value=ua.Variant(args, ua.VariantType.ExtensionObject),
        rank=1,
        dims=[len(args)],
    )
    return [item, prop]
