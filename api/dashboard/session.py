"""The dashboard's sign-in: a session cookie instead of a key (docs/dashboard.md#signing-in).

The cookie holds the key's digest (SHA-256, as the store keeps it; never the key), when the
session ends, and an HMAC of both under this home's dashboard secret. Each page looks the key
up by that digest, so a revoked key ends its sessions at once. The cookie is HttpOnly,
SameSite=Strict and ends after SESSION_HOURS.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path

COOKIE = "tallyhouse_session"
SESSION_HOURS = 12
SECRET_FILE = "dashboard.secret"  # in $TALLYHOUSE_HOME, made on first use, mode 0600


def secret(home: Path) -> bytes:
    """This home's signing secret, shared by every worker of the server."""
    path = home / SECRET_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker made it first
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def _signature(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def issue(home: Path, key_digest: str, now: datetime) -> str:
    """A cookie value for a session of the key with this digest, from `now`."""
    ends = int((now + timedelta(hours=SESSION_HOURS)).timestamp())
    payload = f"{key_digest}.{ends}"
    return f"{payload}.{_signature(secret(home), payload)}"


def verified(home: Path, value: str | None, now: datetime) -> str | None:
    """The key digest of a valid, unexpired session cookie; None for any other."""
    if not value or value.count(".") != 2:
        return None
    digest, ends, signature = value.split(".")
    if not hmac.compare_digest(_signature(secret(home), f"{digest}.{ends}"), signature):
        return None
    if not ends.isdigit() or int(ends) <= now.timestamp():
        return None
    return digest
