"""A span that carries GenAI usage, as one usage event (docs/otel.md).

The attributes of OpenTelemetry's GenAI semantic conventions, both generations: v1.36 and
before, and the newer names. Each list is read in order; the first attribute present wins,
on the span and then on its resource.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.traces.otlp import Span

MODEL = ("gen_ai.response.model", "gen_ai.request.model")
PROVIDER = ("gen_ai.provider.name", "gen_ai.system")
INPUT = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
CACHE_READ = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")
CACHE_WRITE = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
)
REASONING = ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens")
USER = ("user.id", "enduser.id")
# what makes a span a GenAI call with usage: without a token count, it is skipped
USAGE = INPUT + OUTPUT


def _first(span: Span, names: tuple[str, ...]) -> Any:
    for attributes in (span.attributes, span.resource):
        for name in names:
            if attributes.get(name) is not None:
                return attributes[name]
    return None


def _count(span: Span, names: tuple[str, ...]) -> int:
    value = _first(span, names)
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def has_usage(span: Span) -> bool:
    return _first(span, USAGE) is not None


def event_body(span: Span, feature_attribute: str) -> dict[str, Any]:
    """The usage event of a span with GenAI usage. Cache reads and writes are part of the
    input count and reasoning of the output count, as the conventions say; an input count
    smaller than the cache counts (or an output count smaller than the reasoning count)
    cannot include them, and is taken as it is. The event's key is the span's (trace id,
    span id): a span sent again counts once."""
    cache_read, cache_write = _count(span, CACHE_READ), _count(span, CACHE_WRITE)
    reasoning = _count(span, REASONING)
    reported_input, reported_output = _count(span, INPUT), _count(span, OUTPUT)
    # a count is refused by the event contract if negative; a total smaller than its parts
    # cannot include them
    cached = cache_read + cache_write
    input_tokens = reported_input - cached if reported_input >= cached >= 0 else reported_input
    output_tokens = (
        reported_output - reasoning if reported_output >= reasoning >= 0 else reported_output
    )
    metadata: dict[str, Any] = {
        "inputTokens": input_tokens,
        "outputTokens": output_tokens,
        "cacheReadTokens": cache_read,
        "cacheWriteTokens": cache_write,
        "reasoningTokens": reasoning,
    }
    for name, value in (
        ("model", _first(span, MODEL)),
        ("provider", _first(span, PROVIDER)),
        ("feature", _first(span, (feature_attribute,))),
    ):
        if value is not None:
            metadata[name] = str(value)
    body: dict[str, Any] = {
        "eventType": "llm_call",
        "metricName": "tokens",
        "quantity": input_tokens + output_tokens + cache_read + cache_write + reasoning,
        "idempotencyKey": f"otel-{span.trace_id}-{span.span_id}",
        "metadata": metadata,
    }
    if span.end_unix_nano:
        seconds, nanos = divmod(span.end_unix_nano, 1_000_000_000)
        try:
            moment = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            body["timestamp"] = str(span.end_unix_nano)  # refused: not a date-time we take
        else:
            body["timestamp"] = f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"
    user = _first(span, USER)
    if user is not None:
        body["userId"] = str(user)
    return body
