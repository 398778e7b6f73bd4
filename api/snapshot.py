"""The API's read path: a read-only DuckDB connection on the current serving snapshot.

A watcher thread follows the stable symlink and, when a publish moves it, opens the new
snapshot (a new file, so DuckDB's per-path cache never hands back the old one) and swaps
it in. Requests only take a cursor from whatever connection is current: no connect or
attach on a request's path. A request in flight keeps its cursor, and with it the old
snapshot, until it finishes; the old connection is closed after a grace period.

A snapshot never changes once published, so an answer computed from it stays right for as
long as it is served: each snapshot carries a bounded cache of answers (`SnapshotView.answer`),
keyed by everything the answer depends on, and dropped with the snapshot.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Generic, TypeVar

import duckdb
from starlette.concurrency import run_in_threadpool

log = logging.getLogger("tallyhouse.api")
GRACE_SECONDS = 30.0
ANSWERS_PER_SNAPSHOT = 2048
T = TypeVar("T")
MISSING = object()  # what AnswerCache.get returns for a question not asked yet


class AnswerCache:
    """The most recently used answers of one snapshot, at most `size` of them."""

    def __init__(self, size: int = ANSWERS_PER_SNAPSHOT) -> None:
        self.size = size
        self._answers: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            answer = self._answers.get(key, MISSING)
            if answer is not MISSING:
                self._answers.move_to_end(key)
            return answer

    def put(self, key: Hashable, answer: Any) -> None:
        if self.size == 0:
            return
        with self._lock:
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > self.size:
                self._answers.popitem(last=False)


class Kept(Generic[T]):
    """What a snapshot's state keeps by key (a customer's events, running totals): loaded once
    per key however many requests ask at once, the least recently used dropped once the kept
    rows (`rows(value)`) pass `max_rows`; a value bigger than that alone is not kept."""

    def __init__(self, rows: Callable[[T], int] = lambda _: 1) -> None:
        self._rows = rows
        self._values: OrderedDict[Hashable, T] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._loading: dict[Hashable, threading.Lock] = {}

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._values

    def held(self, key: Hashable) -> T | None:
        """The value if it is kept already (no load)."""
        with self._lock:
            return self._values.get(key)

    def get(self, key: Hashable, load: Callable[[], T], max_rows: int) -> T:
        with self._lock:
            found = self._values.get(key)
            if found is not None:
                self._values.move_to_end(key)
                return found
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one load per key at a time
            with self._lock:
                found = self._values.get(key)
            if found is not None:
                return found
            value = load()  # outside the kept values' lock: a query
            with self._lock:
                self._loading.pop(key, None)
                rows = self._rows(value)
                if rows <= max_rows:
                    self._values[key] = value
                    self._size += rows
                    while self._size > max_rows:
                        _, dropped = self._values.popitem(last=False)
                        self._size -= self._rows(dropped)
            return value


@dataclass(frozen=True)
class SnapshotView:
    """One published snapshot as a request sees it: its version, connection and answers."""

    version: str
    connection: duckdb.DuckDBPyConnection
    answers: AnswerCache = field(default_factory=AnswerCache)
    _kept: dict[Callable[..., Any], Any] = field(default_factory=dict)
    _kept_lock: threading.Lock = field(default_factory=threading.Lock)

    async def answer(self, key: Hashable, compute: Callable[..., Any], *args: Any) -> Any:
        """`compute(cursor, *args)` on this snapshot, or its earlier answer for the same `key`
        (which must name everything the answer depends on). Queries run off the event loop."""
        return await self.remember(key, partial(self._compute, compute, args), blocking=True)

    async def remember(self, key: Hashable, compute: Callable[[], Any], *, blocking: bool) -> Any:
        """`compute()`'s answer, or its earlier answer for the same `key`; computed in a worker
        thread when it is `blocking` (runs a query), else right on the event loop."""
        answer = self.answers.get(key)
        if answer is MISSING:
            answer = await run_in_threadpool(compute) if blocking else compute()
            self.answers.put(key, answer)
        return answer

    def kept(self, factory: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """This snapshot's one `factory(connection)`: state derived from the snapshot, made on
        first use and dropped with it."""
        with self._kept_lock:
            if factory not in self._kept:
                self._kept[factory] = factory(self.connection)
            return self._kept[factory]

    def _compute(self, compute: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        cursor = self.connection.cursor()
        try:
            return compute(cursor, *args)
        finally:
            cursor.close()


class SnapshotReader:
    def __init__(
        self,
        current: Path,
        *,
        poll_seconds: float = 0.2,
        answers_cached: int = ANSWERS_PER_SNAPSHOT,
    ) -> None:
        self._current = current
        self._answers_cached = answers_cached
        self._poll = poll_seconds
        self._lock = threading.Lock()
        self._view: SnapshotView | None = None
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
            if self._view:
                self._view.connection.close()
            self._view, self._retired = None, []

    def view(self) -> SnapshotView | None:
        """The current snapshot; None before the first publish."""
        return self._view

    def cursor(self) -> tuple[duckdb.DuckDBPyConnection, str] | tuple[None, None]:
        """A cursor on the current snapshot and its version; (None, None) before the first publish."""
        view = self._view
        if view is None:
            return None, None
        return view.connection.cursor(), view.version

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
            old = self._view
            self._view, self._target = (
                SnapshotView(Path(target).stem, connection, AnswerCache(self._answers_cached)),
                target,
            )
            if old is not None:
                self._retired.append((time.monotonic(), old.connection))
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
