"""Ingest landing files into the warehouse's raw layer, each file exactly once.

A file is known by (organization, sha256 of its content): a second build skips it, a new file
adds exactly its events. New files are ingested in batches of about `ingest_batch_events`
events (a setting, 5M by default), each batch one ingest run in one transaction (its events,
rejects and the record of its files together), so a crash leaves the raw layer with whole
batches only and the next build goes on with the files not yet recorded; staging, validation
and de-duplication never hold more than a batch, whatever the backlog. Bad lines and unreadable
files are quarantined in ``raw.rejected_events`` with their reason; the rest is ingested.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import sqlalchemy as sa

from core.event_body import BODY_FIELDS, EVENT_ID_MACRO, sql_rules
from core.sql import load_sql
from orchestration.defs.ingest import inbox

SQL_DIR = Path(__file__).parent / "sql"
ORGANIZATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
}
# events staged, validated and committed at a time (a file larger than this is one batch)
BATCH_EVENTS = 5_000_000
# what a line of a text file (JSONL, CSV) is taken to weigh when batching
TEXT_BYTES_PER_EVENT = 200
JSON_VALUED = ("quantity", "costUsd", "metadata")  # CSV cells holding JSON, not plain text


@dataclass(frozen=True)
class LandingFile:
    organization_id: str
    path: Path
    relative_path: str
    file_format: str
    sha256: str
    size_bytes: int
    modified_ns: int


@dataclass
class IngestReport:
    ingest_run_id: int
    files_ingested: int = 0
    files_skipped: int = 0
    events_ingested: int = 0
    events_rejected: int = 0
    duplicates: int = 0
    inbox_events_read: int = 0
    rejected_files: list[str] = field(default_factory=list)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def discover(
    landing_dir: Path, known_hashes: Mapping[tuple[str, int, int], str] | None = None
) -> list[LandingFile]:
    """Every complete landing file under landing/<organization-id>/, in a stable order.

    `known_hashes`: content hashes by (relative path, size, modification time in ns) from
    earlier builds; a file whose path, size and time all match is not read again (as git and
    rsync do), so a build over a large history of files costs a `stat` each, not a full read.
    """
    known = known_hashes or {}
    found: list[LandingFile] = []
    if not landing_dir.is_dir():
        return found
    for org_dir in sorted(p for p in landing_dir.iterdir() if p.is_dir()):
        if not ORGANIZATION_ID.match(org_dir.name):
            continue
        for path in sorted(org_dir.rglob("*")):
            file_format = FORMATS.get(path.suffix.lower())
            if file_format is None or not path.is_file():
                continue
            stat = path.stat()
            relative = str(path.relative_to(landing_dir))
            found.append(
                LandingFile(
                    organization_id=org_dir.name,
                    path=path,
                    relative_path=relative,
                    file_format=file_format,
                    sha256=known.get((relative, stat.st_size, stat.st_mtime_ns)) or _sha256(path),
                    size_bytes=stat.st_size,
                    modified_ns=stat.st_mtime_ns,
                )
            )
    return found


def known_hashes(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, int, int], str]:
    return {
        (path, size, modified): sha
        for path, size, modified, sha in con.execute(
            "select relative_path, size_bytes, modified_ns, file_sha256 from raw.landing_file_hashes"
        ).fetchall()
    }


def _remember_hashes(
    con: duckdb.DuckDBPyConnection,
    files: list[LandingFile],
    known: Mapping[tuple[str, int, int], str],
) -> None:
    """Record the hashes just computed. A cache of file contents, not of what was ingested:
    written whatever the ingest then does (a hash is the content's, ingested or not)."""
    new = [f for f in files if (f.relative_path, f.size_bytes, f.modified_ns) not in known]
    if not new:
        return
    columns = [
        [f.relative_path for f in new],
        [f.size_bytes for f in new],
        [f.modified_ns for f in new],
        [f.sha256 for f in new],
    ]
    con.execute(load_sql(SQL_DIR, "remember_file_hashes"), columns)


# Each body field's columns in the fields validation reads (validate_landing_lines.sql): its
# JSON type, as json_type names it, and its text, as json_extract_string gives it.
FIELD_COLUMNS = {
    "eventType": ("event_type_json", "event_type"),
    "metricName": ("metric_name_json", "metric_name"),
    "quantity": ("quantity_json", "quantity_text"),
    "idempotencyKey": ("key_json", "idempotency_key"),
    "timestamp": ("timestamp_json", "timestamp_text"),
    "userId": ("user_json", "user_id"),
    "costUsd": ("cost_json", "cost_text"),
    "value": ("value_json", "event_string"),
    "metadata": ("metadata_json", "metadata"),
}
INTEGER_TYPES = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
}  # fmt: skip


