"""What `dagster dev -w workspace.yaml` shows: assets, checks, the schedule and the sensor."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from orchestration.definitions import defs
from orchestration.defs.ingest.sensors import landing_files_sensor

ROOT = Path(__file__).resolve().parents[2]


def test_asset_graph_runs_from_landing_to_snapshot():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "raw_usage_events",
        "model_prices",
        "stg_tallyhouse__usage_events",
        "int_usage_components_priced",
        "fct_usage_costs",
        "fct_daily_costs",
        "fct_period_costs",
        "fct_hourly_usage",
        "dim_models",
        "dim_end_users",
        "serving_snapshot",
    } <= keys
    upstream = graph.get(dg.AssetKey("stg_tallyhouse__usage_events")).parent_keys
    assert dg.AssetKey("raw_usage_events") in upstream
    assert dg.AssetKey("fct_usage_costs") in graph.get(dg.AssetKey("serving_snapshot")).parent_keys
    groups = {
        graph.get(dg.AssetKey(k)).group_name
        for k in ("fct_usage_costs", "model_prices", "raw_usage_events")
    }
    assert groups == {"marts", "prices", "ingest"}


def test_dbt_tests_are_asset_checks():
    checks = {
        (c.asset_key.to_user_string(), c.name) for c in defs.resolve_asset_graph().asset_check_keys
    }
    # a model's rules for its rows (key, nulls, listed values): one check per model
    # (dbt_project/macros/tests.sql), no check per column
    assert ("fct_usage_costs", "fct_usage_costs_rows") in checks
    assert not any(
        name.startswith(("not_null_", "unique_", "accepted_values_")) for _, name in checks
    )
    assert len(checks) >= 20


def test_hourly_schedule_and_landing_sensor_target_the_build():
    schedule = defs.resolve_schedule_def("hourly_build")
    assert (schedule.cron_schedule, schedule.job_name) == ("0 * * * *", "build_warehouse")
    assert defs.resolve_sensor_def("landing_files_sensor").job_name == "build_warehouse"


def test_sensor_requests_a_run_only_when_landing_files_change(tmp_path, monkeypatch):
    monkeypatch.setenv("TALLYHOUSE_HOME", str(tmp_path))
    (tmp_path / "landing" / "acme").mkdir(parents=True)
    (tmp_path / "landing" / "acme" / "a.jsonl").write_text("{}\n")
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance)
        first = landing_files_sensor(context)
        assert isinstance(first, dg.RunRequest)
        context = dg.build_sensor_context(instance=instance, cursor=context.cursor)
        assert isinstance(landing_files_sensor(context), dg.SkipReason)
        (tmp_path / "landing" / "acme" / "b.jsonl").write_text("{}\n")
        assert isinstance(landing_files_sensor(context), dg.RunRequest)


def test_workspace_loads_in_the_dagster_cli():
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "definitions",
            "validate",
            "-w",
            "workspace.yaml",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
