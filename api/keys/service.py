"""API keys: created once and shown once, stored only as a SHA-256 hash, scoped, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import time
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import sqlalchemy as sa

from core.organizations import check_organization_id
from core.sql import load_sql

SCOPES = (
    "usage:write",
    "costs:read",
    "metrics:read",
    "metrics:write",
    "limits:read",
    "limits:write",
)
ENVIRONMENTS = ("test", "live")
_ALPHABET = string.ascii_letters + string.digits
_SQL = Path(__file__).parent / "sql"


@cache
def _sql(name: str) -> sa.TextClause:
    return sa.text(load_sql(_SQL, name))


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    key_prefix: str
    organization_id: str
    scopes: frozenset[str]
    environment: str


def digest_of(plaintext: str) -> str:
    """What the store keeps of a key: its SHA-256, hex."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_key(
    engine: sa.Engine, organization_id: str, scopes: list[str], environment: str, now: datetime
) -> tuple[ApiKey, str]:
    """A new key; the plaintext is returned once and never stored."""
    check_organization_id(organization_id)
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be a non-empty subset of {', '.join(SCOPES)}")
    if environment not in ENVIRONMENTS:
        raise ValueError("environment must be test or live")
    plaintext = f"sk_{environment}_" + "".join(secrets.choice(_ALPHABET) for _ in range(32))
    key = ApiKey(
        key_id="key_" + secrets.token_hex(8),
        key_prefix=plaintext[:12],
        organization_id=organization_id,
        scopes=frozenset(scopes),
        environment=environment,
    )
    with engine.begin() as con:
        con.execute(
            _sql("insert_key"),
            {
                "key_id": key.key_id,
                "key_prefix": key.key_prefix,
                "key_hash": digest_of(plaintext),
                "organization_id": organization_id,
                "scopes": ",".join(sorted(scopes)),
                "environment": environment,
                "created_at": now.replace(tzinfo=None),
            },
        )
    return key, plaintext


def authenticate(engine: sa.Engine, plaintext: str) -> ApiKey | None:
    """The live key for this plaintext, or None (unknown and revoked keys look the same)."""
    return authenticate_digest(engine, digest_of(plaintext))


def authenticate_digest(engine: sa.Engine, digest: str) -> ApiKey | None:
    """The live key whose plaintext has this digest, or None."""
    with engine.connect() as con:
        row = con.execute(_sql("select_key_by_hash"), {"key_hash": digest}).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at is not None:
        return None
    return ApiKey(
        row.key_id,
        row.key_prefix,
        row.organization_id,
        frozenset(row.scopes.split(",")),
        row.environment,
    )


def list_keys(engine: sa.Engine) -> list[dict[str, object]]:
    with engine.connect() as con:
        return [dict(row._mapping) for row in con.execute(_sql("list_keys"))]


def revoke_key(engine: sa.Engine, prefix: str, now: datetime) -> int:
    with engine.begin() as con:
        result = con.execute(
            _sql("revoke_key"), {"prefix": prefix, "revoked_at": now.replace(tzinfo=None)}
        )
    return result.rowcount


class KeyCache:
    """Valid keys remembered for `ttl` seconds, by hash: most requests skip the store, and a
    revocation takes effect within `ttl`. Unknown keys are never cached (always looked up)."""

    def __init__(self, engine: sa.Engine, ttl: float = 1.0) -> None:
        self.engine = engine
        self.ttl = ttl
        self._keys: dict[str, tuple[float, ApiKey]] = {}

    def remembered(self, plaintext: str) -> ApiKey | None:
        """The key if it was looked up less than `ttl` ago (memory only, no store)."""
        return self.remembered_digest(digest_of(plaintext))

    def remembered_digest(self, digest: str) -> ApiKey | None:
        cached = self._keys.get(digest)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        return None

    def get(self, plaintext: str) -> ApiKey | None:
        return self.get_digest(digest_of(plaintext))

    def get_digest(self, digest: str) -> ApiKey | None:
        """The live key whose plaintext has this digest (the dashboard's session holds it)."""
        if (key := self.remembered_digest(digest)) is not None:
            return key
        now = time.monotonic()
        key = authenticate_digest(self.engine, digest)
        if key is None:
            self._keys.pop(digest, None)
        else:
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[digest] = (now, key)
        return key
