"""The API's read path: a read-only DuckDB connection on the current serving snapshot.

A watcher thread follows the stable symlink and, when a publish moves it, opens the new
snapshot (a new file, so DuckDB's per-path cache never hands back the old one) and swaps
it in. Requests only take a cursor from whatever connection is current: no connect or
attach on a request's path. A request in flight keeps its cursor, and with it the old
snapshot, until it finishes; the old connection is closed after a grace period.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import duckdb

log = logging.getLogger("tallyhouse.api")
GRACE_SECONDS = 30.0


class SnapshotReader:
    def __init__(self, current: Path, *, poll_seconds: float = 0.2) -> None:
        self._current = current
        self._poll = poll_seconds
        self._lock = threading.Lock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._target: str | None = None
        self._retired: list[tuple[float, duckdb.DuckDBPyConnection]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def version(self) -> str | None:
        return Path(self._target).stem if self._target else None

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._watch, name="snapshot-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=2)
        with self._lock:
            for _, con in self._retired:
                con.close()
            if self._connection:
                self._connection.close()
            self._connection, self._retired = None, []

    def cursor(self) -> tuple[duckdb.DuckDBPyConnection, str] | tuple[None, None]:
        """A cursor on the current snapshot and its version; (None, None) before the first publish."""
        with self._lock:
            connection, target = self._connection, self._target
        if connection is None:
            return None, None
        return connection.cursor(), Path(target).stem

    def refresh(self) -> None:
        try:
            target = os.path.realpath(self._current) if self._current.exists() else None
        except OSError:
            target = None
        if target is None or target == self._target:
            return
        # plain read-only: other readers of the same file in this process share its instance
        connection = duckdb.connect(target, read_only=True)
        connection.execute("set TimeZone = 'UTC'")
        with self._lock:
            old, self._connection, self._target = self._connection, connection, target
            if old is not None:
                self._retired.append((time.monotonic(), old))
        log.info("serving snapshot %s", Path(target).name)

    def _watch(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                self.refresh()
                self._close_retired()
            except Exception:  # keep serving the snapshot we have
                log.exception("snapshot refresh failed")

    def _close_retired(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [c for t, c in self._retired if now - t > GRACE_SECONDS]
            self._retired = [(t, c) for t, c in self._retired if now - t <= GRACE_SECONDS]
        for connection in due:
            connection.close()
