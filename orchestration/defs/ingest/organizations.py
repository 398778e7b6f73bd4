"""Export the organizations' time zones from the control store into the warehouse, where the
daily marts date each event in its organization's zone (docs/timezones.md).

A zone set since the served snapshot was built changes what every daily row means, so the
build that takes it rebuilds the marts from the raw layer
(orchestration/lib/build_state.py, `full_refresh_due`).
"""

import dagster as dg
import duckdb
import sqlalchemy as sa

from core.control_store import engine_for
from core.organizations import check_timezone, timezones
from orchestration.defs.resources import TallyhouseResource
from orchestration.lib.build_state import create_timezones_table


def export_timezones(warehouse: duckdb.DuckDBPyConnection, store: sa.Engine) -> dict[str, str]:
    """raw.organization_timezones ← the store's zones (each checked again); what was written."""
    zones = {org: check_timezone(zone) for org, zone in timezones(store).items()}
    create_timezones_table(warehouse)
    warehouse.execute("begin transaction")
    try:
        warehouse.execute("delete from raw.organization_timezones")
        if zones:
            warehouse.executemany(
                "insert into raw.organization_timezones values (?, ?)", list(zones.items())
            )
        warehouse.execute("commit")
    except BaseException:
        warehouse.execute("rollback")
        raise
    return zones


@dg.asset(
    group_name="ingest",
    kinds={"duckdb", "sqlite"},
    description="The organizations' time zones, copied from the control store into "
    "raw.organization_timezones: the daily marts date events in them.",
)
def organization_timezones(context: dg.AssetExecutionContext, tallyhouse: TallyhouseResource):
    settings = tallyhouse.settings()
    with tallyhouse.connect() as warehouse:
        zones = export_timezones(warehouse, engine_for(settings.control_store_url))
    context.log.info(f"{len(zones)} organization time zones exported (the others are UTC)")
    return dg.MaterializeResult(metadata={"timezones": dg.MetadataValue.json(zones)})
