"""An organization's value of a simple metric (no customer, no groups) from memory, per
snapshot: what makes an organization-wide entitlement check a lookup (docs/metrics.md#how-fast).

The first such value asked of an event type after a publish reads the instants and quantities
of the organization's events of that type from the snapshot once, in time order, with their
running sums; the least recently used are dropped past `metric_cache_rows` events per server
process. COUNT, SUM and AVG over a window are then two binary searches and a difference; MIN
and MAX scan the window's quantities. The events acknowledged since the build
(api/metrics/live.py) are a second, small series, made again when more arrive. The other
aggregations (UNIQUE_COUNT, LATEST, WEIGHTED_SUM) stay in SQL.
"""

from __future__ import annotations

import threading
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from itertools import accumulate
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.metrics.customer_events import micros
from api.snapshot import Kept
from core.sql import load_sql

_QUERIES = Path(__file__).parent / "queries"
# what a window of the series answers; the rest is SQL (values.py)
IN_MEMORY = ("COUNT", "SUM", "AVG", "MIN", "MAX")
_MILLION = pa.scalar(Decimal(1_000_000), pa.decimal128(7, 0))


class _Series:
    """One event type's events of one organization: instants (microseconds) in order, each
    quantity in millionths (0 where there is none) and whether there is one."""

    def __init__(self, events: pa.Table) -> None:
        self.at = pc.cast(events["event_at"], pa.int64()).to_numpy()
        values = pc.cast(pc.multiply(events["event_value"], _MILLION), pa.int64())
        self.present = pc.is_valid(values).to_numpy(zero_copy_only=False)
        self.millionths = values.fill_null(0).to_numpy()

    def __len__(self) -> int:
        return len(self.at)

    @cached_property
    def sums(self) -> list[int]:
        return [0, *accumulate(self.millionths.tolist())]

    @cached_property
    def counted(self) -> list[int]:
        """counted[k]: how many of the first k events have a quantity."""
        return [0, *accumulate(self.present.astype(np.int64).tolist())]

    def part(self, start: int, end: int) -> _Part:
        i, j = (int(k) for k in np.searchsorted(self.at, [start, end], "left"))
        present = self.millionths[i:j][self.present[i:j]]
        return _Part(
            j - i,
            self.counted[j] - self.counted[i],
            self.sums[j] - self.sums[i],
            int(present.min()) if present.size else None,
            int(present.max()) if present.size else None,
        )


class _Part:
    """COUNT, SUM, MIN and MAX ingredients of some events (quantities in millionths)."""

    __slots__ = ("count", "largest", "present", "smallest", "total")

    def __init__(self, count: int, present: int, total: int, smallest, largest) -> None:
        self.count, self.present, self.total = count, present, total
        self.smallest, self.largest = smallest, largest

    def add(self, other: _Part) -> _Part:
        def pick(choose, a, b):
            return b if a is None else a if b is None else choose(a, b)

        return _Part(
            self.count + other.count,
            self.present + other.present,
            self.total + other.total,
            pick(min, self.smallest, other.smallest),
            pick(max, self.largest, other.largest),
        )

    def value(self, aggregation: str):
        """As grouped_values.sql answers it: COUNT counts events, the rest their quantities."""
        if aggregation == "COUNT":
            return self.count
        if not self.count:
            return 0 if aggregation == "SUM" else None
        if aggregation == "SUM":
            return _decimal(self.total) if self.present else None
        if aggregation == "AVG":
            return _decimal(self.total) / self.count if self.present else None
        return _decimal(self.smallest if aggregation == "MIN" else self.largest)


def _decimal(millionths: int | None) -> Decimal | None:
    return None if millionths is None else Decimal(millionths).scaleb(-6)


class OrganizationSeries:
    """Per snapshot (SnapshotView.kept): organizations' series by event type, the most
    recently used kept up to a number of events."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._connection = connection
        self._series: Kept[_Series] = Kept(len)
        self._unbuilt: dict[tuple[str, str], tuple[int, _Series]] = {}
        self._lock = threading.Lock()

    def held(self, organization_id: str, event_name: str) -> _Series | None:
        return self._series.held((organization_id, event_name))

    def unbuilt(self, organization_id: str, event_name: str, unbuilt: pa.Table) -> _Series:
        """The organization's unbuilt events of the type (`unbuilt`: all of its unbuilt
        events, metric_event_rows' shape) as a series: made again only when more came (they
        only ever grow within a snapshot)."""
        key = (organization_id, event_name)
        with self._lock:
            made = self._unbuilt.get(key)
            if made is None or made[0] != unbuilt.num_rows:
                rows = unbuilt.filter(pc.equal(unbuilt["event_name"], event_name))
                rows = rows.take(pc.sort_indices(rows, [("event_at", "ascending")]))
                made = (unbuilt.num_rows, _Series(rows))
                self._unbuilt[key] = made
            return made[1]

    def of(self, organization_id: str, event_name: str, max_rows: int) -> _Series:
        """The series; kept unless it is more than `max_rows` events."""
        return self._series.get(
            (organization_id, event_name),
            lambda: self._read(organization_id, event_name),
            max_rows,
        )

    def _read(self, organization_id: str, event_name: str) -> _Series:
        cursor = self._connection.cursor()
        try:
            events = cursor.sql(
                load_sql(_QUERIES, "organization_events"),
                params={"org": organization_id, "event_name": event_name},
            ).to_arrow_table()
        finally:
            cursor.close()
        return _Series(events)


def organization_value(
    built: _Series, unbuilt: _Series, aggregation: str, start: datetime, end: datetime
):
    """The value over [start, end) (naive UTC) of the snapshot's series and the unbuilt one."""
    span = micros(start), micros(end)
    return built.part(*span).add(unbuilt.part(*span)).value(aggregation)
