"""A limit's status for one subject: usage in the current period against the limit.

Cost limits read what the latest build priced (the serving snapshot); metric limits read the
metric's value, which counts every event the write API acknowledged (docs/metrics.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import duckdb
import sqlalchemy as sa

from api.cost_data import period_costs
from api.cost_data.period_costs import PeriodCosts, Subject
from api.errors import ValidationFailed
from api.limits import alerts
from api.limits.schemas import LimitStatus
from api.limits.service import Limit
from api.metrics import service as metrics
from api.metrics import values
from api.metrics.timeframe import Timeframe
from api.money import CENT, usd
from api.organizations import Timezones
from api.periods import calendar_period, iso_ms, rolling_period
from api.snapshot import SnapshotView
from core.metric_sandbox import SandboxLimits

_ONE_MS = timedelta(milliseconds=1)


def subject_of(limit: Limit, subject_id: str | None) -> str | None:
    """The subject a status is for: the limit's own, or for a limit on each one, the one
    asked (`subjectId`)."""
    if limit.subject_type == "organization":
        if subject_id is not None:
            raise ValidationFailed("subjectId: this limit is the organization's; leave it out")
        return None
    if limit.subject_id is None:
        if subject_id is None:
            raise ValidationFailed(
                f"subjectId is needed: this limit applies to each {limit.subject_type} alone"
            )
        return subject_id
    if subject_id not in (None, limit.subject_id):
        raise ValidationFailed(f"subjectId: this limit is {limit.subject_id}'s alone")
    return limit.subject_id


def period(
    limit: Limit, now: datetime, zone: ZoneInfo
) -> tuple[datetime, datetime, datetime | None]:
    """[start, end) of the period holding now (a calendar one in the organization's zone),
    and when it resets (None: rolling)."""
    if limit.window_type == "rolling_days":
        start, end = rolling_period(limit.window_days, now)
        return start, end, None
    start, end = calendar_period(limit.window_type.removeprefix("calendar_"), now, zone)
    return start, end, end


def status(
    view: SnapshotView,
    store: sa.Engine,
    limit: Limit,
    subject_id: str | None,
    now: datetime,
    sandbox: SandboxLimits,
    cache_rows: int,
) -> LimitStatus:
    """The status, with the alerts its usage reaches recorded."""
    check = _Check.of(view, limit, subject_id, now)
    if limit.measure_type == "metric":
        metric = metrics.get_metric(store, limit.organization_id, limit.metric_id)
        value = values.metric_value(
            view, store, metric, check.subject, check.timeframe(limit), now, sandbox, None,
            cache_rows,
        ).value  # fmt: skip
        usage = _Usage.of_metric(value, now)
    else:
        usage = _Usage.of_cost(view, check.costs(view, limit))
    alerts.record(store, limit, check.subject, *check.reached(limit, usage, now), usage.amount, now)
    return _shown(limit, check, usage, now)


def remembered_status(
    view: SnapshotView, store: sa.Engine, limit: Limit, subject_id: str | None, now: datetime
) -> LimitStatus | None:
    """The status when it takes no more than memory holds already (the subject's costs or the
    customer's events, read before) and every alert it reaches is known to be recorded; None
    when it takes more (status(), off the event loop)."""
    check = _Check.of(view, limit, subject_id, now)
    if limit.measure_type == "metric":
        metric = metrics.get_metric(store, limit.organization_id, limit.metric_id)
        answer = values.remembered_value(
            view, store, metric, check.subject, check.timeframe(limit), now, None
        )
        if answer is None:
            return None
        usage = _Usage.of_metric(answer.value, now)
    else:
        if not view.kept(PeriodCosts).in_memory(
            limit.organization_id, (check.start, check.end), subject=_whose(limit, check.subject)
        ):
            return None
        usage = _Usage.of_cost(view, check.costs(view, limit))
    if not alerts.known(store, limit, check.subject, *check.reached(limit, usage, now)):
        return None
    return _shown(limit, check, usage, now)


@dataclass(frozen=True)
class _Check:
    """What a status check is about: the subject, and the period holding now in the
    organization's zone ([start, end); resets None for a rolling window)."""

    subject: str | None
    zone: ZoneInfo
    start: datetime
    end: datetime
    resets: datetime | None

    @classmethod
    def of(cls, view: SnapshotView, limit: Limit, subject_id: str | None, now: datetime) -> _Check:
        zone = view.kept(Timezones).of(limit.organization_id)
        return cls(subject_of(limit, subject_id), zone, *period(limit, now, zone))

    def timeframe(self, limit: Limit) -> Timeframe:
        """A metric limit's period as the metric's timeframe: RELATIVE for a rolling window."""
        if self.resets is None:
            return Timeframe(type="RELATIVE", days=limit.window_days)
        return Timeframe(type="ABSOLUTE", start=self.start, end=self.end)

    def costs(self, view: SnapshotView, limit: Limit) -> Decimal:
        return view.kept(PeriodCosts).cost(
            limit.organization_id, self.start, self.end, _whose(limit, self.subject)
        )

    def reached(self, limit: Limit, usage: _Usage, now: datetime) -> tuple[datetime, list[int]]:
        """The alerts' period, and the thresholds the usage reaches in it."""
        key = alerts.period_key(limit.window_type, self.start, now, self.zone)
        return key, alerts.reached(limit.thresholds, usage.amount, limit.limit_amount)


@dataclass(frozen=True)
class _Usage:
    amount: Decimal  # exact
    shown: float | int  # a cost in cents; a metric's value as its JSON number
    as_of: datetime

    @classmethod
    def of_metric(cls, value, now: datetime) -> _Usage:
        return cls(Decimal(str(value or 0)), value or 0, now)

    @classmethod
    def of_cost(cls, view: SnapshotView, amount: Decimal) -> _Usage:
        return cls(amount, float(usd(amount)), view.kept(built_at))


def _whose(limit: Limit, subject: str | None) -> Subject:
    return None if limit.subject_type == "organization" else (limit.subject_type, subject)


def _shown(limit: Limit, check: _Check, usage: _Usage, now: datetime) -> LimitStatus:
    start, end, resets, zone = check.start, check.end, check.resets, check.zone
    remaining = max(limit.limit_amount - usage.amount, Decimal(0))
    percent = (usage.amount * 100 / limit.limit_amount).quantize(CENT, ROUND_HALF_UP)
    return LimitStatus(
        limitId=limit.limit_id,
        subjectId=check.subject,
        usage=usage.shown,
        limit=float(limit.limit_amount),
        remaining=float(usd(remaining) if limit.measure_type == "cost" else remaining),
        percentUsed=float(percent),
        hasAccess=not (limit.hard and usage.amount >= limit.limit_amount),
        periodStart=iso_ms(start, zone),
        periodEnd=iso_ms(end - _ONE_MS if resets is not None else now, zone),
        resetsAt=None if resets is None else iso_ms(resets, zone),
        asOf=iso_ms(usage.as_of),
    )


def subject_costs(
    view: SnapshotView, limit: Limit, start: datetime, end: datetime
) -> dict[str | None, Decimal]:
    """Every subject's cost in [start, end) (one row for the organization; for a limit on one
    subject, that one's): what the alert watcher evaluates after a publish."""
    rows = period_costs.subject_costs(
        view.connection, limit.organization_id, limit.subject_type, limit.subject_id,
        "period", start, end,
    )  # fmt: skip
    return {subject_id: usage for subject_id, _, usage in rows}


def built_at(connection: duckdb.DuckDBPyConnection) -> datetime:
    """When the build that published this snapshot ran (a cost limit's `asOf`)."""
    cursor = connection.cursor()
    try:
        (instant,) = cursor.execute("select built_at from snapshot_info").fetchall()[0]
    finally:
        cursor.close()
    return instant.replace(tzinfo=UTC)
