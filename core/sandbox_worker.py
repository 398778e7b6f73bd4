"""A metric sandbox worker: reads evaluation requests on stdin, answers on stdout, until its
parent closes stdin. Started by core.sandbox_process; not a command for people.

While a query runs, the process's address space is capped at what it maps already plus the
evaluation's memory limit and ADDRESS_SLACK: DuckDB's own limit catches what its buffer
manager allocates; the cap catches the rest (an allocation past it fails as out of memory).
The slack is address space that allocators and thread stacks reserve without using."""

from __future__ import annotations

import os
import pickle
import resource
import sys
from multiprocessing.connection import Connection

from core import metric_sandbox

ADDRESS_SLACK = 512 * 2**20
_UNITS = {"KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


def _bytes(size: str) -> int:
    text = size.strip().upper().replace(" ", "")
    for unit in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(unit):
            return int(float(text.removesuffix(unit)) * _UNITS[unit])
    return int(text)


def _address_space() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _answer(request: tuple) -> tuple:
    kind, sql, events, slices, limits = request
    try:
        if isinstance(events, list):
            # a build's files of events, read by the query under the cap; the database opened
            # before it, so that its threads' and allocator's address space is not the query's
            events = metric_sandbox.events_database(events, limits)
        elif isinstance(events, metric_sandbox.MappedWindow):
            events = events.read()
    except metric_sandbox.MetricQueryError as error:
        return ("error", type(error).__name__, str(error))
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space() + _bytes(limits.memory) + ADDRESS_SLACK
    unlimited = hard == resource.RLIM_INFINITY
    resource.setrlimit(resource.RLIMIT_AS, (cap if unlimited else min(cap, hard), hard))
    try:
        if kind == "slices":
            return ("ok", metric_sandbox.evaluate_slices_here(sql, events, slices, limits))
        return ("ok", metric_sandbox.evaluate_here(sql, events, limits))
    except metric_sandbox.MetricQueryError as error:
        return ("error", type(error).__name__, str(error))
    except MemoryError:
        return ("error", "MetricQueryError", metric_sandbox.memory_message(limits))
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def main() -> None:
    receive = Connection(os.dup(0), writable=False)
    send = Connection(os.dup(1), readable=False)
    # nothing else may write to the answers' pipe
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    while True:
        try:
            request = pickle.loads(receive.recv_bytes())
        except EOFError:
            return
        send.send_bytes(pickle.dumps(_answer(request), protocol=pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    sys.exit(main())
