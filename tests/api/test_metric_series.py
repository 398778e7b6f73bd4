"""A customer's simple metric value from running totals (api/metrics/customer_events.py),
against the same value worked out event by event: random events, some in the snapshot and
some acknowledged since, random windows and clocks, every aggregation."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from api.metrics.customer_events import Customer, micros, simple_value, weighted_sum

HOUR = 3_600_000_000
AGGREGATIONS = ("COUNT", "SUM", "MIN", "MAX", "AVG", "UNIQUE_COUNT", "LATEST", "WEIGHTED_SUM")


def _events(rng: random.Random, n: int) -> list[dict]:
    base = datetime(2026, 11, 1)
    return [
        {
            # few distinct instants, so that ties are common
            "timestamp": base + timedelta(minutes=rng.randrange(0, 600, 7)),
            "event_id": f"evt_{rng.randrange(10**6):06d}",
            "event_name": rng.choice(["pages", "pages", "other"]),
            "event_value": None
            if rng.random() < 0.05
            else Decimal(rng.randrange(-500, 5000)) / 100,
            "event_string": rng.choice([None, "a", "b", "c", "d"]),
        }
        for _ in range(n)
    ]


_SCHEMA = pa.schema(
    [
        ("timestamp", pa.timestamp("us")),
        ("event_id", pa.string()),
        ("event_name", pa.string()),
        ("event_value", pa.decimal128(18, 6)),
        ("event_string", pa.string()),
    ]
)


def _table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=_SCHEMA)


def _expected(aggregation: str, rows: list[dict], start: int, end: int, until: int):
    """Event by event: the rows of the type, whatever side of the build they are on."""
    rows = sorted(rows, key=lambda r: (micros(r["timestamp"]), r["event_id"]))
    inside = [r for r in rows if start <= micros(r["timestamp"]) < end]
    values = [r["event_value"] for r in inside if r["event_value"] is not None]
    if aggregation == "COUNT":
        return len(inside)
    if aggregation == "SUM":
        return sum(values, Decimal(0))
    if aggregation == "AVG":
        return sum(values, Decimal(0)) / len(inside) if inside else None
    if aggregation in ("MIN", "MAX"):
        return (min if aggregation == "MIN" else max)(values) if values else None
    if aggregation == "UNIQUE_COUNT":
        return len({r["event_string"] for r in inside if r["event_string"] is not None})
    if aggregation == "LATEST":
        return inside[-1]["event_value"] if inside else None
    # WEIGHTED_SUM: the integral over [start, until) of the latest value at each instant
    total = Decimal(0)
    for row, following in zip(rows, [*rows[1:], None], strict=False):
        held_from = max(micros(row["timestamp"]), start)
        held_to = min(until if following is None else micros(following["timestamp"]), until)
        if held_to > held_from:
            total += (row["event_value"] or 0) * Decimal(held_to - held_from) / HOUR
    return total


def _same(got, expected) -> bool:
    if got is None or expected is None:
        return got is expected
    return abs(Decimal(got) - Decimal(expected)) <= Decimal("1e-18")


@pytest.mark.parametrize("seed", range(40))
def test_running_totals_equal_the_events_one_by_one(seed):
    rng = random.Random(seed)
    rows = _events(rng, rng.choice([1, 2, 5, 40, 200]))
    # the snapshot's rows as read: in time order, ties by event id; the unbuilt ones in any
    built = sorted(
        (r for r in rows if rng.random() < 0.8), key=lambda r: (r["timestamp"], r["event_id"])
    )
    unbuilt = [r for r in rows if r not in built]
    customer = Customer(_table(built), Path("not-read"))
    pages = [r for r in rows if r["event_name"] == "pages"]
    series = customer.series("pages", _table(unbuilt))
    assert (series is None) == (not pages)
    origin = micros(datetime(2026, 11, 1))
    for _ in range(10 if pages else 0):
        start = origin + rng.randrange(-60, 660, 7) * 60_000_000
        end = start + rng.randrange(0, 700) * 60_000_000
        until = min(end, origin + rng.randrange(-60, 700, 7) * 60_000_000)
        for aggregation in AGGREGATIONS:
            got = simple_value(aggregation, series, start, end, until)
            expected = _expected(aggregation, pages, start, end, until)
            assert _same(got, expected), (aggregation, start, end, until, got, expected)


def test_a_gauge_held_by_hand():
    """5 from 10:00, 2 from 10:30, asked for [10:15, 11:00) at 10:45: 5 × 0.25 h + 2 × 0.25 h."""
    at = datetime(2026, 11, 1, 10)
    steps = [(micros(at), 5_000_000), (micros(at + timedelta(minutes=30)), 2_000_000)]
    carried = [(micros(at + timedelta(minutes=15)), 5_000_000), steps[1]]
    assert weighted_sum(carried, micros(at + timedelta(minutes=45))) == Decimal("1.75")
    # a step after `until` holds nothing, and nor does the time after `until`
    assert weighted_sum(steps, micros(at + timedelta(minutes=20))) == Decimal(5) / 3
