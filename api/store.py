"""The control store: one SQL database (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import sqlalchemy as sa

SCHEMA = Path(__file__).parent / "store_schema.sql"


@cache
def engine_for(url: str) -> sa.Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    with engine.begin() as con:
        for statement in SCHEMA.read_text().split(";"):
            if statement.strip():
                con.exec_driver_sql(statement)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer; durable commits with synchronous=FULL
    cursor.execute("pragma journal_mode=wal")
    cursor.execute("pragma synchronous=full")
    cursor.execute("pragma busy_timeout=5000")
    cursor.close()
