"""Each organization's time zone, as the serving snapshot's marts were dated in it
(`dim_organizations`): the calendar of every answer (docs/timezones.md). Answers and marts
agree because both come from the same snapshot; a zone set since is used from the build that
takes it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import duckdb

from core.organizations import DEFAULT_TIMEZONE, zone

UTC_ZONE = zone(DEFAULT_TIMEZONE)


class Timezones:
    """Per snapshot (SnapshotView.kept): organization → its zone (UTC if none is set)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        cursor = connection.cursor()
        try:
            (exists,) = cursor.execute(
                "select count(*) from information_schema.tables "
                "where table_name = 'dim_organizations'"
            ).fetchall()[0]
            rows = (
                cursor.execute("select organization_id, timezone from dim_organizations").fetchall()
                if exists
                else []
            )
        finally:
            cursor.close()
        self._zones = {org: zone(name) for org, name in rows}

    def of(self, organization_id: str) -> ZoneInfo:
        return self._zones.get(organization_id, UTC_ZONE)
