"""A limit's alerts: when usage reaches a threshold in a period, one alert for (limit, subject,
period, threshold) — recorded once, whichever process or request gets there first (a unique
key in the store; docs/limits.md#alerts).

Limits are evaluated at every status check, for metric limits after every write that may move
them (`AlertWatcher.written`), and after each publish (`AlertWatcher`, in every server
process: the store keeps each alert once whoever records it).
"""

from __future__ import annotations

import logging
import queue
import secrets
import string
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from api.limits import webhooks
from api.limits.schemas import Alert
from api.limits.service import Limit
from api.money import usd
from api.periods import iso_ms, local_midnight, naive_utc
from core.control_store import limit_alerts, limit_definitions

log = logging.getLogger("tallyhouse.api")
_ALPHABET = string.ascii_letters + string.digits
# per store, the (limit, subject, period, threshold) keys this process knows are recorded, so
# that a status check over a threshold reached long ago writes nothing (the most recent kept)
_KNOWN_KEPT = 100_000
_known: weakref.WeakKeyDictionary[sa.Engine, OrderedDict] = weakref.WeakKeyDictionary()
_known_lock = threading.Lock()


def period_key(window_type: str, period_start: datetime, now: datetime, zone: ZoneInfo) -> datetime:
    """The period an alert belongs to: a calendar window's start; for a rolling window, the
    start of the organization's day the threshold was reached on (at most one alert per
    threshold and day)."""
    if window_type != "rolling_days":
        return period_start
    return local_midnight(now.astimezone(zone).date(), zone)


def reached(thresholds: tuple[int, ...], usage: Decimal, limit: Decimal) -> list[int]:
    """The thresholds (percent of `limit`) that `usage` has reached."""
    return [t for t in thresholds if usage * 100 >= limit * t]


def record(
    store: sa.Engine,
    limit: Limit,
    subject_id: str | None,
    period: datetime,
    thresholds: list[int],
    usage: Decimal,
    now: datetime,
) -> int:
    """Insert an alert per threshold unless one is there already, and in the same transaction
    a webhook delivery of each new one; how many were new."""
    keys = [(limit.limit_id, subject_id or "", period, threshold) for threshold in thresholds]
    if _all_known(store, keys):  # none reached, or all recorded before
        return 0
    rows = [
        {
            "alert_id": "alr_" + "".join(secrets.choice(_ALPHABET) for _ in range(22)),
            "organization_id": limit.organization_id,
            "limit_id": limit.limit_id,
            "subject_key": subject_id or "",
            "period_start": naive_utc(period),
            "threshold": threshold,
            "usage": str(usage),
            "limit_amount": str(limit.limit_amount),
            "created_at": naive_utc(now),
        }
        for threshold in thresholds
    ]
    dialect = postgresql if store.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(limit_alerts)
        .on_conflict_do_nothing(
            index_elements=["limit_id", "subject_key", "period_start", "threshold"]
        )
        .returning(limit_alerts.c.alert_id)
    )
    with store.begin() as con:
        new = set(con.execute(statement, rows).scalars().all())
        recorded = [row for row in rows if row["alert_id"] in new]
        webhooks.enqueue(
            con, limit.organization_id, [_webhook_data(limit, row) for row in recorded], now
        )
    _remember(store, keys)
    return len(recorded)


def known(
    store: sa.Engine, limit: Limit, subject_id: str | None, period: datetime, thresholds: list[int]
) -> bool:
    """Whether this process knows these alerts are recorded already (record() would write
    nothing)."""
    return _all_known(store, [(limit.limit_id, subject_id or "", period, t) for t in thresholds])


def _all_known(store: sa.Engine, keys: list[tuple]) -> bool:
    with _known_lock:
        known = _known.get(store, {})
        return all(key in known for key in keys)


def _remember(store: sa.Engine, keys: list[tuple]) -> None:
    with _known_lock:
        known = _known.setdefault(store, OrderedDict())
        for key in keys:
            known[key] = None
            known.move_to_end(key)
        while len(known) > _KNOWN_KEPT:
            known.popitem(last=False)


