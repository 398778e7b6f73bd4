"""Metric SQL evaluated in worker processes, so that its limits hold whatever the query does.

DuckDB's memory limit covers what its buffer manager allocates, and its interrupt is honoured
between chunks of work; a query that builds ever longer strings (a CTE that doubles a string
at each step) allocates outside that limit, and between interrupts for minutes. So each
evaluation over real rows runs in a worker process that caps its own address space while the
query runs (an allocation past the cap fails as "out of memory", and the worker lives on), and
the caller kills a worker that does not answer within the time limit and a grace period, and
starts another. Nothing the query does reaches the server or the build that asked.
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

_PROJECT_ROOT = Path(__file__).resolve().parent.parent
# beyond its time limit, how long a worker may take to stop itself before it is killed
GRACE_SECONDS = 2.0
WORKERS = 2  # evaluations at once per process (each may use its own memory limit)


class WorkerFailed(Exception):
    """The worker did not answer: it was killed (time) or died (memory)."""

    def __init__(self, timed_out: bool) -> None:
        super().__init__("timed out" if timed_out else "died")
        self.timed_out = timed_out


class Worker:
    """One worker process (`python -m core.sandbox_worker`), started on first use
    and again after it was killed or died."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._send: Connection | None = None
        self._receive: Connection | None = None

    def call(self, request: tuple[Any, ...], timeout: float) -> Any:
        self._ensure_started()
        assert self._send is not None and self._receive is not None
        try:
            self._send.send_bytes(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
            if not self._receive.poll(timeout + GRACE_SECONDS):
                self.stop()
                raise WorkerFailed(timed_out=True)
            return pickle.loads(self._receive.recv_bytes())
        except (EOFError, OSError):
            self.stop()
            raise WorkerFailed(timed_out=False) from None

    def _ensure_started(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        self.stop()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "core.sandbox_worker"],
            cwd=_PROJECT_ROOT,  # where `core` is importable, whatever the caller's directory
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            # few malloc arenas: each would reserve address space the cap counts
            env={**os.environ, "MALLOC_ARENA_MAX": "2"},
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._send = Connection(os.dup(self._process.stdin.fileno()), readable=False)
        self._receive = Connection(os.dup(self._process.stdout.fileno()), writable=False)
        self._process.stdin.close()
        self._process.stdout.close()

    def stop(self) -> None:
        for connection in (self._send, self._receive):
            if connection is not None:
                connection.close()
        self._send = self._receive = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            self._process = None


class WorkerPool:
    """WORKERS workers, each used by one evaluation at a time."""

    def __init__(self, size: int = WORKERS) -> None:
        self._idle: queue.LifoQueue[Worker] = queue.LifoQueue()
        for _ in range(size):
            self._idle.put(Worker())
        self._all = list(self._idle.queue)

    @contextmanager
    def worker(self) -> Iterator[Worker]:
        worker = self._idle.get()
        try:
            yield worker
        finally:
            self._idle.put(worker)

    def stop(self) -> None:
        for worker in self._all:
            worker.stop()


_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


def pool() -> WorkerPool:
    """This process's workers (started on first use, stopped at exit)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = WorkerPool()
            atexit.register(_pool.stop)
        return _pool
