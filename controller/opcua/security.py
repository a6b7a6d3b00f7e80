"""Who may do what over OPC UA: users from the site file, three roles, one ruleset.

asyncua knows only Admin, User and Anonymous, and its Admin may edit the address
space. So every plant user is an asyncua ``User`` (never Admin) carrying our role,
and the per-item decisions (who may write which setpoint, who may acknowledge)
are taken where the item is known: the write guard and the method callbacks.

Why a context variable: asyncua hands method callbacks no session, but it checks
every request against the ruleset first, in the task that then runs the request.
The ruleset records the user there, and the Acknowledge callback reads it.

Why the login cache and budgets: a scrypt check costs about 0.1 s of the server
thread. A correct password is remembered (as a keyed digest, never in clear) so a
SCADA that reconnects often costs nothing; each source address and each user
name gets a small budget of full checks per window and is refused outright beyond
it, so a password-guessing flood cannot starve the server thread that serves
everyone else, nor lock out a user on another address (a global budget did: 100
wrong passwords in 0.2 s refused the next admin login for 11 s).
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from asyncua import ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.permission_rules import USER_TYPES, PermissionRuleset, User, UserRole
from asyncua.server.user_managers import UserManager

from controller.incidents import INCIDENTS
from controller.opcua.audit import audit
from controller.opcua.passwords import verify_password
from controller.opcua.settings import WRITE_ROLES, OpcUaUser
from controller.opcua.uatyped import node_id

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
current_peer: contextvars.ContextVar[str] = contextvars.ContextVar("opcua_peer", default="")
"""The source address of the connection whose message is being processed (set by
the transport in each connection's task)."""
MAX_TRACKED_KEYS = 10_000

_ALLOWED = frozenset(node_id(t) for t in USER_TYPES)


class PlantRuleset(PermissionRuleset):
    """Services for every plant user; what they may change is decided per item."""

    def check_validity(self, user: Any, action_type_id: ua.NodeId, body: Any) -> bool:
        if not isinstance(user, PlantUser):
            current_user.set(None)
            return False
        current_user.set(user)
        return action_type_id in _ALLOWED


class LoginGuard:
    """Caches good logins; meters expensive checks per source address and per user name.

    A full check is refused without computing it (``None``) once the source address
    or the user name has spent its budget of full checks in the current window.
    Budgets are per key, never global: a guessing flood from one address, or against
    one name, leaves every other address and name untouched, and a login whose
    password was checked good before costs nothing and is never refused.
    """

    def __init__(self, per_source: int = 5, per_user: int = 10, window_s: float = 10.0) -> None:
        self._key = os.urandom(32)
        self._good: dict[tuple[str, str], bytes] = {}
        self._budgets = {"source": per_source, "user": per_user}
        self._window_s = window_s
        self._spent: dict[tuple[str, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def _tag(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).digest()

    def _take(self, keys: list[tuple[str, str]], now: float) -> bool:
        if len(self._spent) > MAX_TRACKED_KEYS:
            self._spent = {k: v for k, v in self._spent.items() if now - v[0] <= self._window_s}
        for kind, name in keys:
            start, spent = self._spent.get((kind, name), (now, 0))
            if now - start <= self._window_s and spent >= self._budgets[kind]:
                return False
        for kind, name in keys:
            start, spent = self._spent.get((kind, name), (now, 0))
            if now - start > self._window_s:
                start, spent = now, 0
            self._spent[(kind, name)] = (start, spent + 1)
        return True

    def check(self, user: OpcUaUser, password: str, source: str = "") -> bool | None:
        """True/False, or None when a budget is spent (refused without checking)."""
        key = (user.name, user.password_hash)
        tag = self._tag(password)
        known = self._good.get(key)
        if known is not None and hmac.compare_digest(known, tag):
            return True
        with self._lock:
            if not self._take([("source", source), ("user", user.name)], time.monotonic()):
                return None
        ok = verify_password(password, user.password_hash)
        if ok:
            self._good[key] = tag
        return ok


class PlantUserManager(UserManager):
    """Users and roles from the site file; anonymous sessions only if allowed.

    ``max_sessions`` minus ``reserved_write`` sessions are open to every role; the
    last ``reserved_write`` are kept for the roles that may write (utility, admin),
    so a crowd of operator or anonymous sessions never locks the utility out.
    """

    def __init__(
        self,
        users: Iterable[OpcUaUser],
        allow_anonymous: bool,
        *,
        max_sessions: int = 1000,
        reserved_write: int = 0,
        active_sessions: Callable[[], int] = lambda: 0,
    ) -> None:
        self._users = {u.name: u for u in users}
        self._allow_anonymous = allow_anonymous
        self._guard = LoginGuard()
        self._active = active_sessions
        self.max_sessions = max_sessions
        self.reserved_write = reserved_write

    def set_users(self, users: Iterable[OpcUaUser]) -> None:
        """Replace the user table (site-file reload); new logins see it at once."""
        self._users = {u.name: u for u in users}

    def role_of(self, name: str) -> str | None:
        record = self._users.get(name)
        return record.role if record is not None else None

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        source = current_peer.get()
        if username is None:
            if self._allow_anonymous:
                self._check_capacity(ANONYMOUS, "operator")
                return PlantUser(role=UserRole.User, name=ANONYMOUS, plant_role="operator")
            self._refused(ANONYMOUS, "anonymous sessions are disabled", source)
            return None
        record = self._users.get(username)
        if record is None:
            self._refused(username, "unknown user", source)
            return None
        ok = self._guard.check(record, password or "", source)
        if ok:
            self._check_capacity(username, record.role)
            audit().info("opcua.login", user=username, role=record.role, source=source or None)
            return PlantUser(role=UserRole.User, name=username, plant_role=record.role)
        self._refused(username, "login budget spent" if ok is None else "wrong password", source)
        return None

    def _check_capacity(self, username: str, role: str) -> None:
        if role in WRITE_ROLES:
            return  # asyncua's own max_sessions check applies
        reserve = min(self.reserved_write, self.max_sessions - 1)
        if self._active() >= self.max_sessions - reserve:
            INCIDENTS.record(
                "opcua",
                "session refused: the remaining sessions are reserved for the utility",
                current_peer.get(),
            )
            raise ServiceError(ua.StatusCodes.BadTooManySessions)

    @staticmethod
    def _refused(username: str, reason: str, source: str) -> None:
        # Counted, and logged once per source and reason: a guessing flood must not
        # flood the log as well.
        INCIDENTS.record("opcua", f"login refused: {reason}", source, user=username)
