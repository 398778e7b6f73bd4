"""An organization's cost over any [start, end), answered from memory.

A snapshot never changes, so the API keeps, per snapshot and organization, what a period's
cost is made of: the organization's hourly costs as running totals (fct_org_hourly_costs:
any run of whole hours is the difference of two), and for the few hours a period starts or
ends inside, that hour's events as running totals (fct_usage_costs, ordered by event_at). A
period's cost is then two or three differences of exact DECIMAL sums: no SQL once the parts
are loaded. This matters for the rolling windows (the 7 or 30 x 24 hours ending now), whose
edges move with every request, so no two requests ask the same question; their edge hours
stay the same for an hour.

The same holds for one subject of a limit (an end user, feature, model or provider: cost
limits' status checks, api/limits/status.py): its hours and edge hours come from the
organization's priced events (queries/subject_costs.sql), loaded per subject as asked for.

Running totals are Decimals summed with enough digits for DECIMAL(38,18) values, so every
answer equals the SQL sum of the same rows to the last digit.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import datetime, timedelta
from decimal import Context, Decimal
from pathlib import Path

import duckdb

from api.periods import EARLIEST_INSTANT, END_OF_TIME, naive_utc
from api.snapshot import Kept
from core.sql import load_sql

# exact sums and differences of DECIMAL(38, 18) amounts, well past any real total
EXACT = Context(prec=60)
ZERO = Decimal(0)
HOUR = timedelta(hours=1)
# bounds on what one snapshot keeps, per API process
ORGANIZATIONS_KEPT = 1024
EDGE_EVENTS_KEPT = 1_000_000
SUBJECT_HOURS_KEPT = 2_000_000
_QUERIES = Path(__file__).parent / "queries"
# whose cost: the whole organization (None), or one (subject type, id) of a limit
Subject = tuple[str, str] | None


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


class PeriodCosts:
    """One snapshot's period costs, loaded per organization (or subject) and edge hour as asked
    for."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        self._connection = connection
        self._hours: Kept[RunningTotals] = Kept()  # one per organization
        self._subject_hours: Kept[RunningTotals] = Kept(len)
        self._edges: Kept[RunningTotals] = Kept(len)

    def in_memory(
        self, org: str, *periods: tuple[datetime, datetime], subject: Subject = None
    ) -> bool:
        """Whether cost() answers these (start, end) periods without a query."""
        edges = [(org, subject, hour) for start, end in periods for hour in _edge_hours(start, end)]
        whole = (
            (org, None) in self._hours if subject is None else (org, subject) in self._subject_hours
        )
        return whole and all(key in self._edges for key in edges)

    def cost(self, org: str, start: datetime, end: datetime, subject: Subject = None) -> Decimal:
        """Cost of the organization's (or the subject's) events with start <= event_at < end:
        whole hours from the hourly totals, the part of an hour at either edge from its events."""
        start, end = naive_utc(start), naive_utc(end)
        total = ZERO
        if _hour_floor(start) != _hour_floor(end):
            whole_from = _hour_floor(start) + HOUR if _inside(start) else start
            if subject is None:
                hours = self._hours.get(
                    (org, None), lambda: self._org_hours(org), ORGANIZATIONS_KEPT
                )
            else:
                hours = self._subject_hours.get(
                    (org, subject), lambda: self._subject(org, subject, "hour"), SUBJECT_HOURS_KEPT
                )
            total = hours.between(whole_from, _hour_floor(end))
        for hour in _edge_hours(start, end):
            events = self._edges.get(
                (org, subject, hour),
                lambda hour=hour: self._edge(org, subject, hour),
                EDGE_EVENTS_KEPT,
            )
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

    def _edge(self, org: str, subject: Subject, hour: datetime) -> RunningTotals:
        return self._subject(org, subject, "event", hour, hour + HOUR)

    def _subject(self, org: str, subject: Subject, grain: str, *span: datetime) -> RunningTotals:
        subject_type, subject_id = subject or ("organization", None)
        rows = subject_costs(self._connection, org, subject_type, subject_id, grain, *span)
        return RunningTotals([(instant, usage) for _, instant, usage in rows])

    def _rows(self, sql: str, parameters: dict[str, object]) -> list[tuple]:
        cursor = self._connection.cursor()
        try:
            return cursor.execute(sql, parameters).fetchall()
        finally:
            cursor.close()


def subject_costs(
    connection: duckdb.DuckDBPyConnection,
    org: str,
    subject_type: str,
    subject_id: str | None,
    grain: str,
    start: datetime = EARLIEST_INSTANT,
    end: datetime = END_OF_TIME,
) -> list[tuple[str | None, datetime | None, Decimal]]:
    """(subject, instant, cost) rows of queries/subject_costs.sql: per subject over
    [start, end) (`grain` "period"), or per subject and hour ("hour") or event instant
    ("event"), in time order."""
    cursor = connection.cursor()
    try:
        return cursor.execute(
            load_sql(_QUERIES, "subject_costs"),
            {
                "org": org,
                "subject_type": subject_type,
                "subject_id": subject_id,
                "period_start": naive_utc(start),
                "period_end": naive_utc(end),
                "grain": grain,
            },
        ).fetchall()
    finally:
        cursor.close()


def _edge_hours(start: datetime, end: datetime) -> list[datetime]:
    """The hours [start, end) covers only in part (each read from its events)."""
    start, end = naive_utc(start), naive_utc(end)
    if end <= start:
        return []
    if _hour_floor(start) == _hour_floor(end):
        return [_hour_floor(start)]
    return [_hour_floor(bound) for bound in (start, end) if _inside(bound)]


def _hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _inside(moment: datetime) -> bool:
    """Whether a bound falls inside an hour rather than on its start."""
    return moment != _hour_floor(moment)
