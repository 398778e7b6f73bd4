"""Metric values worked out in Python from the landing files (the oracle's events) alone."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from tests.expected import ExpectedEvent


def customer_events(
    oracle: list[ExpectedEvent],
    org: str,
    customer: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[ExpectedEvent]:
    """The customer's events with start <= event_at < end (the oracle's instants are naive UTC)."""
    start = None if start is None else start.astimezone(UTC).replace(tzinfo=None)
    end = None if end is None else end.astimezone(UTC).replace(tzinfo=None)
    return [
        e
        for e in oracle
        if e.organization_id == org
        and e.end_user_id == customer
        and (start is None or e.event_at >= start)
        and (end is None or e.event_at < end)
    ]


def quantity(event: ExpectedEvent) -> Decimal:
    return Decimal(str(event.body["quantity"]))


def aggregate(events: list[ExpectedEvent], event_type: str, aggregation: str):
    rows = [e for e in events if e.body["eventType"] == event_type]
    values = [quantity(e) for e in rows]
    if aggregation == "COUNT":
        return len(rows)
    if aggregation == "SUM":
        return sum(values, Decimal(0))
    if aggregation == "UNIQUE_COUNT":
        return len({e.body["value"] for e in rows if e.body.get("value") is not None})
    if not values:
        return None
    if aggregation == "AVG":
        return sum(values, Decimal(0)) / len(values)
    if aggregation == "LATEST":
        return quantity(max(rows, key=_instant_then_id))
    return {"MIN": min, "MAX": max}[aggregation](values)


def _event_id(event: ExpectedEvent) -> str:
    """The event id as docs/ingestion.md defines it: evt_ and the UUID of md5(org US key)."""
    digest = hashlib.md5(f"{event.organization_id}\x1f{event.idempotency_key}".encode())
    return f"evt_{uuid.UUID(hex=digest.hexdigest())}"


def _instant_then_id(event: ExpectedEvent) -> tuple[datetime, str]:
    return event.event_at, _event_id(event)


def weighted_sum(
    events: list[ExpectedEvent], event_type: str, start: datetime | None, end: datetime
) -> Decimal:
    """A gauge in value-hours over [start, end): every event of the type (all of the
    customer's, not only the window's) holds its value until the next one; what each holds
    inside the window counts. `end` is the window's end or now, whichever is first."""
    rows = sorted((e for e in events if e.body["eventType"] == event_type), key=_instant_then_id)
    end = end.astimezone(UTC).replace(tzinfo=None)
    start = rows[0].event_at if start is None and rows else start
    start = None if start is None else start.astimezone(UTC).replace(tzinfo=None)
    total = Decimal(0)
    for event, following in zip(rows, [*rows[1:], None], strict=True):
        held_from = max(event.event_at, start)
        held_to = min(following.event_at if following else end, end)
        if held_to > held_from:
            seconds = Decimal((held_to - held_from).total_seconds()).quantize(Decimal("0.000001"))
            total += quantity(event) * seconds / 3600
    return total


def json_number(value) -> int | float | None:
    """How the API writes a number: integral values as integers, others as doubles."""
    if value is None or isinstance(value, int):
        return value
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)
