"""Read your writes: the events the write API acknowledged that the serving snapshot does not
hold yet, beside the snapshot's, for metric values (docs/metrics.md#read-your-writes).

Each snapshot records how far into the landing store its build reached
(`snapshot_info.inbox_through_seq`); the landing store's rows after it are the events a
value adds. A build that ingests them publishes a snapshot that reaches further, so an event
is counted from the snapshot or from the store, never both, and never neither.

Each server process keeps, per snapshot and organization, the rows it has read so far, typed
once (`UnbuiltEvents`); a request reads only the rows after the last one it holds. On SQLite
the writers commit one at a time in `seq` order, so those are all the new rows. On PostgreSQL
a transaction that took a lower `seq` may commit after a higher one was read: the rows up to
the highest one read are counted again, and when they are more than the ones held, the
organization's rows are all read afresh.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from core.event_body import ALL_TIME
from core.metric_sandbox import filtered_events
from core.sql import load_sql, scratch

_QUERIES = Path(__file__).parent / "queries"
_RAW = pa.schema(
    [
        ("event_id", pa.string()),
        ("organization_id", pa.string()),
        ("customer_id", pa.string()),
        ("event_name", pa.string()),
        ("metric_name", pa.string()),
        ("quantity_text", pa.string()),
        ("event_string", pa.string()),
        ("metadata_text", pa.string()),
        ("timestamp_text", pa.string()),
        ("received_at", pa.timestamp("us")),
    ]
)
_TYPE_SQL = load_sql(_QUERIES, "type_unbuilt_events")
_STORE_SQL = Path(__file__).parent / "sql"
# the store's rows after a sequence number, and how many there are up to another
_UNBUILT_ROWS = sa.text(load_sql(_STORE_SQL, "unbuilt_rows")).columns(received_at=sa.DateTime)
_UNBUILT_COUNT = sa.text(load_sql(_STORE_SQL, "unbuilt_count"))


def through_seq(con: duckdb.DuckDBPyConnection) -> int | None:
    """How far into the landing store the snapshot's build reached; None for a snapshot
    published before this was recorded (its values count the snapshot alone)."""
    try:
        (row,) = con.execute("select inbox_through_seq from snapshot_info").fetchall()
    except duckdb.BinderException:
        return None
    return row[0]


def _raw(organization_id: str, found) -> pa.Table:
    rows = []
    for event_id, body, received_at in found:
        sent = json.loads(body)
        metadata = sent.get("metadata")
        rows.append(
            {
                "event_id": event_id,
                "organization_id": organization_id,
                "customer_id": sent.get("userId"),
                "event_name": sent["eventType"],
                "metric_name": sent["metricName"],
                "quantity_text": json.dumps(sent["quantity"]),
                "event_string": sent.get("value"),
                "metadata_text": None if metadata is None else json.dumps(metadata),
                "timestamp_text": sent.get("timestamp"),
                "received_at": received_at,
            }
        )
    return pa.Table.from_pylist(rows, schema=_RAW)


def _typed(raw: pa.Table) -> pa.Table:
    with scratch() as con:
        con.register("unbuilt_raw", raw)
        return con.sql(_TYPE_SQL).to_arrow_table()


_EMPTY = _typed(_raw("", []))


@dataclass
class _Held:
    """One organization's unbuilt events read so far: `rows` of them, the last at `last_seq`;
    each customer's, picked out when first asked."""

    last_seq: int
    rows: int
    events: pa.Table
    customers: dict[str, pa.Table] = field(default_factory=dict)

    def of_customer(self, organization_id: str, customer_id: str) -> pa.Table:
        if customer_id not in self.customers:
            rows = self.events.filter(pc.equal(self.events["customer_id"], customer_id))
            self.customers[customer_id] = filtered_events(rows, organization_id, *ALL_TIME)
        return self.customers[customer_id]


class UnbuiltEvents:
    """Per snapshot (SnapshotView.kept): each organization's unbuilt events, typed, read from
    the landing store incrementally."""

    def __init__(self, connection: duckdb.DuckDBPyConnection) -> None:
        cursor = connection.cursor()
        try:
            self.after_seq = through_seq(cursor)
        finally:
            cursor.close()
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()

    def of(self, store: sa.Engine, organization_id: str) -> pa.Table:
        """The organization's unbuilt events, as the write API has acknowledged them so far."""
        return self._fresh(store, organization_id).events

    def of_customer(self, store: sa.Engine, organization_id: str, customer_id: str) -> pa.Table:
        """The same, of one customer, with filtered_events' columns."""
        held = self._fresh(store, organization_id)
        with self._lock:
            return held.of_customer(organization_id, customer_id)

    def _fresh(self, store: sa.Engine, organization_id: str) -> _Held:
        if self.after_seq is None:
            return _Held(0, 0, _EMPTY)
        with self._lock:
            held = self._held.get(organization_id) or _Held(self.after_seq, 0, _EMPTY)
            found = self._read(store, organization_id, held.last_seq)
            last_seq = found[-1][0] if found else held.last_seq
            rows = held.rows + len(found)
            if store.dialect.name != "sqlite" and rows != self._count(
                store, organization_id, last_seq
            ):  # a lower seq committed late: read them all again
                held = _Held(self.after_seq, 0, _EMPTY)
                found = self._read(store, organization_id, self.after_seq)
                last_seq, rows = (found[-1][0] if found else self.after_seq), len(found)
            if found:
                new = _typed(_raw(organization_id, [row[1:] for row in found]))
                events = pa.concat_tables([held.events, new]) if held.events.num_rows else new
                held = _Held(last_seq, rows, events)
            self._held[organization_id] = held
            return held

    @staticmethod
    def _read(store: sa.Engine, organization_id: str, after_seq: int) -> list:
        with store.connect() as con:
            return con.execute(_UNBUILT_ROWS, {"org": organization_id, "after": after_seq}).all()

    def _count(self, store: sa.Engine, organization_id: str, last_seq: int) -> int:
        with store.connect() as con:
            return con.execute(
                _UNBUILT_COUNT, {"org": organization_id, "after": self.after_seq, "last": last_seq}
            ).scalar_one()


def attach(con: duckdb.DuckDBPyConnection, unbuilt: pa.Table) -> None:
    """On this snapshot cursor, the views `metric_event_rows` (the snapshot's events and the
    organization's unbuilt ones) and `unbuilt_metric_events`."""
    con.register("unbuilt_metric_events", unbuilt)
    con.execute(load_sql(_QUERIES, "metric_event_rows"))