def _reader(file: LandingFile, placeholder: str) -> str:
    if file.file_format == "parquet":
        return f"read_parquet({placeholder}, file_row_number = true)"
    return f"read_csv({placeholder}, all_varchar = true, header = true)"


def _row_number(file: LandingFile) -> str:
    """A row's line number, from 1 (Parquet's own row number; a CSV's rows in order)."""
    return "file_row_number + 1" if file.file_format == "parquet" else "row_number() over ()"


def _columns(con: duckdb.DuckDBPyConnection, file: LandingFile) -> dict[str, str]:
    described = con.execute(f"describe select * from {_reader(file, '$1')}", [str(file.path)])
    return {row[0]: row[1] for row in described.fetchall() if row[0] in BODY_FIELDS}


def _json_cell(column: str) -> str:
    """A text cell of a JSON-valued field as JSON: the JSON it holds, or else a string."""
    return f"case when json_valid({column}) then json({column}) else to_json({column}) end"


def _json_body(columns: Mapping[str, str]) -> str:
    """A row of the file as JSON text: what its row stands for, field by field."""
    parts = []
    for name, column_type in columns.items():
        # identifiers from the fixed list of body fields, never from the file
        column = f'"{name}"'
        json_text = name in JSON_VALUED and column_type == "VARCHAR"
        parts.append(f"'{name}', {_json_cell(column) if json_text else column}")
    # a null cell reads like an absent field: validation treats JSON null as missing
    return f"json_object({', '.join(parts)})::varchar" if parts else "'{}'"


def _typed_field(name: str, column_type: str | None) -> tuple[str, str] | None:
    """SQL for one field's JSON type and text, read from a column of this type as the JSON
    text of its row would give them (None: a type read only through that text)."""
    column = f'"{name}"'  # from the fixed list of body fields
    if column_type is None:  # an absent field
        return "null", "null"
    if name == "metadata":
        if column_type == "VARCHAR":  # JSON text, or a plain string (refused: not an object)
            value = _json_cell(column)
        elif column_type.startswith("STRUCT("):
            value = f"to_json({column})"
        else:
            return None
        # a null cell is JSON null, as in the row's JSON text
        return (
            f"case when {column} is null then 'NULL' else json_type({value}) end",
            f"case when {column} is null then 'null'::json else {value} end",
        )
    kind = f"case when {column} is null then 'NULL' else {{}} end"
    if column_type == "VARCHAR" and name in JSON_VALUED:  # a CSV cell or a string: JSON if it is
        return (
            kind.format(f"case when json_valid({column}) then json_type({column}) else 'VARCHAR' end"),
            f"case when json_valid({column}) then json_extract_string({column}, '$') else {column} end",
        )  # fmt: skip
    if column_type == "VARCHAR":
        return kind.format("'VARCHAR'"), column
    if column_type in INTEGER_TYPES:
        return kind.format(f"case when {column} < 0 then 'BIGINT' else 'UBIGINT' end"), (
            f"{column}::varchar"
        )
    if column_type == "DOUBLE":  # the number's text as JSON writes it (NaN, 1e-9, 3.0)
        return kind.format("'DOUBLE'"), f"{column}::json::varchar"
    if column_type == "BOOLEAN":
        return kind.format("'BOOLEAN'"), f"case when {column} then 'true' else 'false' end"
    return None


def _typed_fields_sql(file: LandingFile, columns: Mapping[str, str]) -> str | None:
    """INSERT of a CSV or Parquet file's rows into landing_typed_fields, each field read from
    its typed column; None when a column's type is read only through JSON text."""
    select = []
    for name, (json_column, text_column) in FIELD_COLUMNS.items():
        field = _typed_field(name, columns.get(name))
        if field is None:
            return None
        select += [f"{field[0]} as {json_column}", f"{field[1]} as {text_column}"]
    return (
        "insert into landing_typed_fields by name select $1 as organization_id, "
        "$2 as source_file, $3 as file_sha256, "
        f"{_row_number(file)} as line_number, true as is_object, {', '.join(select)} "
        f"from {_reader(file, '$4')}"
    )


