"""Accepted events reach the marts exactly once; a crash after a 201 loses nothing; replays
change no total."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from api import subprocess_server
from api.keys.service import create_key
from api.usage_events.service import prepare, record
from core.control_store import engine_for, landing_events, metadata
from core.warehouse import connect
from orchestration.build import run_build
from orchestration.defs.ingest.landing import ingest
from tests.api.conftest import auth, wait_for_snapshot
from tests.conftest import sized


def _start_server(home: Path):
    env = {**os.environ, "TALLYHOUSE_HOME": str(home), "TALLYHOUSE_RATE_LIMIT": "0"}
    return subprocess_server.start(env)


def test_posted_events_are_in_the_cost_endpoints_after_a_build(home_copy):
    engine = engine_for(home_copy.control_store_url)
    _, writer = create_key(
        engine, "initech", ["usage:write", "costs:read"], "test", home_copy.clock()
    )
    server, base = _start_server(home_copy.root)
    try:
        # on 2026-11-22, a day initech already has events on:
        events = [
            # 2,000,000 input tokens of gpt-4o-mini at $0.15 per million = $0.30
            {
                "eventType": "llm_call",
                "metricName": "input_tokens",
                "quantity": 2_000_000,
                "idempotencyKey": "api-1",
                "timestamp": "2026-11-22T09:00:00Z",
                "userId": "api_user",
                "metadata": {"model": "gpt-4o-mini-2024-07-18", "provider": "openai"},
            },
            # 1,000 in + 1,000,000 out + 1,000,000 cache read of claude-3-5-sonnet:
            # 1,000 x $3 + 1,000,000 x $15 + 1,000,000 x $0.30 per million = $15.303
            {
                "eventType": "llm_call",
                "metricName": "tokens",
                "quantity": 2_001_000,
                "idempotencyKey": "api-2",
                "timestamp": "2026-11-22T10:00:00Z",
                "userId": "api_user",
                "metadata": {
                    "model": "claude-3-5-sonnet-20241022",
                    "provider": "anthropic",
                    "inputTokens": 1000,
                    "outputTokens": 1_000_000,
                    "cacheReadTokens": 1_000_000,
                },
            },
        ]
        batch = httpx.post(
            f"{base}/v1/usage/events/batch", json={"events": events}, headers=auth(writer)
        )
        assert batch.json()["recorded"] == 2
        retry = httpx.post(f"{base}/v1/usage/events", json=events[0], headers=auth(writer))
        assert retry.status_code == 200
        params = {"start_date": "2026-11-22", "end_date": "2026-11-22"}
        before = httpx.get(
            f"{base}/v1/cost-data/by-model", params=params, headers=auth(writer)
        ).json()

        summary = run_build(home_copy)
        assert (summary.events_ingested, summary.events_rejected) == (2, 0)

        wait_for_snapshot(base, writer, Path(os.path.realpath(home_copy.current_snapshot)).stem)
        after = httpx.get(
            f"{base}/v1/cost-data/by-model", params=params, headers=auth(writer)
        ).json()
        user = httpx.get(
            f"{base}/v1/end-user-costs/api_user/summary", params=params, headers=auth(writer)
        ).json()
    finally:
        server.terminate()
        server.wait(timeout=10)
    costs = lambda body: {r["model"]: (r["totalCost"], r["eventCount"]) for r in body["breakdown"]}  # noqa: E731
    old, new = costs(before), costs(after)
    mini, sonnet = old.get("gpt-4o-mini", (0.0, 0)), old.get("claude-3-5-sonnet", (0.0, 0))
    assert new["gpt-4o-mini"] == (round(mini[0] + 0.30, 2), mini[1] + 1)
    assert new["claude-3-5-sonnet"] == (round(sonnet[0] + 15.303, 2), sonnet[1] + 1)
    assert user["totalCost"] == 15.60  # 0.30 + 15.303, to the cent

    # the id the API answered is the id in the marts
    with duckdb.connect(str(home_copy.current_snapshot), read_only=True) as con:
        stored = con.execute(
            "select idempotency_key, event_id from fct_usage_costs "
            "where organization_id = 'initech' and idempotency_key in ('api-1', 'api-2') order by 1"
        ).fetchall()
    answered = [(r["event"]["eventId"]) for r in batch.json()["results"]]
    assert stored == [("api-1", answered[0]), ("api-2", answered[1])]

    again = run_build(home_copy)
    assert (again.events_ingested, again.duplicates) == (0, 0)


def test_every_acknowledged_event_survives_a_kill(tmp_path):
    home = tmp_path / "home"
    engine = engine_for(f"sqlite:///{home / 'control.db'}")
    _, key = create_key(engine, "acme", ["usage:write"], "test", datetime(2026, 1, 1))
    server, base = _start_server(home)
    acknowledged = []
    try:
        with httpx.Client(base_url=base, headers=auth(key)) as client:
            for i in range(150):
                body = {
                    "eventType": "e",
                    "metricName": "requests",
                    "quantity": 1,
                    "idempotencyKey": f"k{i}",
                }
                if client.post("/v1/usage/events", json=body).status_code == 201:
                    acknowledged.append(f"k{i}")
            batch = [
                {
                    "eventType": "e",
                    "metricName": "requests",
                    "quantity": 1,
                    "idempotencyKey": f"b{i}",
                }
                for i in range(1000)
            ]
            if (
                client.post("/v1/usage/events/batch", json={"events": batch}).json()["recorded"]
                == 1000
            ):
                acknowledged.extend(f"b{i}" for i in range(1000))
    finally:
        server.send_signal(signal.SIGKILL)  # no shutdown, no flush: straight after the answers
        server.wait(timeout=10)
    engine_for.cache_clear()
    with engine_for(f"sqlite:///{home / 'control.db'}").connect() as con:
        stored = {k for (k,) in con.execute(sa.select(landing_events.c.idempotency_key))}
    assert len(acknowledged) == 1150
    assert set(acknowledged) <= stored


KEYS = [f"key-{i}" for i in range(12)]


def _body(key: str) -> dict:
    """One fixed body per key, so that replays are retries, never conflicts."""
    n = int(key.split("-")[1])
    return {
        "eventType": "llm_call",
        "metricName": "input_tokens",
        "quantity": 1000 * (n + 1),
        "idempotencyKey": key,
        "timestamp": f"2026-11-{10 + n:02d}T08:00:00Z",
        "metadata": {"model": "gpt-4o-mini", "provider": "openai"},
    }


batches = st.lists(st.lists(st.sampled_from(KEYS), min_size=1, max_size=6), min_size=1, max_size=5)


@hypothesis_settings(
    max_examples=sized(10, 50),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(batches=batches, replay=st.lists(st.integers(min_value=0, max_value=20), max_size=12))
def test_replaying_batches_in_any_order_changes_no_total(tmp_path_factory, batches, replay):
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    work = tmp_path_factory.mktemp("replay")
    engine = sa.create_engine(f"sqlite:///{work / 'store.db'}")
    metadata.create_all(engine)
    limits = (timedelta(days=400), timedelta(minutes=5))

    def send(keys: list[str]) -> None:
        record(
            engine,
            "acme",
            [prepare(i, _body(k), now, *limits, "acme") for i, k in enumerate(keys)],
            now,
        )

    def totals() -> tuple[int, Decimal]:
        with connect(work / "wh.duckdb", memory_limit="512MB", threads=1) as con:
            ingest(
                con,
                work / "landing",
                now=now,
                max_age=limits[0],
                max_future=limits[1],
                store=engine,
            )
            return con.execute(
                "select count(*), coalesce(sum(quantity), 0) from raw.usage_events"
            ).fetchone()

    for keys in batches:
        send(keys)
    first = totals()
    sent = {k for keys in batches for k in keys}
    assert first == (len(sent), Decimal(sum(_body(k)["quantity"] for k in sent)))
    for choice in replay:
        send(batches[choice % len(batches)])
        assert totals() == first
    with engine.connect() as con:
        assert con.execute(sa.select(sa.func.count()).select_from(landing_events)).scalar() == len(
            sent
        )
