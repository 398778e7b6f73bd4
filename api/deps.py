"""Typed dependencies: the authenticated key (with scopes) and the serving snapshot.

All run on the event loop (no thread hop per dependency): only a key not seen in the last
second goes to the store, in a worker thread."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import duckdb
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from api.errors import (
    Forbidden,
    RateLimited,
    SnapshotUnavailable,
    Unauthorized,
    ValidationFailed,
)
from api.keys.service import ApiKey
from api.organizations import UTC_ZONE, Timezones
from api.snapshot import SnapshotView
from core.settings import Settings

_UNAUTHORIZED = "Missing or invalid API key"


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_now(request: Request) -> datetime:
    return request.app.state.settings.clock()


async def single_parameters(request: Request) -> None:
    """A query parameter given twice is ambiguous (which one counts?): refused, not guessed."""
    params = request.query_params
    if len(params) != len(params.multi_items()):
        twice = sorted({name for name in params if len(params.getlist(name)) > 1})
        raise ValidationFailed(f"Invalid request: {', '.join(twice)} given more than once")


async def authenticated_key(request: Request) -> ApiKey:
    headers = request.headers.getlist("authorization")
    if len(headers) > 1:  # two credentials: neither is taken
        raise Unauthorized(_UNAUTHORIZED)
    header = headers[0] if headers else ""
    scheme, _, token = header.partition(" ")
    key, token = None, token.strip()
    if scheme.lower() == "bearer" and token.startswith("sk_"):
        cache = request.app.state.key_cache
        key = cache.remembered(token) or await run_in_threadpool(cache.get, token)
    if key is None:
        raise Unauthorized(_UNAUTHORIZED)
    request.state.organization_id = key.organization_id
    wait = request.app.state.rate_limiter.acquire(key.key_id)
    if wait is not None:
        raise RateLimited(
            f"Rate limit exceeded: retry in {wait} s", headers={"Retry-After": str(wait)}
        )
    return key


def require_scope(scope: str) -> Callable[[ApiKey], Awaitable[ApiKey]]:
    async def check(key: Annotated[ApiKey, Depends(authenticated_key)]) -> ApiKey:
        if scope not in key.scopes:
            raise Forbidden(f"API key lacks required scope: {scope}")
        return key

    return check


_NO_SNAPSHOT = "No serving snapshot yet: run `tallyhouse build` first"


async def snapshot_view(request: Request) -> SnapshotView:
    view = request.app.state.snapshot.view()
    if view is None:
        raise SnapshotUnavailable(_NO_SNAPSHOT)
    request.state.snapshot_version = view.version
    return view


async def snapshot_cursor(
    view: Annotated[SnapshotView, Depends(snapshot_view)],
) -> AsyncIterator[duckdb.DuckDBPyConnection]:
    cursor = view.connection.cursor()
    try:
        yield cursor
    finally:
        cursor.close()


async def organization_zone(
    request: Request, key: Annotated[ApiKey, Depends(authenticated_key)]
) -> ZoneInfo:
    """The key's organization's time zone in the served snapshot (UTC before any)."""
    view = request.app.state.snapshot.view()
    return UTC_ZONE if view is None else view.kept(Timezones).of(key.organization_id)


AnyKey = Annotated[ApiKey, Depends(authenticated_key)]
Zone = Annotated[ZoneInfo, Depends(organization_zone)]
CostsReader = Annotated[ApiKey, Depends(require_scope("costs:read"))]
UsageWriter = Annotated[ApiKey, Depends(require_scope("usage:write"))]
Snapshot = Annotated[duckdb.DuckDBPyConnection, Depends(snapshot_cursor)]
Answers = Annotated[SnapshotView, Depends(snapshot_view)]
Now = Annotated[datetime, Depends(get_now)]
AppSettings = Annotated[Settings, Depends(get_settings)]
