"""What the next build would do, and why, read without starting it (`tallyhouse build
--dry-run`). It asks the same records the build asks, all kept by build_state: the last
build's sources, the code's records (static models, unit tests); and the warehouse's
ledgers (new landing files, the API inbox's watermark)."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import sqlalchemy as sa

from core.control_store import engine_for, landing_events
from core.settings import Settings
from orchestration.defs.ingest.landing import discover
from orchestration.lib.build_state import (
    code_fingerprint,
    digest_of,
    last_build,
    served_snapshot,
    source_parts,
    static_models_built,
    unchanged_since_last_build,
    unit_tests_due,
    warehouse_state,
)


@dataclass
class BuildPlan:
    runs: bool  # whether `tallyhouse build` would start a Dagster run
    reasons: list[str] = field(default_factory=list)  # why it would, or would not
    work: list[str] = field(default_factory=list)  # what the run would do


def plan_next_build(settings: Settings) -> BuildPlan:
    parts = source_parts(settings, settings.clock())
    if not settings.full_refresh and unchanged_since_last_build(settings, digest_of(parts)):
        last = last_build(settings)
        assert last is not None
        return BuildPlan(
            runs=False,
            reasons=[
                f"nothing changed since build {last.run_id[:8]}, whose snapshot "
                f"{last.snapshot_version} is served"
            ],
        )
    plan = BuildPlan(runs=True, reasons=_why(settings, parts))
    plan.work = _work(settings)
    return plan


def _why(settings: Settings, parts: dict[str, str]) -> list[str]:
    if settings.full_refresh:
        return ["a full refresh was asked for"]
    last = last_build(settings)
    if last is None:
        return ["no build has succeeded in this home yet"]
    reasons = []
    if last.source_parts:
        reasons += [
            f"{name} changed"
            for name, digest in parts.items()
            if last.source_parts.get(name) != digest
        ]
    else:
        reasons.append("the sources differ from the last build's")
    served = served_snapshot(settings)
    if served is None or served != last.snapshot_path:
        reasons.append("the snapshot served is not the last build's")
    if last.warehouse_state != warehouse_state(settings):
        reasons.append("the warehouse changed since the last build")
    return reasons


def _work(settings: Settings) -> list[str]:
    if not settings.warehouse_path.exists():
        files = len(discover(settings.landing_dir))
        return [f"a first build: {files} landing files, every API event, every model"]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as warehouse:
        seen = {
            sha
            for (sha,) in warehouse.execute("select file_sha256 from raw.landing_files").fetchall()
        }
        (watermark,) = warehouse.execute(
            "select coalesce(max(last_seq), 0) from raw.inbox_watermark"
        ).fetchall()[0]
        code = code_fingerprint(settings)
        try:
            static_kept = static_models_built(warehouse, code) is not None
        except duckdb.CatalogException:
            static_kept = False
    new_files = [f for f in discover(settings.landing_dir) if f.sha256 not in seen]
    with engine_for(settings.control_store_url).connect() as store:
        inbox = store.execute(
            sa.select(sa.func.count()).where(landing_events.c.seq > watermark)
        ).scalar_one()
    work = [
        f"ingest {len(new_files)} new landing files and {inbox} API events not yet ingested",
        "dbt: price the new events and bring every mart up to date"
        + ("" if not settings.full_refresh else ", the event facts rebuilt from scratch"),
    ]
    if unit_tests_due(settings, code):
        work.append("dbt's unit tests: due (the code changed since they last passed)")
    if static_kept and not settings.full_refresh and settings.engine == "duckdb":
        work.append("the seeds and static price models: left as built (the code is the same)")
    else:
        work.append("the seeds and static price models: built again")
    work.append("pre-compute the indexed metrics; publish a snapshot; run the data checks")
    return work


def _column(warehouse: duckdb.DuckDBPyConnection, query: str) -> list:
    """One column of a ledger table; none before the build that creates it."""
    try:
        return [value for (value,) in warehouse.execute(query).fetchall()]
    except duckdb.CatalogException:
        return []
