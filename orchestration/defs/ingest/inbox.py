"""Events the API accepted, taken from the landing store by a watermark.

The watermark (the last `seq` taken) lives in the warehouse and moves in the same DuckDB
transaction that stores the rows, so a crash re-reads, never skips or doubles. On PostgreSQL a
`SHARE ROW EXCLUSIVE` lock makes the read wait for inserts in flight: every sequence number
below what we read is committed (or rolled back), so none is passed over.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from core.control_store import landing_events

WATERMARK_DDL = "create table if not exists raw.inbox_watermark (last_seq bigint not null)"


def watermark(con: duckdb.DuckDBPyConnection) -> int:
    con.execute(WATERMARK_DDL)
    # fetchall: a half-read result would block the connection (DuckDB 2.0)
    (row,) = con.execute("select max(last_seq) from raw.inbox_watermark").fetchall()
    return row[0] or 0


def stage_new_rows(con: duckdb.DuckDBPyConnection, engine: sa.Engine, after_seq: int) -> int | None:
    """Copy inbox rows with seq > after_seq into landing_lines; the new watermark, or None."""
    with engine.begin() as store:
        if store.dialect.name == "postgresql":
            store.exec_driver_sql("lock table landing_events in share row exclusive mode")
        rows = store.execute(
            sa.select(
                landing_events.c.seq,
                landing_events.c.organization_id,
                landing_events.c.body,
                landing_events.c.received_at,
            )
            .where(landing_events.c.seq > after_seq)
            .order_by(landing_events.c.seq)
        ).all()
    if not rows:
        return None
    table = pa.table(
        {
            "organization_id": [r.organization_id for r in rows],
            "line_number": pa.array([r.seq for r in rows], pa.int64()),
            "raw_line": [r.body for r in rows],
            "received_at": pa.array([r.received_at for r in rows], pa.timestamp("us")),
        }
    )
    con.register("inbox_rows", table)
    try:
        con.execute(
            "insert into landing_lines (organization_id, source_file, file_sha256, line_number, "
            "raw_line, received_at) select organization_id, 'inbox', 'inbox', line_number, "
            "raw_line, received_at from inbox_rows"
        )
    finally:
        con.unregister("inbox_rows")
    return rows[-1].seq


def advance(con: duckdb.DuckDBPyConnection, last_seq: int) -> None:
    """Inside the ingest transaction: the rows up to last_seq are now in the raw layer."""
    con.execute("delete from raw.inbox_watermark")
    con.execute("insert into raw.inbox_watermark (last_seq) values (?)", [last_seq])
