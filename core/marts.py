"""Any mart of the current serving snapshot as a pandas DataFrame, for analysts in Python
(docs/marts.md#in-python): one organization's rows, between two dates of its calendar, its
instants shown in its time zone.

    from core.marts import mart

    daily = mart("fct_daily_costs", "acme", "2026-11-01", "2026-11-30")
    events = mart("fct_usage_costs", "acme", "2026-11-20", "2026-11-20")  # event_at in its zone

Money stays exact: DECIMAL columns are Python Decimals. The same tables answer SQL in the
snapshot (`duckdb serving/current.duckdb`).
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd

from core.organizations import DEFAULT_TIMEZONE, local_midnight, zone
from core.settings import Settings, get_settings

# the column a table's dates are filtered on, first found: a day of the organization's
# calendar, or an instant (UTC in the table, its local days' bounds in the filter)
DATE_COLUMNS = ("cost_date", "period_start", "month_start")
INSTANT_COLUMNS = ("event_at", "usage_hour")


def mart(
    name: str,
    organization_id: str,
    start_date: date | str | None = None,
    end_date: date | str | None = None,
    *,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The rows of mart `name` for the organization, with its date (or instant) within
    [start_date, end_date] of the organization's calendar (inclusive; either left out: no
    bound); timestamps as instants in the organization's zone. ValueError for a table the
    snapshot does not have, one without organizations, or dates on one without dates."""
    settings = settings or get_settings()
    first, last = (_day(value) for value in (start_date, end_date))
    with duckdb.connect(str(settings.current_snapshot), read_only=True) as snapshot:
        columns = _columns(snapshot, name)
        if "organization_id" not in columns:
            raise ValueError(f"{name} has no organization_id: read it with SQL")
        timezone = zone(_timezone(snapshot, organization_id))
        where, params = ["organization_id = ?"], [organization_id]
        dated = next((c for c in DATE_COLUMNS if c in columns), None)
        instant = next((c for c in INSTANT_COLUMNS if c in columns), None)
        if (first or last) and not (dated or instant):
            raise ValueError(f"{name} has no date or instant column to filter on")
        for bound, op in ((first, ">="), (last, "<")):
            if bound is None:
                continue
            if dated:
                where.append(f'"{dated}" {">=" if op == ">=" else "<="} ?')
                params.append(bound)
            else:
                day = bound if op == ">=" else bound + timedelta(days=1)
                where.append(f'"{instant}" {op} ?')
                params.append(local_midnight(day, timezone).replace(tzinfo=None))
        # the table and column names are the snapshot's own (checked above), never input
        table = snapshot.sql(
            f'select * from "{name}" where {" and ".join(where)}', params=params
        ).to_arrow_table()
    frame = table.to_pandas()
    for column, kind in columns.items():
        if kind.startswith("TIMESTAMP") and column in frame:
            frame[column] = frame[column].dt.tz_localize("UTC").dt.tz_convert(timezone.key)
    return frame


def _day(value: date | str | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _columns(snapshot: duckdb.DuckDBPyConnection, name: str) -> dict[str, str]:
    rows = snapshot.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'main' and table_name = ? order by ordinal_position",
        [name],
    ).fetchall()
    if not rows:
        tables = [
            t
            for (t,) in snapshot.execute(
                "select table_name from information_schema.tables where table_schema = 'main' "
                "order by 1"
            ).fetchall()
        ]
        raise ValueError(f"no table {name!r} in the snapshot; it has {', '.join(tables)}")
    return dict(rows)


def _timezone(snapshot: duckdb.DuckDBPyConnection, organization_id: str) -> str:
    """The zone the snapshot's marts were dated in for the organization."""
    try:
        found = snapshot.execute(
            "select timezone from dim_organizations where organization_id = ?", [organization_id]
        ).fetchall()
    except duckdb.CatalogException:  # a snapshot from before time zones
        found = []
    return found[0][0] if found else DEFAULT_TIMEZONE
