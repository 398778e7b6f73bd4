"""Metric values worked out in Python from the landing files (the oracle's events) alone."""

from __future__ import annotations

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
    return {"MIN": min, "MAX": max}[aggregation](values)


def json_number(value) -> int | float | None:
    """How the API writes a number: integral values as integers, others as doubles."""
    if value is None or isinstance(value, int):
        return value
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)
