"""A limit's status for one subject: usage in the current period against the limit.

Cost limits read what the latest build priced (the serving snapshot); metric limits read the
metric's value, which counts every event the write API acknowledged (docs/metrics.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import sqlalchemy as sa

from api.errors import ValidationFailed
from api.limits import alerts
from api.limits.schemas import LimitStatus
from api.limits.service import Limit
from api.metrics import service as metrics
from api.metrics import values
from api.metrics.timeframe import Timeframe
from api.money import CENT, usd
from api.periods import calendar_period, iso_ms, naive_utc, rolling_period
from api.snapshot import SnapshotView
from core.metric_sandbox import SandboxLimits
from core.sql import load_sql

_QUERIES = Path(__file__).parent / "queries"
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


def period(limit: Limit, now: datetime) -> tuple[datetime, datetime, datetime | None]:
    """[start, end) of the period holding now, and when it resets (None: rolling)."""
    if limit.window_type == "rolling_days":
        start, end = rolling_period(limit.window_days, now)
        return start, end, None
    start, end = calendar_period(limit.window_type.removeprefix("calendar_"), now)
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
    subject = subject_of(limit, subject_id)
    start, end, resets = period(limit, now)
    if limit.measure_type == "metric":
        metric = metrics.get_metric(store, limit.organization_id, limit.metric_id)
        timeframe = (
            Timeframe(type="RELATIVE", days=limit.window_days)
            if resets is None
            else Timeframe(type="ABSOLUTE", start=start, end=end)
        )
        value = values.metric_value(
            view, store, metric, subject, timeframe, now, sandbox, None, cache_rows
        ).value
        usage, shown, as_of = Decimal(str(value or 0)), value or 0, now
    else:
        costs, as_of = subject_costs(view, limit, subject, start, end)
        usage = sum(costs.values(), Decimal(0))
        shown = float(usd(usage))
    alerts.record(
        store, limit, subject, alerts.period_key(limit.window_type, start, now),
        alerts.reached(limit.thresholds, usage, limit.limit_amount), usage, now,
    )  # fmt: skip
    remaining = max(limit.limit_amount - usage, Decimal(0))
    percent = (usage * 100 / limit.limit_amount).quantize(CENT, ROUND_HALF_UP)
    return LimitStatus(
        limitId=limit.limit_id,
        subjectId=subject,
        usage=shown,
        limit=float(limit.limit_amount),
        remaining=float(usd(remaining) if limit.measure_type == "cost" else remaining),
        percentUsed=float(percent),
        hasAccess=not (limit.hard and usage >= limit.limit_amount),
        periodStart=iso_ms(
            start if resets is not None else now - timedelta(days=limit.window_days)
        ),
        periodEnd=iso_ms(end - _ONE_MS if resets is not None else now),
        resetsAt=None if resets is None else iso_ms(resets),
        asOf=iso_ms(as_of),
    )


def subject_costs(
    view: SnapshotView, limit: Limit, subject: str | None, start: datetime, end: datetime
) -> tuple[dict[str | None, Decimal], datetime]:
    """Cost per subject in [start, end) (one subject's, or every one's when `subject` is None
    on a limit of each), and the build's instant."""
    cursor = view.connection.cursor()
    try:
        rows = cursor.execute(
            load_sql(_QUERIES, "subject_costs"),
            {
                "org": limit.organization_id,
                "subject_type": limit.subject_type,
                "subject_id": subject,
                "period_start": naive_utc(start),
                "period_end": naive_utc(end),
            },
        ).fetchall()
        (built_at,) = cursor.execute("select built_at from snapshot_info").fetchall()[0]
    finally:
        cursor.close()
    return {subject_id: Decimal(usage) for subject_id, usage in rows}, built_at.replace(tzinfo=UTC)
