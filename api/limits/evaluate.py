"""What the alert watcher evaluates (api/limits/alerts.py): after a publish, every limit; after
a write, the metric limits of the customers written for. Each status computed records the
alerts it reaches (api/limits/status.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from api.errors import ApiError
from api.limits import alerts, service, status
from api.organizations import Timezones
from api.snapshot import SnapshotView
from core.metric_sandbox import SandboxLimits
from core.settings import Settings

log = logging.getLogger("tallyhouse.api")


def evaluator(state) -> Callable[[object], None]:
    """evaluate(item) for an app's state: "published", or the customers written for."""

    def evaluate(item: object) -> None:
        view = state.snapshot.view()
        if view is None:
            return
        settings: Settings = state.settings
        now = settings.clock()
        if item == "published":
            published(view, state.store, settings, now)
        else:
            written(view, state.store, settings, now, item.organization_id, item.customers)

    return evaluate


def published(view: SnapshotView, store: sa.Engine, settings: Settings, now: datetime) -> None:
    """Cost limits over every subject the snapshot has; metric limits of the organization or
    of one end user (a limit on each end user is evaluated as each one's events are written,
    and at its status checks)."""
    for limit in service.list_limits(store, None):
        if limit.measure_type == "metric":
            if limit.subject_type == "organization" or limit.subject_id is not None:
                _status(view, store, settings, now, limit, limit.subject_id)
            continue
        zone = view.kept(Timezones).of(limit.organization_id)
        start, end, _ = status.period(limit, now, zone)
        costs = status.subject_costs(view, limit, start, end)
        period = alerts.period_key(limit.window_type, start, now, zone)
        for subject, usage in costs.items():
            if subject is None and limit.subject_type != "organization":
                continue  # events without that attribute belong to no subject
            reached = alerts.reached(limit.thresholds, usage, limit.limit_amount)
            alerts.record(store, limit, subject, period, reached, usage, now)


def written(
    view: SnapshotView,
    store: sa.Engine,
    settings: Settings,
    now: datetime,
    organization_id: str,
    customers: frozenset[str],
) -> None:
    for limit in service.list_limits(store, organization_id):
        if limit.measure_type != "metric":
            continue
        if limit.subject_type == "organization":
            subjects = [None]
        elif limit.subject_id is not None:
            subjects = [limit.subject_id] if limit.subject_id in customers else []
        else:
            subjects = sorted(customers)
        for subject in subjects:
            _status(view, store, settings, now, limit, subject)


def _status(view, store, settings: Settings, now, limit: service.Limit, subject) -> None:
    try:
        status.status(
            view, store, limit, subject, now, SandboxLimits.from_settings(settings),
            settings.metric_cache_rows,
        )  # fmt: skip
    except ApiError as error:  # e.g. the limit's metric was deleted: nothing to alert on
        log.info("limit %s not evaluated: %s", limit.limit_id, error)
