"""What a build would start from, read without starting one.

A build is a function of its sources: the landing files, the API inbox and the metric
definitions (both in the control store), the dbt project with its price seeds, the settings
and the build's UTC date. ``source_parts`` reads them all cheaply — a `stat` per landing
file, a count and the last sequence number of the inbox, every definition row — before the
build's ingest reads anything. When a build succeeds, its digest is written beside the
serving snapshot it left current (``last_build.json`` in the home). A later `tallyhouse build`
whose digest is the same, while that snapshot is still the current one and the warehouse file
is as that build left it, has nothing to do: it says so and starts no Dagster run
(docs/operations.md#builds-with-nothing-new).

The digest is conservative: anything that might change a build (a file touched, a setting
changed, a row appended to the inbox by a transaction that commits late) changes it, and
then the build runs in full and decides for itself (orchestration/lib/build_state.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa

from core.control_store import engine_for, landing_events, metric_definitions
from core.settings import Settings
from orchestration.defs.publish.snapshot import current_snapshot_path
from orchestration.lib.build_state import project_fingerprint

STATE_FILE = "last_build.json"
# settings that never change what a build produces: the clock (its date is in the digest)
UNBUILT_SETTINGS = {"now"}


@dataclass(frozen=True)
class LastBuild:
    """A successful build: what it started from, the snapshot it left current, its figures."""

    source_digest: str
    snapshot_path: str
    snapshot_version: str
    run_id: str
    files_known: int
    events_total: int
    cost_usd_total: str | None
    # the warehouse file as the build left it: anything that wrote to it since (a scheduled
    # run, a hand-made change) or removed it means the build must run
    warehouse_state: list[list[int] | None]
    # the digest of each source, so that a later build can say which one changed
    source_parts: dict[str, str] | None = None


def source_parts(settings: Settings, now: datetime) -> dict[str, str]:
    """A digest of each source a build starts from, by what a person calls it."""
    landing = hashlib.sha256()
    files = 0
    for folder, _, names in (
        sorted(os.walk(settings.landing_dir)) if settings.landing_dir.is_dir() else []
    ):
        for name in sorted(names):
            stat = os.stat(os.path.join(folder, name))
            relative = os.path.relpath(os.path.join(folder, name), settings.landing_dir)
            landing.update(f"\n{relative}\0{stat.st_size}\0{stat.st_mtime_ns}".encode())
            files += 1
    with engine_for(settings.control_store_url).connect() as store:
        inbox = store.execute(sa.select(sa.func.count(), sa.func.max(landing_events.c.seq))).one()
        definitions = store.execute(
            sa.select(metric_definitions).order_by(metric_definitions.c.metric_id)
        ).all()
    metrics = hashlib.sha256(b"".join(repr(tuple(row)).encode() for row in definitions))
    return {
        "dbt project and price seeds": project_fingerprint(settings),
        "settings": hashlib.sha256(
            settings.model_dump_json(exclude=UNBUILT_SETTINGS).encode()
        ).hexdigest(),
        "date": f"{now:%Y-%m-%d}",
        "landing files": f"{files}:{landing.hexdigest()}",
        "API inbox": f"{tuple(inbox)}",
        "metric definitions": metrics.hexdigest(),
    }


def digest_of(parts: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def last_build(settings: Settings) -> LastBuild | None:
    """What the last successful build in this home recorded, if any."""
    try:
        return LastBuild(**json.loads((settings.root / STATE_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def warehouse_state(settings: Settings) -> list[list[int] | None]:
    """Size and modification time (ns) of the warehouse file and of its write-ahead log."""
    state: list[list[int] | None] = []
    for path in (settings.warehouse_path, settings.warehouse_path.with_suffix(".duckdb.wal")):
        try:
            stat = path.stat()
        except FileNotFoundError:
            state.append(None)
        else:
            state.append([stat.st_size, stat.st_mtime_ns])
    return state


def record_last_build(settings: Settings, build: LastBuild) -> None:
    path = settings.root / STATE_FILE
    staging = path.with_name(f"{STATE_FILE}.{os.getpid()}.tmp")
    staging.write_text(json.dumps(asdict(build), indent=2))
    os.replace(staging, path)


def unchanged_since_last_build(settings: Settings, digest: str) -> LastBuild | None:
    """The last successful build, when nothing has changed since it and its snapshot is still
    the one served; else None (the build must run)."""
    build = last_build(settings)
    if build is None:
        return None
    served = current_snapshot_path(settings.current_snapshot)
    unchanged = (
        build.source_digest == digest
        and served is not None
        and str(served) == build.snapshot_path
        and build.warehouse_state == warehouse_state(settings)
    )
    return build if unchanged else None
