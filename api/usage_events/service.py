"""Record usage events durably and idempotently in the landing store.

One event per (organization, idempotencyKey), forever: the insert is
`ON CONFLICT DO NOTHING RETURNING`, so of any number of concurrent identical requests exactly
one stores the event and learns it did; the others find the stored event and compare the
request's hash: the same body is a retry (recorded: false), another body a conflict. All of a
request's events are committed in one transaction before the answer is sent.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import queue
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql, sqlite

from api.usage_events import codec
from api.usage_events.schemas import UsageEventIn
from core.control_store import landing_events
from core.event_body import event_id, event_time, problem, timestamp_problem
from core.sql import load_sql

_QUERIES = Path(__file__).parent / "queries"


def time_limits(settings) -> tuple[timedelta, timedelta]:
    """How old and how far ahead an event's timestamp may be (settings)."""
    return timedelta(days=settings.max_event_age_days), timedelta(
        seconds=settings.max_future_seconds
    )


@dataclass(frozen=True)
class Prepared:
    index: int
    idempotency_key: str
    request_hash: str
    body: str  # what is stored: the body as sent (canonical JSON), plus the key if we made it
    answer: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    index: int
    status: str  # recorded | duplicate | conflict | invalid
    event: dict[str, Any] | None = None
    message: str | None = None


