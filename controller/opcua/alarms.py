"""Controller alarms as OPC UA Alarms & Conditions events, plus the active-alarm list.

What asyncua 2.1 offers (libraries.md, section 2): the AlarmConditionType event
and ConditionRefresh of retained conditions, but no condition state machine and no
Acknowledge implementation. The state machine already lives in the controller's
ISA-18.2 alarm engine, so this module only mirrors it: every engine transition
becomes one AlarmConditionType event (Severity from the priority, ActiveState,
AckedState, Retain while the alarm is on the list), emitted by the Server object
where SCADA alarm clients subscribe, and the variables under Plant/Alarms show the
list itself.

Acknowledgement, two ways to the same place (the engine, via the daemon):
- ``Plant/Alarms/Acknowledge(AlarmId, Comment)``: simple for scripted SCADA.
- The standard ``AcknowledgeableConditionType.Acknowledge(EventId, Comment)`` called
  on the ConditionId (``Plant/Alarms/Conditions/<id>``), which is what generic alarm
  viewers send. A stale EventId (the condition changed since the operator saw it)
  is refused with BadEventIdUnknown.
Both require the utility or admin role and leave an audit record. The engine's ACK
transition then comes back as an event with AckedState true.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from asyncua import Server, ua

from controller.core.alarms import AlarmEvent, AlarmState, AlarmStatus, EventKind
from controller.opcua.addressspace import CONDITIONS, PlantAddressSpace
from controller.opcua.audit import audit
from controller.opcua.security import current_user
from controller.opcua.uatyped import node_id, status_code, ua_time

_ACTIVE = (AlarmStatus.ACTIVE_UNACKED, AlarmStatus.ACTIVE_ACKED)
_UNACKED = (AlarmStatus.ACTIVE_UNACKED, AlarmStatus.RTN_UNACKED)
_SUFFIX = {
    EventKind.CLEAR: " (cleared)",
    EventKind.RTN_UNACK: " (returned to normal)",
    EventKind.ACK: " (acknowledged)",
    EventKind.SHELVE: " (shelved)",
    EventKind.UNSHELVE: " (unshelved)",
    EventKind.SUPPRESS: " (suppressed)",
    EventKind.UNSUPPRESS: " (unsuppressed)",
}


def _utc(epoch: float | None) -> datetime:
    return datetime.fromtimestamp(epoch or 0.0, UTC)


def _line(s: AlarmState) -> str:
    raised = _utc(s.raised_at).strftime("%Y-%m-%dT%H:%M:%SZ") if s.raised_at else "-"
    return f"{s.id} | {s.priority} | {s.status} | {raised} | {s.message}"


class AlarmPublisher:
    """Lives on the server's event loop; fed by ``ScadaServer.alarm_update``."""

    def __init__(
        self, server: Server, plant: PlantAddressSpace, on_ack: Callable[[str, str], None]
    ) -> None:
        self._server = server
        self._plant = plant
        self._on_ack = on_ack
        self._gen: Any = None
        self._template: Any = None
        self._conditions: dict[str, Any] = {}  # alarm id -> its event object
        self._status: dict[str, AlarmStatus] = {}
        self._by_node: dict[ua.NodeId, str] = {}

    async def setup(self) -> None:
        server = self._server
        self._gen = await server.get_event_generator(
            ua.ObjectIds.AlarmConditionType, emitting_node=ua.ObjectIds.Server
        )
        self._template = copy.deepcopy(self._gen.event)
        session = server.iserver.isession
        session.add_method_callback(self._plant.ack_method, self._acknowledge_by_id)
        session.add_method_callback(
            node_id(ua.ObjectIds.AcknowledgeableConditionType_Acknowledge),
            self._acknowledge_condition,
        )

    # -- from the controller ------------------------------------------------------------

    async def apply(
        self, events: Sequence[AlarmEvent], active: Sequence[AlarmState], now: float
    ) -> None:
        for e in events:
            text = e.message + _SUFFIX.get(e.kind, "")
            comment = f"by {e.user}" if e.kind is EventKind.ACK and e.user else ""
            await self._emit(e.alarm_id, e.status, e.severity, text, e.time, e.user, comment)
        # Reconcile: the list is the truth, whatever events were missed or came first.
        listed = {s.id: s for s in active}
        for s in active:
            if self._status.get(s.id) != s.status:
                await self._emit(s.id, s.status, s.severity, s.message, s.changed_at or now)
        for alarm_id, status in list(self._status.items()):
            if alarm_id not in listed and status is not AlarmStatus.NORMAL:
                ev = self._conditions[alarm_id]
                await self._emit(alarm_id, AlarmStatus.NORMAL, ev.Severity, ev.Message.Text, now)
        await self._write_list(active, now)

    async def _emit(
        self,
        alarm_id: str,
        status: AlarmStatus,
        severity: int,
        message: str,
        when: float,
        user: str = "",
        comment: str = "",
    ) -> None:
        ev = self._conditions.get(alarm_id) or await self._new_condition(alarm_id)
        active = status in _ACTIVE
        acked = status not in _UNACKED
        ev.LastSeverity = ev.Severity or severity
        ev.Severity = severity
        ev.Retain = status is not AlarmStatus.NORMAL
        ev.ActiveState = ua.LocalizedText("Active" if active else "Inactive")
        setattr(ev, "ActiveState/Id", active)
        ev.AckedState = ua.LocalizedText("Acknowledged" if acked else "Unacknowledged")
        setattr(ev, "AckedState/Id", acked)
        ev.EnabledState = ua.LocalizedText("Enabled")
        setattr(ev, "EnabledState/Id", True)
        ev.ClientUserId = user
        ev.Comment = ua.LocalizedText(comment)
        ev.Quality = status_code(ua.StatusCodes.Good)
        self._gen.event = ev
        await self._gen.trigger(time_attr=_utc(when), message=message)
        self._status[alarm_id] = status

    async def _new_condition(self, alarm_id: str) -> Any:
        """A ConditionId node per alarm, so the standard Acknowledge has an object."""
        nodeid = self._plant.nodeid(f"{CONDITIONS}/{alarm_id}")
        if nodeid not in self._server.iserver.aspace:
            folder = self._server.get_node(self._plant.nodeid(CONDITIONS))
            await folder.add_object(nodeid, ua.QualifiedName(alarm_id, self._plant.ns))
        ev = copy.deepcopy(self._template)
        ev.NodeId = nodeid
        ev.SourceNode = self._plant.alarms
        ev.SourceName = alarm_id
        ev.ConditionName = alarm_id
        ev.Severity = 0
        self._conditions[alarm_id] = ev
        self._by_node[nodeid] = alarm_id
        return ev

    async def _write_list(self, active: Sequence[AlarmState], now: float) -> None:
        stamp = _utc(now)
        unacked = sum(1 for s in active if s.status in _UNACKED)
        values = {
            "Alarms/ActiveAlarms": ua.Variant([_line(s) for s in active], ua.VariantType.String),
            "Alarms/ActiveAlarmIds": ua.Variant([s.id for s in active], ua.VariantType.String),
            "Alarms/UnacknowledgedCount": ua.Variant(unacked, ua.VariantType.UInt32),
            "Status/ActiveAlarmCount": ua.Variant(len(active), ua.VariantType.UInt32),
        }
        for path, variant in values.items():
            node = self._plant.points[path]
            dv = ua.DataValue(
                variant, SourceTimestamp=ua_time(stamp), ServerTimestamp=ua_time(stamp)
            )
            await self._server.write_attribute_value(node.nodeid, dv)
            node.last = None  # a later publish of the same key must write again

    # -- from SCADA ---------------------------------------------------------------------

    def _authorised(self, action: str, alarm_id: str) -> str | None:
        user = current_user.get()
        if user is None or not user.may_write:
            audit().warning(
                "opcua.acknowledge",
                result="BadUserAccessDenied",
                user=user.name if user else None,
                role=user.plant_role if user else None,
                alarm=alarm_id,
                via=action,
            )
            return None
        return user.name or ""

    def _accept_ack(self, alarm_id: str, user: str, comment: str, via: str) -> ua.StatusCode:
        status = self._status.get(alarm_id)
        if status is None or status is AlarmStatus.NORMAL:
            code = status_code(ua.StatusCodes.BadInvalidArgument)
        elif status not in _UNACKED:
            code = status_code(ua.StatusCodes.BadConditionBranchAlreadyAcked)
        else:
            self._on_ack(alarm_id, user)
            code = status_code(ua.StatusCodes.Good)
        audit().info(
            "opcua.acknowledge",
            result="accepted" if code.is_good() else code.name,
            user=user,
            alarm=alarm_id,
            comment=comment[:200],
            via=via,
        )
        return code

    async def _acknowledge_by_id(
        self, parent: ua.NodeId, alarm_id: ua.Variant | None = None, comment: Any = None
    ) -> ua.StatusCode | list[ua.Variant]:
        if alarm_id is None or not isinstance(alarm_id.Value, str):
            return status_code(ua.StatusCodes.BadArgumentsMissing)
        user = self._authorised("Plant/Alarms/Acknowledge", alarm_id.Value)
        if user is None:
            return status_code(ua.StatusCodes.BadUserAccessDenied)
        text = comment.Value if comment is not None and isinstance(comment.Value, str) else ""
        code = self._accept_ack(alarm_id.Value, user, text, "Acknowledge")
        return [] if code.is_good() else code

    async def _acknowledge_condition(
        self, parent: ua.NodeId, event_id: ua.Variant | None = None, comment: Any = None
    ) -> ua.StatusCode | list[ua.Variant]:
        alarm_id = self._by_node.get(parent)
        if alarm_id is None:
            return status_code(ua.StatusCodes.BadMethodInvalid)
        user = self._authorised("AcknowledgeableConditionType.Acknowledge", alarm_id)
        if user is None:
            return status_code(ua.StatusCodes.BadUserAccessDenied)
        last = self._conditions[alarm_id].EventId
        last_bytes = last.Value if isinstance(last, ua.Variant) else last
        if event_id is None or event_id.Value != last_bytes:
            return status_code(ua.StatusCodes.BadEventIdUnknown)
        text = comment.Value.Text if comment is not None and comment.Value is not None else ""
        code = self._accept_ack(alarm_id, user, text or "", "ConditionAcknowledge")
        return [] if code.is_good() else code
