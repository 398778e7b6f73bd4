"""Publishing: a new file per version, an atomic switch of the stable path, readers undisturbed."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal

import duckdb

from orchestration.defs.publish.snapshot import publish
from orchestration.defs.transform.assets import EVENT_FACTS


def _publish(*args, **kwargs):
    """A publish as the build's asset calls it: the dbt project's event facts are appended to."""
    return publish(*args, event_facts=EVENT_FACTS, **kwargs)


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
        first = _publish(con, serving, current, now=now, keep=2)
    reader = duckdb.connect(str(current), read_only=True)
    assert reader.execute("select count(*), sum(cost_usd) from fct_usage_costs").fetchone() == (
        3,
        4.5,
    )

    with _warehouse(tmp_path / "wh.duckdb", 5) as con:
        second = _publish(con, serving, current, now=now, keep=2)

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
        versions = [_publish(con, serving, current, now=now, keep=2).path for _ in range(4)]
    assert sorted((serving / "snapshots").glob("*.duckdb")) == versions[2:]
    assert not list((serving / "snapshots").glob("*.building"))


def test_published_tables_are_in_their_readers_order(tmp_path):
    """Sorted by organization then time, so a reader's filter skips whole row groups."""
    serving, current = tmp_path / "serving", tmp_path / "serving" / "current.duckdb"
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    with _warehouse(tmp_path / "wh.duckdb", 1000) as con:
        _publish(con, serving, current, now=now, keep=2)
    with duckdb.connect(str(current), read_only=True) as snapshot:
        rows = snapshot.execute("select organization_id, event_at from fct_usage_costs").fetchall()
    assert rows == sorted(rows)
    assert rows[0][0] == "a" and rows[-1][0] == "b"


def _events(con, run: int, first: int, count: int) -> None:
    """`count` events of ingest run `run`, ids from `first`, alternating organizations; event
    i costs $1.5 + i * 10^-18 (a total kept to the 18th decimal or not)."""
    con.execute(
        "insert into marts.fct_usage_costs select range, "
        "cast('1.5000000000000' || lpad(cast(range as varchar), 5, '0') as decimal(38, 18)), "
        "['b', 'a'][range % 2 + 1], timestamp '2026-11-24' - to_seconds(range), ? "
        "from range(?, ?)",
        [run, first, first + count],
    )


def _fact_warehouse(path) -> duckdb.DuckDBPyConnection:
    con = _warehouse(path, 0)
    con.execute(
        "create or replace table marts.fct_usage_costs (event_id bigint, "
        "cost_usd decimal(38,18), organization_id varchar, event_at timestamp, "
        "ingest_run_id bigint)"
    )
    con.execute("create or replace table marts.dim_models as select 1 as day")
    return con


def _published(current) -> tuple[list, dict]:
    with duckdb.connect(str(current), read_only=True) as snapshot:
        rows = snapshot.execute("select * from fct_usage_costs").fetchall()
        tables = dict(
            snapshot.execute("select table_name, appended_rows from snapshot_tables").fetchall()
        )
    return rows, tables


