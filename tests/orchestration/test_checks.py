"""The build's data checks (Dagster asset checks on the published snapshot): they pass on the
fixture with figures worked out from the landing files, and fail when the marts are wrong."""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal

import dagster as dg
import duckdb
import pytest

from core.settings import Settings
from orchestration.build import run_build
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


def _groups(events) -> set[tuple[str, object, str | None]]:
    return {(e.organization_id, e.event_at.date(), e.end_user_id) for e in events}


def _newest_run(settings: Settings) -> int:
    with duckdb.connect(str(settings.current_snapshot), read_only=True) as snapshot:
        return snapshot.execute("select max(ingest_run_id) from fct_usage_costs").fetchone()[0]


def _add(settings: Settings, name: str, lines: list[tuple[str, str]]) -> None:
    """Events of acme with a caller-given cost of $2, one per (instant, end user)."""
    path = settings.landing_dir / "acme" / f"{name}.jsonl"
    path.write_text("".join(
        json.dumps({
            "eventType": "llm_call", "metricName": "tokens", "quantity": 1, "costUsd": 2,
            "idempotencyKey": f"{name}-{n}", "timestamp": at, "userId": user,
        }) + "\n"
        for n, (at, user) in enumerate(lines)
    ))  # fmt: skip


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
        events = expected_events(settings.landing_dir).values()
        total = sum(e.cost_usd for e in events)
        assert passed
        # the home's first check: every organization, day (UTC: no zones set) and end user
        assert figures["compared_runs_after"] == -1
        assert figures["groups_compared"] == len(_groups(events))
        assert figures["groups_differing"] == 0
        assert figures["daily_events"] == figures["fact_events"] == len(events)
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


class TestOverTheDaysRunsChanged:
    def test_a_build_compares_the_days_its_events_touch_and_the_totals(self, home_copy):
        through = _newest_run(home_copy)
        _add(home_copy, "later", [
            ("2026-11-20T10:00:00Z", "user_later"),  # a new end user on a day with others
            ("2026-11-20T23:59:59Z", "user_later"),
            ("2026-11-21T00:00:00Z", None),  # the next day, no end user
        ])  # fmt: skip
        summary = run_build(home_copy)
        passed, figures = summary.checks["daily_mart_sums_to_fact"]
        events = expected_events(home_copy.landing_dir).values()
        days = {("acme", date(2026, 11, 20)), ("acme", date(2026, 11, 21))}
        touched = [e for e in events if (e.organization_id, e.event_at.date()) in days]
        assert passed
        assert figures["compared_runs_after"] == through
        assert figures["groups_compared"] == len(_groups(touched))
        assert figures["groups_differing"] == 0
        assert figures["daily_events"] == figures["fact_events"] == len(events)
        total = sum(e.cost_usd for e in events)
        assert Decimal(figures["daily_cost_usd"]) == Decimal(figures["fact_cost_usd"]) == total
        # a full refresh rebuilds every daily row: its check compares every day again
        os.environ["TALLYHOUSE_FULL_REFRESH"] = "true"
        try:
            _add(home_copy, "refreshed", [("2026-11-22T08:00:00Z", "user_later")])
            summary = run_build(home_copy)
        finally:
            del os.environ["TALLYHOUSE_FULL_REFRESH"]
        passed, figures = summary.checks["daily_mart_sums_to_fact"]
        events = expected_events(home_copy.landing_dir).values()
        assert passed
        assert figures["compared_runs_after"] == -1
        assert figures["groups_compared"] == len(_groups(events))


class TestWhenSomethingIsWrong:
    @pytest.fixture
    def warehouse(self, home_copy):
        def execute(sql: str) -> None:
            with duckdb.connect(str(home_copy.warehouse_path)) as con:
                con.execute(sql)

        return execute

    def test_a_lost_event_fails_both_counts(self, home_copy, warehouse):
        events = expected_events(home_copy.landing_dir).values()
        warehouse(
            "delete from marts.fct_usage_costs where event_id = "
            "(select min(event_id) from marts.fct_usage_costs where cost_usd > 0)"
        )
        checks = _publish_and_check(home_copy)
        assert not checks["landing_rows_accounted_for"].passed
        assert checks["landing_rows_accounted_for"].metadata["unaccounted"].value == 1
        assert checks["landing_rows_accounted_for"].severity == dg.AssetCheckSeverity.ERROR
        daily = checks["daily_mart_sums_to_fact"]
        assert not daily.passed
        # no ingest run since the fixture build's check: no day is compared again, and the
        # totals tell the event is gone
        assert daily.metadata["groups_compared"].value == 0
        assert daily.metadata["daily_events"].value == len(events)
        assert daily.metadata["fact_events"].value == len(events) - 1

    def test_a_wrong_daily_row_fails_on_a_day_compared_again_and_in_total(
        self, home_copy, warehouse
    ):
        """A daily row of a day that the next build's events touch is compared group by group;
        one of any other day, by the totals."""
        through = _newest_run(home_copy)
        _add(home_copy, "late", [("2026-11-20T10:00:00Z", "user_late")])
        for day in ("2026-11-20", "2026-10-01"):  # a day the new event touches, and another
            warehouse(  # one row of acme's day: one more event, a dollar more
                "update marts.fct_daily_costs set event_count = event_count + 1, "
                "cost_usd = cost_usd + 1 where daily_cost_id = (select min(daily_cost_id) from "
                f"marts.fct_daily_costs where organization_id = 'acme' and cost_date = '{day}')"
            )
        summary = run_build(home_copy)
        passed, figures = summary.checks["daily_mart_sums_to_fact"]
        events = expected_events(home_copy.landing_dir).values()
        touched = [
            e
            for e in events
            if (e.organization_id, e.event_at.date()) == ("acme", date(2026, 11, 20))
        ]
        assert not passed
        assert figures["compared_runs_after"] == through
        assert figures["groups_compared"] == len(_groups(touched))
        assert figures["groups_differing"] == 1
        assert figures["daily_events"] == figures["fact_events"] + 2
        assert Decimal(figures["daily_cost_usd"]) == Decimal(figures["fact_cost_usd"]) + 2

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
