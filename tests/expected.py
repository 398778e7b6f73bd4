"""What the warehouse should say, worked out in Python from the landing files alone.

This is the test oracle: it reads the event bodies, applies the documented rules (one
event per organization and idempotency key; cached tokens counted once; an unsplit tokens
count priced as input; caller-given costs kept) and prices every event with genai-prices'
own ``calc_price``. It shares no code with the warehouse.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
from genai_prices import Usage, calc_price

SPLIT_METRICS = {
    "input_tokens": "input",
    "output_tokens": "output",
    "cache_read_tokens": "cache_read",
    "cache_write_tokens": "cache_write",
    "reasoning_tokens": "reasoning",
}
METADATA_SPLIT = {
    "inputTokens": "input",
    "outputTokens": "output",
    "cacheReadTokens": "cache_read",
    "cacheWriteTokens": "cache_write",
    "reasoningTokens": "reasoning",
}


@dataclass(frozen=True)
class Priced:
    cost_usd: Decimal
    status: str
    model: str | None = None  # the catalogue's model id, or the name as sent
    provider: str | None = None


@dataclass(frozen=True)
class ExpectedEvent:
    organization_id: str
    idempotency_key: str
    body: dict
    cost_usd: Decimal
    status: str
    model: str | None
    provider: str | None
    event_at: datetime
    end_user_id: str | None


def read_bodies(landing_dir: Path) -> list[tuple[str, str, int, dict]]:
    """(organization, file, line, body) for every parseable line, in ingestion order."""
    out = []
    for org_dir in sorted(p for p in landing_dir.iterdir() if p.is_dir()):
        for path in sorted(org_dir.rglob("*")):
            rel = str(path.relative_to(landing_dir))
            if path.suffix == ".jsonl":
                for number, line in enumerate(path.read_text().splitlines(), start=1):
                    try:
                        body = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    # the fixture's other bad lines: not an object, a negative quantity
                    if isinstance(body, dict) and body.get("quantity", -1) >= 0:
                        out.append((org_dir.name, rel, number, body))
            elif path.suffix == ".parquet":
                for number, row in enumerate(pq.read_table(path).to_pylist(), start=1):
                    body = {k: v for k, v in row.items() if v is not None}
                    body["metadata"] = json.loads(body["metadata"]) if "metadata" in body else None
                    out.append((org_dir.name, rel, number, body))
    return out


def _usage(parts: dict[str, int]) -> Usage:
    """Our counts (input excludes cache) as genai-prices counts them (input includes cache)."""
    cache_read = parts.get("cache_read", 0)
    cache_write = parts.get("cache_write", 0)
    return Usage(
        input_tokens=parts.get("input", 0) + cache_read + cache_write,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        output_tokens=parts.get("output", 0) + parts.get("reasoning", 0),
    )


def price(body: dict) -> Priced:
    """Cost, pricing status, model and provider of one event by the documented rules."""
    metadata = body.get("metadata") or {}
    model, provider = metadata.get("model"), metadata.get("provider")
    sent = Priced(Decimal(0), "", model, provider.strip().lower() if provider else None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = (
                calc_price(Usage(input_tokens=1), model, provider_id=provider) if model else None
            )
        sent = Priced(Decimal(0), "", found.model.id, found.provider.id) if found else sent
    except LookupError:
        pass
    if body.get("costUsd") is not None:
        return Priced(Decimal(str(body["costUsd"])), "caller_cost", sent.model, sent.provider)
    metric = body["metricName"]
    if metric in SPLIT_METRICS:
        parts = {SPLIT_METRICS[metric]: int(body["quantity"])}
    elif metric == "tokens":
        split = {v: int(metadata[k]) for k, v in METADATA_SPLIT.items() if k in metadata}
        parts = split or {"input": int(body["quantity"])}
    else:
        return Priced(Decimal(0), "not_applicable", sent.model, sent.provider)
    if model is None:
        return Priced(Decimal(0), "unpriced")
    when = datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).astimezone(UTC)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = calc_price(
                _usage(parts), model, provider_id=provider, genai_request_timestamp=when
            )
    except LookupError:
        return Priced(Decimal(0), "unpriced", sent.model, sent.provider)
    return Priced(result.total_price, "priced", result.model.id, result.provider.id)


def expected_events(landing_dir: Path) -> dict[tuple[str, str], ExpectedEvent]:
    """One expected event per (organization, idempotency key): the first one seen."""
    events: dict[tuple[str, str], ExpectedEvent] = {}
    for org, _file, _line, body in read_bodies(landing_dir):
        key = (org, body["idempotencyKey"])
        if key in events:
            continue
        priced = price(body)
        when = datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")).astimezone(UTC)
        events[key] = ExpectedEvent(
            org,
            body["idempotencyKey"],
            body,
            priced.cost_usd,
            priced.status,
            priced.model,
            priced.provider,
            when.replace(tzinfo=None),
            body.get("userId"),
        )
    return events