def _stage(con: duckdb.DuckDBPyConnection, file: LandingFile, typed: bool) -> None:
    """Stage one file: a JSONL file's lines as text, a CSV or Parquet file's rows as typed
    fields (as JSON text of each row when a column has a type the typed path does not read,
    or without `typed`)."""
    params = [file.organization_id, file.relative_path, file.sha256, str(file.path)]
    if file.file_format == "jsonl":
        con.execute(load_sql(SQL_DIR, "lines_from_jsonl"), params)
        return
    columns = _columns(con, file)
    typed_sql = _typed_fields_sql(file, columns) if typed else None
    if typed_sql is not None:
        try:
            con.execute(typed_sql, params)
            return
        except duckdb.Error:
            pass  # (one statement: nothing was staged) read as JSON text, as any type is
    con.execute(
        "insert into landing_lines (organization_id, source_file, file_sha256, line_number, "
        f"raw_line, received_at) select $1, $2, $3, {_row_number(file)}, "
        f"{_json_body(columns)}, null from {_reader(file, '$4')}",
        params,
    )


def _write_refused_lines(con: duckdb.DuckDBPyConnection, files: list[LandingFile]) -> None:
    """The text of each refused CSV or Parquet row staged typed, read again from its file (a
    file that cannot be read now leaves its rows' text empty)."""
    refused: dict[str, list[int]] = {}
    for source_file, line_number in con.execute(
        load_sql(SQL_DIR, "refused_typed_lines")
    ).fetchall():
        refused.setdefault(source_file, []).append(line_number)
    for file in files:
        lines = refused.get(file.relative_path)
        if not lines:
            continue
        try:
            columns = _columns(con, file)
            con.execute(
                "insert into landing_typed_raw_lines select $1, line_number, raw_line from ("
                f"select {_row_number(file)} as line_number, {_json_body(columns)} as raw_line "
                f"from {_reader(file, '$2')}) where list_contains($3, line_number)",
                [file.relative_path, str(file.path), lines],
            )
        except duckdb.Error:
            continue


def ingest(
    con: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    *,
    now: datetime,
    max_age: timedelta,
    max_future: timedelta,
    store: sa.Engine | None = None,
    batch_events: int = BATCH_EVENTS,
    typed: bool = True,
) -> IngestReport:
    """Ingest every landing file not seen before, and the API inbox's new rows (from `store`),
    in batches of about `batch_events` events (one ingest run each); returns what was done, in
    numbers (`ingest_run_id`: the last run). `typed=False` reads every CSV and Parquet row
    through JSON text of the row, as JSONL lines are read: what the typed path must equal."""
    con.execute(load_sql(SQL_DIR, "create_raw_tables"))
    seen = {
        (org, sha)
        for org, sha in con.execute(
            "select organization_id, file_sha256 from raw.landing_files"
        ).fetchall()
    }
    known = known_hashes(con)
    discovered = discover(landing_dir, known)
    _remember_hashes(con, discovered, known)
    files = [f for f in discovered if (f.organization_id, f.sha256) not in seen]
    report = IngestReport(ingest_run_id=0, files_skipped=len(discovered) - len(files))
    unique = list({(f.organization_id, f.sha256): f for f in files}.values())
    for index, batch in enumerate(_batches(con, unique, batch_events)):
        # the API inbox's rows join the first batch
        inbox_store = store if index == 0 else None
        _ingest_batch(con, batch, report, now, max_age, max_future, inbox_store, typed)
    return report


def _batches(
    con: duckdb.DuckDBPyConnection, files: list[LandingFile], batch_events: int
) -> list[list[LandingFile]]:
    """Files in order, grouped into batches of about `batch_events` events (at least one batch,
    maybe empty: a run is recorded even when there is nothing new)."""
    batches: list[list[LandingFile]] = [[]]
    size = 0
    for file in files:
        events = _estimated_events(con, file)
        if batches[-1] and size + events > batch_events:
            batches.append([])
            size = 0
        batches[-1].append(file)
        size += events
    return batches


def _estimated_events(con: duckdb.DuckDBPyConnection, file: LandingFile) -> int:
    if file.file_format != "parquet":
        return file.size_bytes // TEXT_BYTES_PER_EVENT + 1
    try:  # the row count from the file's footer
        return con.execute("select count(*) from read_parquet($1)", [str(file.path)]).fetchall()[0][
            0
        ]
    except duckdb.Error:
        return 1  # unreadable: staging rejects it


