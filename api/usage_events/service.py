"""Record usage events durably and idempotently in the landing store.

One event per (organization, idempotencyKey), forever: the insert is
`ON CONFLICT DO NOTHING RETURNING`, so of any number of concurrent identical requests exactly
one stores the event and learns it did; the others find the stored event and compare the
request's hash: the same body is a retry (recorded: false), another body a conflict. All of a
request's events are committed in one transaction before the answer is sent.
"""

from __future__ import annotations

import hashlib
import json
import queue
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql, sqlite

from api.usage_events.schemas import UsageEventIn
from orchestration.lib.control_store import landing_events


def event_id_for(organization_id: str, idempotency_key: str) -> str:
    """The warehouse derives the same id: evt_ + md5(org \\x1f key) shaped as a UUID."""
    digest = hashlib.md5(f"{organization_id}\x1f{idempotency_key}".encode()).hexdigest()
    return f"evt_{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:]}"


@dataclass(frozen=True)
class Prepared:
    index: int
    idempotency_key: str
    event_id: str
    request_hash: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    index: int
    status: str  # recorded | duplicate | conflict | invalid
    event: dict[str, Any] | None = None
    message: str | None = None


def _messages(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        field = ".".join(str(p) for p in item["loc"]) or "body"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{field}: {message}")
    return "; ".join(parts)


def prepare(
    index: int, raw: Any, now: datetime, max_age: timedelta, max_future: timedelta
) -> Prepared | Outcome:
    """Validate one body; fill the server's defaults (timestamp, key) into what is stored."""
    try:
        event = UsageEventIn.model_validate(raw)
    except ValidationError as error:
        return Outcome(index, "invalid", message=_messages(error))
    sent = event.model_dump(exclude_none=True)
    when = event.event_time()
    if when is not None and when > now + max_future:
        return Outcome(index, "invalid", message="timestamp: more than 5 minutes in the future")
    if when is not None and when < now - max_age:
        return Outcome(
            index, "invalid", message="timestamp: older than the accepted backfill window"
        )
    key = event.idempotencyKey or f"srv_{uuid.uuid4().hex}"
    body = {
        **sent,
        "idempotencyKey": key,
        "timestamp": (when or now).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    request_hash = hashlib.sha256(
        json.dumps(sent, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    return Prepared(index, key, "", request_hash, body)


def _recorded(event_id: str, body: dict[str, Any], recorded: bool) -> dict[str, Any]:
    """The answer for one stored event; the stored timestamp is canonical (…T…%fZ)."""
    return {
        "eventId": event_id,
        "userId": body.get("userId"),
        "metricName": body["metricName"],
        "quantity": body["quantity"],
        "eventTimestamp": body["timestamp"][:23] + "Z",
        "recorded": recorded,
    }


def _insert(dialect: str):
    module = postgresql if dialect == "postgresql" else sqlite
    return (
        module.insert(landing_events)
        .on_conflict_do_nothing(index_elements=["organization_id", "idempotency_key"])
        .returning(landing_events.c.organization_id, landing_events.c.idempotency_key)
    )


@dataclass
class Job:
    organization_id: str
    items: list[Prepared]
    now: datetime
    done: threading.Event = field(default_factory=threading.Event)
    outcomes: list[Outcome] | None = None
    error: BaseException | None = None


def record_jobs(engine: sa.Engine, jobs: list[Job]) -> None:
    """Store the events of several requests in one transaction (one fsync); set each job's
    outcomes. Committed before this returns."""
    first: dict[tuple[str, str], Prepared] = {}
    rows = []
    for job in jobs:
        for item in job.items:
            key = (job.organization_id, item.idempotency_key)
            if key in first:
                continue
            first[key] = item
            rows.append(
                {
                    "organization_id": job.organization_id,
                    "idempotency_key": item.idempotency_key,
                    "event_id": event_id_for(*key),
                    "request_hash": item.request_hash,
                    "body": json.dumps(item.body, separators=(",", ":")),
                    "received_at": job.now.replace(tzinfo=None),
                }
            )
    stored: dict[tuple[str, str], Any] = {}
    with engine.begin() as con:
        inserted = (
            {tuple(r) for r in con.execute(_insert(engine.dialect.name), rows)} if rows else set()
        )
        existing = [key for key in first if key not in inserted]
        if existing:
            query = sa.select(
                landing_events.c.organization_id,
                landing_events.c.idempotency_key,
                landing_events.c.event_id,
                landing_events.c.request_hash,
                landing_events.c.body,
            ).where(
                sa.tuple_(landing_events.c.organization_id, landing_events.c.idempotency_key).in_(
                    existing
                )
            )
            stored = {(r.organization_id, r.idempotency_key): r for r in con.execute(query)}
    for job in jobs:
        outcomes = []
        for item in job.items:
            key = (job.organization_id, item.idempotency_key)
            if key in inserted and first[key] is item:
                outcomes.append(
                    Outcome(item.index, "recorded", _recorded(event_id_for(*key), item.body, True))
                )
                continue
            row = stored.get(key)
            if row is None:  # stored by an earlier item of this same group
                row_hash, row_id, row_body = (
                    first[key].request_hash,
                    event_id_for(*key),
                    first[key].body,
                )
            else:
                row_hash, row_id, row_body = row.request_hash, row.event_id, json.loads(row.body)
            if row_hash == item.request_hash:
                outcomes.append(
                    Outcome(item.index, "duplicate", _recorded(row_id, row_body, False))
                )
            else:
                outcomes.append(
                    Outcome(
                        item.index,
                        "conflict",
                        message=(
                            f"idempotencyKey {item.idempotency_key} was already used for a different event"
                        ),
                    )
                )
        job.outcomes = outcomes


def record(
    engine: sa.Engine, organization_id: str, items: list[Prepared], now: datetime
) -> list[Outcome]:
    job = Job(organization_id, items, now)
    record_jobs(engine, [job])
    return job.outcomes


class GroupCommitter:
    """Group commit: requests that arrive while a transaction is being written wait and go
    together into the next one — one fsync for many answers, each still durable before it
    is sent."""

    MAX_GROUP = 64

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    def record(self, organization_id: str, items: list[Prepared], now: datetime) -> list[Outcome]:
        job = Job(organization_id, items, now)
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.outcomes

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            jobs = [job]
            while len(jobs) < self.MAX_GROUP:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                jobs.append(nxt)
            try:
                record_jobs(self.engine, jobs)
            except BaseException as error:  # every waiting request gets the error
                for waiting in jobs:
                    waiting.error = error
            for waiting in jobs:
                waiting.done.set()
