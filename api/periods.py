"""Time windows and date ranges of the read endpoints, on the organization's calendar.

Calendar windows (months, days, dates) are the organization's, in its time zone
(api/organizations.py): a month starts at local midnight on the 1st, whatever that is in UTC,
and a day lasts 23 or 25 hours across a daylight-saving change. Rolling windows are spans of
instants. Instants are UTC inside and shown with the zone's offset (`iso_ms`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from api.errors import ValidationFailed
from api.organizations import UTC_ZONE
from core.event_body import ALL_TIME, EARLIEST_DATE, LATEST_DATE
from core.organizations import local_midnight

TIME_WINDOWS = ("current-period", "last-period", "last-7-days", "last-30-days")
DEFAULT_TIME_WINDOW = "current-period"
GRANULARITIES = ("day", "week", "month")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only
_ONE_MS = timedelta(milliseconds=1)
# The dates a read may name (docs/api.md#errors)
EARLIEST_INSTANT, END_OF_TIME = (moment.replace(tzinfo=UTC) for moment in ALL_TIME)


@dataclass(frozen=True)
class Window:
    """[start, end) and the period before it, [previous_start, start)."""

    start: datetime
    end: datetime
    previous_start: datetime
    period_start: datetime  # what the response shows
    period_end: datetime
    zone: ZoneInfo = UTC_ZONE  # the organization's, in which it is shown


def _month_start(now: datetime, zone: ZoneInfo, months: int = 0) -> datetime:
    """The instant the organization's month holding `now` starts, `months` later."""
    local = now.astimezone(zone)
    index = local.year * 12 + local.month - 1 + months
    return local_midnight(date(index // 12, index % 12 + 1, 1), zone)


def naive_utc(moment: datetime) -> datetime:
    """An instant as the stores and the warehouse keep it: UTC, without a zone (one without a
    zone is UTC already)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def calendar_period(
    unit: str, now: datetime, zone: ZoneInfo = UTC_ZONE
) -> tuple[datetime, datetime]:
    """The organization's calendar month or day holding `now`: [start, end), UTC instants."""
    if unit == "month":
        return _month_start(now, zone), _month_start(now, zone, 1)
    today = now.astimezone(zone).date()
    return local_midnight(today, zone), local_midnight(today + timedelta(days=1), zone)


def rolling_period(days: int, now: datetime) -> tuple[datetime, datetime]:
    """The days × 24 hours ending now, both ends included — the first instant counted is
    exactly `days` before now — as [start, end): the one rolling window of `last-7-days`,
    metrics' RELATIVE timeframes and limits' rolling_days."""
    return now - timedelta(days=days), now + timedelta(microseconds=1)


def time_window(name: str, now: datetime, zone: ZoneInfo = UTC_ZONE) -> Window:
    if name not in TIME_WINDOWS:
        raise ValidationFailed(
            f"Invalid time_window: {name}. Valid options: {', '.join(TIME_WINDOWS)}"
        )
    if name in ("current-period", "last-period"):
        months = 0 if name == "current-period" else -1
        start, end = _month_start(now, zone, months), _month_start(now, zone, months + 1)
        previous = _month_start(now, zone, months - 1)
        return Window(start, end, previous, start, end - _ONE_MS, zone)
    length = timedelta(days=7 if name == "last-7-days" else 30)
    start, end = rolling_period(length.days, now)
    return Window(start, end, start - length, now - length, now, zone)


def parse_instant(text: str) -> datetime:
    """An ISO-8601 date or date-time (ASCII; no zone: UTC) as a UTC instant; ValueError if it
    is not one, or cannot be one (e.g. 9999-12-31T23:00-05:00)."""
    if not text.isascii():
        raise ValueError(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(text) from None


def parse_date(name: str, value: str) -> date:
    if not _DATE.fullmatch(value):
        raise ValidationFailed(f"Invalid {name}: {value}. Expected YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"Invalid {name}: {value} is not a calendar date") from None
    if not EARLIEST_DATE <= parsed <= LATEST_DATE:
        raise ValidationFailed(
            f"Invalid {name}: {value}; dates run from {EARLIEST_DATE} to {LATEST_DATE}"
        )
    return parsed


@dataclass(frozen=True)
class DateRange:
    """Inclusive dates of the organization's calendar."""

    start: date
    end: date  # inclusive
    zone: ZoneInfo = UTC_ZONE

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> DateRange:
        """The same number of days just before."""
        return DateRange(
            self.start - timedelta(days=self.days), self.start - timedelta(days=1), self.zone
        )

    def start_instant(self) -> datetime:
        return local_midnight(self.start, self.zone)

    def end_instant(self) -> datetime:
        return local_midnight(self.end, self.zone)


def date_range(
    start_date: str | None,
    end_date: str | None,
    now: datetime,
    max_days: int,
    zone: ZoneInfo = UTC_ZONE,
) -> DateRange:
    """Inclusive dates of the organization's calendar; by default its current month up to
    its today."""
    end = parse_date("end_date", end_date) if end_date else now.astimezone(zone).date()
    start = parse_date("start_date", start_date) if start_date else end.replace(day=1)
    if end < start:
        raise ValidationFailed(f"Invalid date range: end_date {end} is before start_date {start}")
    result = DateRange(start, end, zone)
    if result.days > max_days:
        raise ValidationFailed(f"Invalid date range: {result.days} days; at most {max_days} days")
    return result


def iso_ms(moment: datetime, zone: ZoneInfo | None = None) -> str:
    """2026-01-31T23:59:59.999Z, or in a zone with its offset: 2026-01-31T23:59:59.999+05:30
    (UTC always as Z)."""
    if zone is None or zone.key == "UTC":
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return moment.astimezone(zone).isoformat(timespec="milliseconds")
