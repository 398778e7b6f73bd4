"""The usage event body, validated the way the warehouse's ingest validates landing lines."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.event_body import (
    MAX_METADATA_CHARS,
    MAX_METADATA_DEPTH,
    TIMESTAMP_PATTERN,
    warehouse_json_length,
)

MAX_QUANTITY = 100_000_000_000
MAX_COST_USD = 1_000_000
MAX_BATCH = 1000
_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)
TOKEN_FIELDS = (
    "inputTokens",
    "outputTokens",
    "cacheReadTokens",
    "cacheWriteTokens",
    "reasoningTokens",
)


def number_ok(value: Any, maximum: float) -> bool:
    """A finite JSON number (not a boolean) between 0 and maximum (an integer of any size is
    compared as it is: one too large for a float is simply too large)."""
    if type(value) is int:
        return 0 <= value <= maximum
    return type(value) is float and math.isfinite(value) and 0 <= value <= maximum


def _finite_number(value: Any, maximum: float) -> float | int:
    if type(value) not in (int, float):
        raise ValueError("must be a number")
    if not number_ok(value, maximum):
        raise ValueError(f"must be between 0 and {maximum}")
    return value


# no control characters (NUL, newlines, ...): a key is something a client logs and retries
IDEMPOTENCY_KEY_PATTERN = r"^[^\x00-\x1f\x7f]+$"


class UsageEventIn(BaseModel):
    """One usage event as an app sends it."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    eventType: str = Field(
        min_length=1,
        max_length=100,
        description="What happened, e.g. llm_call; a metric's eventName.",
    )
    metricName: str = Field(
        min_length=1,
        max_length=100,
        description="What is metered: tokens, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, requests, …",
    )
    quantity: float | int = Field(description=f"The metered amount, 0 to {MAX_QUANTITY}.")
    idempotencyKey: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="One event per (organization, key), forever. Strongly advised; without it the server makes one and a retry is a new event.",
    )
    timestamp: str | None = Field(
        default=None,
        description="When it happened, ISO-8601 (UTC when no offset); at most 5 minutes ahead; default: when received.",
    )
    userId: str | None = Field(default=None, max_length=255, description="Your end user's id.")
    costUsd: float | int | None = Field(
        default=None,
        description=f"Your own cost for this event (0 to {MAX_COST_USD}); used instead of catalogue prices.",
    )
    value: str | None = Field(
        default=None, max_length=1000, description="A string value, for unique counts."
    )
    metadata: dict[str, Any] | None = Field(
        default=None,
        description="model, provider, feature, the token split (inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, reasoningTokens) and anything else; at most 16,384 characters as JSON.",
    )

    @model_validator(mode="before")
    @classmethod
    def _unicode(cls, value: Any) -> Any:
        """Strings JSON's \\u escapes made invalid (lone surrogates); metadata's own check
        covers its keys and values."""
        if isinstance(value, dict) and not all(
            _unicode_ok(item) for item in value.values() if isinstance(item, str)
        ):
            raise ValueError("strings must be valid Unicode (no lone surrogates)")
        return value

    @field_validator("eventType", "metricName", "idempotencyKey")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("quantity", mode="before")
    @classmethod
    def _quantity(cls, value: Any) -> float | int:
        return _finite_number(value, MAX_QUANTITY)

    @field_validator("costUsd", mode="before")
    @classmethod
    def _cost(cls, value: Any) -> float | int | None:
        return None if value is None else _finite_number(value, MAX_COST_USD)

    @field_validator("timestamp")
    @classmethod
    def _timestamp(cls, value: str | None) -> str | None:
        if value is None:
            return None
        event_time({"timestamp": value})  # ValueError: not a date-time we take
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and (problem := metadata_problem(value)) is not None:
            raise ValueError(problem)
        return value

    def event_time(self) -> datetime | None:
        return event_time({"timestamp": self.timestamp})


class RecordedEvent(BaseModel):
    eventId: str = Field(
        description="Stable id: the same for every retry of this (organization, idempotencyKey)."
    )
    userId: str | None = Field(description="The event's userId, if any.")
    metricName: str = Field(description="The event's metricName.")
    quantity: int | float = Field(description="The event's quantity.")
    eventTimestamp: str = Field(description="When it happened (UTC, ISO-8601).")
    recorded: bool = Field(
        description="true when this request stored it; false when it was already stored (a retry)."
    )


class BatchItemError(BaseModel):
    code: str = Field(description="VALIDATION_ERROR or IDEMPOTENCY_CONFLICT.")
    message: str = Field(description="What is wrong with this event.")


class BatchItemResult(BaseModel):
    index: int = Field(description="Position of the event in the request.")
    status: str = Field(
        description="recorded, duplicate (already stored: a retry), invalid or conflict."
    )
    event: RecordedEvent | None = Field(
        default=None, description="The stored event (recorded or duplicate)."
    )
    error: BatchItemError | None = Field(
        default=None, description="Why the event was not stored (invalid or conflict)."
    )


class BatchResult(BaseModel):
    recorded: int = Field(description="Events stored by this request.")
    duplicates: int = Field(description="Events that were already stored (retries).")
    invalid: int = Field(description="Events refused for their content.")
    conflicts: int = Field(
        description="Events whose idempotencyKey was already used for a different body."
    )
    results: list[BatchItemResult] = Field(
        description="One result per event, by index, in request order."
    )


def metadata_problem(metadata: dict[str, Any]) -> str | None:
    """What is wrong with an event's metadata, or None."""
    for name in ("model", "provider", "feature"):
        item = metadata.get(name)
        if item is not None and (type(item) is not str or len(item) > 255):
            return f"{name} must be a string of at most 255 characters"
    for name in TOKEN_FIELDS:
        item = metadata.get(name)
        if item is None:
            continue
        if not number_ok(item, MAX_QUANTITY) or item != int(item):
            return f"{name} must be a whole number between 0 and {MAX_QUANTITY}"
    if (problem := json_problem(metadata)) is not None:
        return problem
    # a cheap upper bound of the warehouse's JSON text first; its exact length only near it
    if (
        _json_length_bound(metadata) > MAX_METADATA_CHARS
        and warehouse_json_length(json.dumps(metadata, ensure_ascii=False)) > MAX_METADATA_CHARS
    ):
        return f"at most {MAX_METADATA_CHARS} characters as JSON"
    return None


def json_problem(document: dict[str, Any]) -> str | None:
    """Metadata nested too deeply, or a string (key or value) that is not valid Unicode (a
    lone surrogate, which JSON's \\u escapes can spell): walked without recursion."""
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth >= MAX_METADATA_DEPTH:
                return f"metadata nests more than {MAX_METADATA_DEPTH} levels deep"
            for key, value in item.items():
                if isinstance(key, str) and not _unicode_ok(key):
                    return "strings must be valid Unicode (no lone surrogates)"
                stack.append((value, depth + 1))
        elif isinstance(item, list):
            if depth >= MAX_METADATA_DEPTH:
                return f"metadata nests more than {MAX_METADATA_DEPTH} levels deep"
            stack.extend((value, depth + 1) for value in item)
        elif isinstance(item, str) and not _unicode_ok(item):
            return "strings must be valid Unicode (no lone surrogates)"
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