class TestPublishCostsWhatChanged:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)

    def test_new_runs_events_are_appended_to_a_copy_and_the_rest_replaced(self, tmp_path):
        serving, current = tmp_path / "serving", tmp_path / "serving" / "current.duckdb"
        with _fact_warehouse(tmp_path / "wh.duckdb") as con:
            _events(con, 1, 0, 100)
            first = _publish(con, serving, current, now=self.now, keep=5)
            _events(con, 2, 100, 20)
            con.execute("create or replace table marts.dim_models as select 2 as day")
            second = _publish(con, serving, current, now=self.now, keep=5)
            expected = con.execute("select * from marts.fct_usage_costs").fetchall()
        assert first.changed == {} and second.changed == {"fct_usage_costs": 20}
        rows, tables = _published(current)
        assert sorted(rows) == sorted(expected) and len(rows) == 120
        # the first 100 as one sorted run, then run 2's 20 sorted among themselves
        keys = [(org, at) for _, _, org, at, _ in rows]
        assert keys[:100] == sorted(keys[:100]) and keys[100:] == sorted(keys[100:])
        assert {row[4] for row in rows[100:]} == {2}
        assert tables["fct_usage_costs"] == 20  # written since the last full sort
        with duckdb.connect(str(current), read_only=True) as snapshot:
            assert snapshot.execute("select day from dim_models").fetchall() == [(2,)]
            # 120 x $1.5, plus (0 + 1 + ... + 119) x 10^-18
            assert snapshot.execute("select events, cost_usd from snapshot_info").fetchone() == (
                120,
                Decimal("180.000000000000007140"),
            )
        # the snapshot it was copied from is untouched
        with duckdb.connect(str(first.path), read_only=True) as old:
            assert old.execute("select count(*) from fct_usage_costs").fetchone() == (100,)

    def test_a_fact_is_rewritten_sorted_when_appending_would_be_wrong_or_too_much(self, tmp_path):
        serving, current = tmp_path / "serving", tmp_path / "serving" / "current.duckdb"
        with _fact_warehouse(tmp_path / "wh.duckdb") as con:
            _events(con, 1, 0, 100)
            _publish(con, serving, current, now=self.now, keep=5)
            # a served row the warehouse no longer has (a full refresh dropped it): rewrite
            con.execute("delete from marts.fct_usage_costs where event_id = 7")
            _events(con, 2, 100, 10)
            changed = _publish(con, serving, current, now=self.now, keep=5)
            assert changed.changed == {}
            assert _published(current)[1]["fct_usage_costs"] == 0
            # 40 more rows on 109 sorted ones: over a quarter of the 149 appended since the sort
            _events(con, 3, 200, 40)
            grown = _publish(con, serving, current, now=self.now, keep=5)
            _events(con, 4, 300, 5)
            forced = _publish(con, serving, current, now=self.now, keep=5, rewrite_all=True)
            expected = con.execute("select * from marts.fct_usage_costs").fetchall()
        assert grown.changed == {} and forced.changed == {}
        rows, tables = _published(current)
        assert rows == sorted(expected, key=lambda row: (row[2], row[3]))
        assert tables["fct_usage_costs"] == 0 and len(rows) == 154

    def test_a_large_fact_is_written_whole_a_slice_of_runs_at_a_time(self, tmp_path):
        serving, current = tmp_path / "serving", tmp_path / "serving" / "current.duckdb"
        with _fact_warehouse(tmp_path / "wh.duckdb") as con:
            # runs of 30, 30, 50 and 10 rows in slices of at least 50: runs 1-2, 3, then 4
            for run, first, count in ((1, 0, 30), (2, 30, 30), (3, 60, 50), (4, 110, 10)):
                _events(con, run, first, count)
            _publish(con, serving, current, now=self.now, keep=5, slice_rows=50)
            expected = con.execute("select * from marts.fct_usage_costs").fetchall()
        rows, tables = _published(current)
        assert sorted(rows) == sorted(expected) and len(rows) == 120
        assert tables["fct_usage_costs"] == 0  # written whole
        # each slice sorted among itself, in the order of its runs
        assert [{row[4] for row in part} for part in (rows[:60], rows[60:110], rows[110:])] == [
            {1, 2},
            {3},
            {4},
        ]
        for part in (rows[:60], rows[60:110], rows[110:]):
            keys = [(org, at) for _, _, org, at, _ in part]
            assert keys == sorted(keys)
        assert [(org, at) for _, _, org, at, _ in rows] != sorted((r[2], r[3]) for r in rows)

    def test_a_table_the_warehouse_no_longer_has_is_not_published(self, tmp_path):
        serving, current = tmp_path / "serving", tmp_path / "serving" / "current.duckdb"
        with _fact_warehouse(tmp_path / "wh.duckdb") as con:
            _publish(con, serving, current, now=self.now, keep=5)
            con.execute("drop table marts.dim_models")
            _publish(con, serving, current, now=self.now, keep=5)
        with duckdb.connect(str(current), read_only=True) as snapshot:
            names = {name for (name,) in snapshot.execute("show tables").fetchall()}
        assert "dim_models" not in names and "fct_usage_costs" in names

    def test_a_rollup_gets_the_rows_newer_runs_changed(self, tmp_path):
        serving, current = tmp_path / "serving", tmp_path / "serving" / "current.duckdb"
        rollup = "marts.fct_org_hourly_costs"
        with _fact_warehouse(tmp_path / "wh.duckdb") as con:
            con.execute(
                f"create table {rollup} as select 'k' || range as org_hourly_cost_id, "
                "'a' as organization_id, timestamp '2026-11-24' + to_hours(range) as usage_hour, "
                "1::bigint as event_count, 1 as last_ingest_run_id from range(20)"
            )
            _publish(con, serving, current, now=self.now, keep=5, project_fingerprint="p1")
            # run 2 adds an event to hour k2 and one in a new hour
            con.execute(f"update {rollup} set event_count = 2, last_ingest_run_id = 2 where org_hourly_cost_id = 'k2'")  # fmt: skip
            con.execute(f"insert into {rollup} values ('k-new', 'a', timestamp '2026-11-25', 1, 2)")
            second = _publish(con, serving, current, now=self.now, keep=5, project_fingerprint="p1")
            expected = sorted(con.execute(f"from {rollup}").fetchall())
            other_models = _publish(
                con, serving, current, now=self.now, keep=5, project_fingerprint="p2"
            )
        assert second.changed == {"fct_org_hourly_costs": 2, "fct_usage_costs": 0}
        assert other_models.changed == {}  # another dbt project: every table rewritten
        with duckdb.connect(str(second.path), read_only=True) as snapshot:
            assert sorted(snapshot.execute("from fct_org_hourly_costs").fetchall()) == expected

    def test_a_rollup_without_event_counts_is_written_in_place_and_checked_by_its_cost(
        self, tmp_path
    ):
        serving, current = tmp_path / "serving", tmp_path / "serving" / "current.duckdb"
        rollup = "marts.fct_daily_usage_type_costs"
        with _fact_warehouse(tmp_path / "wh.duckdb") as con:
            con.execute(
                f"create table {rollup} as select 'k' || range as daily_usage_type_cost_id, "
                "'a' as organization_id, date '2026-11-24' as cost_date, 'input' as usage_type, "
                "10::decimal(38, 6) as units, "
                "0.5::decimal(38, 18) as cost_usd, 1 as last_ingest_run_id from range(20)"
            )
            _publish(con, serving, current, now=self.now, keep=5, project_fingerprint="p1")
            con.execute(f"update {rollup} set cost_usd = 1, last_ingest_run_id = 2 where daily_usage_type_cost_id = 'k3'")  # fmt: skip
            second = _publish(con, serving, current, now=self.now, keep=5, project_fingerprint="p1")
            # a row changed without a newer run: the copy's cost total differs, so the table
            # is written whole instead
            con.execute(f"update {rollup} set cost_usd = 2 where daily_usage_type_cost_id = 'k4'")
            third = _publish(con, serving, current, now=self.now, keep=5, project_fingerprint="p1")
            expected = sorted(con.execute(f"from {rollup}").fetchall())
        assert second.changed == {"fct_daily_usage_type_costs": 1, "fct_usage_costs": 0}
        assert third.changed == {"fct_usage_costs": 0}
        with duckdb.connect(str(third.path), read_only=True) as snapshot:
            assert (
                sorted(snapshot.execute("from fct_daily_usage_type_costs").fetchall()) == expected
            )


