"""CSV and Parquet rows read straight into typed fields give what JSON text of each row gives:
the same events, the same rejects with the same reasons and text (landing.py, typed staging;
`ingest(typed=False)` is the JSON text path every JSONL line still takes)."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration.defs.ingest.landing import ingest
from tests.conftest import sized
from tests.orchestration.test_landing import GOOD, NOW

EVENT_COLUMNS = "* exclude (received_at)"


def write_parquet(path: Path, rows: list[dict[str, object]], schema: pa.Schema | None = None):
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def cell(value: object) -> str:
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    header = list(dict.fromkeys(name for row in rows for name in row))
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows([cell(row.get(name)) for name in header] for row in rows)


def ingested(landing: Path, typed: bool) -> tuple[list[tuple], list[tuple]]:
    """Every event and every reject (line, reason, text) of one ingest of `landing`."""
    with duckdb.connect() as con:
        report = ingest(
            con, landing, now=NOW, max_age=timedelta(days=400), max_future=timedelta(minutes=5),
            typed=typed,
        )  # fmt: skip
        assert report.files_ingested + len(report.rejected_files) >= 1
        events = con.execute(
            f"select {EVENT_COLUMNS} from raw.usage_events order by source_file, source_line"
        ).fetchall()
        rejects = con.execute(
            "select source_file, source_line, reason, raw_line from raw.rejected_events "
            "order by source_file, source_line"
        ).fetchall()
    return events, rejects


def reasons(rejects: list[tuple]) -> dict[str, str]:
    return {source_file: reason for source_file, _, reason, _ in rejects}


# (change, reason in Parquet, reason in CSV), worked out by hand: a Parquet column keeps its
# type; a CSV cell is text, read as JSON only for quantity, costUsd and metadata; a string
# column of quantity holds JSON text (1500 for "1500") in both
CASES = [
    ({"eventType": None}, "eventType: required, a non-empty string", "same"),
    ({"eventType": 7}, "eventType: required, a non-empty string", None),
    ({"eventType": "x" * 101}, "eventType: at most 100 characters", "same"),
    ({"metricName": ""}, "metricName: required, a non-empty string", "same"),
    ({"metricName": " \u00a0\u2028"}, "metricName: required, a non-empty string", "same"),
    ({"quantity": "1500"}, None, None),
    ({"quantity": "many"}, "quantity: required, a number", "same"),
    ({"quantity": -1}, "quantity: must be between 0 and 100000000000", "same"),
    ({"quantity": 1e300}, "quantity: must be between 0 and 100000000000", "same"),
    ({"quantity": float("nan")}, "quantity: must be between 0 and 100000000000", "same"),
    ({"quantity": True}, "quantity: required, a number", "same"),
    ({"timestamp": "yesterday"}, "timestamp: not an ISO-8601 date-time", "same"),
    ({"timestamp": "2026-11-24T12:06:00Z"}, "timestamp: more than 5 minutes in the future", "same"),
    (
        {"timestamp": "2025-10-01T00:00:00Z"},
        "timestamp: older than the accepted backfill window",
        "same",
    ),
    ({"idempotencyKey": "line\nbreak"}, "idempotencyKey: no control characters", "same"),
    ({"idempotencyKey": "  "}, "idempotencyKey: 1 to 255 characters, not blank", "same"),
    ({"userId": 42}, "userId: must be a string", None),
    ({"costUsd": -0.5}, "costUsd: must be between 0 and 1000000", "same"),
    ({"value": 3}, "value: must be a string", None),
    ({"metadata": [1, 2]}, "metadata: must be an object", "same"),
    ({"metadata": "plain"}, "metadata: must be an object", "same"),
    ({"metadata": {"model": 4}}, "metadata: model, provider and feature must be strings", "same"),
    (
        {"metadata": {"inputTokens": 1.5}},
        "metadata: token counts must be whole numbers between 0 and 100000000000",
        "same",
    ),
]


@pytest.mark.parametrize("file_format", ["parquet", "csv"])
@pytest.mark.parametrize(("change", "parquet_reason", "csv_reason"), CASES)
def test_each_reason_comes_out_the_same_typed_as_through_json_text(
    tmp_path, file_format, change, parquet_reason, csv_reason
):
    landing = tmp_path / "landing"
    (landing / "acme").mkdir(parents=True)
    body = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    write = write_parquet if file_format == "parquet" else write_csv
    # one file each: a Parquet column has one type
    write(landing / "acme" / f"bad.{file_format}", [body])
    write(landing / "acme" / f"good.{file_format}", [dict(GOOD, idempotencyKey="ok")])
    typed = ingested(landing, typed=True)
    assert typed == ingested(landing, typed=False)
    expected = parquet_reason if file_format == "parquet" or csv_reason == "same" else csv_reason
    assert reasons(typed[1]) == ({f"acme/bad.{file_format}": expected} if expected else {})
    assert len(typed[0]) == (1 if expected else 2)
    if expected:  # the refused row's text, as JSON of its fields (NaN as DuckDB writes it)
        (_, line, _, raw_line), *_ = typed[1]
        assert line == 1
        assert f'"idempotencyKey":{json.dumps(body["idempotencyKey"])}' in raw_line


# a column's type, then values of it (None: a null cell)
NAMES = ["eventType", "metricName", "quantity", "idempotencyKey", "timestamp", "userId",
         "costUsd", "value", "metadata"]  # fmt: skip
TEXT = st.one_of(
    st.sampled_from(["llm_call", "tokens", "2026-11-24T10:00:00Z", "1e-9", "-0.0", "12",
                     '"q"', "[1]", '{"model":"m","inputTokens":3}', "null", "", " ", "NaN"]),
    st.text(alphabet=st.sampled_from(["a", " ", "\t", "é", "\u00a0", '"', "\\", "{", "1"]),
            max_size=6),
)  # fmt: skip
COLUMNS = {
    "string": (pa.string(), TEXT),
    "int64": (pa.int64(), st.integers(min_value=-(2**40), max_value=2**40)),
    "uint64": (pa.uint64(), st.integers(min_value=0, max_value=2**64 - 1)),
    "float64": (pa.float64(), st.floats(allow_infinity=True, allow_nan=True)),
    "bool": (pa.bool_(), st.booleans()),
    "struct": (
        pa.struct([("model", pa.string()), ("inputTokens", pa.float64()), ("n", pa.int64())]),
        st.fixed_dictionaries(
            {
                "model": st.one_of(st.none(), TEXT),
                "inputTokens": st.floats(-1, 1e12),
                "n": st.integers(-5, 5),
            }
        ),
    ),  # fmt: skip
    "list": (pa.list_(pa.int64()), st.lists(st.integers(0, 9), max_size=2)),
}


@st.composite
def tables(draw) -> pa.Table:
    rows = draw(st.integers(min_value=1, max_value=12))
    fields, data = [], {}
    for name in NAMES:
        kind = draw(st.sampled_from(["absent", "string", *COLUMNS]))
        if kind == "absent":
            continue
        arrow_type, values = COLUMNS[kind]
        fields.append(pa.field(name, arrow_type))
        data[name] = draw(st.lists(st.one_of(st.none(), values), min_size=rows, max_size=rows))
    if not fields:
        return pa.table({"other": [1] * rows})
    return pa.table(data, schema=pa.schema(fields))


@settings(
    max_examples=sized(25, 300),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(table=tables(), keys=st.sampled_from(["own", "shared"]))
def test_any_columns_read_typed_give_what_json_text_gives(tmp_path_factory, table, keys):
    """Random columns of every type (and random text in CSV cells): events, rejects, reasons
    and rejects' text are equal; with shared keys, duplicates and conflicts too."""
    landing = tmp_path_factory.mktemp("typed") / "landing"
    (landing / "acme").mkdir(parents=True)
    if keys == "shared" and "idempotencyKey" in table.column_names:
        table = table.set_column(
            table.column_names.index("idempotencyKey"),
            pa.field("idempotencyKey", pa.string()),
            pa.array([f"k{i % 3}" for i in range(table.num_rows)]),
        )
    pq.write_table(table, landing / "acme" / "a.parquet")
    write_csv(landing / "acme" / "b.csv", table.to_pylist())
    typed = ingested(landing, typed=True)
    assert typed == ingested(landing, typed=False)
