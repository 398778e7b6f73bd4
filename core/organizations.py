"""Each organization's settings, kept in the control store: its time zone.

An organization's calendar (its days, weeks and months: `current-period`, dates, trend
buckets, limits' calendar windows) follows its time zone, an IANA name; UTC until one is set
(`tallyhouse orgs set ORG --timezone Asia/Kolkata`). The build copies the zones into the
warehouse, the daily marts are dated in them, and the API reads the zone each snapshot was
built with, so answers and marts always agree (docs/timezones.md).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

import sqlalchemy as sa

from core.control_store import organizations

DEFAULT_TIMEZONE = "UTC"
ORGANIZATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_organization_id(organization_id: str) -> str:
    if not ORGANIZATION_ID.match(organization_id):
        raise ValueError("organization id: 1-64 letters, digits, '_' or '-'")
    return organization_id


@cache
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(name: str) -> str:
    """The IANA name, or ValueError saying why it is not one."""
    if name not in _known():
        raise ValueError(
            f"Unknown time zone: {name!r}. Use an IANA name such as Europe/Berlin, "
            "America/St_Johns or UTC"
        )
    return name


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(check_timezone(name))


def set_timezone(engine: sa.Engine, organization_id: str, name: str, now: datetime) -> None:
    check_organization_id(organization_id)
    check_timezone(name)
    row = {"organization_id": organization_id, "timezone": name, "updated_at": now}
    with engine.begin() as con:
        changed = con.execute(
            organizations.update()
            .where(organizations.c.organization_id == organization_id)
            .values(timezone=name, updated_at=now)
        ).rowcount
        if not changed:
            con.execute(organizations.insert().values(row))


def timezones(engine: sa.Engine) -> dict[str, str]:
    """Every organization with a zone set: organization → IANA name."""
    with engine.connect() as con:
        rows = con.execute(
            sa.select(organizations.c.organization_id, organizations.c.timezone).order_by(
                organizations.c.organization_id
            )
        ).all()
    return dict(rows)


def local_midnight(day: date, timezone: ZoneInfo) -> datetime:
    """The instant (UTC) an organization's `day` starts in its zone (OverflowError past the
    calendar)."""
    return datetime.combine(day, time(), tzinfo=timezone).astimezone(UTC)
