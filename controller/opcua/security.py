"""Who may do what over OPC UA: users from the site file, three roles, one ruleset.

asyncua knows only Admin, User and Anonymous, and its Admin may edit the address
space. So every plant user is an asyncua ``User`` (never Admin) carrying our role,
and the per-item decisions (who may write which setpoint, who may acknowledge)
are taken where the item is known: the write guard and the method callbacks.

Why a context variable: asyncua hands method callbacks no session, but it checks
every request against the ruleset first, in the task that then runs the request.
The ruleset records the user there, and the Acknowledge callback reads it.

Why the login cache and budget: a scrypt check costs about 0.1 s of the server
thread. A correct password is remembered (as a keyed digest, never in clear) so a
SCADA that reconnects often costs nothing; wrong passwords get a small budget of
full checks per window and are refused outright beyond it, so a password-guessing
flood cannot starve the server thread that serves everyone else.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from asyncua import ua
from asyncua.crypto.permission_rules import USER_TYPES, PermissionRuleset, User, UserRole
from asyncua.server.user_managers import UserManager

from controller.opcua.audit import audit
from controller.opcua.passwords import verify_password
from controller.opcua.settings import WRITE_ROLES, OpcUaUser

ANONYMOUS = "anonymous"


@dataclass
class PlantUser(User):
    """An authenticated session's user: asyncua role User, plus the plant role."""

    plant_role: str = "operator"

    @property
    def may_write(self) -> bool:
        return self.plant_role in WRITE_ROLES


current_user: contextvars.ContextVar[PlantUser | None] = contextvars.ContextVar(
    "opcua_current_user", default=None
)

_ALLOWED = frozenset(ua.NodeId(t) for t in USER_TYPES)


class PlantRuleset(PermissionRuleset):
    """Services for every plant user; what they may change is decided per item."""

    def check_validity(self, user: Any, action_type_id: ua.NodeId, body: Any) -> bool:
        if not isinstance(user, PlantUser):
            current_user.set(None)
            return False
        current_user.set(user)
        return action_type_id in _ALLOWED


class LoginGuard:
    """Caches good logins, meters expensive checks of unknown passwords."""

    def __init__(self, budget: int = 5, window_s: float = 10.0) -> None:
        self._key = os.urandom(32)
        self._good: dict[tuple[str, str], bytes] = {}
        self._budget = budget
        self._window_s = window_s
        self._window_start = 0.0
        self._spent = 0
        self._lock = threading.Lock()

    def _tag(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).digest()

    def check(self, user: OpcUaUser, password: str) -> bool | None:
        """True/False, or None when the budget is spent (refused without checking)."""
        key = (user.name, user.password_hash)
        tag = self._tag(password)
        known = self._good.get(key)
        if known is not None and hmac.compare_digest(known, tag):
            return True
        with self._lock:
            now = time.monotonic()
            if now - self._window_start > self._window_s:
                self._window_start, self._spent = now, 0
            if self._spent >= self._budget:
                return None
            self._spent += 1
        ok = verify_password(password, user.password_hash)
        if ok:
            self._good[key] = tag
        return ok


class PlantUserManager(UserManager):
    """Users and roles from the site file; anonymous sessions only if allowed."""

    def __init__(self, users: Iterable[OpcUaUser], allow_anonymous: bool) -> None:
        self._users = {u.name: u for u in users}
        self._allow_anonymous = allow_anonymous
        self._guard = LoginGuard()
        self._last_refusal_log = 0.0
        self._refusals_unlogged = 0

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        if username is None:
            if self._allow_anonymous:
                return PlantUser(role=UserRole.User, name=ANONYMOUS, plant_role="operator")
            self._refused(ANONYMOUS, "anonymous sessions are disabled")
            return None
        record = self._users.get(username)
        if record is None:
            self._refused(username, "unknown user")
            return None
        ok = self._guard.check(record, password or "")
        if ok:
            audit().info("opcua.login", user=username, role=record.role)
            return PlantUser(role=UserRole.User, name=username, plant_role=record.role)
        self._refused(username, "login budget spent" if ok is None else "wrong password")
        return None

    def _refused(self, username: str, reason: str) -> None:
        # At most one line a second: a guessing flood must not flood the log as well.
        now = time.monotonic()
        if now - self._last_refusal_log < 1.0:
            self._refusals_unlogged += 1
            return
        audit().warning(
            "opcua.login_refused",
            user=username,
            reason=reason,
            suppressed=self._refusals_unlogged,
        )
        self._last_refusal_log = now
        self._refusals_unlogged = 0
