"""An API on the session's warehouse, keys for two organizations, and oracle answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient

from api.keys.service import create_key, revoke_key
from api.main import create_app
from core.control_store import engine_for
from tests.expected import ExpectedEvent, expected_events


@dataclass(frozen=True)
class Keys:
    acme: str
    globex: str
    acme_write_only: str
    revoked: str


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_for_snapshot(base: str, key: str, version: str, timeout: float = 15.0) -> None:
    """Until a running server answers from `version` (its watcher polls every 0.2 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = httpx.get(f"{base}/v1/cost-data/summary", headers=auth(key))
        if response.headers.get("X-Snapshot-Version") == version:
            return
        time.sleep(0.1)
    raise AssertionError(f"the server did not switch to snapshot {version}")


@pytest.fixture(scope="session")
def keys(built_home) -> Keys:
    settings, _ = built_home
    engine = engine_for(settings.control_store_url)
    now = settings.clock()
    make = lambda org, scopes: create_key(engine, org, scopes, "test", now)  # noqa: E731
    revoked_key, revoked = make("acme", ["costs:read"])
    revoke_key(engine, revoked_key.key_id, now)
    return Keys(
        acme=make("acme", ["costs:read", "metrics:read"])[1],
        globex=make("globex", ["costs:read"])[1],
        acme_write_only=make("acme", ["usage:write"])[1],
        revoked=revoked,
    )


@pytest.fixture(scope="session")
def client(built_home) -> Iterator[TestClient]:
    settings, _ = built_home
    settings = settings.model_copy(update={"rate_limit": 0})
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def oracle(built_home) -> list[ExpectedEvent]:
    settings, _ = built_home
    return list(expected_events(settings.landing_dir).values())
