"""The files of an organization's events that a build's metric sandbox reads, kept between
builds (orchestration/defs/metrics/event_files.py): they always hold exactly the fact's rows
of the organization, and a build writes only what they do not hold yet."""

from __future__ import annotations

import duckdb

from core.metric_sql import FILTERED_EVENTS_COLUMNS
from orchestration.defs.metrics.event_files import LEDGER, MAX_PARTS, organization_events

ALL_COLUMNS = set(FILTERED_EVENTS_COLUMNS)

# filtered_events' columns, named from the fact's by hand
FACT_ROWS = (
    "select event_id, customer_id, event_name, metric_name, event_value, event_string, "
    "properties, event_at, cost_usd from marts.fct_metric_events "
    "where organization_id = 'acme' and {where} order by event_id"
)


def _fact(warehouse, where: str = "true") -> list[tuple]:
    return warehouse.execute(FACT_ROWS.format(where=where)).fetchall()


def _files(paths) -> list[tuple]:
    with duckdb.connect() as con:
        return con.execute(
            "select * from read_parquet(?) order by event_id", [[str(p) for p in paths]]
        ).fetchall()


def _newest_run(warehouse) -> int:
    return warehouse.execute("select max(ingest_run_id) from marts.fct_metric_events").fetchone()[0]


def _add_run(warehouse, run: int, events: int) -> None:
    """`events` new events of acme in ingest run `run`, as a build appends them."""
    warehouse.execute(
        "insert into marts.fct_metric_events select * replace ("
        "event_id || '-run' || $run as event_id, $run as ingest_run_id) "
        "from marts.fct_metric_events where organization_id = 'acme' "
        "order by event_id limit $events",
        {"run": run, "events": events},
    )


def test_the_files_hold_the_facts_rows_and_grow_by_new_runs_only(home_copy, tmp_path):
    root = tmp_path / "metric-events"
    with duckdb.connect(str(home_copy.warehouse_path)) as warehouse:
        everything = _fact(warehouse)
        newest = _newest_run(warehouse)
        first = organization_events(warehouse, root, "acme", ALL_COLUMNS)
        assert len(first) == 1 and len(everything) > 1000
        assert _files(first) == everything
        written = first[0].stat().st_mtime_ns

        # nothing new: the same file, not written again
        assert organization_events(warehouse, root, "acme", ALL_COLUMNS) == first
        assert first[0].stat().st_mtime_ns == written

        # a newer run's 3 events: one part more, holding those 3 alone
        _add_run(warehouse, newest + 1, 3)
        second = organization_events(warehouse, root, "acme", ALL_COLUMNS)
        assert second[0] == first[0] and len(second) == 2
        assert _files(second[1:]) == _fact(warehouse, f"ingest_run_id = {newest + 1}")
        assert len(_files(second[1:])) == 3
        assert _files(second) == _fact(warehouse)


def test_the_files_are_written_again_when_the_fact_was_rebuilt(home_copy, tmp_path):
    root = tmp_path / "metric-events"
    with duckdb.connect(str(home_copy.warehouse_path)) as warehouse:
        newest = _newest_run(warehouse)
        organization_events(warehouse, root, "acme", ALL_COLUMNS)
        _add_run(warehouse, newest + 1, 2)
        assert len(organization_events(warehouse, root, "acme", ALL_COLUMNS)) == 2
        # a full refresh priced an old event anew: same runs, same count, another cost
        warehouse.execute(
            "update marts.fct_metric_events set cost_usd = cost_usd + 0.000001 "
            "where event_id = (select min(event_id) from marts.fct_metric_events "
            "where organization_id = 'acme' and ingest_run_id <= $newest)",
            {"newest": newest},
        )
        (folder,) = root.iterdir()
        (folder / "runs-0-1.parquet.writing").write_bytes(b"a build killed half-way")
        rewritten = organization_events(warehouse, root, "acme", ALL_COLUMNS)
        assert len(rewritten) == 1
        assert _files(rewritten) == _fact(warehouse)
        assert sorted(p.name for p in folder.iterdir()) == sorted([rewritten[0].name, LEDGER])


def test_many_parts_are_written_again_as_one(home_copy, tmp_path):
    root = tmp_path / "metric-events"
    with duckdb.connect(str(home_copy.warehouse_path)) as warehouse:
        newest = _newest_run(warehouse)
        organization_events(warehouse, root, "acme", ALL_COLUMNS)
        for run in range(newest + 1, newest + MAX_PARTS):
            _add_run(warehouse, run, 1)
            assert (
                len(organization_events(warehouse, root, "acme", ALL_COLUMNS)) == run - newest + 1
            )
        _add_run(warehouse, newest + MAX_PARTS, 1)
        merged = organization_events(warehouse, root, "acme", ALL_COLUMNS)
        assert len(merged) == 1
        assert _files(merged) == _fact(warehouse)


def test_the_files_hold_the_columns_the_metrics_read(home_copy, tmp_path):
    """The columns no metric reads are typed nulls; a metric reading another one writes the
    files again with it, keeping the others'."""
    root = tmp_path / "metric-events"
    counts = (
        "select count(*), count(customer_id), count(timestamp), count(event_value), "
        "count(event_name), count(event_id) from read_parquet(?)"
    )
    with duckdb.connect(str(home_copy.warehouse_path)) as warehouse:
        rows, values, names = warehouse.execute(
            "select count(*), count(event_value), count(event_name) "
            "from marts.fct_metric_events where organization_id = 'acme'"
        ).fetchone()
        first = organization_events(warehouse, root, "acme", {"event_value"})
        with duckdb.connect() as con:
            assert con.execute(counts, [[str(p) for p in first]]).fetchone() == (
                rows, rows, rows, values, 0, 0,
            )  # fmt: skip
        second = organization_events(warehouse, root, "acme", {"event_name"})
    assert len(second) == 1
    with duckdb.connect() as con:
        assert con.execute(counts, [[str(p) for p in second]]).fetchone() == (
            rows, rows, rows, values, names, 0,
        )  # fmt: skip
