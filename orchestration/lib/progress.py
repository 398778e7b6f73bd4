"""What a build shows a person while it runs: each step as it starts and ends, with seconds.

The build's job gets a Dagster logger (`progress`) that hands step events to whoever listens
(the CLI's live display); with nobody listening it does nothing. Dagster's full event log
still goes to the run's storage, and to a file when the CLI asks (orchestration/build.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg

# (event, step, seconds): "start" or "done" or "failed"; seconds for done and failed
StepListener = Callable[[str, str, float | None], None]
_listeners: list[StepListener] = []
_EVENTS = {"STEP_START": "start", "STEP_SUCCESS": "done", "STEP_FAILURE": "failed"}


@contextmanager
def listening(listener: StepListener) -> Iterator[None]:
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


class _StepHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_meta", {}).get("dagster_event")
        kind = _EVENTS.get(getattr(event, "event_type_value", ""))
        if kind is None or not _listeners:
            return
        seconds = None
        if kind == "done":
            seconds = event.step_success_data.duration_ms / 1000
        for listener in list(_listeners):
            listener(kind, event.step_key or "-", seconds)


@dg.logger(description="Step starts and ends, for the CLI's live display of a build.")
def progress_logger(_init_context) -> logging.Logger:
    logger = logging.Logger("tallyhouse.progress", level=logging.DEBUG)
    logger.addHandler(_StepHandler())
    return logger
