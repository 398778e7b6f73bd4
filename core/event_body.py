"""The usage event contract: the fields an app sends, their limits, the reason given for each
broken rule, and the event id. One definition for both doors: the write API checks a body
with `problem` (api/usage_events); the ingest of landing files and of the API's inbox checks
every line in SQL (orchestration/defs/ingest/sql/validate_landing_lines.sql), which receives
these limits and reasons as named parameters (`sql_rules`). What one accepts, the other accepts,
and what both refuse they refuse with the same reason.
"""

import hashlib
import json
import math
import re
import sys
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

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

MAX_NAME_CHARS = 100  # eventType, metricName
MAX_KEY_CHARS = 255  # idempotencyKey
MAX_TEXT_CHARS = 255  # userId; metadata's model, provider and feature
MAX_VALUE_CHARS = 1000  # value
MAX_QUANTITY = 100_000_000_000  # quantity and each metadata token count
MAX_COST_USD = 1_000_000  # costUsd
# metadata, as the warehouse writes it back as JSON text, in characters (escapes included)
MAX_METADATA_CHARS = 16_384
# how deep metadata may nest (objects and arrays): the API parses it in Python
MAX_METADATA_DEPTH = 32
# a name or key made only of these (Unicode's whitespace) is blank
BLANK = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
# the same in SQL: a text made only of BLANK (empty included); a regular expression, ~20× as
# fast in DuckDB as trim(text, BLANK) = ''
BLANK_PATTERN = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in BLANK) + "]*"
# An ISO-8601 date-time in the extended format, or a date (midnight UTC); UTC when no offset.
# Basic formats (20260113T103500Z), week dates (2026-W03-2) and ordinal dates are refused.
# Hours 00-23 in the time and in the offset (one parser would read 24:00 as the next day's
# midnight, the other refuse it); offset minutes 00-59.
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ]([01][0-9]|2[0-3]):[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?"
    r"(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?)?$"
)
# no control characters (NUL, newlines, ...): a key is something a client logs and retries
_CONTROL = r"\x00-\x1f\x7f"
KEY_FORBIDDEN = f"[{_CONTROL}]"  # what the ingest's SQL and problem() look for
IDEMPOTENCY_KEY_PATTERN = f"^[^{_CONTROL}]+$"  # the same rule as the API's schemas state it
TOKEN_FIELDS = (
    "inputTokens",
    "outputTokens",
    "cacheReadTokens",
    "cacheWriteTokens",
    "reasoningTokens",
)

# The reason for each broken rule, in the order both doors check them: an event that breaks
# several gets the first.
REASONS = {
    "not_object": "event: must be a JSON object",
    "event_type_required": "eventType: required, a non-empty string",
    "event_type_length": f"eventType: at most {MAX_NAME_CHARS} characters",
    "metric_name_required": "metricName: required, a non-empty string",
    "metric_name_length": f"metricName: at most {MAX_NAME_CHARS} characters",
    "quantity_type": "quantity: required, a number",
    "quantity_range": f"quantity: must be between 0 and {MAX_QUANTITY}",
    "key_type": "idempotencyKey: must be a string",
    "key_length": f"idempotencyKey: 1 to {MAX_KEY_CHARS} characters, not blank",
    "key_control": "idempotencyKey: no control characters",
    "timestamp_type": "timestamp: must be an ISO-8601 string",
    "timestamp_format": "timestamp: not an ISO-8601 date-time",
    # {lead}: the accepted lead, TALLYHOUSE_MAX_FUTURE_SECONDS (5 minutes by default)
    "timestamp_future": "timestamp: more than {lead} in the future",
    "timestamp_past": "timestamp: older than the accepted backfill window",
    "user_type": "userId: must be a string",
    "user_length": f"userId: at most {MAX_TEXT_CHARS} characters",
    "cost_type": "costUsd: must be a number",
    "cost_range": f"costUsd: must be between 0 and {MAX_COST_USD}",
    "value_type": "value: must be a string",
    "value_length": f"value: at most {MAX_VALUE_CHARS} characters",
    "metadata_type": "metadata: must be an object",
    "metadata_depth": f"metadata: nests more than {MAX_METADATA_DEPTH} levels deep",
    "unicode": "event: strings must be valid Unicode (no lone surrogates)",
    "metadata_unicode": "metadata: strings must be valid Unicode (no lone surrogates)",
    "metadata_length": f"metadata: at most {MAX_METADATA_CHARS} characters as JSON",
    "metadata_strings": "metadata: model, provider and feature must be strings",
    "metadata_string_length": (
        f"metadata: model, provider and feature at most {MAX_TEXT_CHARS} characters"
    ),
    "metadata_tokens": (
        f"metadata: token counts must be whole numbers between 0 and {MAX_QUANTITY}"
    ),
}