def _alert(row, measure_type: str) -> Alert:
    """An alert as the API shows it: a cost limit's usage rounded to cents at the edge."""
    get = row.get if isinstance(row, dict) else row._mapping.get
    usage = Decimal(get("usage"))
    return Alert(
        id=get("alert_id"),
        limitId=get("limit_id"),
        subjectId=get("subject_key") or None,
        threshold=get("threshold"),
        usage=float(usd(usage) if measure_type == "cost" else usage),
        limit=float(Decimal(get("limit_amount"))),
        periodStart=iso_ms(get("period_start").replace(tzinfo=UTC)),
        createdAt=iso_ms(get("created_at").replace(tzinfo=UTC)),
    )


def _webhook_data(limit: Limit, row: dict) -> dict:
    """A webhook's `data`: the alert, the limit, and its status when the alert was made."""
    usage, amount = Decimal(row["usage"]), limit.limit_amount
    return {
        "alert": _alert(row, limit.measure_type).model_dump(),
        "limit": limit.public().model_dump(),
        "status": {
            "subjectId": row["subject_key"] or None,
            "usage": float(usd(usage) if limit.measure_type == "cost" else usage),
            "limit": float(amount),
            "percentUsed": float((usage * 100 / amount).quantize(Decimal("0.01"))),
            "periodStart": iso_ms(row["period_start"].replace(tzinfo=UTC)),
        },
    }


def list_alerts(
    store: sa.Engine, organization_id: str, limit_id: str | None, since: datetime | None
) -> list[Alert]:
    c, limits = limit_alerts.c, limit_definitions.c
    query = (
        sa.select(limit_alerts, limits.measure_type)
        .join_from(limit_alerts, limit_definitions, limits.limit_id == c.limit_id, isouter=True)
        .where(c.organization_id == organization_id)
    )
    if limit_id is not None:
        query = query.where(c.limit_id == limit_id)
    if since is not None:
        query = query.where(c.created_at >= naive_utc(since))
    with store.connect() as con:
        rows = con.execute(query.order_by(c.created_at, c.threshold, c.alert_id)).all()
    return [_alert(row, row.measure_type) for row in rows]


@dataclass(frozen=True)
class _Written:
    organization_id: str
    customers: frozenset[str]


class AlertWatcher:
    """In each server process, a thread that evaluates limits off the request path: the
    metric limits of the customers whose events were just written, and every limit after a
    publish. `evaluate(item)` does the work (api/limits/evaluate.py)."""

    def __init__(self, evaluate: Callable[[object], None], version: Callable[[], str | None]):
        self._evaluate = evaluate
        self._version = version
        self._queue: queue.Queue = queue.Queue(maxsize=10_000)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: str | None = None

    def start(self) -> None:
        self._seen = self._version()  # what this process served first was evaluated before
        self._thread = threading.Thread(target=self._run, name="limit-alerts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def stored(self, organization_id: str, outcomes) -> None:
        """The write path's outcomes (api/usage_events/service.py): the customers of the
        events just stored, for their metric limits' alerts (never blocks a write)."""
        customers = {
            o.event["userId"] for o in outcomes if o.status == "recorded" and o.event.get("userId")
        }
        if customers:
            self.written(organization_id, customers)

    def written(self, organization_id: str, customers: set[str]) -> None:
        """Events of these customers were acknowledged (never blocks a write)."""
        try:
            self._queue.put_nowait(_Written(organization_id, frozenset(customers)))
        except queue.Full:  # evaluated at the next status check or publish instead
            log.warning("limit alerts: queue full, an evaluation after a write is left out")

    def drain(self, timeout: float = 10.0) -> None:
        """Until what was queued so far is evaluated (for tests and shutdown)."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                item = None
            version = self._version()
            try:
                if version is not None and version != self._seen:
                    self._seen = version
                    self._evaluate("published")
                if isinstance(item, threading.Event):
                    item.set()
                elif item is not None:
                    self._evaluate(item)
            except Exception:  # an evaluation that fails is tried again at the next one
                log.exception("limit alerts: evaluation failed")
