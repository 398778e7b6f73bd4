"""Make sure dbt's manifest exists before Dagster loads the dbt assets."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from core.settings import DBT_PROJECT_DIR


def _newest_source_mtime() -> float:
    roots = [
        DBT_PROJECT_DIR / "models",
        DBT_PROJECT_DIR / "macros",
        DBT_PROJECT_DIR / "tests",
        DBT_PROJECT_DIR / "dbt_project.yml",
        DBT_PROJECT_DIR.parent / "seeds",
    ]
    mtimes = [0.0]
    for root in roots:
        if root.is_file():
            mtimes.append(root.stat().st_mtime)
        elif root.is_dir():
            mtimes.extend(p.stat().st_mtime for p in root.rglob("*") if p.is_file())
    return max(mtimes)


def ensure_manifest() -> Path:
    """Run `dbt parse` when the manifest is missing or older than the project's files (one
    process at a time: parallel test workers or builds would otherwise write it together)."""
    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime():
        return manifest
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime():
            return manifest  # another process parsed it while this one waited
        env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        subprocess.run(
            [
                str(Path(sys.executable).parent / "dbt"),
                "parse",
                "--quiet",
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
            ],
            check=True,
            env=env,
            cwd=DBT_PROJECT_DIR,
        )
    return manifest


EVENT_FACT_TAG = "event_fact"


def event_facts(manifest: dict) -> tuple[str, ...]:
    """The models with one row per event, appended per ingest run: those the dbt project tags
    `event_fact` (its macros read the same tag)."""
    return tuple(
        sorted(
            node["name"]
            for node in manifest["nodes"].values()
            if node["resource_type"] == "model" and EVENT_FACT_TAG in node.get("tags", [])
        )
    )
