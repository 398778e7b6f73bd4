"""One customer's events in memory, per snapshot: what makes a customer's metric value a
lookup rather than a scan (docs/metrics.md#how-fast).

The first value asked of a customer reads that customer's events from the snapshot once, in
time order (ties: event id), and keeps them while the snapshot is served, the least recently
used customers dropped past `metric_cache_rows` events per server process. A simple metric's
value is then found from running totals over each event type's series (a binary search for
the window's edges); an indexed or complex metric's SQL reads the customer's rows from
memory. The events acknowledged since the snapshot's build (api/metrics/live.py) are added
to either.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from itertools import accumulate
from operator import mul, sub
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.sql import load_sql

_QUERIES = Path(__file__).parent / "queries"
_MILLION = pa.scalar(Decimal(1_000_000), pa.decimal128(7, 0))
# value-hours: a value in millionths held for microseconds
_MICRO_VALUE_HOURS = Decimal(1_000_000) * Decimal(3_600_000_000)
EPOCH = datetime(1970, 1, 1)


def micros(moment: datetime) -> int:
    """A naive UTC instant as microseconds since 1970."""
    delta = (
        moment.replace(tzinfo=None) - EPOCH
        if moment.tzinfo is None
        else (moment.astimezone(UTC).replace(tzinfo=None) - EPOCH)
    )
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _value(millionths: int | None) -> Decimal | None:
    return None if millionths is None else Decimal(millionths).scaleb(-6)


def weighted_sum(steps: list[tuple[int, int]], until: int) -> Decimal:
    """A gauge's time-weighted sum in value-hours, from steps (microseconds, value in
    millionths) in time order: each value held from its instant to the next step's, or to
    `until` (the window's end or now, whichever is first) if that is earlier. Before the first
    step the gauge counts 0; no steps, 0."""
    total = 0
    ends = [at for at, _ in steps[1:]] + [until]
    for (at, value), following in zip(steps, ends[: len(steps)], strict=True):
        total += value * max(min(following, until) - at, 0)
    return Decimal(total) / _MICRO_VALUE_HOURS


class Series:
    """One event type's events of one customer in the snapshot, in time order."""

    def __init__(self, events: pa.Table) -> None:
        self.at = pc.cast(events["event_at"], pa.int64()).to_numpy()
        self.ids: list[str] = events["event_id"].to_pylist()
        values = pc.cast(pc.multiply(events["event_value"], _MILLION), pa.int64())
        self.present = pc.is_valid(values).to_numpy(zero_copy_only=False)
        self.millionths = values.fill_null(0).to_numpy()
        self._strings = events["event_string"]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The positions of the events in [start, end)."""
        return (
            int(np.searchsorted(self.at, start, "left")),
            int(np.searchsorted(self.at, end, "left")),
        )

    @cached_property
    def sums(self) -> list[int]:
        return [0, *accumulate(self.millionths.tolist())]

    @cached_property
    def codes(self) -> tuple[np.ndarray, dict[str, int]]:
        encoded = pc.dictionary_encode(self._strings).combine_chunks()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        return codes.astype(np.int64), {s: i for i, s in enumerate(encoded.dictionary.to_pylist())}

    @cached_property
    def held(self) -> list[int]:
        """held[k]: the value-microseconds (in millionths) of steps 0 … k−1, each up to the
        next step."""
        values = self.millionths.tolist()
        gaps = map(sub, self.at[1:].tolist(), self.at[:-1].tolist())
        return [0, *accumulate(map(mul, values, gaps))]


@dataclass(frozen=True)
class Extra:
    """An unbuilt event of the customer's, of the metric's event type."""

    at: int
    event_id: str
    millionths: int | None
    string: str | None


def extras(unbuilt: pa.Table, event_name: str) -> list[Extra]:
    """The unbuilt events of one type (already the customer's), in time order."""
    chosen = unbuilt.filter(pc.equal(unbuilt["event_name"], event_name))
    if not chosen.num_rows:
        return []
    values = pc.cast(pc.multiply(chosen["event_value"], _MILLION), pa.int64()).to_pylist()
    rows = zip(
        pc.cast(chosen["event_at"], pa.int64()).to_pylist(),
        chosen["event_id"].to_pylist(),
        values,
        chosen["event_string"].to_pylist(),
        strict=True,
    )
    return sorted((Extra(*row) for row in rows), key=lambda e: (e.at, e.event_id))


def simple_value(
    aggregation: str, series: Series | None, extra: list[Extra], start: int, end: int, until: int
):
    """A simple metric's value over [start, end) (microseconds): the snapshot's events of the
    type (`series`, None when there are none) and the unbuilt ones (`extra`)."""
    i, j = series.span(start, end) if series is not None else (0, 0)
    inside = [e for e in extra if start <= e.at < end]
    count = (j - i) + len(inside)
    if aggregation == "COUNT":
        return count
    if aggregation in ("SUM", "AVG"):
        total = (series.sums[j] - series.sums[i] if j > i else 0) + sum(
            e.millionths for e in inside if e.millionths is not None
        )
        if aggregation == "SUM":
            return _value(total)
        return _value(total) / count if count else None
    if aggregation in ("MIN", "MAX"):
        pick = min if aggregation == "MIN" else max
        found = [e.millionths for e in inside if e.millionths is not None]
        if j > i:
            present = series.millionths[i:j][series.present[i:j]]
            if present.size:
                found.append(int(present.min() if aggregation == "MIN" else present.max()))
        return _value(pick(found)) if found else None
    if aggregation == "UNIQUE_COUNT":
        distinct = 0
        seen = np.zeros(0, dtype=bool)
        known: dict[str, int] = {}
        if j > i:
            codes, known = series.codes
            window = codes[i:j]
            seen = np.bincount(window[window >= 0], minlength=len(known)) > 0
            distinct = int(seen.sum())
        added = {e.string for e in inside if e.string is not None}
        distinct += sum(1 for s in added if s not in known or not seen[known[s]])
        return distinct
    if aggregation == "LATEST":
        candidates = [(e.at, e.event_id, e.millionths) for e in inside]
        if j > i:
            last = j - 1
            present = bool(series.present[last])
            candidates.append(
                (int(series.at[last]), series.ids[last],
                 int(series.millionths[last]) if present else None)
            )  # fmt: skip
        return _value(max(candidates)[2]) if candidates else None
    if aggregation == "WEIGHTED_SUM":
        return _weighted(series, extra, start, end, until)
    raise ValueError(aggregation)


def _weighted(series: Series | None, extra: list[Extra], start: int, end: int, until: int):
    """The steps: the value in force at `start` (the last event before it), then each event
    in [start, end), in time order (ties: event id)."""
    if series is None or extra:  # the few customers with unbuilt steps: step by step
        steps = (
            []
            if series is None
            else list(zip(series.at.tolist(), series.ids, series.millionths.tolist(), strict=True))
        )
        merged = sorted(steps + [(e.at, e.event_id, e.millionths or 0) for e in extra])
        before = [(at, value) for at, _, value in merged if at < start]
        inside = [(at, value) for at, _, value in merged if start <= at < end]
        carried = [(start, before[-1][1])] if before else []
        return weighted_sum(carried + inside, until)
    i, j = series.span(start, end)  # from running totals; a step at or after `until` holds 0
    j = min(j, int(np.searchsorted(series.at, until, "left")))
    at, values = series.at, series.millionths
    total = 0
    if i > 0:
        total += int(values[i - 1]) * (int(at[i]) - start if j > i else max(until - start, 0))
    if j > i:
        total += series.held[j - 1] - series.held[i]
        total += int(values[j - 1]) * max(until - int(at[j - 1]), 0)
    return Decimal(total) / _MICRO_VALUE_HOURS


class Customer:
    """One customer's events in the snapshot, in time order, and a series per event type."""

    def __init__(self, events: pa.Table) -> None:
        self.events = events
        self._series: dict[str, Series | None] = {}
        self._lock = threading.Lock()

    def series(self, event_name: str) -> Series | None:
        with self._lock:
            if event_name not in self._series:
                chosen = self.events.filter(pc.equal(self.events["event_name"], event_name))
                self._series[event_name] = Series(chosen) if chosen.num_rows else None
            return self._series[event_name]


class CustomerEvents:
    """Per snapshot (SnapshotView.kept): customers' events, the most recently used ones kept
    up to a number of events."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._connection = connection
        self._customers: OrderedDict[tuple[str, str], Customer] = OrderedDict()
        self._rows = 0
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str], threading.Lock] = {}

    def of(self, organization_id: str, customer_id: str, max_rows: int) -> Customer:
        """The customer's events; kept unless they are more than `max_rows`."""
        key = (organization_id, customer_id)
        with self._lock:
            found = self._customers.get(key)
            if found is not None:
                self._customers.move_to_end(key)
                return found
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one read per customer, however many requests ask at once
            with self._lock:
                found = self._customers.get(key)
            if found is not None:
                return found
            customer = Customer(self._read(organization_id, customer_id))
            with self._lock:
                self._loading.pop(key, None)
                if customer.events.num_rows <= max_rows:
                    self._customers[key] = customer
                    self._rows += customer.events.num_rows
                    while self._rows > max_rows:
                        _, dropped = self._customers.popitem(last=False)
                        self._rows -= dropped.events.num_rows
            return customer

    def _read(self, organization_id: str, customer_id: str) -> pa.Table:
        cursor = self._connection.cursor()
        try:
            return cursor.sql(
                load_sql(_QUERIES, "customer_events"),
                params={"org": organization_id, "customer_id": customer_id},
            ).to_arrow_table()
        finally:
            cursor.close()
