"""Dagster's records of a build's runs, written through one pool per file
(orchestration/lib/run_records.py): the same files and events Dagster's own storage reads."""

from __future__ import annotations

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from orchestration.build import _FIRST_INSTANCE_CONFIG, INSTANCE_CONFIG, ensure_instance_config
from orchestration.lib.run_records import PooledSqliteEventLogStorage


def _events(storage, run_id: str) -> list[tuple]:
    return [
        (e.timestamp, e.step_key, e.dagster_event.event_type_value if e.dagster_event else None)
        for e in storage.get_logs_for_run(run_id)
    ]


def test_the_fixture_builds_run_is_recorded_as_dagsters_own_storage_reads_it(built_home):
    settings, summary = built_home
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        pooled = _events(instance.event_log_storage, summary.run_id)
        run = instance.get_run_by_id(summary.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        records = instance.get_records_for_run(
            summary.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
        materialized = {r.event_log_entry.dagster_event.asset_key.to_user_string() for r in records}
    own = _events(
        SqliteEventLogStorage(str(settings.dagster_home / "history" / "runs")), summary.run_id
    )
    assert own == pooled
    kinds = [kind for _, _, kind in own]
    assert "PIPELINE_START" in kinds and kinds[-1] == "PIPELINE_SUCCESS"
    # every asset of the build, among them the ingest, the marts and the publish
    assert {"raw_usage_events", "fct_usage_costs", "serving_snapshot"} <= materialized
    assert kinds.count("ASSET_MATERIALIZATION") == len(materialized)


def test_a_homes_instance_config_is_written_brought_up_to_date_or_kept(tmp_path):
    missing, first, theirs = (tmp_path / name for name in ("missing", "first", "theirs"))
    for folder in (missing, first, theirs):
        folder.mkdir()
    (first / "dagster.yaml").write_text(_FIRST_INSTANCE_CONFIG)
    own_storage = "storage:\n  postgres:\n    postgres_url: postgresql://db/dagster\n"
    (theirs / "dagster.yaml").write_text(own_storage)
    for folder in (missing, first, theirs):
        ensure_instance_config(folder)
    for folder in (missing, first):
        expected = INSTANCE_CONFIG.format(base_dir=folder.resolve() / "history" / "runs")
        assert (folder / "dagster.yaml").read_text() == expected
    assert (theirs / "dagster.yaml").read_text() == own_storage