# what only the API checks: it parses metadata in Python (nesting, lone surrogates); landing
# files may nest deeper, and DuckDB's JSON reader refuses lone surrogates as malformed lines
API_ONLY_REASONS = frozenset({"unicode", "metadata_unicode", "metadata_depth"})


def lead_text(lead: timedelta) -> str:
    """How the future-timestamp reason names the accepted lead: 5 minutes, 90 seconds."""
    seconds = int(lead.total_seconds())
    count, unit = (seconds // 60, "minute") if seconds % 60 == 0 else (seconds, "second")
    return f"{count} {unit}{'' if count == 1 else 's'}"


def reason(name: str, max_future: timedelta) -> str:
    """A reason as it is given: the future-timestamp one names the accepted lead."""
    return REASONS[name].format(lead=lead_text(max_future))


def sql_rules(max_future: timedelta) -> dict[str, Any]:
    """The limits and reasons as the ingest's SQL receives them, as named parameters: `$max_…`,
    `$blank_pattern`, `$timestamp_pattern`, `$key_forbidden` and `$reason_<name>`."""
    return {
        "max_name_chars": MAX_NAME_CHARS,
        "max_key_chars": MAX_KEY_CHARS,
        "max_text_chars": MAX_TEXT_CHARS,
        "max_value_chars": MAX_VALUE_CHARS,
        "max_quantity": MAX_QUANTITY,
        "max_cost_usd": MAX_COST_USD,
        "max_metadata_chars": MAX_METADATA_CHARS,
        "blank_pattern": BLANK_PATTERN,
        "timestamp_pattern": TIMESTAMP_PATTERN,
        "key_forbidden": KEY_FORBIDDEN,
        **{
            f"reason_{name}": reason(name, max_future)
            for name in REASONS
            if name not in API_ONLY_REASONS
        },
    }


def problem(body: Any, now: datetime, max_age: timedelta, max_future: timedelta) -> str | None:
    """The reason the first broken rule gives, or None: the checks of
    validate_landing_lines.sql, in its order, on a body as JSON parses it."""
    if not isinstance(body, dict):
        return REASONS["not_object"]
    if any(isinstance(v, str) and not _unicode_ok(v) for v in body.values()):
        return REASONS["unicode"]
    for name, field in (("event_type", "eventType"), ("metric_name", "metricName")):
        value = body.get(field)
        if not isinstance(value, str) or blank(value):
            return REASONS[f"{name}_required"]
        if len(value) > MAX_NAME_CHARS:
            return REASONS[f"{name}_length"]
    quantity = body.get("quantity")
    if type(quantity) not in (int, float):
        return REASONS["quantity_type"]
    if not number_ok(quantity, MAX_QUANTITY):
        return REASONS["quantity_range"]
    key = body.get("idempotencyKey")
    if key is not None:
        if not isinstance(key, str):
            return REASONS["key_type"]
        if len(key) > MAX_KEY_CHARS or blank(key):
            return REASONS["key_length"]
        if _KEY_FORBIDDEN.search(key):
            return REASONS["key_control"]
    if (reason := timestamp_problem(body.get("timestamp"), now, max_age, max_future)) is not None:
        return reason
    user = body.get("userId")
    if user is not None and not isinstance(user, str):
        return REASONS["user_type"]
    if user is not None and len(user) > MAX_TEXT_CHARS:
        return REASONS["user_length"]
    cost = body.get("costUsd")
    if cost is not None and type(cost) not in (int, float):
        return REASONS["cost_type"]
    if cost is not None and not number_ok(cost, MAX_COST_USD):
        return REASONS["cost_range"]
    value = body.get("value")
    if value is not None and not isinstance(value, str):
        return REASONS["value_type"]
    if value is not None and len(value) > MAX_VALUE_CHARS:
        return REASONS["value_length"]
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return REASONS["metadata_type"]
    if metadata is not None:
        return metadata_problem(metadata)
    return None


def timestamp_problem(
    timestamp: Any, now: datetime, max_age: timedelta, max_future: timedelta
) -> str | None:
    """The reason for an event's timestamp (None: when received), or None."""
    if timestamp is None:
        return None
    if not isinstance(timestamp, str):
        return REASONS["timestamp_type"]
    try:
        when = event_time({"timestamp": timestamp})
    except ValueError:
        return REASONS["timestamp_format"]
    if when > now + max_future:
        return reason("timestamp_future", max_future)
    if when < now - max_age:
        return REASONS["timestamp_past"]
    return None


def metadata_problem(metadata: dict[str, Any]) -> str | None:
    """The reason for an event's metadata (an object), or None."""
    if (reason := _nesting_problem(metadata)) is not None:
        return reason
    # a cheap upper bound of the warehouse's JSON text first; its exact length only near it
    if (
        _json_length_bound(metadata) > MAX_METADATA_CHARS
        and warehouse_json_length(_dumps(metadata)) > MAX_METADATA_CHARS
    ):
        return REASONS["metadata_length"]
    named = [metadata.get(name) for name in ("model", "provider", "feature")]
    if any(item is not None and not isinstance(item, str) for item in named):
        return REASONS["metadata_strings"]
    if any(item is not None and len(item) > MAX_TEXT_CHARS for item in named):
        return REASONS["metadata_string_length"]
    for name in TOKEN_FIELDS:
        item = metadata.get(name)
        if item is not None and (not number_ok(item, MAX_QUANTITY) or item != int(item)):
            return REASONS["metadata_tokens"]
    return None


def blank(text: str) -> bool:
    return not text.strip(BLANK)


def number_ok(value: Any, maximum: float) -> bool:
    """A finite JSON number (not a boolean) between 0 and maximum (an integer of any size is
    compared as it is: one too large for a float is simply too large)."""
    if type(value) is int:
        return 0 <= value <= maximum
    return type(value) is float and math.isfinite(value) and 0 <= value <= maximum


def event_time(sent: dict[str, Any]) -> datetime | None:
    """The event's instant in UTC; ValueError when its timestamp is not one the warehouse
    takes (TIMESTAMP_PATTERN). An offset that moves it past year 1 or 9999 gives the first or
    last instant, which the age and lead checks then refuse as the warehouse does."""
    timestamp = sent.get("timestamp")
    if timestamp is None:
        return None
    if not _TIMESTAMP.fullmatch(timestamp):
        raise ValueError("must be an ISO-8601 date-time")
    try:
        parsed = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("must be an ISO-8601 date-time") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        early = parsed.year == 1
        return (datetime.min if early else datetime.max).replace(tzinfo=UTC)


# The event id: "evt_" and the UUID whose 128 bits are the md5 of (organization, unit
# separator, idempotency key). The write API answers it (event_id); the ingest derives it in
# SQL for every line (EVENT_ID_MACRO), landing files' lines included.
EVENT_ID_MACRO = (
    "create or replace temp macro event_id(organization_id, idempotency_key) as "
    "'evt_' || cast(cast(md5(organization_id || chr(31) || idempotency_key) as uuid) as varchar)"
)


def event_id(organization_id: str, idempotency_key: str) -> str:
    digest = hashlib.md5(f"{organization_id}\x1f{idempotency_key}".encode()).hexdigest()
    return f"evt_{uuid.UUID(hex=digest)}"


def warehouse_json_length(text: str) -> int:
    """The length of a JSON document as the warehouse renders it (DuckDB's JSON text, as the
    ingest measures metadata): numbers and escapes are written its way, not Python's."""
    with _json_lock:
        return _json_connection().execute(_JSON_LENGTH, [text]).fetchall()[0][0]


_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)
_KEY_FORBIDDEN = re.compile(KEY_FORBIDDEN)
_JSON_LENGTH = "select length(cast(json_extract(?, '$') as varchar))"
_json_lock = threading.Lock()