def _messages(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        field_name = ".".join(str(p) for p in item["loc"]) or "body"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{field_name}: {message}")
    return "; ".join(parts)


def _answer(eid: str, body: dict[str, Any], when: datetime, recorded: bool) -> dict[str, Any]:
    stamp = f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"  # when is in UTC
    return {
        "eventId": eid,
        "userId": body.get("userId"),
        "metricName": body["metricName"],
        "quantity": body["quantity"],
        "eventTimestamp": stamp,
        "recorded": recorded,
    }


def prepare(
    index: int,
    raw: Any,
    now: datetime,
    max_age: timedelta,
    max_future: timedelta,
    organization_id: str = "",
) -> Prepared | Outcome:
    """Validate one body (an EventStruct from the fast lane, or anything JSON gave). What is
    stored is the body as sent, canonical; a missing timestamp means the time received (kept
    beside it), a missing key one the server makes."""
    if isinstance(raw, codec.EventStruct) and codec.passes(raw):
        sent: dict[str, Any] | codec.EventStruct = raw
        fields = {
            "metricName": raw.metricName,
            "quantity": raw.quantity,
            "userId": raw.userId,
            "timestamp": raw.timestamp,
            "idempotencyKey": raw.idempotencyKey,
        }
        reason = timestamp_problem(raw.timestamp, now, max_age, max_future)
    else:
        if isinstance(raw, codec.EventStruct):
            raw = codec.as_builtins(raw)
        reason = problem(raw, now, max_age, max_future)
        if reason is None:
            try:
                sent = UsageEventIn.model_validate(raw).model_dump(exclude_none=True)
            except ValidationError as error:  # a rule the model has and the contract lacks
                return Outcome(index, "invalid", message=_messages(error))
            fields = sent
    if reason is not None:
        return Outcome(index, "invalid", message=reason)
    when = event_time(fields)
    body = codec.canonical(sent)
    request_hash = hashlib.sha256(body.encode()).hexdigest()
    key = fields.get("idempotencyKey")
    if key is None:
        key = f"srv_{uuid.uuid4().hex}"
        with_key = (
            msgspec.structs.replace(sent, idempotencyKey=key)
            if isinstance(sent, codec.EventStruct)
            else {**sent, "idempotencyKey": key}
        )
        body = codec.canonical(with_key)
    answer = _answer(event_id(organization_id, key), fields, when or now, True)
    return Prepared(index, key, request_hash, body, answer)


def _stored_answer(row: Any, recorded: bool) -> dict[str, Any]:
    body = json.loads(row.body)
    when = event_time(body) or row.received_at.replace(tzinfo=UTC)
    return _answer(row.event_id, body, when, recorded)


@dataclass
class Job:
    organization_id: str
    items: list[Prepared]
    now: datetime
    done: threading.Event = field(default_factory=threading.Event)
    outcomes: list[Outcome] | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class _Row:
    idempotency_key: str
    event_id: str
    request_hash: str
    body: str
    received_at: datetime


def _insert_returning(dialect: str):
    module = postgresql if dialect == "postgresql" else sqlite
    return (
        module.insert(landing_events)
        .on_conflict_do_nothing(index_elements=["organization_id", "idempotency_key"])
        .returning(landing_events.c.organization_id, landing_events.c.idempotency_key)
    )


def _write_portable(engine: sa.Engine, rows: list[dict[str, Any]]) -> tuple[set, dict]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING, then read the rows that were there already."""
    stored: dict[tuple[str, str], _Row] = {}
    with engine.begin() as con:
        inserted = {tuple(r) for r in con.execute(_insert_returning(engine.dialect.name), rows)}
        existing = [
            (r["organization_id"], r["idempotency_key"])
            for r in rows
            if (r["organization_id"], r["idempotency_key"]) not in inserted
        ]
        if existing:
            c = landing_events.c
            query = sa.select(
                c.organization_id,
                c.idempotency_key,
                c.event_id,
                c.request_hash,
                c.body,
                c.received_at,
            ).where(sa.tuple_(c.organization_id, c.idempotency_key).in_(existing))
            for r in con.execute(query):
                stored[(r.organization_id, r.idempotency_key)] = _Row(*r[1:])
    return inserted, stored


def _write_sqlite(engine: sa.Engine, rows: list[dict[str, Any]]) -> tuple[set, dict]:
    """SQLite: BEGIN IMMEDIATE takes the write lock first, so the keys found missing are still
    missing when inserted — a plain executemany, no per-row conflict handling."""
    stored: dict[tuple[str, str], _Row] = {}
    raw = engine.raw_connection()
    connection = raw.driver_connection
    # Writers of several server processes queue on a file lock (woken at once when it is
    # released) instead of SQLite's busy handler, which polls with growing sleeps.
    lock = open(f"{engine.url.database}.write-lock", "a")  # noqa: SIM115 - closed below
    fcntl.flock(lock, fcntl.LOCK_EX)
    previous, connection.isolation_level = connection.isolation_level, None
    try:
        cursor = connection.cursor()
        cursor.execute("begin immediate")
        try:
            by_org: dict[str, list[str]] = {}
            for r in rows:
                by_org.setdefault(r["organization_id"], []).append(r["idempotency_key"])
            for org, keys in by_org.items():
                found = cursor.execute(
                    load_sql(_QUERIES, "stored_events"),
                    # keys as UTF-8 text (no \u escapes); control characters never get here
                    {"organization_id": org, "keys": json.dumps(keys, ensure_ascii=False)},
                )
                for key, event_id, request_hash, body, received_at in found:
                    stored[(org, key)] = _Row(
                        key, event_id, request_hash, body, datetime.fromisoformat(str(received_at))
                    )
            new = [r for r in rows if (r["organization_id"], r["idempotency_key"]) not in stored]
            cursor.executemany(load_sql(_QUERIES, "insert_event"), new)
            cursor.execute("commit")
        except BaseException:
            cursor.execute("rollback")
            raise
    finally:
        connection.isolation_level = previous
        raw.close()
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    return {(r["organization_id"], r["idempotency_key"]) for r in new}, stored


def record_jobs(engine: sa.Engine, jobs: list[Job]) -> None:
    """Store the events of several requests in one transaction (one fsync); set each job's
    outcomes. Committed before this returns."""
    first: dict[tuple[str, str], Prepared] = {}
    rows = []
    sqlite_rows = engine.dialect.name == "sqlite"
    for job in jobs:
        received_at = job.now.replace(tzinfo=None)
        if sqlite_rows:  # the raw driver stores text as SQLAlchemy's DateTime would
            received_at = received_at.strftime("%Y-%m-%d %H:%M:%S.%f")
        for item in job.items:
            key = (job.organization_id, item.idempotency_key)
            if key in first:
                continue
            first[key] = item
            rows.append(
                {
                    "organization_id": job.organization_id,
                    "idempotency_key": item.idempotency_key,
                    "event_id": item.answer["eventId"],
                    "request_hash": item.request_hash,
                    "body": item.body,
                    "received_at": job.now.replace(tzinfo=None),
                }
            )
    write = _write_sqlite if engine.dialect.name == "sqlite" else _write_portable
    inserted, stored = write(engine, rows) if rows else (set(), {})
    for job in jobs:
        outcomes = []
        for item in job.items:
            key = (job.organization_id, item.idempotency_key)
            if key in inserted and first[key] is item:
                outcomes.append(Outcome(item.index, "recorded", item.answer))
                continue
            row = stored.get(key)
            if row is None:  # stored by an earlier item of this same group
                same = first[key].request_hash == item.request_hash
                answer = {**first[key].answer, "recorded": False}
            else:
                same = row.request_hash == item.request_hash
                answer = _stored_answer(row, False) if same else None
            if same:
                outcomes.append(Outcome(item.index, "duplicate", answer))
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
