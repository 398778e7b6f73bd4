"""SQL lives in .sql files beside the code that runs it: one loader for every layer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


@cache
def load_sql(folder: Path | str, name: str) -> str:
    """The text of `folder/name.sql` (read once per process)."""
    return (Path(folder) / f"{name}.sql").read_text()


@contextmanager
def scratch() -> Iterator[duckdb.DuckDBPyConnection]:
    """A new connection to this process's in-memory DuckDB, for our own SQL over Arrow tables
    registered on it (they go with the connection). Opening a database takes ~13 ms; a
    connection to an open one, microseconds."""
    cursor = _scratch_database().cursor()
    try:
        yield cursor
    finally:
        cursor.close()


_scratch_lock = threading.Lock()
_scratch_databases: list[duckdb.DuckDBPyConnection] = []


def _scratch_database() -> duckdb.DuckDBPyConnection:
    import duckdb

    with _scratch_lock:
        if not _scratch_databases:
            _scratch_databases.append(duckdb.connect(":memory:", config={"threads": 1}))
        return _scratch_databases[0]
