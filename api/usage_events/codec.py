"""The write path's fast lane: event bodies decoded, checked and re-encoded in C (msgspec).

A body that msgspec accepts and that passes the few checks left to Python is stored as its
canonical JSON (fields and metadata keys sorted, None fields dropped). Anything else takes the
slow lane: the event contract's check (core.event_body.problem), which says exactly what is
wrong, then the pydantic model (schemas.UsageEventIn). Both lanes produce the
same canonical JSON for the same body, so a retry is recognised whichever lane it takes.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from core.event_body import (
    IDEMPOTENCY_KEY_PATTERN,
    MAX_COST_USD,
    MAX_KEY_CHARS,
    MAX_NAME_CHARS,
    MAX_QUANTITY,
    MAX_TEXT_CHARS,
    MAX_VALUE_CHARS,
    blank,
    metadata_problem,
    number_ok,
)

Name = Annotated[str, Meta(min_length=1, max_length=MAX_NAME_CHARS)]


class EventStruct(msgspec.Struct, omit_defaults=True):
    eventType: Name
    metricName: Name
    quantity: int | float
    idempotencyKey: (
        Annotated[
            str, Meta(min_length=1, max_length=MAX_KEY_CHARS, pattern=IDEMPOTENCY_KEY_PATTERN)
        ]
        | None
    ) = None
    timestamp: str | None = None
    userId: Annotated[str, Meta(max_length=MAX_TEXT_CHARS)] | None = None
    costUsd: int | float | None = None
    value: Annotated[str, Meta(max_length=MAX_VALUE_CHARS)] | None = None
    metadata: dict[str, Any] | None = None


class BatchStruct(msgspec.Struct):
    events: list[EventStruct]


_encoder = msgspec.json.Encoder(order="sorted")
_event_decoder = msgspec.json.Decoder(EventStruct)
_batch_decoder = msgspec.json.Decoder(BatchStruct)


def canonical(body: EventStruct | dict[str, Any]) -> str:
    return _encoder.encode(body).decode()


def passes(event: EventStruct) -> bool:
    """The checks msgspec's types do not make; False sends the event to the model."""
    return (
        not blank(event.eventType)
        and not blank(event.metricName)
        and (event.idempotencyKey is None or not blank(event.idempotencyKey))
        and number_ok(event.quantity, MAX_QUANTITY)
        and (event.costUsd is None or number_ok(event.costUsd, MAX_COST_USD))
        and (event.metadata is None or metadata_problem(event.metadata) is None)
    )


# what the fast lane cannot take: invalid UTF-8 and nesting too deep for the decoder go to
# the slow lane, which says what is wrong
_REFUSED = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError)


def decode_event(raw: bytes) -> EventStruct | None:
    try:
        return _event_decoder.decode(raw)
    except _REFUSED:
        return None


def decode_batch(raw: bytes) -> list[EventStruct] | None:
    try:
        return _batch_decoder.decode(raw).events
    except _REFUSED:
        return None


def as_builtins(event: EventStruct) -> dict[str, Any]:
    return msgspec.structs.asdict(event)


def encode(payload: Any) -> bytes:
    return msgspec.json.encode(payload)
