"""Metric definitions on both control stores (SQLite and a real PostgreSQL), and their export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from api.errors import NotFound
from api.metrics import service
from api.metrics.schemas import MetricCreate, MetricUpdate
from core.control_store import engine_for, metric_definitions
from core.metric_sandbox import SandboxLimits
from orchestration.defs.metrics.export import export_definitions
from orchestration.defs.metrics.precompute import precompute_values
from tests.postgres import postgres_server

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
LIMITS = SandboxLimits(seconds=1)
SQL = "select count(*) from filtered_events -- a comment"


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path: Path) -> sa.Engine:
    if request.param == "sqlite":
        return engine_for(f"sqlite:///{tmp_path / 'store.db'}")
    engine = engine_for(request.getfixturevalue("postgres_url"))
    with engine.begin() as con:
        con.execute(metric_definitions.delete())
    return engine


def test_a_definitions_life(store):
    body = MetricCreate(name="Calls", queryType="indexed", sqlDefinition=SQL)
    created = service.create_metric(store, "acme", body, NOW, LIMITS)
    assert created.version == 1 and created.created_at == datetime(2026, 11, 24, 12)
    assert service.get_metric(store, "acme", created.metric_id) == created
    assert service.list_metrics(store, "acme") == [created]
    assert service.list_metrics(store, "globex") == []
    with pytest.raises(NotFound):
        service.get_metric(store, "globex", created.metric_id)
    later = NOW + timedelta(hours=1)
    updated = service.update_metric(
        store, "acme", created.metric_id, MetricUpdate(name="API calls"), later, LIMITS
    )
    assert (updated.name, updated.version) == ("API calls", 2)
    assert updated.updated_at == datetime(2026, 11, 24, 13)
    assert updated.created_at == created.created_at
    service.delete_metric(store, "acme", created.metric_id, later)
    assert service.list_metrics(store, "acme") == []
    with pytest.raises(NotFound):
        service.delete_metric(store, "acme", created.metric_id, later)
    with store.connect() as con:
        kept = con.execute(sa.select(sa.func.count()).select_from(metric_definitions)).scalar()
    assert kept == 1


def test_the_export_copies_live_definitions_with_their_runnable_sql(store):
    indexed = service.create_metric(
        store, "acme", MetricCreate(name="n", queryType="indexed", sqlDefinition=SQL), NOW, LIMITS
    )
    simple = MetricCreate(
        name="s", queryType="simple", aggregationType="SUM", eventName="e", valueType="NUMERIC"
    )
    service.create_metric(store, "acme", simple, NOW, LIMITS)
    gone = service.create_metric(
        store, "globex", MetricCreate(name="g", queryType="complex", sqlDefinition=SQL), NOW, LIMITS
    )
    service.delete_metric(store, "globex", gone.metric_id, NOW)
    with duckdb.connect() as warehouse:
        warehouse.execute(
            "create schema raw; create table raw.usage_events as select "
            "'evt_1' as event_id, 'acme' as organization_id, 'u1' as end_user_id, "
            "'e' as event_type, 'm' as metric_name, 1.0::decimal(18, 6) as quantity, "
            "null::varchar as event_string, '{}' as metadata, "
            "timestamp '2026-11-01' as event_at, null::decimal(18, 9) as caller_cost_usd"
        )
        report = export_definitions(warehouse, store, now=NOW, limits=LIMITS)
        rows = warehouse.execute(
            "select metric_id, query_type, runnable_sql, indexable, definition_version "
            "from raw.metric_definitions order by query_type"
        ).fetchall()
    assert (report.definitions, report.indexed, report.not_indexable) == (2, 1, {})
    assert rows[0] == (
        indexed.metric_id,
        "indexed",
        "SELECT COUNT(*) FROM filtered_events",
        True,
        1,
    )
    assert rows[1][1:] == ("simple", None, False, 1)


# fails on real rows only when an event name is not a number (binding on no rows passes)
NUMERIC_NAMES = "select max(cast(event_name as integer)) from filtered_events"
FACT_EVENTS = (
    "create schema marts; create table marts.fct_metric_events as select "
    "'evt_' || i as event_id, 'acme' as organization_id, 'u1' as customer_id, "
    "case when i = 0 then '5' else 'x' end as event_name, 'm' as metric_name, "
    "1.0::decimal(18, 6) as event_value, null::varchar as event_string, '{}' as properties, "
    "timestamp '2026-11-01' + to_days(cast(i as integer)) as event_at, "
    "0::decimal(38, 18) as cost_usd, 1::bigint as ingest_run_id from range(2) as r(i)"
)


def test_a_metric_failing_on_real_rows_is_skipped_until_its_definition_changes(tmp_path):
    store = engine_for(f"sqlite:///{tmp_path / 'control.db'}")
    create = lambda name, sql: service.create_metric(  # noqa: E731
        store, "acme", MetricCreate(name=name, queryType="indexed", sqlDefinition=sql), NOW, LIMITS
    )
    failing = create("numeric names", NUMERIC_NAMES)
    healthy = create("events", "select count(*) from filtered_events")
    with duckdb.connect() as warehouse:
        warehouse.execute(FACT_EVENTS)

        def build():
            export_definitions(warehouse, store, now=NOW, limits=LIMITS)
            return precompute_values(warehouse, as_of=NOW, limits=LIMITS)

        first = build()
        assert set(first.evaluated) == {failing.metric_id, healthy.metric_id}
        reason = first.failed[failing.metric_id]
        assert reason.startswith("the build could not pre-compute it: metric query failed: ")
        assert "Conversion Error" in reason
        # u1's events fall on 2026-11-01 and 11-02: ALL, MONTH:2026-11, and 7 / 30 / 90 days
        # ending at NOW (2026-11-24 12:00) each hold both
        values = warehouse.execute(
            "select slice_key, result_rows, metric_value from marts.fct_metric_values "
            "where metric_id = ? order by slice_key",
            [healthy.metric_id],
        ).fetchall()
        assert values == [
            ("ALL", 1, 2.0),
            ("MONTH:2026-11", 1, 2.0),
            ("RELATIVE:30", 1, 2.0),
            ("RELATIVE:7", 1, 0.0),
            ("RELATIVE:90", 1, 2.0),
        ]
        outcomes = dict(
            warehouse.execute(
                "select metric_id, (precomputed, precompute_failed, not_precomputed_reason) "
                "from marts.dim_metrics"
            ).fetchall()
        )
        assert outcomes == {
            failing.metric_id: (False, True, reason),
            healthy.metric_id: (True, False, None),
        }
        # the same definition: not tried again, and still answered on demand for its reason
        again = build()
        assert set(again.evaluated) == {healthy.metric_id}
        assert warehouse.execute(
            "select not_precomputed_reason from marts.dim_metrics where metric_id = ?",
            [failing.metric_id],
        ).fetchall() == [(reason,)]
        # a new version is tried again
        service.update_metric(
            store,
            "acme",
            failing.metric_id,
            MetricUpdate(sqlDefinition="select max(length(event_name)) from filtered_events"),
            NOW,
            LIMITS,
        )
        fixed = build()
        assert set(fixed.evaluated) == {failing.metric_id, healthy.metric_id}
        assert fixed.failed == {}
        assert warehouse.execute(
            "select metric_value from marts.fct_metric_values "
            "where metric_id = ? and slice_key = 'ALL'",
            [failing.metric_id],
        ).fetchall() == [(1.0,)]
