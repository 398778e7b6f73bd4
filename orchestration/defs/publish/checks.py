"""Data checks on every published snapshot, as Dagster asset checks (shown in the run view).

- every landing row is accounted for: one fact, one reject or one duplicate each;
- the daily mart sums to the event fact, per organization, day and end user;
- the share of billable events left unpriced stays under `TALLYHOUSE_UNPRICED_WARN_SHARE`
  (a warning: prices may be missing for a model the apps started using).
"""

from __future__ import annotations

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
    "organization, day and end user.",
)
def daily_mart_sums_to_fact(tallyhouse: TallyhouseResource) -> dg.AssetCheckResult:
    with _snapshot(tallyhouse) as snapshot:
        groups, differing, daily_cost, fact_cost = snapshot.execute(
            load_sql(SQL_DIR, "check_daily_sums")
        ).fetchall()[0]
    return dg.AssetCheckResult(
        passed=differing == 0 and daily_cost == fact_cost,
        metadata={
            "groups_compared": groups,
            "groups_differing": differing,
            "daily_cost_usd": str(daily_cost),
            "fact_cost_usd": str(fact_cost),
        },
    )


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
