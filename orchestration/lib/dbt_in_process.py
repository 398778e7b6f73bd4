"""dbt run in this process, through its Python API, on a manifest parsed once per process.

dagster-dbt starts dbt as a subprocess for every invocation: Python, dbt's imports and the
project's parse, ~6 s before the first model. Here `dbtRunner` runs it in a thread of the build
process, on a `Manifest` kept from the last parse of the same code and variables, and its
events reach dagster-dbt as the same structured log records the subprocess prints (one dict
per event, as dbt's JSON log writes it): dagster-dbt turns them into the same outputs and
asset checks. One dbt invocation at a time per process (dbt's flags and adapters are global).
"""

from __future__ import annotations

import json
import queue
import shutil
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster_dbt.core.dbt_cli_invocation import PARTIAL_PARSE_FILE_NAME, DbtCliInvocation
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from core.settings import DBT_PROJECT_DIR

_LOCK = threading.Lock()  # one dbt invocation at a time in this process
_MANIFESTS: dict[str, Any] = {}  # the last parse, by code, variables and target
_DONE = object()
_DEBUG_LEVELS = frozenset({"debug", "test"})


def _manifest(key: str, parse_args: list[str]):
    """The parsed manifest for `key`, parsing (partially, from the project's last parse state)
    when this process has not parsed this code with these variables yet."""
    if key not in _MANIFESTS:
        from dbt.cli.main import dbtRunner

        result = dbtRunner().invoke(["parse", "--quiet", *parse_args])
        if not result.success:
            raise DagsterDbtCliRuntimeError(
                description=f"dbt parse failed: {result.exception or 'see the dbt log'}"
            )
        _MANIFESTS.clear()  # one kept: a long-lived builder builds one home
        _MANIFESTS[key] = result.result
    return _MANIFESTS[key]


def _close_warehouse() -> None:
    """dbt-duckdb keeps its DuckDB instance open between invocations of a process: close it,
    so that the warehouse file is not held (and its memory not kept) between builds."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    environment = DuckDBConnectionManager._ENV
    DuckDBConnectionManager.close_all_connections()
    if environment is not None:
        environment.close()


@dataclass
class InProcessDbtInvocation(DbtCliInvocation):
    """A dbt invocation run by `dbtRunner` in a thread; `stream()` and `wait()` as dagster-dbt's
    (its `process` is None)."""

    dbt_args: list[str] = field(default_factory=list)
    manifest_key: str = ""
    _events: queue.Queue = field(init=False, default_factory=queue.Queue)
    _thread: threading.Thread | None = field(init=False, default=None)
    _success: bool | None = field(init=False, default=None)
    _exception: BaseException | None = field(init=False, default=None)

    @classmethod
    def start(
        cls, *, dbt_args: Sequence[str], parse_args: Sequence[str], manifest_key: str, **kwargs
    ) -> InProcessDbtInvocation:
        invocation = cls(
            process=None,  # type: ignore[arg-type]
            dbt_args=list(dbt_args),
            manifest_key=manifest_key,
            **kwargs,
        )
        invocation._start(list(parse_args))
        return invocation

    def _start(self, parse_args: list[str]) -> None:
        from dbt_common.events.functions import msg_to_dict

        kept = DBT_PROJECT_DIR / "target" / PARTIAL_PARSE_FILE_NAME
        self.target_path.mkdir(parents=True, exist_ok=True)
        if kept.exists() and not (self.target_path / PARTIAL_PARSE_FILE_NAME).exists():
            shutil.copy(kept, self.target_path / PARTIAL_PARSE_FILE_NAME)

        def forward(message) -> None:
            # what the subprocess prints at its stdout's level (info); its debug events (each
            # query, each connection) go to this invocation's dbt.log only
            if message.info.level not in _DEBUG_LEVELS:
                self._events.put(msg_to_dict(message))

        def run() -> None:
            from dbt.cli.main import dbtRunner

            try:
                with _LOCK:
                    try:
                        manifest = _manifest(self.manifest_key, parse_args)
                        runner = dbtRunner(manifest=manifest, callbacks=[forward])
                        result = runner.invoke(self.dbt_args)
                        self._success, self._exception = result.success, result.exception
                    finally:
                        _close_warehouse()
            except BaseException as error:  # reported by the stream, in the run's thread
                self._success, self._exception = False, error
            finally:
                self._events.put(_DONE)

        self._thread = threading.Thread(target=run, name="dbt", daemon=True)
        self._thread.start()

    def _stream_stdout(self) -> Iterator[str | dict[str, Any]]:
        while (event := self._events.get()) is not _DONE:
            if event.get("info", {}).get("level") == "error":
                self._error_messages.append(event["info"].get("msg", ""))
            yield event
        if self._thread is not None:
            self._thread.join()

    def is_successful(self) -> bool:
        if self._success is None:
            self._stdout = list(self._stream_stdout())
        return bool(self._success) and not self._error_messages

    def get_error(self) -> Exception | None:
        if self.is_successful():
            return None
        cause = f"\n\n{self._exception}" if self._exception else ""
        return DagsterDbtCliRuntimeError(
            description=(
                f"dbt in this process, `{self.dbt_command}`, failed; its log: "
                f"{self.target_path / 'dbt.log'}.{cause}{self._format_error_messages()}"
            )
        )

    @property
    def dbt_command(self) -> str:
        return "dbt " + " ".join(self.dbt_args)


def in_process_args(
    args: Sequence[str], *, target_path: Path, profiles_dir: str | None, project_dir: Path
) -> list[str]:
    """The flags the subprocess gets from its environment (dagster-dbt's `DBT_*` variables),
    for an invocation in this process: JSON records, this invocation's folder, quiet stdout."""
    return [
        *args,
        "--project-dir",
        str(project_dir),
        *(["--profiles-dir", profiles_dir] if profiles_dir else []),
        "--target-path",
        str(target_path),
        "--log-path",
        str(target_path),
        "--log-format-file",
        "json",
        "--quiet",
    ]


def manifest_key(code: str, parse_args: Sequence[str]) -> str:
    return json.dumps([code, list(parse_args)])
