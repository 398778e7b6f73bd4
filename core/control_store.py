"""The control store: API keys, metric definitions and the landing inbox, in one SQL database.

SQLite (WAL, synchronous=FULL) by default; PostgreSQL or any SQLAlchemy URL through
TALLYHOUSE_STORE_URL. The schema is SQLAlchemy Core, so the same code runs on both.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import sqlalchemy as sa

metadata = sa.MetaData()

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(40), primary_key=True),
    sa.Column("key_prefix", sa.String(24), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("organization_id", sa.String(64), nullable=False, index=True),
    sa.Column("scopes", sa.String(200), nullable=False),
    sa.Column("environment", sa.String(8), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("revoked_at", sa.DateTime),
)

# Every accepted API event, committed before the API answers; the ingest asset takes new rows
# by `seq` (a watermark kept in the warehouse, advanced in the same transaction as the rows).
landing_events = sa.Table(
    "landing_events",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("organization_id", sa.String(64), nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=False),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("organization_id", "idempotency_key", name="landing_events_key"),
    sqlite_autoincrement=True,
)

# Metric definitions of every organization; a deleted one keeps its row (deleted_at set).
metric_definitions = sa.Table(
    "metric_definitions",
    metadata,
    sa.Column("metric_id", sa.String(40), primary_key=True),
    sa.Column("organization_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("description", sa.String(1000)),
    sa.Column("query_type", sa.String(16), nullable=False),
    sa.Column("aggregation_type", sa.String(16)),
    sa.Column("event_name", sa.String(255)),
    sa.Column("value_type", sa.String(16)),
    sa.Column("sql_definition", sa.Text),
    # bumped by every update: a pre-computed value counts only for the version it was built from
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("deleted_at", sa.DateTime),
)


@cache
def engine_for(url: str) -> sa.Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, pool_size=20, max_overflow=20, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20)
    metadata.create_all(engine)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer; synchronous=FULL: a commit is on disk when it returns
    cursor.execute("pragma journal_mode=wal")
    cursor.execute("pragma synchronous=full")
    cursor.execute("pragma busy_timeout=30000")
    cursor.close()
