"""An organization's cost over any [start, end), answered from memory.

A snapshot never changes, so the API keeps, per snapshot and organization, what a period's
cost is made of: the organization's hourly costs as running totals (fct_org_hourly_costs:
any run of whole hours is the difference of two), and for the few hours a period starts or
ends inside, that hour's events as running totals (fct_usage_costs, ordered by event_at). A
period's cost is then two or three differences of exact DECIMAL sums: no SQL once the parts
are loaded. This matters for the rolling windows (the 7 or 30 x 24 hours ending now), whose
edges move with every request, so no two requests ask the same question; their edge hours
stay the same for an hour.

Running totals are Decimals summed with enough digits for DECIMAL(38,18) values, so every
answer equals the SQL sum of the same rows to the last digit.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from decimal import Context, Decimal

import duckdb

# exact sums and differences of DECIMAL(38, 18) amounts, well past any real total
EXACT = Context(prec=60)
ZERO = Decimal(0)
HOUR = timedelta(hours=1)
# bounds on what one snapshot keeps, per API process
ORGANIZATIONS_KEPT = 1024
EDGE_EVENTS_KEPT = 1_000_000


class RunningTotals:
    """Sorted instants with the running total of their amounts: the sum over [lo, hi)."""

    __slots__ = ("instants", "totals")

    def __init__(self, rows: list[tuple[datetime, Decimal]]) -> None:
        self.instants = [instant for instant, _ in rows]
        self.totals = [ZERO]
        running = ZERO
        for _, amount in rows:
            running = EXACT.add(running, amount)
            self.totals.append(running)

    def __len__(self) -> int:
        return len(self.instants)

    def between(self, lo: datetime, hi: datetime) -> Decimal:
        if hi <= lo:
            return ZERO
        first, last = bisect_left(self.instants, lo), bisect_left(self.instants, hi)
        return EXACT.subtract(self.totals[last], self.totals[first])


class _Kept:
    """Running totals by key, least recently used dropped first once their rows (or, with
    `by_rows=False`, their number) exceed `limit`."""

    def __init__(self, limit: int, *, by_rows: bool) -> None:
        self._limit, self._by_rows = limit, by_rows
        self._totals: OrderedDict[Hashable, RunningTotals] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._totals

    def get(self, key: Hashable, load: Callable[[], RunningTotals]) -> RunningTotals:
        with self._lock:
            totals = self._totals.get(key)
            if totals is not None:
                self._totals.move_to_end(key)
                return totals
        totals = load()  # outside the lock: a query; two loads of one key are harmless
        with self._lock:
            if key not in self._totals:
                self._totals[key] = totals
                self._size += len(totals) if self._by_rows else 1
            while self._size > self._limit and len(self._totals) > 1:
                _, dropped = self._totals.popitem(last=False)
                self._size -= len(dropped) if self._by_rows else 1
        return totals


class PeriodCosts:
    """One snapshot's period costs, loaded per organization and edge hour as asked for."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._connection = connection
        self._hours = _Kept(ORGANIZATIONS_KEPT, by_rows=False)
        self._edges = _Kept(EDGE_EVENTS_KEPT, by_rows=True)

    def in_memory(self, org: str, *periods: tuple[datetime, datetime]) -> bool:
        """Whether cost() answers these (start, end) periods without a query."""
        edges = [(org, hour) for start, end in periods for hour in _edge_hours(start, end)]
        return org in self._hours and all(key in self._edges for key in edges)

    def cost(self, org: str, start: datetime, end: datetime) -> Decimal:
        """Cost of the organization's events with start <= event_at < end (UTC): whole hours
        from the hourly totals, the part of an hour at either edge from its events."""
        start, end = _naive(start), _naive(end)
        total = ZERO
        if _hour_floor(start) != _hour_floor(end):
            whole_from = _hour_floor(start) + HOUR if _inside(start) else start
            hours = self._hours.get(org, lambda: self._org_hours(org))
            total = hours.between(whole_from, _hour_floor(end))
        for hour in _edge_hours(start, end):
            events = self._edges.get((org, hour), lambda hour=hour: self._edge(org, hour))
            total = EXACT.add(total, events.between(max(start, hour), min(end, hour + HOUR)))
        return total

    def _org_hours(self, org: str) -> RunningTotals:
        return RunningTotals(
            self._rows(
                "select usage_hour, cost_usd from fct_org_hourly_costs "
                "where organization_id = $org order by usage_hour",
                {"org": org},
            )
        )

    def _edge(self, org: str, hour: datetime) -> RunningTotals:
        return RunningTotals(
            self._rows(
                "select event_at, cost_usd from fct_usage_costs "
                "where organization_id = $org and event_at >= $hour and event_at < $next "
                "order by event_at",
                {"org": org, "hour": hour, "next": hour + HOUR},
            )
        )

    def _rows(self, sql: str, parameters: dict[str, object]) -> list[tuple[datetime, Decimal]]:
        cursor = self._connection.cursor()
        try:
            return cursor.execute(sql, parameters).fetchall()
        finally:
            cursor.close()


def _edge_hours(start: datetime, end: datetime) -> list[datetime]:
    """The hours [start, end) covers only in part (each read from its events)."""
    start, end = _naive(start), _naive(end)
    if end <= start:
        return []
    if _hour_floor(start) == _hour_floor(end):
        return [_hour_floor(start)]
    return [_hour_floor(bound) for bound in (start, end) if _inside(bound)]


def _naive(moment: datetime) -> datetime:
    """The warehouse's timestamps are naive UTC."""
    return moment.replace(tzinfo=None)


def _hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _inside(moment: datetime) -> bool:
    """Whether a bound falls inside an hour rather than on its start."""
    return moment != _hour_floor(moment)
