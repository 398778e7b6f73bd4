"""Resources every asset shares: the settings (with the one clock) and the dbt CLI."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_dbt.compat import DBT_PYTHON_VERSION
from packaging.version import Version

from core.settings import DBT_PROJECT_DIR, Settings, get_settings
from core.warehouse import connect
from orchestration.lib.lake import RAW_TABLES


class TallyhouseResource(dg.ConfigurableResource):
    """Where the warehouse lives and what time it is, read when a run starts."""

    def settings(self) -> Settings:
        return get_settings()

    def now(self) -> datetime:
        return self.settings().clock()

    def connect(self, *, read_only: bool = False):
        settings = self.settings()
        return connect(
            settings.warehouse_path,
            memory_limit=settings.memory_limit,
            threads=settings.threads,
            read_only=read_only,
        )


class TallyhouseDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI without two things it does in this process before every dbt
    invocation, which a build does not use and which cost ~9 s per build here: asking the dbt
    executable its version (`dbt --version`, a subprocess that imports all of dbt) and opening
    a handle to the dbt adapter (used only to fetch column metadata or row counts, which no
    asset of ours asks for). The executable is the one installed beside this interpreter, with
    the dbt-core package dagster-dbt already imported: its version is that package's."""

    @cached_property
    def _cli_version(self) -> Version:
        return DBT_PYTHON_VERSION

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None


AS_OF_VARIABLE = "TALLYHOUSE_DBT_AS_OF"


def dbt_vars(settings: Settings) -> dict[str, object]:
    """What dbt needs from the orchestrator: where to build and with what. The same for
    every build of a home, so that dbt's partial parsing holds from one build to the next."""
    return {
        "warehouse_path": str(settings.warehouse_path),
        "memory_limit": settings.memory_limit,
        "threads": settings.threads,
        "lake_dir": str(settings.lake_dir),
        "lake_tables": list(RAW_TABLES),
    }


def dbt_as_of(now: datetime) -> dict[str, str]:
    """The build's "now" for dbt, as the environment variable its models read."""
    return {AS_OF_VARIABLE: now.replace(tzinfo=None).isoformat(timespec="seconds")}


def build_resources() -> dict[str, object]:
    return {
        "tallyhouse": TallyhouseResource(),
        "dbt": TallyhouseDbtCliResource(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            # the dbt installed beside this interpreter, whatever PATH says
            dbt_executable=str(Path(sys.executable).parent / "dbt"),
        ),
    }
