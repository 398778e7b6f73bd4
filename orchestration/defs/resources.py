"""Resources every asset shares: the settings (with the one clock) and the dbt CLI."""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliInvocation, DbtCliResource
from dagster_dbt.asset_utils import (
    extract_runtime_selection_from_args,
    get_updated_cli_invocation_params_for_context,
)
from dagster_dbt.compat import DBT_PYTHON_VERSION
from dagster_dbt.dagster_dbt_translator import validate_opt_translator
from dagster_dbt.dbt_manifest import DbtManifestParam, validate_manifest
from packaging.version import Version

from core.settings import DBT_PROJECT_DIR, Settings, get_settings
from core.warehouse import connect
from orchestration.lib.build_state import code_fingerprint
from orchestration.lib.dbt_in_process import InProcessDbtInvocation, in_process_args, manifest_key
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
    """dagster-dbt's dbt CLI, run in this process on the embedded warehouse (`cli`), and
    without two things it does in this process before every dbt invocation, which a build does not use and which cost ~9 s per build here: asking the dbt
    executable its version (`dbt --version`, a subprocess that imports all of dbt) and opening
    a handle to the dbt adapter (used only to fetch column metadata or row counts, which no
    asset of ours asks for). The executable is the one installed beside this interpreter, with
    the dbt-core package dagster-dbt already imported: its version is that package's."""

    @cached_property
    def _cli_version(self) -> Version:
        return DBT_PYTHON_VERSION

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:
        return None

    def cli(
        self,
        args: Sequence[str],
        *,
        raise_on_error: bool = True,
        manifest: DbtManifestParam | None = None,
        dagster_dbt_translator: DagsterDbtTranslator | None = None,
        context: dg.OpExecutionContext | dg.AssetExecutionContext | None = None,
        target_path: Path | None = None,
    ) -> DbtCliInvocation:
        """dbt in this process (orchestration/lib/dbt_in_process.py) for the embedded
        warehouse; as a subprocess for Spark (whose session would stay in this process) and
        when dagster-dbt runs a selection from a copy of the project."""
        subprocess_cli = functools.partial(
            super().cli, args, raise_on_error=raise_on_error, manifest=manifest,
            dagster_dbt_translator=dagster_dbt_translator, context=context,
            target_path=target_path,
        )  # fmt: skip
        settings = get_settings()
        if settings.engine != "duckdb" or self.profile or self.target:
            return subprocess_cli()
        translator = validate_opt_translator(dagster_dbt_translator) or DagsterDbtTranslator()
        cleaned, selects, excludes = extract_runtime_selection_from_args(args)
        params = get_updated_cli_invocation_params_for_context(
            context=context,
            manifest=validate_manifest(manifest) if manifest else {},
            dagster_dbt_translator=translator,
            runtime_selects=selects,
            runtime_excludes=excludes,
        )
        project_dir = Path(
            params.dbt_project.project_dir if params.dbt_project else self.project_dir
        )
        if project_dir.resolve() != DBT_PROJECT_DIR.resolve():
            return subprocess_cli()
        target_path = target_path or self._get_unique_target_path(context=context)
        if not target_path.is_absolute():
            target_path = project_dir / target_path
        located = functools.partial(
            in_process_args, target_path=target_path, profiles_dir=self.profiles_dir,
            project_dir=project_dir,
        )  # fmt: skip
        parsed_with = _flags(cleaned, ("--vars", "--target"))
        indirect = ["--indirect-selection", params.indirect_selection] if (
            params.indirect_selection
        ) else []  # fmt: skip
        return InProcessDbtInvocation.start(
            dbt_args=located(
                [*self.global_config_flags, *cleaned, *params.selection_args, *indirect]
            ),
            parse_args=located(parsed_with),
            manifest_key=manifest_key(code_fingerprint(settings), parsed_with),
            manifest=params.manifest,
            dagster_dbt_translator=params.dagster_dbt_translator,
            project_dir=project_dir,
            target_path=target_path,
            raise_on_error=raise_on_error,
            context=context,
            adapter=None,
            cli_version=self._cli_version,
            project=params.dbt_project,
        )


def _flags(args: Sequence[str], names: Sequence[str]) -> list[str]:
    """The flags among `args` named `names`, each with its value."""
    found = []
    for index, arg in enumerate(args[:-1]):
        if arg in names:
            found += [arg, args[index + 1]]
    return found


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
