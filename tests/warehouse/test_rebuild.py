"""Rebuilding changes nothing; a new landing file adds exactly its events."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from dbt.cli.main import dbtRunner

from api.metrics.schemas import MetricCreate
from api.metrics.service import create_metric
from core.control_store import engine_for, landing_events
from core.event_body import event_id
from core.metric_sandbox import SandboxLimits
from core.settings import DBT_PROJECT_DIR, Settings
from orchestration.build import run_build
from orchestration.defs.resources import dbt_vars
from orchestration.lib.generator import generate_events

MART_QUERIES = {
    "fct_usage_costs": "select event_id, cost_usd, pricing_status from fct_usage_costs",
    "fct_daily_costs": "select daily_cost_id, event_count, cost_usd from fct_daily_costs",
    "fct_period_costs": "select period_cost_id, cost_usd, previous_cost_usd from fct_period_costs",
    "fct_hourly_usage": "select hourly_usage_id, event_count, quantity_sum from fct_hourly_usage",
}


def _marts(path) -> dict[str, set]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {name: set(con.execute(sql).fetchall()) for name, sql in MART_QUERIES.items()}


def test_rebuild_ingests_nothing_and_changes_nothing(home_copy):
    before = _marts(home_copy.current_snapshot)
    served = home_copy.current_snapshot.resolve()
    summary = run_build(home_copy)
    assert summary.success
    assert (summary.files_ingested, summary.events_ingested, summary.duplicates) == (0, 0, 0)
    # nothing new: dbt and publish skipped, the snapshot served stays the same file
    assert not summary.published
    assert home_copy.current_snapshot.resolve() == served
    assert summary.snapshot_path == str(served)
    assert _marts(home_copy.current_snapshot) == before


def test_a_later_build_the_same_day_with_nothing_new_is_skipped(home_copy, monkeypatch):
    served = home_copy.current_snapshot.resolve()
    monkeypatch.setenv("TALLYHOUSE_NOW", "2026-11-24T18:45:00Z")
    summary = run_build(home_copy)
    assert summary.success and not summary.published
    assert home_copy.current_snapshot.resolve() == served


def test_a_build_with_a_changed_input_is_not_skipped(home_copy, monkeypatch):
    served = home_copy.current_snapshot.resolve()
    # a new day moves calendar days and prices "as of" the build: not nothing new
    monkeypatch.setenv("TALLYHOUSE_NOW", "2026-11-25T00:30:00Z")
    summary = run_build(home_copy)
    assert summary.success and summary.published
    assert home_copy.current_snapshot.resolve() != served


def test_a_new_file_adds_exactly_its_events(home_copy):
    with duckdb.connect(str(home_copy.current_snapshot), read_only=True) as con:
        (events_before,) = con.execute("select count(*) from fct_usage_costs").fetchone()
        (cost_before,) = con.execute("select sum(cost_usd) from fct_usage_costs").fetchone()
        retried = con.execute(
            "select idempotency_key from fct_usage_costs where organization_id = 'globex' limit 1"
        ).fetchone()[0]
    original = next(
        json.loads(line)
        for path in (home_copy.landing_dir / "globex").glob("*.jsonl")
        for line in path.read_text().splitlines()
        if json.loads(line)["idempotencyKey"] == retried
    )
    new_events = [
        # 1,000,000 gpt-4o-mini input tokens at $0.15 per million = $0.15
        {
            "eventType": "llm_call",
            "metricName": "input_tokens",
            "quantity": 1_000_000,
            "idempotencyKey": "new-1",
            "timestamp": "2026-11-20T10:00:00Z",
            "userId": "user_new",
            "metadata": {"model": "gpt-4o-mini", "provider": "openai", "feature": "chat"},
        },
        # caller-given cost
        {
            "eventType": "llm_call",
            "metricName": "tokens",
            "quantity": 10,
            "costUsd": 2.5,
            "idempotencyKey": "new-2",
            "timestamp": "2026-11-21T10:00:00Z",
            "userId": "user_new",
            "metadata": {"model": "gpt-4o", "provider": "openai"},
        },
    ]
    lines = [json.dumps(e) for e in new_events] + [json.dumps(original), "{broken"]
    (home_copy.landing_dir / "globex" / "second.jsonl").write_text("\n".join(lines) + "\n")

    summary = run_build(home_copy)

    assert summary.success
    assert (summary.files_ingested, summary.events_ingested) == (1, 2)
    assert (summary.duplicates, summary.events_rejected) == (1, 1)
    with duckdb.connect(str(home_copy.current_snapshot), read_only=True) as con:
        (events_after,) = con.execute("select count(*) from fct_usage_costs").fetchone()
        (cost_after,) = con.execute("select sum(cost_usd) from fct_usage_costs").fetchone()
        user_cost = con.execute(
            "select cost_usd from dim_end_users where organization_id = 'globex' and end_user_id = 'user_new'"
        ).fetchone()[0]
    assert events_after == events_before + 2
    assert cost_after - cost_before == user_cost
    assert user_cost == Decimal("2.65")


def _all_marts(path) -> dict[str, list]:
    """Every row of every mart (sorted), for an exact comparison of two snapshots."""
    with duckdb.connect(str(path), read_only=True) as con:
        names = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_name like 'fct_%' or table_name like 'dim_%'"
            ).fetchall()
        ]
        return {name: sorted(con.execute(f"from {name}").fetchall(), key=repr) for name in names}


def _catch_up_passes(run_id: str) -> list[str]:
    """What the transform logged of its catch-up passes in one run (run_build points Dagster
    at the home's instance)."""
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        return [
            entry.user_message
            for entry in instance.all_logs(run_id)
            if entry.user_message.startswith("catch-up pass") and "done" in entry.user_message
        ]


def test_an_incremental_build_equals_a_full_refresh(home_copy, tmp_path, monkeypatch):
    """New events are priced and appended, here three ingest runs caught up one dbt pass per
    run; rebuilding everything in one pass, and in a pass per run, gives the same marts."""
    batch = tmp_path / "batch"
    generate_events(
        batch, events=400, days=30, orgs=3, seed=11, now=home_copy.clock(), file_format="jsonl"
    )
    added = 0
    for source in batch.rglob("*.jsonl"):
        bodies = [json.loads(line) for line in source.read_text().splitlines()]
        for body in bodies:
            body["idempotencyKey"] = "later-" + body["idempotencyKey"]
        target = home_copy.landing_dir / source.parent.name / "later.jsonl"
        target.write_text("".join(json.dumps(body) + "\n" for body in bodies))
        added += len({b["idempotencyKey"] for b in bodies})
    with duckdb.connect(str(home_copy.current_snapshot), read_only=True) as con:
        (before,) = con.execute("select count(*) from fct_usage_costs").fetchone()
        (runs_before,) = con.execute("select count(*) from ingest_runs").fetchone()
    # each of the three new files its own ingest run, each run its own slice: two catch-up
    # passes, the third run in the build's own pass
    monkeypatch.setenv("TALLYHOUSE_INGEST_BATCH_EVENTS", "1")
    monkeypatch.setenv("TALLYHOUSE_BUILD_SLICE_EVENTS", "1")

    incremental = run_build(home_copy)
    assert incremental.success and incremental.events_ingested == added
    assert len(_catch_up_passes(incremental.run_id)) == 2
    after_incremental = _all_marts(home_copy.current_snapshot)
    assert len(after_incremental["fct_usage_costs"]) == before + added
    with duckdb.connect(str(home_copy.current_snapshot), read_only=True) as con:
        assert con.execute("select count(*) from ingest_runs").fetchone()[0] == runs_before + 3

    monkeypatch.setenv("TALLYHOUSE_FULL_REFRESH", "true")
    monkeypatch.setenv("TALLYHOUSE_BUILD_SLICE_EVENTS", "1000000")
    full = run_build(home_copy)
    assert full.success and full.events_ingested == 0
    assert _catch_up_passes(full.run_id) == []
    assert _all_marts(home_copy.current_snapshot) == after_incremental

    # every ingest run with events its own slice: all but the last rebuilt in catch-up passes
    monkeypatch.setenv("TALLYHOUSE_BUILD_SLICE_EVENTS", "1")
    with duckdb.connect(str(home_copy.current_snapshot), read_only=True) as con:
        (runs_with_events,) = con.execute(
            "select count(*) from ingest_runs where events_ingested > 0"
        ).fetchone()
    sliced = run_build(home_copy)
    assert sliced.success
    assert len(_catch_up_passes(sliced.run_id)) == runs_with_events - 1
    assert _all_marts(home_copy.current_snapshot) == after_incremental


def _dbt_test(settings, name: str, target_path) -> str:
    """Status of one dbt data test, run by dbt on this home's warehouse."""
    result = dbtRunner().invoke(
        [
            "test", "--select", name, "--target", "duckdb",
            "--vars", json.dumps(dbt_vars(settings)),
            "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
            "--target-path", str(target_path), "--log-path", str(target_path), "--quiet",
        ]
    )  # fmt: skip
    return {str(outcome.node.name): str(outcome.status) for outcome in result.result}[name]


def _unique_event_test(settings, target_path) -> str:
    return _dbt_test(settings, "fct_usage_costs_rows", target_path)


def test_event_tests_read_only_rows_newer_than_the_last_tested_build(home_copy, tmp_path):
    with duckdb.connect(str(home_copy.warehouse_path)) as warehouse:
        (newest,) = warehouse.execute("select max(ingest_run_id) from raw.ingest_runs").fetchone()
        # the fixture's build passed its tests and recorded it
        assert warehouse.execute(
            "select max(tested_through_ingest_run) from raw.tested_builds"
        ).fetchone() == (newest,)
        # an event twice, as if that tested run had landed it twice
        warehouse.execute(
            "insert into marts.fct_usage_costs select * from marts.fct_usage_costs "
            "where ingest_run_id = ? limit 1",
            [newest],
        )
    assert _unique_event_test(home_copy, tmp_path / "a") == "pass"  # tested rows: not re-read
    with duckdb.connect(str(home_copy.warehouse_path)) as warehouse:
        warehouse.execute("delete from raw.tested_builds")
    assert _unique_event_test(home_copy, tmp_path / "b") == "fail"  # nothing tested yet: all
    with duckdb.connect(str(home_copy.warehouse_path)) as warehouse:
        warehouse.execute("insert into raw.tested_builds values (?, now())", [newest - 1])
    assert _unique_event_test(home_copy, tmp_path / "c") == "fail"  # the newer run's rows


def test_a_new_event_repeating_a_tested_one_fails_the_raw_unique_test(home_copy, tmp_path):
    name = "source_unique_across_ingest_runs_tallyhouse_usage_events_event_id"
    assert _dbt_test(home_copy, name, tmp_path / "a") == "pass"
    with duckdb.connect(str(home_copy.warehouse_path)) as warehouse:
        (newest,) = warehouse.execute("select max(ingest_run_id) from raw.ingest_runs").fetchone()
        # a row of a run not tested yet, with the id of an event tested long ago
        warehouse.execute(
            "insert into raw.usage_events select * replace (? as ingest_run_id) "
            "from raw.usage_events limit 1",
            [newest + 1],
        )
    assert _dbt_test(home_copy, name, tmp_path / "b") == "fail"


def test_a_null_or_an_unlisted_value_in_a_new_row_fails_the_models_rows_test(home_copy, tmp_path):
    """One test per model for its rows' rules: the columns that are never null (event_id,
    organization_id, event_at, cost_usd and pricing_status of the cost fact) and the values
    pricing_status takes, over the rows not tested yet (its key's uniqueness: above)."""
    name = "fct_usage_costs_rows"
    with duckdb.connect(str(home_copy.warehouse_path)) as warehouse:
        (newest,) = warehouse.execute("select max(ingest_run_id) from raw.ingest_runs").fetchone()
        # a tested run's row with a null: not read again
        warehouse.execute(
            "insert into marts.fct_usage_costs select * replace (null as organization_id) "
            "from marts.fct_usage_costs where ingest_run_id = ? limit 1",
            [newest],
        )
    assert _dbt_test(home_copy, name, tmp_path / "a") == "pass"
    # a null in the first listed column, in the last, and a status not in the list
    for column, value in (
        ("event_id", "null"),
        ("pricing_status", "null"),
        ("pricing_status", "'free'"),
    ):
        with duckdb.connect(str(home_copy.warehouse_path)) as warehouse:
            warehouse.execute("delete from marts.fct_usage_costs where ingest_run_id > ?", [newest])
            warehouse.execute(
                f"insert into marts.fct_usage_costs select * replace ({value} as {column}, "
                "? as ingest_run_id) from marts.fct_usage_costs limit 1",
                [newest + 1],
            )
        assert _dbt_test(home_copy, name, tmp_path / f"{column}-{value}") == "fail", value
    with duckdb.connect(str(home_copy.warehouse_path)) as warehouse:
        warehouse.execute(
            "update marts.fct_usage_costs set pricing_status = 'caller_cost' where ingest_run_id > ?",
            [newest],
        )
    assert _dbt_test(home_copy, name, tmp_path / "listed") == "pass"  # a listed value


def test_a_rollups_rows_test_reads_the_rows_written_since_the_last_tested_build(
    home_copy, tmp_path
):
    """A folding rollup's rows test (fct_daily_costs) reads the rows whose newest ingest run
    is newer than the last tested build's: a null there fails it, a null in a row written
    before is not read again, and so is a key twice among the new rows."""
    name = "fct_daily_costs_rows"
    with duckdb.connect(str(home_copy.warehouse_path)) as warehouse:
        (newest,) = warehouse.execute("select max(ingest_run_id) from raw.ingest_runs").fetchone()
        warehouse.execute(
            "insert into marts.fct_daily_costs select * replace ("
            "'broken-' || daily_cost_id as daily_cost_id, null as cost_usd) "
            "from marts.fct_daily_costs limit 1"
        )
    assert _dbt_test(home_copy, name, tmp_path / "old") == "pass"
    with duckdb.connect(str(home_copy.warehouse_path)) as warehouse:
        warehouse.execute(
            "update marts.fct_daily_costs set last_ingest_run_id = ? "
            "where daily_cost_id like 'broken-%'",
            [newest + 1],
        )
    assert _dbt_test(home_copy, name, tmp_path / "null") == "fail"
    with duckdb.connect(str(home_copy.warehouse_path)) as warehouse:
        warehouse.execute(
            "update marts.fct_daily_costs set cost_usd = 1 where daily_cost_id like 'broken-%'"
        )
    assert _dbt_test(home_copy, name, tmp_path / "fixed") == "pass"
    with duckdb.connect(str(home_copy.warehouse_path)) as warehouse:
        warehouse.execute(
            "insert into marts.fct_daily_costs select * from marts.fct_daily_costs "
            "where daily_cost_id like 'broken-%'"
        )
    assert _dbt_test(home_copy, name, tmp_path / "twice") == "fail"


# `tallyhouse build` with nothing changed since the last build starts no run
# (orchestration/lib/build_state.py); any change to what a build reads starts one.

TALLYHOUSE = str(Path(sys.executable).parent / "tallyhouse")
LATE_EVENT = {
    "eventType": "llm_call",
    "metricName": "tokens",
    "quantity": 5,
    "idempotencyKey": "late-1",
    "timestamp": "2026-11-24T11:00:00Z",
    "userId": "user_late",
}


def _ingest_runs(settings: Settings) -> int:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        return con.execute("select count(*) from raw.ingest_runs").fetchone()[0]


def test_a_build_with_nothing_changed_since_the_last_starts_no_run(home_copy, built_home):
    # the copy is the home as the fixture's build left it, moved: nothing changed since
    _, last = built_home
    runs = _ingest_runs(home_copy)
    done = subprocess.run(
        [TALLYHOUSE, "build"], env=os.environ.copy(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"nothing new since build {last.run_id[:8]}" in done.stderr
    assert "no run started" in done.stderr
    assert f"{last.events_total:,} events in the warehouse" in done.stderr
    assert f"serving snapshot {last.snapshot_version}" in done.stderr
    # no Dagster run: not even the ingest's ledger has a new row
    assert _ingest_runs(home_copy) == runs
    again = run_build(home_copy, skip_unchanged=True)
    assert again.run_skipped and again.run_id == last.run_id
    assert again.snapshot_path == str(home_copy.current_snapshot.resolve())
    assert Path(again.snapshot_path).name == Path(last.snapshot_path).name
    assert (again.events_total, again.cost_usd_total) == (last.events_total, last.cost_usd_total)


# each change: what it does to a home, then (events the next build ingests, whether it publishes)


def _new_landing_file(settings: Settings) -> tuple[int, bool]:
    (settings.landing_dir / "acme" / "late.jsonl").write_text(json.dumps(LATE_EVENT) + "\n")
    return 1, True


def _new_inbox_event(settings: Settings) -> tuple[int, bool]:
    body = json.dumps(LATE_EVENT, separators=(",", ":"))
    with engine_for(settings.control_store_url).begin() as store:
        store.execute(
            landing_events.insert().values(
                organization_id="acme",
                idempotency_key=LATE_EVENT["idempotencyKey"],
                event_id=event_id("acme", LATE_EVENT["idempotencyKey"]),
                request_hash=hashlib.sha256(body.encode()).hexdigest(),
                body=body,
                received_at=datetime(2026, 11, 24, 11, 30),
            )
        )
    return 1, True


def _new_metric_definition(settings: Settings) -> tuple[int, bool]:
    body = MetricCreate(name="Late logins", queryType="simple", aggregationType="COUNT",
                        eventName="user-login", valueType="NUMERIC")  # fmt: skip
    create_metric(engine_for(settings.control_store_url), "acme", body, settings.clock(),
                  SandboxLimits(seconds=1))  # fmt: skip
    return 0, True


def _next_day(_: Settings) -> tuple[int, bool]:
    # calendar days and prices "as of" the build move: rebuilt and published
    os.environ["TALLYHOUSE_NOW"] = "2026-11-25T00:30:00Z"
    return 0, True


def _write_to_the_warehouse(settings: Settings) -> tuple[int, bool]:
    # not a source, but the warehouse is no longer as the last build left it: the run starts
    # and finds nothing new to publish (a table outside raw is no input of the marts)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("create table main.analyst_scratch as select 1 as x")
    return 0, False


@pytest.mark.parametrize(
    "change",
    [_new_landing_file, _new_inbox_event, _new_metric_definition, _next_day,
     _write_to_the_warehouse],
    ids=lambda f: f.__name__,
)  # fmt: skip
def test_a_build_after_a_change_starts_a_run(home_copy, built_home, change, monkeypatch):
    monkeypatch.setenv("TALLYHOUSE_NOW", os.environ["TALLYHOUSE_NOW"])  # restored after
    _, last = built_home  # what the copy's last build did
    runs = _ingest_runs(home_copy)
    events, publishes = change(home_copy)
    summary = run_build(Settings(), skip_unchanged=True)
    assert summary.success and not summary.run_skipped
    assert summary.run_id != last.run_id
    assert _ingest_runs(home_copy) == runs + 1
    assert summary.events_ingested == events
    assert summary.events_total == last.events_total + events
    assert summary.published == publishes
    # the next build with nothing new starts no run
    assert run_build(Settings(), skip_unchanged=True).run_id == summary.run_id


UNIT_TESTS = {
    "int_price_set_cells.test_price_set_cells_start_dates_and_wrapping_windows",
    "int_model_refs_resolved.test_dated_model_names_and_provider_fallbacks",
    "int_usage_components_split.test_split_and_single_event_tokens",
    "int_usage_components_priced.test_price_change_tiers_time_of_day_cache_and_unknown_models",
    "fct_usage_costs.test_caller_cost_unpriced_and_partial_events",
}


def _own_results(run_id: str) -> list[dict]:
    """dbt's results of the build's own invocation in one run (not of its catch-up passes),
    in the home the test points at."""
    invocations = Settings().dbt_invocations_dir
    (folder,) = [
        f
        for f in invocations.glob(f"tallyhouse_dbt_models-{run_id[:7]}-*")
        if "catch-up" not in f.name
    ]
    return json.loads((folder / "run_results.json").read_text())["results"]


def _unit_tests_passed(run_id: str) -> set[str]:
    """The dbt unit tests that passed in the build's own dbt invocation of one run."""
    results = _own_results(run_id)
    return {
        r["unique_id"].removeprefix("unit_test.tallyhouse.")
        for r in results
        if r["unique_id"].startswith("unit_test.") and r["status"] == "pass"
    }


def test_unit_tests_run_when_the_code_changed_since_they_last_passed(home_copy):
    # as after an edit of a model or an upgrade of dbt: the code they last passed on differs
    (home_copy.root / "unit_tests_passed").write_text("other code\n")
    _new_landing_file(home_copy)
    changed = run_build(home_copy)
    assert changed.success and _unit_tests_passed(changed.run_id) == UNIT_TESTS
    # the same code, new data: the data tests run, the unit tests are not run again
    (home_copy.landing_dir / "acme" / "later.jsonl").write_text(
        json.dumps({**LATE_EVENT, "idempotencyKey": "late-2"}) + "\n"
    )
    same = run_build(home_copy)
    assert same.success and same.events_ingested == 1
    assert _unit_tests_passed(same.run_id) == set()


# the seeds and the price models that read only them; not dim_models, which reads the as-of
# instant (docs/operations.md#static-models)
STATIC_MODELS = {
    "model_prices",
    "model_match_rules",
    "provider_fallbacks",
    "providers",
    "stg_genai_prices__model_prices",
    "stg_genai_prices__match_rules",
    "stg_genai_prices__provider_fallbacks",
    "stg_genai_prices__providers",
    "int_price_set_cells",
    "int_price_tiers",
}


def _nodes_built(run_id: str) -> set[str]:
    """The seeds and models dbt built in the build's own invocation of one run."""
    results = _own_results(run_id)
    return {
        r["unique_id"].split(".")[-1]
        for r in results
        if r["unique_id"].split(".")[0] in ("seed", "model") and r["status"] == "success"
    }


def _static_left_as_built(run_id: str) -> set[str]:
    """The assets whose materialization in one run says they were left as built."""
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        return {
            entry.dagster_event.asset_key.to_user_string()
            for entry in instance.all_logs(
                run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            )
            if "left_as_built_at" in entry.dagster_event.materialization.metadata
        }


def test_static_price_models_are_rebuilt_only_when_the_code_changed(home_copy, monkeypatch):
    # as after an edit of a seed or a model: they were last built from other code
    with duckdb.connect(str(home_copy.warehouse_path)) as con:
        con.execute("update raw.static_model_builds set code_fingerprint = 'other code'")
    # 1,000,000 gpt-4o-mini input tokens at $0.15 per million = $0.15
    priced = {
        "eventType": "llm_call",
        "metricName": "input_tokens",
        "quantity": 1_000_000,
        "idempotencyKey": "static-1",
        "timestamp": "2026-11-24T10:00:00Z",
        "userId": "user_static",
        "metadata": {"model": "gpt-4o-mini", "provider": "openai"},
    }
    (home_copy.landing_dir / "acme" / "static-1.jsonl").write_text(json.dumps(priced) + "\n")
    changed = run_build(home_copy)
    assert changed.success and changed.events_ingested == 1
    assert STATIC_MODELS | {"dim_models", "fct_usage_costs"} <= _nodes_built(changed.run_id)
    assert _static_left_as_built(changed.run_id) == set()

    # the same code, new events: the static models are left as they are, the rest is built
    second = {**priced, "idempotencyKey": "static-2", "quantity": 2_000_000}
    (home_copy.landing_dir / "acme" / "static-2.jsonl").write_text(json.dumps(second) + "\n")
    same = run_build(home_copy)
    assert same.success and same.events_ingested == 1
    built = _nodes_built(same.run_id)
    assert built & STATIC_MODELS == set()
    assert {"dim_models", "fct_usage_costs", "fct_daily_costs"} <= built
    # Dagster still has every asset of the run: the static ones as left as built
    assert _static_left_as_built(same.run_id) == STATIC_MODELS
    with duckdb.connect(str(home_copy.current_snapshot), read_only=True) as con:
        costs = con.execute(
            "select idempotency_key, cost_usd from fct_usage_costs "
            "where idempotency_key like 'static-%' order by 1"
        ).fetchall()
    # priced with the prices they were left with: 2,000,000 x $0.15 per million = $0.30
    assert costs == [("static-1", Decimal("0.15")), ("static-2", Decimal("0.30"))]

    # a full refresh builds them again
    monkeypatch.setenv("TALLYHOUSE_FULL_REFRESH", "true")
    refreshed = run_build(home_copy)
    assert refreshed.success and _nodes_built(refreshed.run_id) >= STATIC_MODELS


def test_a_run_of_some_models_does_not_record_the_static_ones_as_built(home_copy):
    import dagster as dg

    from orchestration.definitions import defs

    with duckdb.connect(str(home_copy.warehouse_path)) as con:
        con.execute("update raw.static_model_builds set code_fingerprint = 'other code'")
    _new_landing_file(home_copy)
    # as from Dagster's UI: the ingest and one model, none of the static ones
    job = defs.resolve_job_def("build_warehouse")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey("raw_usage_events"), dg.AssetKey("dim_models")],
        )
    assert result.success
    assert _nodes_built(result.run_id) == {"dim_models"}
    with duckdb.connect(str(home_copy.warehouse_path), read_only=True) as con:
        # forgotten before the run, and not recorded after it: the next build builds them
        assert con.execute("select count(*) from raw.static_model_builds").fetchone() == (0,)
    assert _nodes_built(run_build(home_copy).run_id) >= STATIC_MODELS
