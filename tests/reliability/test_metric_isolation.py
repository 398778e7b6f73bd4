"""One organization's indexed metric can fail only itself: the build pre-computes each metric
alone, under its own time and memory limit, and skips (and records) one that fails, while
every other metric, mart and organization builds and publishes (docs/reliability.md)."""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import datetime

import duckdb
import httpx
import pytest
import sqlalchemy as sa

from api import subprocess_server
from api.keys.service import create_key
from api.metrics.service import new_metric_id
from core.control_store import engine_for, metric_definitions
from orchestration.build import run_build
from tests.api.conftest import auth
from tests.expected import expected_events

pytestmark = pytest.mark.slow

HEALTHY = "select count(*) from filtered_events"
# Each of these stopped every organization's build before (issue: hostile input). The first
# three are refused at create now; they reach the build only through the store, as an older
# release or a hand may have written them. The last two pass create and fail only on real rows.
BREAKERS = {
    "deep": "select " + "(" * 300 + "1" + ")" * 300 + " from filtered_events",
    "list": "select list(event_value) from filtered_events",
    "sample": "select count(*) from filtered_events using sample 10 percent (system, 1)",
    "explosive": "select count(*) from filtered_events a, filtered_events b, filtered_events c, "
    "filtered_events d where a.customer_id <> 'nobody' and a.event_value + b.event_value + "
    "c.event_value + d.event_value >= 0",
    # one event's id (40 characters) twice, doubled 25 times: ~2.7 GB, past the limit within
    # a second of work, whatever the slice and however loaded the machine
    "memory": "with a as (select event_id || event_id as s from filtered_events limit 1), "
    + ", ".join(
        f"a{i} as (select s || s as s from a{i - 1 if i > 1 else ''})" for i in range(1, 26)
    )
    + " select sum(length(s)) from a25",
}
REFUSED_AT_CREATE = {
    "deep": "nests more than 64 levels deep",
    "list": "must return a number, not DECIMAL(18,6)[]",
    "sample": "Sampling in correlated subqueries is not (yet) supported",
}
REASONS = {
    "deep": "sqlDefinition nests more than 64 levels deep",
    "list": "metric query must return a number, not DECIMAL(18,6)[]",
    "sample": "metric query failed: Binder Error: Sampling in correlated subqueries is not (yet) "
    "supported",
    "explosive": "the build could not pre-compute it: metric query stopped after its time "
    "limit of 6 s",
    "memory": "the build could not pre-compute it: metric query stopped at its memory limit "
    "of 256MB",
}


def _insert(store: sa.Engine, org: str, name: str, sql: str, now: datetime) -> str:
    metric_id = new_metric_id()
    with store.begin() as con:
        con.execute(
            metric_definitions.insert().values(
                metric_id=metric_id, organization_id=org, name=name, query_type="indexed",
                sql_definition=sql, version=1, created_at=now, updated_at=now,
            )
        )  # fmt: skip
    return metric_id


def test_failing_metrics_of_two_organizations_fail_only_themselves(home_copy, monkeypatch):
    settings = home_copy
    store = engine_for(settings.control_store_url)
    now = settings.clock().replace(tzinfo=None)
    keys = {
        org: create_key(store, org, ["metrics:read", "metrics:write"], "test", settings.clock())[1]
        for org in ("acme", "globex")
    }
    env = {**os.environ, "TALLYHOUSE_RATE_LIMIT": "0"}
    ids: dict[tuple[str, str], str] = {}
    with subprocess_server.running(env) as base:
        for org, key in keys.items():
            for name, sql in {"healthy": HEALTHY, **BREAKERS}.items():
                created = httpx.post(
                    f"{base}/v1/metrics",
                    headers=auth(key),
                    json={"name": name, "queryType": "indexed", "sqlDefinition": sql},
                )
                if name in REFUSED_AT_CREATE:
                    assert created.status_code == 400, created.text
                    assert REFUSED_AT_CREATE[name] in created.json()["error"]["message"]
                    ids[org, name] = _insert(store, org, name, sql, now)
                else:
                    assert created.status_code == 201, created.text
                    ids[org, name] = created.json()["id"]

    # long enough for the string-doubling CTE to reach its memory limit on a loaded machine
    monkeypatch.setenv("TALLYHOUSE_METRIC_BUILD_SECONDS", "6")
    monkeypatch.setenv("TALLYHOUSE_METRIC_BUILD_MEMORY", "256MB")
    started = time.monotonic()
    summary = run_build(settings)
    took = time.monotonic() - started
    assert summary.success and summary.published
    # two runaways stopped at 6 s each, on top of a build of the fixture (~15 s here); a
    # hang, as before, never ends
    assert took < 180, took

    with duckdb.connect(str(settings.current_snapshot), read_only=True) as snapshot:
        outcomes = {
            (org, name): (precomputed, reason)
            for org, name, precomputed, reason in snapshot.execute(
                "select organization_id, name, precomputed, not_precomputed_reason "
                "from dim_metrics where organization_id in ('acme', 'globex') "
                "and metric_id in (select unnest(?))",
                [list(ids.values())],
            ).fetchall()
        }
        healthy_values = {
            (org, customer): value
            for org, customer, value in snapshot.execute(
                "select organization_id, customer_id, metric_value from fct_metric_values "
                "where metric_id in (?, ?) and slice_key = 'ALL' and result_rows = 1",
                [ids["acme", "healthy"], ids["globex", "healthy"]],
            ).fetchall()
        }
        bad_values = snapshot.execute(
            "select count(*) from fct_metric_values where metric_id in (select unnest(?))",
            [[ids[key] for key in ids if key[1] != "healthy"]],
        ).fetchall()[0][0]
    assert outcomes == {
        **{(org, "healthy"): (True, None) for org in keys},
        **{(org, name): (False, REASONS[name]) for org in keys for name in BREAKERS},
    }
    assert bad_values == 0
    # the healthy metric counts each customer's events: the oracle's, from the landing files
    events = Counter(
        (event.organization_id, event.end_user_id)
        for event in expected_events(settings.landing_dir).values()
        if event.end_user_id is not None and event.organization_id in keys
    )
    assert healthy_values == {key: float(count) for key, count in events.items()}

    # the owner sees why, and the value is answered on demand
    with subprocess_server.running(env) as base:
        for org, key in keys.items():
            shown = httpx.get(f"{base}/v1/metrics/{ids[org, 'explosive']}", headers=auth(key))
            assert shown.json()["precomputation"] == {
                "status": "on_demand",
                "reason": REASONS["explosive"],
                "asOf": "2026-11-24T12:00:00.000Z",
            }
            healthy = httpx.get(f"{base}/v1/metrics/{ids[org, 'healthy']}", headers=auth(key))
            assert healthy.json()["precomputation"]["status"] == "precomputed"
            customer = min(c for o, c in events if o == org)
            value = httpx.get(
                f"{base}/v1/metrics/{ids[org, 'healthy']}/value",
                headers=auth(key),
                params={"customerId": customer},
            ).json()
            assert (value["value"], value["precomputed"]) == (events[org, customer], True)
