"""Dagster's SQLite event log, keeping one database engine per file for the process.

Dagster's own SQLite event log creates a SQLAlchemy engine for every statement (one per event,
plus one per asset and per check index write) and disposes of it after. A build run records a
few hundred events (each dbt model's materialization, each test's check evaluation), and that
cost ~5 s of CPU per incremental build on this 2-core machine, taken from dbt's threads. This
class keeps each file's engine instead (still without a pool: each statement opens and closes
its SQLite connection, as before). The files, their tables and the locking are Dagster's, so
`dagster dev`, with Dagster's own class, reads the same run history (docs/operations.md#run-history).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool


class SqliteEventLogKeepingEngines(SqliteEventLogStorage):
    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        self._engines: dict[str, Engine] = {}
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> SqliteEventLogKeepingEngines:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engines.get(shard)
            if engine is None:
                engine = create_engine(
                    self.conn_string_for_shard(shard),
                    poolclass=NullPool,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                )
                self._engines[shard] = engine
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        super().dispose()


def build_instance(dagster_home: os.PathLike[str] | str):
    """The Dagster instance of `dagster_home` (its dagster.yaml, Dagster's default storage),
    with this class in place of Dagster's SQLite event log, in the same folder
    (`<DAGSTER_HOME>/history/runs`)."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    home = os.fspath(dagster_home)
    override = {
        "event_log_storage": {
            "module": __name__,
            "class": SqliteEventLogKeepingEngines.__name__,
            "config": {"base_dir": os.path.join(home, "history", "runs")},
        }
    }
    return DagsterInstance.from_ref(InstanceRef.from_dir(home, overrides=override))