@cache
def _json_connection():
    import duckdb  # only a metadata near the limit needs it

    return duckdb.connect(":memory:", config={"threads": 1})


def _dumps(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False)


def _nesting_problem(document: dict[str, Any]) -> str | None:
    """Metadata nested too deeply, or a string (key or value) that is not valid Unicode (a
    lone surrogate, which JSON's \\u escapes can spell): walked without recursion."""
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list) and depth >= MAX_METADATA_DEPTH:
            return REASONS["metadata_depth"]
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(key, str) and not _unicode_ok(key):
                    return REASONS["metadata_unicode"]
                stack.append((value, depth + 1))
        elif isinstance(item, list):
            stack.extend((value, depth + 1) for value in item)
        elif isinstance(item, str) and not _unicode_ok(item):
            return REASONS["metadata_unicode"]
    return None


def _unicode_ok(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _json_length_bound(item: Any) -> int:
    """At least as long as the warehouse's JSON text of `item` (an escape is at most 6
    characters, a double at most 24), walked without recursion."""
    total, stack = 0, [item]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += 2 + 6 * len(item)
        elif isinstance(item, dict):
            total += 2 + 2 * len(item)  # braces, a colon and a comma per member
            for key, value in item.items():
                total += 2 + 6 * len(key)
                stack.append(value)
        elif isinstance(item, list):
            total += 2 + len(item)
            stack.extend(item)
        elif type(item) is int:
            total += len(str(item))
        else:
            total += 25  # a double, true, false or null
    return total
