"""Typed dependencies: the authenticated key (with scopes) and a snapshot cursor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

import duckdb
from fastapi import Depends, Request

from api.errors import Forbidden, RateLimited, SnapshotUnavailable, Unauthorized
from api.keys.service import ApiKey
from orchestration.settings import Settings

_UNAUTHORIZED = "Missing or invalid API key"


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_now(request: Request) -> datetime:
    return request.app.state.settings.clock()


def authenticated_key(request: Request) -> ApiKey:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    key = None
    if scheme.lower() == "bearer" and token.strip().startswith("sk_"):
        key = request.app.state.key_cache.get(token.strip())
    if key is None:
        raise Unauthorized(_UNAUTHORIZED)
    request.state.organization_id = key.organization_id
    wait = request.app.state.rate_limiter.acquire(key.key_id)
    if wait is not None:
        raise RateLimited(
            f"Rate limit exceeded: retry in {wait} s", headers={"Retry-After": str(wait)}
        )
    return key


def require_scope(scope: str) -> Callable[[ApiKey], ApiKey]:
    def check(key: Annotated[ApiKey, Depends(authenticated_key)]) -> ApiKey:
        if scope not in key.scopes:
            raise Forbidden(f"API key lacks required scope: {scope}")
        return key

    return check


def snapshot_cursor(request: Request) -> Iterator[duckdb.DuckDBPyConnection]:
    cursor, version = request.app.state.snapshot.cursor()
    if cursor is None:
        raise SnapshotUnavailable("No serving snapshot yet: run `tallyhouse build` first")
    request.state.snapshot_version = version
    try:
        yield cursor
    finally:
        cursor.close()


AnyKey = Annotated[ApiKey, Depends(authenticated_key)]
CostsReader = Annotated[ApiKey, Depends(require_scope("costs:read"))]
UsageWriter = Annotated[ApiKey, Depends(require_scope("usage:write"))]
Snapshot = Annotated[duckdb.DuckDBPyConnection, Depends(snapshot_cursor)]
Now = Annotated[datetime, Depends(get_now)]
AppSettings = Annotated[Settings, Depends(get_settings)]
