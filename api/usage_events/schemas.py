"""The usage event body as the API documents it; core.event_body holds its rules, which the
write API and the ingest both apply."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.event_body import (
    IDEMPOTENCY_KEY_PATTERN,
    MAX_COST_USD,
    MAX_KEY_CHARS,
    MAX_METADATA_CHARS,
    MAX_NAME_CHARS,
    MAX_QUANTITY,
    MAX_TEXT_CHARS,
    MAX_VALUE_CHARS,
)

MAX_BATCH = 1000


class UsageEventIn(BaseModel):
    """One usage event as an app sends it."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    eventType: str = Field(
        min_length=1,
        max_length=MAX_NAME_CHARS,
        description="What happened, e.g. llm_call; a metric's eventName.",
    )
    metricName: str = Field(
        min_length=1,
        max_length=MAX_NAME_CHARS,
        description="What is metered: tokens, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, requests, …",
    )
    quantity: float | int = Field(description=f"The metered amount, 0 to {MAX_QUANTITY}.")
    idempotencyKey: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_KEY_CHARS,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="One event per (organization, key), forever. Strongly advised; without it the server makes one and a retry is a new event.",
    )
    timestamp: str | None = Field(
        default=None,
        description="When it happened, ISO-8601 (UTC when no offset); at most TALLYHOUSE_MAX_FUTURE_SECONDS ahead (5 minutes by default); default: when received.",
    )
    userId: str | None = Field(
        default=None, max_length=MAX_TEXT_CHARS, description="Your end user's id."
    )
    costUsd: float | int | None = Field(
        default=None,
        description=f"Your own cost for this event (0 to {MAX_COST_USD}); used instead of catalogue prices.",
    )
    value: str | None = Field(
        default=None, max_length=MAX_VALUE_CHARS, description="A string value, for unique counts."
    )
    metadata: dict[str, Any] | None = Field(
        default=None,
        description="model, provider, feature, the token split (inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, reasoningTokens) and anything else; at most "
        f"{MAX_METADATA_CHARS:,} characters as JSON.",
    )


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
