"""Dagster's records of the build's runs: SQLite files under the home, as Dagster's default
storage keeps them, written through one connection pool per file.

Dagster's own SQLite event log opens a new engine, connects, commits and disposes of it for
every event it stores, often several times per event (the run's file, the index, the asset
and check tables). A build of 1,000 new events stores ~270 events (each model's
materialization, each test's check, each step and their plans): that bookkeeping cost more
than the build's dbt models did. This storage keeps an engine per file instead, with its
connections open between events (docs/operations.md#run-records). The files, their schema and
what `dagster dev` reads are Dagster's, unchanged. A home's `dagster.yaml` names it
(orchestration/build.py, INSTANCE_CONFIG).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.sql import create_engine
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine

# engines kept open: the index and the files of the last few runs (a long-lived builder starts
# a run, and so a file, per build)
ENGINES_KEPT = 4


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        # before Dagster's own setup, which connects already
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value
    ) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # one writer per process at a time, as Dagster's own storage serializes them
        with self._db_lock, self._engine(shard).connect() as conn, conn.begin():
            yield conn

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.pop(shard, None)
            if engine is None:
                engine = create_engine(
                    self.conn_string_for_shard(shard),
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                )
                if shard not in self._initialized_dbs:
                    self._initdb(engine)
                    self._initialized_dbs.add(shard)
            self._engines[shard] = engine
            while len(self._engines) > ENGINES_KEPT:
                _, oldest = self._engines.popitem(last=False)
                oldest.dispose()
            return engine

    def dispose(self) -> None:
        super().dispose()
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()
