"""Publishing: a new file per version, an atomic switch of the stable path, readers undisturbed."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from orchestration.defs.publish.snapshot import publish


def _warehouse(path, events: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts; create schema if not exists raw")
    con.execute(
        "create or replace table marts.fct_usage_costs as select range as event_id, "
        "1.5::decimal(38,18) as cost_usd, ['b', 'a'][range % 2 + 1] as organization_id, "
        "timestamp '2026-11-24' - to_seconds(range) as event_at from range(?)",
        [events],
    )
    for name in ("rejected_events", "landing_files", "ingest_runs"):
        con.execute(f"create or replace table raw.{name} as select 1 as x")
    return con


def test_publish_switches_the_stable_path_and_old_readers_keep_their_snapshot(tmp_path):
    serving, current = tmp_path / "serving", tmp_path / "serving" / "current.duckdb"
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    with _warehouse(tmp_path / "wh.duckdb", 3) as con:
        first = publish(con, serving, current, now=now, keep=2)
    reader = duckdb.connect(str(current), read_only=True)
    assert reader.execute("select count(*), sum(cost_usd) from fct_usage_costs").fetchone() == (
        3,
        4.5,
    )

    with _warehouse(tmp_path / "wh.duckdb", 5) as con:
        second = publish(con, serving, current, now=now, keep=2)

    assert first.version != second.version and current.resolve() == second.path
    assert reader.execute("select count(*) from fct_usage_costs").fetchone() == (3,)
    with duckdb.connect(str(current), read_only=True) as fresh:
        assert fresh.execute("select count(*) from fct_usage_costs").fetchone() == (5,)
        assert fresh.execute("select snapshot_version, events from snapshot_info").fetchone() == (
            second.version,
            5,
        )
    reader.close()


def test_old_snapshots_are_pruned_to_the_configured_count(tmp_path):
    serving, current = tmp_path / "serving", tmp_path / "serving" / "current.duckdb"
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    with _warehouse(tmp_path / "wh.duckdb", 1) as con:
        versions = [publish(con, serving, current, now=now, keep=2).path for _ in range(4)]
    assert sorted((serving / "snapshots").glob("*.duckdb")) == versions[2:]
    assert not list((serving / "snapshots").glob("*.building"))


def test_published_tables_are_in_their_readers_order(tmp_path):
    """Sorted by organization then time, so a reader's filter skips whole row groups."""
    serving, current = tmp_path / "serving", tmp_path / "serving" / "current.duckdb"
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    with _warehouse(tmp_path / "wh.duckdb", 1000) as con:
        publish(con, serving, current, now=now, keep=2)
    with duckdb.connect(str(current), read_only=True) as snapshot:
        rows = snapshot.execute("select organization_id, event_at from fct_usage_costs").fetchall()
    assert rows == sorted(rows)
    assert rows[0][0] == "a" and rows[-1][0] == "b"
