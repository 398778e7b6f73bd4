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
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql, sqlite

from api.periods import iso_ms
from api.usage_events.schemas import RecordedEvent, UsageEventIn
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
    event: RecordedEvent | None = None
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


def _as_recorded(event_id: str, body: dict[str, Any], recorded: bool) -> RecordedEvent:
    when = datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
    return RecordedEvent(
        eventId=event_id,
        userId=body.get("userId"),
        metricName=body["metricName"],
        quantity=body["quantity"],
        eventTimestamp=iso_ms(when),
        recorded=recorded,
    )


def _insert(dialect: str):
    module = postgresql if dialect == "postgresql" else sqlite
    return (
        module.insert(landing_events)
        .on_conflict_do_nothing(index_elements=["organization_id", "idempotency_key"])
        .returning(landing_events.c.idempotency_key)
    )


def record(
    engine: sa.Engine, organization_id: str, items: list[Prepared], now: datetime
) -> list[Outcome]:
    """Store new events, find retries and conflicts; committed before this returns."""
    first: dict[str, Prepared] = {}
    for item in items:
        first.setdefault(item.idempotency_key, item)
    rows = [
        {
            "organization_id": organization_id,
            "idempotency_key": key,
            "event_id": event_id_for(organization_id, key),
            "request_hash": item.request_hash,
            "body": json.dumps(item.body, separators=(",", ":")),
            "received_at": now.replace(tzinfo=None),
        }
        for key, item in first.items()
    ]
    with engine.begin() as con:
        inserted: set[str] = set()
        if rows:
            inserted = set(con.execute(_insert(engine.dialect.name), rows).scalars().all())
        stored = (
            {
                row.idempotency_key: row
                for row in con.execute(
                    sa.select(
                        landing_events.c.idempotency_key,
                        landing_events.c.event_id,
                        landing_events.c.request_hash,
                        landing_events.c.body,
                    )
                    .where(landing_events.c.organization_id == organization_id)
                    .where(landing_events.c.idempotency_key.in_(list(first)))
                )
            }
            if first
            else {}
        )
    outcomes = []
    for item in items:
        row = stored[item.idempotency_key]
        if item is first[item.idempotency_key] and item.idempotency_key in inserted:
            outcomes.append(
                Outcome(item.index, "recorded", _as_recorded(row.event_id, item.body, True))
            )
        elif row.request_hash == item.request_hash:
            outcomes.append(
                Outcome(
                    item.index, "duplicate", _as_recorded(row.event_id, json.loads(row.body), False)
                )
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
    return outcomes
