"""Data checks on every published snapshot, as Dagster asset checks (shown in the run view).

- every landing row is accounted for: one fact, one reject or one duplicate each;
- the daily mart sums to the event fact, per organization, day and end user (the days that
  ingest runs since the last passed check changed) and in total;
- the share of billable events left unpriced stays under `TALLYHOUSE_UNPRICED_WARN_SHARE`
  (a warning: prices may be missing for a model the apps started using).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dagster as dg
import duckdb
import sqlalchemy as sa

from core.control_store import engine_for, landing_events
from core.sql import load_sql
from orchestration.defs.publish.assets import serving_snapshot
from orchestration.defs.resources import TallyhouseResource

SQL_DIR = Path(__file__).parent / "sql"


def _snapshot(tallyhouse: TallyhouseResource) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(tallyhouse.settings().current_snapshot), read_only=True)


def _inbox_rows_taken(tallyhouse: TallyhouseResource) -> int:
    """Events the API accepted that the ingest has taken (up to its watermark)."""
    with tallyhouse.connect(read_only=True) as warehouse:
        (watermark,) = warehouse.execute(
            "select coalesce(max(last_seq), 0) from raw.inbox_watermark"
        ).fetchall()[0]
    store = engine_for(tallyhouse.settings().control_store_url)
    with store.connect() as con:
        return con.execute(
            sa.select(sa.func.count()).where(landing_events.c.seq <= watermark)
        ).scalar_one()


@dg.asset_check(
    asset=serving_snapshot,
    description="Landing rows (file lines, unreadable files, API events taken) = fact rows + "
    "rejects + duplicates: no event lost or counted twice between landing and the marts.",
)
def landing_rows_accounted_for(tallyhouse: TallyhouseResource) -> dg.AssetCheckResult:
    inbox_rows = _inbox_rows_taken(tallyhouse)
    with _snapshot(tallyhouse) as snapshot:
        file_rows, facts, rejects, duplicates = snapshot.execute(
            load_sql(SQL_DIR, "check_landing_rows")
        ).fetchall()[0]
    landing = file_rows + inbox_rows
    return dg.AssetCheckResult(
        passed=landing == facts + rejects + duplicates,
        metadata={
            "landing_rows": landing,
            "file_rows": file_rows,
            "api_rows": inbox_rows,
            "fact_rows": facts,
            "rejects": rejects,
            "duplicates": duplicates,
            "unaccounted": landing - facts - rejects - duplicates,
        },
    )


@dg.asset_check(
    asset=serving_snapshot,
    description="fct_daily_costs sums to fct_usage_costs (events and cost) for every "
    "organization, day and end user that ingest runs since the last passed check changed "
    "(every one after a full refresh, a new project or new time zones), and in total.",
)
def daily_mart_sums_to_fact(tallyhouse: TallyhouseResource) -> dg.AssetCheckResult:
    settings = tallyhouse.settings()
    with _snapshot(tallyhouse) as snapshot:
        project, timezones, newest_run = snapshot.execute(
            "select project_fingerprint, timezones, "
            "(select coalesce(max(ingest_run_id), -1) from fct_usage_costs) from snapshot_info"
        ).fetchall()[0]
        through = -1
        if settings.engine == "duckdb" and not settings.full_refresh:
            with tallyhouse.connect(read_only=True) as warehouse:
                through = _daily_sums_checked_through(warehouse, project, timezones)
        first_day, last_day = snapshot.execute(
            "select min(cost_date), max(cost_date) from fct_daily_costs "
            "where last_ingest_run_id > $1",
            [through],
        ).fetchall()[0]
        first_instant = "-infinity" if first_day is None else first_day - timedelta(days=1)
        last_instant = "infinity" if last_day is None else last_day + timedelta(days=2)
        groups, differing, daily_events, fact_events, daily_cost, fact_cost = snapshot.execute(
            load_sql(SQL_DIR, "check_daily_sums"),
            [through, first_instant, last_instant],
        ).fetchall()[0]
    passed = differing == 0 and daily_events == fact_events and daily_cost == fact_cost
    if passed and settings.engine == "duckdb":
        with tallyhouse.connect() as warehouse:
            warehouse.execute(
                "insert into raw.daily_sums_checked values ($1, $2, $3, $4)",
                [newest_run, project, timezones, tallyhouse.now().replace(tzinfo=None)],
            )
    return dg.AssetCheckResult(
        passed=passed,
        metadata={
            "groups_compared": groups,
            "groups_differing": differing,
            "compared_runs_after": through,
            "daily_events": daily_events,
            "fact_events": fact_events,
            "daily_cost_usd": str(daily_cost),
            "fact_cost_usd": str(fact_cost),
        },
    )


def _daily_sums_checked_through(
    warehouse: duckdb.DuckDBPyConnection, project: str | None, timezones: str | None
) -> int:
    """The newest ingest run through which the daily mart was last checked and passed, when the
    same project built it with the same time zones (else its rows may all have been rebuilt):
    -1, compare every day."""
    newest = warehouse.execute(
        "select checked_through_ingest_run, project_fingerprint, timezones "
        "from raw.daily_sums_checked order by rowid desc limit 1"
    ).fetchall()
    if not newest or newest[0][1:] != (project, timezones):
        return -1
    return newest[0][0]


@dg.asset_check(
    asset=serving_snapshot,
    description="The share of billable events left unpriced (or partly priced) is at most "
    "TALLYHOUSE_UNPRICED_WARN_SHARE; above it the check warns and names the models.",
)
def unpriced_share(tallyhouse: TallyhouseResource) -> dg.AssetCheckResult:
    threshold = tallyhouse.settings().unpriced_warn_share
    with _snapshot(tallyhouse) as snapshot:
        billable, unpriced = snapshot.execute(
            "select count(*) filter (where pricing_status <> 'not_applicable'), "
            "count(*) filter (where pricing_status in ('unpriced', 'partially_priced')) "
            "from fct_usage_costs"
        ).fetchall()[0]
        models = snapshot.execute(
            "select coalesce(model, '(none)'), count(*) from fct_usage_costs "
            "where pricing_status in ('unpriced', 'partially_priced') "
            "group by 1 order by 2 desc, 1 limit 10"
        ).fetchall()
    share = unpriced / billable if billable else 0.0
    return dg.AssetCheckResult(
        passed=share <= threshold,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "billable_events": billable,
            "unpriced_events": unpriced,
            "unpriced_share": round(share, 6),
            "threshold": threshold,
            "top_unpriced_models": dg.MetadataValue.json(dict(models)),
        },
    )
