"""Read your writes: the events the write API acknowledged that the serving snapshot does not
hold yet, beside the snapshot's, for metric values (docs/metrics.md#read-your-writes).

Each snapshot records how far into the landing store its build reached
(`snapshot_info.inbox_through_seq`); the landing store's rows after it are the events a
value adds. A build that ingests them publishes a snapshot that reaches further, so an event
is counted from the snapshot or from the store, never both, and never neither.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from core.control_store import landing_events
from core.sql import load_sql

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


def through_seq(con: duckdb.DuckDBPyConnection) -> int | None:
    """How far into the landing store the snapshot's build reached; None for a snapshot
    published before this was recorded (its values count the snapshot alone)."""
    try:
        (row,) = con.execute("select inbox_through_seq from snapshot_info").fetchall()
    except duckdb.BinderException:
        return None
    return row[0]


def unbuilt(store: sa.Engine, organization_id: str, after_seq: int | None) -> pa.Table:
    """The organization's landing-store events after `after_seq`, as text to be typed."""
    rows: list[dict] = []
    if after_seq is not None:
        with store.connect() as con:
            found = con.execute(
                sa.select(landing_events.c.event_id, landing_events.c.body,
                          landing_events.c.received_at)
                .where(landing_events.c.organization_id == organization_id)
                .where(landing_events.c.seq > after_seq)
                .order_by(landing_events.c.seq)
            ).all()  # fmt: skip
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


def attach(con: duckdb.DuckDBPyConnection, store: sa.Engine, organization_id: str) -> int:
    """On this snapshot cursor, the views `metric_event_rows` (the snapshot's events and the
    organization's unbuilt ones) and `unbuilt_metric_events`; the number of unbuilt events."""
    raw = unbuilt(store, organization_id, through_seq(con))
    con.register("unbuilt_raw", raw)
    con.execute(load_sql(_QUERIES, "metric_event_rows"))
    return raw.num_rows
