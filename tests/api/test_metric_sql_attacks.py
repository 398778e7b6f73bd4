"""Metric SQL that tries to get out: every query is refused (400) or stopped by the time limit,
and neither the warehouse nor the snapshot nor the file system changes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from api.keys.service import create_key
from core import metric_sandbox
from core.control_store import engine_for
from core.metric_sql import FILTERED_EVENTS_COLUMNS
from tests.api.conftest import auth

LOOT = Path("/tmp/tallyhouse-attack-loot")
REFUSED = [
    # file readers and replacement scans
    "select count(*) from read_csv('/etc/passwd')",
    "select count(*) from read_csv_auto('/etc/passwd')",
    "select count(*) from read_parquet('/tmp/*.parquet')",
    "select count(*) from read_json_auto('/etc/hosts')",
    "select count(*) from read_text('/etc/passwd')",
    "select count(*) from '/etc/passwd'",
    "select count(*) from 'warehouse.duckdb'",
    "select count(*) from glob('/*')",
    "select count(*) from filtered_events, lateral read_csv('/etc/passwd')",
    "select count(*) from query('select 1')",
    "select count(*) from range(1000000000000)",
    # statements that are not a query
    "attach '/tmp/tallyhouse-attack-loot/x.db' as loot",
    f"copy filtered_events to '{LOOT}/events.csv'",
    f"copy (select * from filtered_events) to '{LOOT}/events.parquet'",
    "install httpfs",
    "load httpfs",
    "pragma database_list",
    "set enable_external_access = true",
    "set threads = 64",
    "reset lock_configuration",
    "call duckdb_settings()",
    "describe filtered_events",
    "create macro evil() as 1",
    f"export database '{LOOT}'",
    "checkpoint",
    "begin transaction",
    # data-modifying CTEs
    "with gone as (delete from filtered_events returning *) select count(*) from gone",
    "with added as (insert into filtered_events (event_id) values ('x') returning 1) select count(*) from added",
    "with changed as (update filtered_events set event_value = 0 returning 1) select count(*) from changed",
    # other catalogs, schemas and tables
    "select count(*) from main.filtered_events",
    "select count(*) from memory.main.filtered_events",
    "select count(*) from information_schema.tables",
    "select count(*) from pg_catalog.pg_class",
    "select count(*) from duckdb_tables()",
    "select count(*) from fct_metric_events",
    "select count(*) from fct_usage_costs where organization_id = 'globex'",
    "select count(*) from raw.usage_events",
    "select count(*) from (with fct_usage_costs as (select 1) select 1) as a, fct_usage_costs",
    # settings, secrets and the environment
    "select current_setting('memory_limit')::int",
    "select length(getenv('HOME'))",
    "select count(*) from duckdb_secrets()",
    "select count(*) from duckdb_settings()",
    "select count(*) from duckdb_extensions()",
    "select length(version())",
    # several statements, comments, unicode
    "select count(*) from filtered_events; drop table filtered_events",
    "select count(*) from filtered_events -- harmless\n; attach '/tmp/x.db' as loot",
    "select count(*) from ｆiltered_events",  # full-width f
    "select count(*) from filtered_еvents",  # Cyrillic e
    "select count(*) from filtered\u200b_events",  # zero-width space
    "select count(*) from filtered_events where event_name = '\u202eeulav'",  # RTL override
    "select $1",
]  # fmt: skip
# Valid queries that would run for hours (or forever): stopped by the time limit.
STOPPED = [
    "with recursive r(n) as (select 1 union all select n + 1 from r) select count(*) from r",
    "select sum(cast(a.event_value as double) * b.event_value * c.event_value * d.event_value) "
    "from filtered_events a, filtered_events b, filtered_events c, filtered_events d",
    "select count(*) from filtered_events a, filtered_events b, filtered_events c, "
    "filtered_events d where a.event_string || b.event_string <> c.event_name || d.event_name",
]


@pytest.fixture(scope="module")
def writer(built_home) -> str:
    settings, _ = built_home
    engine = engine_for(settings.control_store_url)
    return create_key(engine, "acme", ["metrics:read", "metrics:write"], "test", settings.clock())[
        1
    ]


def _fingerprint(settings) -> dict[str, str]:
    paths = [settings.warehouse_path, settings.current_snapshot.resolve()]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_the_corpus_is_refused_or_stopped_and_nothing_changes(client, writer, built_home, oracle):
    assert len(REFUSED) + len(STOPPED) >= 30
    settings, _ = built_home
    before = _fingerprint(settings)
    customer = next(e.end_user_id for e in oracle if e.organization_id == "acme" and e.end_user_id)
    for sql in REFUSED:
        body = {"name": "attack", "queryType": "complex", "sqlDefinition": sql}
        response = client.post("/v1/metrics", json=body, headers=auth(writer))
        assert response.status_code == 400, (sql, response.text)
        assert response.json()["error"]["code"] == "INVALID_METRIC_SQL", sql
        indexed = client.post(
            "/v1/metrics", json={**body, "queryType": "indexed"}, headers=auth(writer)
        )
        assert indexed.status_code == 400, sql
    for sql in STOPPED:
        body = {"name": "runaway", "queryType": "complex", "sqlDefinition": sql}
        created = client.post("/v1/metrics", json=body, headers=auth(writer))
        assert created.status_code == 201, created.text
        response = client.get(
            f"/v1/metrics/{created.json()['id']}/value",
            params={"customerId": customer},
            headers=auth(writer),
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "METRIC_QUERY_TIMEOUT", (sql, response.text)
    assert _fingerprint(settings) == before
    assert not LOOT.exists()


def test_filtered_events_holds_only_the_callers_customer(client, writer, oracle):
    """What a query can see is already one organization's one customer."""
    body = {
        "name": "who is in here",
        "queryType": "complex",
        "sqlDefinition": "select count(distinct customer_id) * 1000000 + count(*) from filtered_events",
    }
    metric_id = client.post("/v1/metrics", json=body, headers=auth(writer)).json()["id"]
    customer = "user_0"
    expected = sum(1 for e in oracle if e.organization_id == "acme" and e.end_user_id == customer)
    response = client.get(
        f"/v1/metrics/{metric_id}/value", params={"customerId": customer}, headers=auth(writer)
    )
    assert response.json()["value"] == 1_000_000 + expected


