"""The long-lived builder: one process that builds whenever the build's sources change.

`tallyhouse build --watch` keeps Python, Dagster and dbt loaded (dbt runs in this process on a
manifest parsed once: orchestration/lib/dbt_in_process.py) and looks at what a build starts
from (orchestration/lib/build_state.py, `source_parts`: landing files, the API inbox, metric
definitions, time zones, the project, the settings, the date) every `poll` seconds. When that
changed and then held still for `debounce` seconds, or has kept changing for `max_delay`
seconds (a steady stream of events), it builds: one build at a time, each a Dagster run as
`tallyhouse build` starts it. What a build does is unchanged, so a builder killed at any point
loses nothing and counts nothing twice; the next one (or `tallyhouse build`) goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from core.settings import Settings
from orchestration.lib.build_state import digest_of, source_parts


@dataclass(frozen=True)
class WatchTiming:
    poll: float = 0.5  # seconds between looks at the sources
    debounce: float = 1.0  # how long a change must hold still
    max_delay: float = 10.0  # the longest a change waits for a stream of changes to pause


def watch(
    settings: Callable[[], Settings],
    build: Callable[[Settings], object],
    *,
    timing: WatchTiming = WatchTiming(),
    stop: threading.Event | None = None,
    on_wait: Callable[[], None] | None = None,
) -> int:
    """Call `build` once at the start, then each time the sources changed, until `stop` is set;
    returns how many builds ran. `on_wait`: called once each time the builder starts waiting
    for a change."""
    stop = stop or threading.Event()
    built: str | None = None  # the sources' digest the last build started from
    pending: tuple[str, float, float] | None = None  # digest, first seen, last changed
    builds = 0
    waiting = False
    while not stop.is_set():
        current = settings()
        digest = digest_of(source_parts(current, current.clock()))
        now = time.monotonic()
        if digest == built:
            pending = None
        elif built is None:
            pending = (digest, now - timing.max_delay, now - timing.debounce)  # at once
        elif pending is None:
            pending = (digest, now, now)
        elif pending[0] != digest:
            pending = (digest, pending[1], now)
        if pending is not None and (
            now - pending[2] >= timing.debounce or now - pending[1] >= timing.max_delay
        ):
            built, pending, waiting = digest, None, False
            build(current)
            builds += 1
            continue
        if pending is None and not waiting:
            waiting = True
            if on_wait is not None:
                on_wait()
        stop.wait(timing.poll)
    return builds
