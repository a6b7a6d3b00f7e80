"""Password hashes for the OPC UA users in the site file.

Why scrypt from the standard library: the site file is read by people and backed up
in places the gateway does not control, so it must never hold a password, and a
leaked hash must be expensive to attack. scrypt is memory-hard and needs no extra
dependency. The parameters travel inside the hash string, so they can be raised
later without invalidating the users already configured.

Format: ``scrypt$<n>$<r>$<p>$<salt, base64>$<hash, base64>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

SCHEME = "scrypt"
DEFAULT_N = 2**14
DEFAULT_R = 8
DEFAULT_P = 1
_DKLEN = 32
_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=_DKLEN
    )


def hash_password(
    password: str, *, n: int = DEFAULT_N, r: int = DEFAULT_R, p: int = DEFAULT_P
) -> str:
    """Salted scrypt hash for the ``password_hash`` field of an OPC UA user."""
    if not password:
        raise ValueError("empty password")
    salt = os.urandom(16)
    digest = _derive(password, salt, n, r, p)
    return f"{SCHEME}${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def parse_hash(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    """Split a stored hash; ValueError names what is wrong (for the config loader)."""
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise ValueError("password_hash must look like scrypt$n$r$p$salt$hash")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except ValueError as exc:
        raise ValueError(f"password_hash is malformed: {exc}") from None
    if n < 2**10 or n & (n - 1) or not 1 <= r <= 64 or not 1 <= p <= 16:
        raise ValueError("password_hash has implausible scrypt parameters")
    if len(salt) < 8 or len(digest) < 16:
        raise ValueError("password_hash salt or digest is too short")
    return n, r, p, salt, digest


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check; a malformed hash never matches."""
    try:
        n, r, p, salt, digest = parse_hash(encoded)
    except ValueError:
        return False
    return hmac.compare_digest(_derive(password, salt, n, r, p), digest)
