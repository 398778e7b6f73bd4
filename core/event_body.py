"""The usage event body: the fields an app sends, in the order the API documents them."""

import threading
from datetime import date, datetime
from functools import cache

BODY_FIELDS = (
    "eventType",
    "metricName",
    "quantity",
    "idempotencyKey",
    "timestamp",
    "userId",
    "costUsd",
    "value",
    "metadata",
)

# Every instant an event or a read may name lies in [EARLIEST_DATE, LATEST_DATE + 1 day):
# far inside what Python and the warehouse represent, so no period (or the one before it)
# overflows. The API refuses read dates outside it; "all time" is this span.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2999, 12, 31)
ALL_TIME = (datetime(1900, 1, 1), datetime(3000, 1, 1))  # naive UTC, end exclusive

# The rules below are the same for the write API (api/usage_events/schemas.py) and the
# ingest of landing files and the API's inbox (defs/ingest/sql/validate_landing_lines.sql,
# which takes them as parameters): what one accepts, the other accepts.

# An ISO-8601 date-time in the extended format, or a date (midnight UTC); UTC when no offset.
# Basic formats (20260113T103500Z), week dates (2026-W03-2) and ordinal dates are refused.
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?$"
)
# metadata, as the warehouse writes it back as JSON text, in characters (escapes included)
MAX_METADATA_CHARS = 16_384
# how deep metadata may nest (objects and arrays): the API parses it in Python
MAX_METADATA_DEPTH = 32


def warehouse_json_length(text: str) -> int:
    """The length of a JSON document as the warehouse renders it (DuckDB's JSON text, as the
    ingest measures metadata): numbers and escapes are written its way, not Python's."""
    with _json_lock:
        return _json_connection().execute(_JSON_LENGTH, [text]).fetchall()[0][0]


_JSON_LENGTH = "select length(cast(json_extract(?, '$') as varchar))"
_json_lock = threading.Lock()


@cache
def _json_connection():
    import duckdb  # only a metadata near the limit needs it

    return duckdb.connect(":memory:", config={"threads": 1})