def _ingest_batch(
    con: duckdb.DuckDBPyConnection,
    files: list[LandingFile],
    report: IngestReport,
    now: datetime,
    max_age: timedelta,
    max_future: timedelta,
    store: sa.Engine | None,
    typed: bool,
) -> None:
    """One ingest run: stage, validate, classify and insert these files' events (and the
    inbox's, from `store`), adding what it did to `report`."""
    run_id = con.execute(
        "select coalesce(max(ingest_run_id), 0) + 1 from raw.ingest_runs"
    ).fetchall()[0][0]
    first_run = report.ingest_run_id == 0
    report.ingest_run_id = run_id
    now_naive = now.replace(tzinfo=None)
    files_before = report.files_ingested
    events_before = (report.events_ingested, report.events_rejected, report.duplicates)
    # Staging reads files into a temp table outside the transaction: a file that cannot be
    # read fails only its own statement. Everything that touches raw.* is one transaction.
    con.execute(load_sql(SQL_DIR, "create_landing_lines"))
    unreadable: dict[LandingFile, str] = {}
    staged: list[LandingFile] = []
    for file in files:
        try:
            _stage(con, file, typed)
            staged.append(file)
        except duckdb.Error as error:
            unreadable[file] = str(error).splitlines()[0][:500]
    inbox_seq = (
        inbox.stage_new_rows(con, store, inbox.watermark(con)) if store is not None else None
    )
    # validation and classification fill temp tables only (and this is the one process that
    # writes raw.*): outside the transaction, so that reading refused rows' text again from
    # their files, which may fail, cannot abort it
    con.execute(
        load_sql(SQL_DIR, "validate_landing_lines"),
        {
            "now": now_naive,
            "max_age": int(max_age.total_seconds()),
            "max_future": int(max_future.total_seconds()),
            **sql_rules(max_future),
        },
    )
    con.execute(load_sql(SQL_DIR, "classify_landing_events"))
    _write_refused_lines(con, staged)
    con.execute("begin transaction")
    try:
        for file, error in unreadable.items():
            con.execute(
                load_sql(SQL_DIR, "insert_unreadable_file"),
                [
                    file.organization_id,
                    file.relative_path,
                    f"file could not be read: {error}",
                    run_id,
                    now_naive,
                ],
            )
            _record_file(con, file, "rejected", (0, 0, 1, 0), run_id, now_naive)
        con.execute(EVENT_ID_MACRO)
        con.execute(load_sql(SQL_DIR, "insert_new_events"), [run_id, now_naive])
        con.execute(load_sql(SQL_DIR, "insert_rejects"), [run_id, now_naive])
        outcomes = {
            row[0]: row[1:] for row in con.execute(load_sql(SQL_DIR, "file_outcomes")).fetchall()
        }
        for file in staged:
            counts = outcomes.get(file.relative_path, (0, 0, 0, 0))
            _record_file(con, file, "ingested", counts, run_id, now_naive)
            report.files_ingested += 1
            report.events_ingested += counts[1]
            report.events_rejected += counts[2]
            report.duplicates += counts[3]
        if inbox_seq is not None:
            counts = outcomes.get("inbox", (0, 0, 0, 0))
            report.inbox_events_read = counts[0]
            report.events_ingested += counts[1]
            report.events_rejected += counts[2]
            report.duplicates += counts[3]
            inbox.advance(con, inbox_seq)
        report.events_rejected += len(unreadable)
        report.rejected_files = sorted(
            [*report.rejected_files, *(f.relative_path for f in unreadable)]
        )
        con.execute(
            load_sql(SQL_DIR, "insert_ingest_run"),
            [
                run_id,
                now_naive,
                report.files_ingested - files_before,
                report.files_skipped if first_run else 0,
                report.events_ingested - events_before[0],
                report.events_rejected - events_before[1],
                report.duplicates - events_before[2],
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _record_file(
    con: duckdb.DuckDBPyConnection,
    file: LandingFile,
    status: str,
    counts: tuple[int, int, int, int],
    run_id: int,
    now: datetime,
) -> None:
    con.execute(
        load_sql(SQL_DIR, "insert_landing_file"),
        [
            file.sha256,
            file.organization_id,
            file.relative_path,
            file.size_bytes,
            status,
            *counts,
            run_id,
            now,
        ],
    )