@pytest.mark.parametrize(
    "statement",
    [
        "select count(*) from read_csv('/etc/passwd')",
        "select count(*) from '/etc/passwd'",
        "attach '/tmp/tallyhouse-attack-loot.db' as loot",
        f"copy filtered_events to '{LOOT}.csv'",
        "install httpfs",
        "set enable_external_access = true",
        "set threads = 64",
        "select count(*) from duckdb_secrets()",
        # what would outlive the evaluation's connection in the process's database
        "attach ':memory:' as loot",
        "create table loot as select * from filtered_events",
        "create macro count_star() as 42",
        "select 1; select 2",
    ],
)
def test_the_sandbox_stops_what_validation_would_let_through(statement):
    """The second wall: unvalidated SQL straight into the sandbox still cannot get out."""
    limits = metric_sandbox.SandboxLimits(seconds=1)
    with pytest.raises(metric_sandbox.MetricQueryError) as raised:
        metric_sandbox.evaluate(statement, pa.table({}), limits)  # runs it, over no rows
    assert not isinstance(raised.value, metric_sandbox.MetricResultInvalid), raised.value
    assert not Path("/tmp/tallyhouse-attack-loot.db").exists()
    assert not Path(f"{LOOT}.csv").exists()


def test_one_evaluation_sees_nothing_of_another():
    """Evaluations share a database per process: each one's rows are its connection's own."""
    limits = metric_sandbox.SandboxLimits(seconds=1)
    three = pa.table({name: pa.nulls(3, pa.string()) for name in FILTERED_EVENTS_COLUMNS})
    count = "select count(*) from filtered_events"
    assert metric_sandbox.evaluate_here(count, three, limits) == 3
    assert metric_sandbox.evaluate_here(count, None, limits) == 0
    assert metric_sandbox.evaluate_here(count, three.slice(0, 1), limits) == 1


@pytest.mark.parametrize(
    "statement",
    [
        "select count(*) from read_csv('/etc/passwd')",
        "select count(*) from read_parquet('{folder}/other.parquet')",
        "select count(*) from '{folder}/other.parquet'",
        "select count(*) from glob('{folder}/*')",
        "select count(*) from (select set_config('enable_external_access', 'true'))",
    ],
)
def test_a_builds_sandbox_reads_its_events_file_and_no_other(statement, tmp_path):
    """The second wall of a build's pre-computation: the worker's database may read the
    organization's events file (evaluate_slices), and nothing beside it."""
    columns = ", ".join(
        f"cast(null as {kind}) as {name}" for name, kind in FILTERED_EVENTS_COLUMNS.items()
    )
    with duckdb.connect() as con:
        for name, customers in (("events", ["c1", "c1", "c2"]), ("other", ["c1"] * 5)):
            con.execute(
                f"copy (select * replace (customer as customer_id) from (select {columns}), "
                f"unnest($1) as t(customer)) to '{tmp_path / name}.parquet'",
                [customers],
            )
    slices = pa.table(
        {
            "slice_id": pa.array([1, 2], pa.int64()),
            "customer_id": ["c1", "c2"],
            "slice_start": pa.nulls(2, pa.timestamp("us")),
            "slice_end": pa.nulls(2, pa.timestamp("us")),
        }
    )
    limits = metric_sandbox.SandboxLimits(seconds=5)
    events = [tmp_path / "events.parquet"]
    counted = metric_sandbox.evaluate_slices(
        "select count(*) from filtered_events", events, slices, limits
    )
    assert counted.to_pylist() == [
        {"slice_id": 1, "result_rows": 1, "metric_value": 2.0},
        {"slice_id": 2, "result_rows": 1, "metric_value": 1.0},
    ]
    with pytest.raises(metric_sandbox.MetricQueryError) as raised:
        metric_sandbox.evaluate_slices(statement.format(folder=tmp_path), events, slices, limits)
    assert not isinstance(raised.value, metric_sandbox.MetricResultInvalid), raised.value
