"""The build's data checks (Dagster asset checks on the published snapshot): they pass on the
fixture with figures worked out from the landing files, and fail when the marts are wrong."""

from __future__ import annotations

import os
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from core.settings import Settings
from tests.conftest import FIXTURE_EVENTS, MALFORMED_LINES
from tests.expected import expected_events

UNPRICED = ("unpriced", "partially_priced")


def _landing_lines(settings: Settings) -> int:
    return sum(len(p.read_text().splitlines()) for p in settings.landing_dir.rglob("*.jsonl"))


def _publish_and_check(settings: Settings) -> dict[str, dg.AssetCheckEvaluation]:
    """Publish the warehouse as it is (no ingest, no dbt) and run the snapshot's checks."""
    from orchestration.definitions import defs

    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        asset_selection=[dg.AssetKey("serving_snapshot")],
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert result.success
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


class TestOnTheFixtureBuild:
    def test_every_landing_row_is_a_fact_a_reject_or_a_duplicate(self, built_home):
        settings, summary = built_home
        passed, figures = summary.checks["landing_rows_accounted_for"]
        facts = len(expected_events(settings.landing_dir))
        lines = _landing_lines(settings)
        assert lines == FIXTURE_EVENTS + len(MALFORMED_LINES) + 1  # + the spec's example
        assert passed
        assert figures["landing_rows"] == figures["file_rows"] == lines
        assert figures["api_rows"] == 0
        assert figures["fact_rows"] == facts
        assert figures["rejects"] == len(MALFORMED_LINES)
        assert figures["duplicates"] == lines - facts - len(MALFORMED_LINES)
        assert figures["unaccounted"] == 0

    def test_the_daily_mart_sums_to_the_fact(self, built_home):
        settings, summary = built_home
        passed, figures = summary.checks["daily_mart_sums_to_fact"]
        total = sum(e.cost_usd for e in expected_events(settings.landing_dir).values())
        assert passed
        assert figures["groups_differing"] == 0
        assert Decimal(figures["daily_cost_usd"]) == Decimal(figures["fact_cost_usd"]) == total

    def test_the_unpriced_share_is_counted_over_billable_events(self, built_home):
        settings, summary = built_home
        passed, figures = summary.checks["unpriced_share"]
        events = expected_events(settings.landing_dir).values()
        billable = [e for e in events if e.status != "not_applicable"]
        unpriced = [e for e in billable if e.status in UNPRICED]
        assert unpriced, "the fixture has events of models without prices"
        assert (figures["billable_events"], figures["unpriced_events"]) == (
            len(billable),
            len(unpriced),
        )
        assert figures["unpriced_share"] == round(len(unpriced) / len(billable), 6)
        assert passed == (len(unpriced) / len(billable) <= 0.05)


class TestWhenSomethingIsWrong:
    @pytest.fixture
    def warehouse(self, home_copy):
        def execute(sql: str) -> None:
            with duckdb.connect(str(home_copy.warehouse_path)) as con:
                con.execute(sql)

        return execute

    def test_a_lost_event_fails_both_counts(self, home_copy, warehouse):
        warehouse(
            "delete from marts.fct_usage_costs where event_id = "
            "(select min(event_id) from marts.fct_usage_costs where cost_usd > 0)"
        )
        checks = _publish_and_check(home_copy)
        assert not checks["landing_rows_accounted_for"].passed
        assert checks["landing_rows_accounted_for"].metadata["unaccounted"].value == 1
        assert checks["landing_rows_accounted_for"].severity == dg.AssetCheckSeverity.ERROR
        assert not checks["daily_mart_sums_to_fact"].passed
        assert checks["daily_mart_sums_to_fact"].metadata["groups_differing"].value == 1

    def test_an_event_counted_twice_fails_the_landing_count(self, home_copy, warehouse):
        warehouse(
            "insert into marts.fct_usage_costs "
            "select * from marts.fct_usage_costs order by event_id limit 1"
        )
        checks = _publish_and_check(home_copy)
        assert checks["landing_rows_accounted_for"].metadata["unaccounted"].value == -1
        assert not checks["landing_rows_accounted_for"].passed

    def test_an_unpriced_share_over_the_threshold_warns_and_names_the_models(self, home_copy):
        events = expected_events(home_copy.landing_dir).values()
        unpriced_models = {e.model for e in events if e.status in UNPRICED}
        os.environ["TALLYHOUSE_UNPRICED_WARN_SHARE"] = "0"
        try:
            checks = _publish_and_check(home_copy)
        finally:
            del os.environ["TALLYHOUSE_UNPRICED_WARN_SHARE"]
        check = checks["unpriced_share"]
        assert not check.passed
        assert check.severity == dg.AssetCheckSeverity.WARN
        assert set(check.metadata["top_unpriced_models"].value) == unpriced_models
        # the others still pass on an untouched warehouse
        assert checks["landing_rows_accounted_for"].passed
        assert checks["daily_mart_sums_to_fact"].passed
