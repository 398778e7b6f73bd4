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

import shutil
import tempfile
import threading
import weakref
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

from api.snapshot import Kept
from core.event_body import ALL_TIME
from core.metric_sandbox import MappedWindow, filtered_events
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


# the order of a customer's events: LATEST's and a gauge's ties go to the greater event id
SERIES_ORDER = [("timestamp", "ascending"), ("event_id", "ascending")]


class Series:
    """One event type's events of one customer, in time order (SERIES_ORDER)."""

    def __init__(self, events: pa.Table) -> None:
        self.at = pc.cast(events["timestamp"], pa.int64()).to_numpy()
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


def simple_value(aggregation: str, series: Series, start: int, end: int, until: int):
    """A simple metric's value over [start, end) (microseconds) of a series; a gauge's up to
    `until`."""
    i, j = series.span(start, end)
    if aggregation == "COUNT":
        return j - i
    if aggregation in ("SUM", "AVG"):
        total = _value(series.sums[j] - series.sums[i])
        if aggregation == "SUM":
            return total
        return total / (j - i) if j > i else None
    if aggregation in ("MIN", "MAX"):
        present = series.millionths[i:j][series.present[i:j]]
        if not present.size:
            return None
        return _value(int(present.min() if aggregation == "MIN" else present.max()))
    if aggregation == "UNIQUE_COUNT":
        codes, known = series.codes
        window = codes[i:j]
        return int(np.count_nonzero(np.bincount(window[window >= 0], minlength=len(known))))
    if aggregation == "LATEST":
        return _value(int(series.millionths[j - 1])) if j > i and series.present[j - 1] else None
    if aggregation == "WEIGHTED_SUM":
        return _weighted(series, start, end, until)
    raise ValueError(aggregation)


def _weighted(series: Series, start: int, end: int, until: int) -> Decimal:
    """The integral over [start, until) of the value in force: that of the last event (in
    time order, ties by event id) at or before each instant, the last one before `start`
    carried in; 0 before the first. From running totals."""
    until = min(until, end)
    if until <= start:
        return Decimal(0)
    at, values = series.at, series.millionths
    first = int(np.searchsorted(at, start, "left"))
    last = int(np.searchsorted(at, until, "left"))  # the events before `until`
    carried = int(values[first - 1]) if first else 0
    if last <= first:
        return Decimal(carried * (until - start)) / _MICRO_VALUE_HOURS
    total = (
        carried * (int(at[first]) - start)
        + series.held[last - 1]
        - series.held[first]
        + int(values[last - 1]) * (until - int(at[last - 1]))
    )
    return Decimal(total) / _MICRO_VALUE_HOURS


class Customer:
    """One customer's events in the snapshot (filtered_events' columns, in time order, mapped
    from `path`), and a series per event type."""

    def __init__(self, events: pa.Table, path: Path) -> None:
        self.events = events
        self.path = path
        self._series: dict[str, tuple[int, Series | None]] = {}
        self._lock = threading.Lock()

    def has_series(self, event_name: str, unbuilt: pa.Table) -> bool:
        """Whether `series` is made already for these unbuilt events (a lookup, no work)."""
        made = self._series.get(event_name)
        return made is not None and made[0] == unbuilt.num_rows

    def series(self, event_name: str, unbuilt: pa.Table) -> Series | None:
        """The snapshot's events of the type with the customer's `unbuilt` ones of it: made
        again only when more unbuilt events came (they only ever grow within a snapshot)."""
        with self._lock:
            made = self._series.get(event_name)
            if made is None or made[0] != unbuilt.num_rows:
                added = unbuilt.filter(pc.equal(unbuilt["event_name"], event_name))
                chosen = self.events.filter(pc.equal(self.events["event_name"], event_name))
                if added.num_rows:
                    added = added.select(chosen.column_names).cast(chosen.schema)
                    chosen = pa.concat_tables([chosen, added])
                    chosen = chosen.take(pc.sort_indices(chosen, SERIES_ORDER))
                made = (unbuilt.num_rows, Series(chosen) if chosen.num_rows else None)
                self._series[event_name] = made
            return made[1]

    def window(self, unbuilt: pa.Table, start: datetime, end: datetime) -> MappedWindow:
        """filtered_events in [start, end), for a worker to map: the snapshot's from the file,
        and the unbuilt ones."""
        stamps = unbuilt["timestamp"]
        inside = pc.and_(pc.greater_equal(stamps, start), pc.less(stamps, end))
        return MappedWindow(self.path, start, end, unbuilt.filter(inside))


class CustomerEvents:
    """Per snapshot (SnapshotView.kept): customers' events, the most recently used ones kept
    up to a number of events."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._connection = connection
        self._customers: Kept[Customer] = Kept(lambda customer: customer.events.num_rows)
        self._lock = threading.Lock()
        self._folder: Path | None = None  # the customers' files, made on first use
        self._files = 0

    def held(self, organization_id: str, customer_id: str) -> Customer | None:
        """The customer's events if they are in memory already."""
        return self._customers.held((organization_id, customer_id))

    def of(self, organization_id: str, customer_id: str, max_rows: int) -> Customer:
        """The customer's events; kept unless they are more than `max_rows`."""
        return self._customers.get(
            (organization_id, customer_id),
            lambda: self._read(organization_id, customer_id),
            max_rows,
        )

    def _read(self, organization_id: str, customer_id: str) -> Customer:
        cursor = self._connection.cursor()
        try:
            rows = cursor.sql(
                load_sql(_QUERIES, "customer_events"),
                params={"org": organization_id, "customer_id": customer_id},
            ).to_arrow_table()
        finally:
            cursor.close()
        events = filtered_events(rows, organization_id, *ALL_TIME)
        events = events.take(pc.sort_indices(events, SERIES_ORDER))
        with self._lock:
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="tallyhouse-values-"))
                weakref.finalize(self, shutil.rmtree, self._folder, True)
            self._files += 1
            path = self._folder / f"{self._files}.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, events.schema) as writer:
            writer.write_table(events)
        customer = Customer(pa.ipc.open_file(pa.memory_map(str(path))).read_all(), path)
        weakref.finalize(customer, path.unlink, True)
        return customer