class TestPublishRecyclesTheSnapshotItWouldDelete:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)

    def test_the_oldest_snapshot_is_brought_up_to_date_in_place(self, tmp_path):
        serving, current = tmp_path / "serving", tmp_path / "serving" / "current.duckdb"
        with _fact_warehouse(tmp_path / "wh.duckdb") as con:
            _events(con, 1, 0, 100)
            first = _publish(con, serving, current, now=self.now, keep=2)
            inode = first.path.stat().st_ino
            _events(con, 2, 100, 20)
            second = _publish(con, serving, current, now=self.now, keep=2)
            _events(con, 3, 120, 5)
            third = _publish(con, serving, current, now=self.now, keep=2)
            expected = con.execute("select * from marts.fct_usage_costs").fetchall()
        # nothing to delete yet: a copy; then the first file, with runs 2 and 3 appended
        assert (first.base, second.base, third.base) == ("new", "copy", "recycled")
        assert third.path.stat().st_ino == inode and not first.path.exists()
        assert sorted((serving / "snapshots").glob("*.duckdb")) == [second.path, third.path]
        assert third.changed == {"fct_usage_costs": 25}
        rows, tables = _published(current)
        assert sorted(rows) == sorted(expected) and len(rows) == 125
        assert tables["fct_usage_costs"] == 25
        with duckdb.connect(str(current), read_only=True) as snapshot:
            # its recorded total (100 events) plus runs 2 and 3: 125 x $1.5 + 7,750 x 10^-18
            assert snapshot.execute(
                "select snapshot_version, events, cost_usd from snapshot_info"
            ).fetchone() == (third.version, 125, Decimal("187.500000000000007750"))
        with duckdb.connect(str(second.path), read_only=True) as untouched:
            assert untouched.execute("select count(*) from fct_usage_costs").fetchone() == (120,)

    def test_a_snapshot_a_reader_has_open_is_not_recycled(self, tmp_path):
        serving, current = tmp_path / "serving", tmp_path / "serving" / "current.duckdb"
        with _fact_warehouse(tmp_path / "wh.duckdb") as con:
            _events(con, 1, 0, 100)
            first = _publish(con, serving, current, now=self.now, keep=2)
            # another process reads the first snapshot through the stable path
            reader = subprocess.Popen(
                [sys.executable, "-c", _READER, str(current)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert reader.stdout.readline() == "100\n"
            _events(con, 2, 100, 20)
            _publish(con, serving, current, now=self.now, keep=2)
            _events(con, 3, 120, 5)
            third = _publish(con, serving, current, now=self.now, keep=2)
            # the reader still reads what it opened, and the file it had is gone by name
            answer, _ = reader.communicate("again\n", timeout=60)
            assert answer == "100\n"
            assert third.base == "copy" and not first.path.exists()
            assert len(_published(current)[0]) == 125

    def test_a_snapshot_of_other_models_is_not_recycled(self, tmp_path):
        serving, current = tmp_path / "serving", tmp_path / "serving" / "current.duckdb"
        with _fact_warehouse(tmp_path / "wh.duckdb") as con:
            _events(con, 1, 0, 10)
            first = _publish(con, serving, current, now=self.now, keep=2, project_fingerprint="p1")
            second = _publish(con, serving, current, now=self.now, keep=2, project_fingerprint="p2")
            third = _publish(con, serving, current, now=self.now, keep=2, project_fingerprint="p2")
        assert (first.base, second.base, third.base) == ("new", "new", "copy")
        assert sorted((serving / "snapshots").glob("*.duckdb")) == [second.path, third.path]


# prints the events it reads, then again when a line comes in
_READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
query = "select count(*) from fct_usage_costs"
print(con.execute(query).fetchone()[0], flush=True)
sys.stdin.readline()
print(con.execute(query).fetchone()[0], flush=True)
"""
