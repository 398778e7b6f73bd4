"""The usage event body, validated the way the warehouse's ingest validates landing lines."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_QUANTITY = 100_000_000_000
MAX_COST_USD = 1_000_000
MAX_METADATA_CHARS = 16_384
MAX_BATCH = 1000
TOKEN_FIELDS = (
    "inputTokens",
    "outputTokens",
    "cacheReadTokens",
    "cacheWriteTokens",
    "reasoningTokens",
)


def number_ok(value: Any, maximum: float) -> bool:
    """A finite JSON number (not a boolean) between 0 and maximum."""
    return type(value) in (int, float) and math.isfinite(value) and 0 <= value <= maximum


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

    @field_validator("eventType", "metricName")
    @classmethod
    def _not_blank(cls, value: str) -> str:
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
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be an ISO-8601 date-time") from None
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
        if (
            type(item) not in (int, float)
            or not math.isfinite(item)
            or item != int(item)
            or not 0 <= item <= MAX_QUANTITY
        ):
            return f"{name} must be a whole number between 0 and {MAX_QUANTITY}"
    # a cheap upper bound first; the exact length only for large metadata
    bound = 2
    for key, item in metadata.items():
        if type(item) is str:
            bound += len(key) + 2 * len(item) + 8
        elif type(item) in (int, float, bool) or item is None:
            bound += len(key) + 32
        else:
            bound = MAX_METADATA_CHARS + 1
            break
    if (
        bound > MAX_METADATA_CHARS
        and len(json.dumps(metadata, separators=(",", ":"))) > MAX_METADATA_CHARS
    ):
        return f"at most {MAX_METADATA_CHARS} characters as JSON"
    return None


def event_time(sent: dict[str, Any]) -> datetime | None:
    timestamp = sent.get("timestamp")
    if timestamp is None:
        return None
    parsed = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
