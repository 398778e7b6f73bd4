"""Landing-file ingestion on a real DuckDB file, without dbt: formats, validation, exactly once."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.warehouse import connect
from orchestration.defs.ingest.landing import ingest

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
GOOD = {
    "eventType": "llm_call",
    "metricName": "tokens",
    "quantity": 1500,
    "idempotencyKey": "k-1",
    "timestamp": "2026-11-20T10:00:00+02:00",
    "userId": "user_1",
    "metadata": {"model": "gpt-4o", "provider": "openai", "inputTokens": 1000, "outputTokens": 500},
}


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    (tmp_path / "landing" / "acme").mkdir(parents=True)
    return tmp_path / "landing"


@pytest.fixture
def con(tmp_path: Path):
    with connect(tmp_path / "wh.duckdb", memory_limit="1GB", threads=1) as connection:
        yield connection


def run(con: duckdb.DuckDBPyConnection, landing: Path):
    return ingest(
        con, landing, now=NOW, max_age=timedelta(days=400), max_future=timedelta(minutes=5)
    )


def write_jsonl(path: Path, bodies: list[object]) -> None:
    path.write_text("".join((b if isinstance(b, str) else json.dumps(b)) + "\n" for b in bodies))


def rejects(con) -> list[tuple[int, str]]:
    return con.execute(
        "select source_line, reason from raw.rejected_events order by source_file, source_line"
    ).fetchall()


class TestFormats:
    def test_jsonl_event_is_typed_and_in_utc(self, con, landing):
        write_jsonl(landing / "acme" / "a.jsonl", [GOOD])
        report = run(con, landing)
        assert (report.files_ingested, report.events_ingested, report.events_rejected) == (1, 1, 0)
        row = con.execute(
            "select organization_id, idempotency_key, quantity, event_at, end_user_id, model, "
            "provider, input_tokens, output_tokens from raw.usage_events"
        ).fetchone()
        assert row == (
            "acme",
            "k-1",
            Decimal("1500"),
            datetime(2026, 11, 20, 8, 0),
            "user_1",
            "gpt-4o",
            "openai",
            1000,
            500,
        )

    def test_csv_and_parquet_carry_the_same_fields(self, con, landing):
        csv_body = dict(GOOD, idempotencyKey="k-csv")
        header = list(csv_body)
        cells = [json.dumps(v) if isinstance(v, dict) else str(v) for v in csv_body.values()]
        (landing / "acme" / "b.csv").write_text(
            ",".join(header)
            + "\n"
            + ",".join(f'"{c.replace(chr(34), chr(34) * 2)}"' for c in cells)
            + "\n"
        )
        parquet_body = dict(GOOD, idempotencyKey="k-parquet", metadata=json.dumps(GOOD["metadata"]))
        pq.write_table(pa.Table.from_pylist([parquet_body]), landing / "acme" / "c.parquet")
        report = run(con, landing)
        assert (report.events_ingested, report.events_rejected) == (2, 0)
        rows = con.execute(
            "select idempotency_key, quantity, event_at, model, input_tokens "
            "from raw.usage_events order by 1"
        ).fetchall()
        expected = (Decimal("1500"), datetime(2026, 11, 20, 8, 0), "gpt-4o", 1000)
        assert rows == [("k-csv", *expected), ("k-parquet", *expected)]

    def test_an_unreadable_file_is_quarantined_and_the_rest_ingested(self, con, landing):
        (landing / "acme" / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
        write_jsonl(landing / "acme" / "a.jsonl", [GOOD])
        report = run(con, landing)
        assert (report.events_ingested, report.events_rejected) == (1, 1)
        assert report.rejected_files == ["acme/broken.parquet"]
        (reason,) = con.execute("select reason from raw.rejected_events").fetchone()
        assert reason.startswith("file could not be read")


class TestValidation:
    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            ({"eventType": None}, "eventType: required, a non-empty string"),
            ({"eventType": 7}, "eventType: required, a non-empty string"),
            ({"eventType": "x" * 101}, "eventType: at most 100 characters"),
            ({"metricName": ""}, "metricName: required, a non-empty string"),
            ({"quantity": "1500"}, "quantity: required, a number"),
            ({"quantity": -1}, "quantity: must be between 0 and 100000000000"),
            ({"quantity": 1e300}, "quantity: must be between 0 and 100000000000"),
            ({"timestamp": "yesterday"}, "timestamp: not an ISO-8601 date-time"),
            ({"timestamp": "2026-11-24T12:06:00Z"}, "timestamp: more than 5 minutes in the future"),
            (
                {"timestamp": "2025-10-01T00:00:00Z"},
                "timestamp: older than the accepted backfill window",
            ),
            ({"idempotencyKey": "k\u0000nul"}, "idempotencyKey: no control characters"),
            ({"idempotencyKey": "line\nbreak"}, "idempotencyKey: no control characters"),
            ({"userId": 42}, "userId: must be a string"),
            ({"costUsd": -0.5}, "costUsd: must be between 0 and 1000000"),
            ({"metadata": [1, 2]}, "metadata: must be an object"),
            ({"metadata": {"model": 4}}, "metadata: model, provider and feature must be strings"),
            (
                {"metadata": {"inputTokens": 1.5}},
                "metadata: token counts must be whole numbers between 0 and 100000000000",
            ),
        ],
    )
    def test_invalid_field_is_rejected_with_its_reason(self, con, landing, change, reason):
        body = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
        write_jsonl(landing / "acme" / "a.jsonl", [body, dict(GOOD, idempotencyKey="ok")])
        report = run(con, landing)
        assert (report.events_ingested, report.events_rejected) == (1, 1)
        assert rejects(con) == [(1, reason)]

    def test_timestamp_just_inside_the_future_limit_is_accepted(self, con, landing):
        write_jsonl(landing / "acme" / "a.jsonl", [dict(GOOD, timestamp="2026-11-24T12:05:00Z")])
        assert run(con, landing).events_ingested == 1

    def test_missing_timestamp_means_received_now(self, con, landing):
        body = {k: v for k, v in GOOD.items() if k != "timestamp"}
        write_jsonl(landing / "acme" / "a.jsonl", [body])
        run(con, landing)
        assert con.execute("select event_at from raw.usage_events").fetchone() == (
            datetime(2026, 11, 24, 12, 0),
        )


class TestExactlyOnce:
    def test_same_key_same_body_is_a_duplicate_and_different_body_a_conflict(self, con, landing):
        conflict = dict(GOOD, quantity=9)
        write_jsonl(landing / "acme" / "a.jsonl", [GOOD, GOOD, conflict])
        report = run(con, landing)
        assert (report.events_ingested, report.duplicates, report.events_rejected) == (1, 1, 1)
        assert rejects(con) == [(3, "idempotencyKey: already used for a different event")]

    def test_a_retry_in_a_later_file_is_a_duplicate(self, con, landing):
        write_jsonl(landing / "acme" / "a.jsonl", [GOOD])
        run(con, landing)
        write_jsonl(landing / "acme" / "b.jsonl", [GOOD, dict(GOOD, idempotencyKey="k-2")])
        report = run(con, landing)
        assert (report.files_ingested, report.events_ingested, report.duplicates) == (1, 1, 1)
        assert con.execute("select count(*) from raw.usage_events").fetchone() == (2,)

    def test_a_file_is_ingested_once_and_keyless_lines_get_stable_keys(self, con, landing):
        keyless = {k: v for k, v in GOOD.items() if k != "idempotencyKey"}
        write_jsonl(landing / "acme" / "a.jsonl", [keyless, keyless])
        first = run(con, landing)
        second = run(con, landing)
        assert (first.events_ingested, first.duplicates) == (2, 0)
        assert (second.files_skipped, second.events_ingested) == (1, 0)
        keys = [
            k
            for (k,) in con.execute(
                "select idempotency_key from raw.usage_events order by 1"
            ).fetchall()
        ]
        assert len(set(keys)) == 2 and all(k.startswith("auto-") for k in keys)

    def test_folders_that_are_not_organization_ids_are_ignored(self, con, landing):
        (landing / "bad org!").mkdir()
        write_jsonl(landing / "bad org!" / "a.jsonl", [GOOD])
        assert run(con, landing).files_ingested == 0


class TestRememberedHashes:
    def test_a_file_unchanged_in_size_and_time_is_not_read_again_and_a_touched_one_is(
        self, con, landing
    ):
        path = landing / "acme" / "a.jsonl"
        write_jsonl(path, [GOOD])
        assert run(con, landing).events_ingested == 1
        stat = path.stat()
        # other content of the same size, the same modification time: the remembered hash
        # stands, so the file is the one already ingested (the trade git and rsync make)
        write_jsonl(path, [dict(GOOD, idempotencyKey="k-9")])
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        second = run(con, landing)
        assert (second.files_skipped, second.files_ingested, second.events_ingested) == (1, 0, 0)
        # a new modification time: read again, a new file, its event ingested
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
        third = run(con, landing)
        assert (third.files_skipped, third.files_ingested, third.events_ingested) == (0, 1, 1)
        assert con.execute(
            "select idempotency_key from raw.usage_events order by 1"
        ).fetchall() == [("k-1",), ("k-9",)]
        assert con.execute(
            "select file_sha256 from raw.landing_file_hashes where relative_path = 'acme/a.jsonl'"
        ).fetchall() == [(hashlib.sha256(path.read_bytes()).hexdigest(),)]


class TestBatches:
    def test_a_backlog_is_ingested_in_runs_of_a_batch_each_deduplicated_across_them(
        self, con, landing
    ):
        write_jsonl(landing / "acme" / "a.jsonl", [GOOD, dict(GOOD, idempotencyKey="k-2")])
        write_jsonl(
            landing / "acme" / "b.jsonl",
            [GOOD, dict(GOOD, idempotencyKey="k-3"), dict(GOOD, idempotencyKey="k-2", quantity=7)],
        )
        write_jsonl(landing / "acme" / "c.jsonl", ["not json", dict(GOOD, idempotencyKey="k-4")])
        report = ingest(
            con,
            landing,
            now=NOW,
            max_age=timedelta(days=400),
            max_future=timedelta(minutes=5),
            batch_events=1,  # every file its own batch
        )
        assert report.ingest_run_id == 3
        assert (report.files_ingested, report.events_ingested) == (3, 4)
        assert (report.duplicates, report.events_rejected) == (1, 2)
        # one run per batch: (files, events, rejected, duplicates)
        assert con.execute(
            "select ingest_run_id, files_ingested, events_ingested, events_rejected, duplicates "
            "from raw.ingest_runs order by 1"
        ).fetchall() == [(1, 1, 2, 0, 0), (2, 1, 1, 1, 1), (3, 1, 1, 1, 0)]
        assert con.execute(
            "select idempotency_key, ingest_run_id from raw.usage_events order by 1"
        ).fetchall() == [("k-1", 1), ("k-2", 1), ("k-3", 2), ("k-4", 3)]
        assert rejects(con) == [
            (3, "idempotencyKey: already used for a different event"),
            (1, "event: must be a JSON object"),
        ]
