"""Realistic synthetic usage events, written to the landing directory.

Deterministic for a seed. Vectorised with numpy so that millions of events take seconds:
one row per *call* is drawn first, then each call becomes one or more event bodies exactly
as the API takes them (split token events, one ``tokens`` event with the split in its
metadata, an unsplit ``tokens`` count, a caller-given cost, or a non-LLM event).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from core.event_body import BODY_FIELDS

# (provider, model name as an app would send it, weight). Dated variants, a price change
# (openrouter llama, Nov 2026), a time-of-day window (deepseek), long-context tiers
# (gemini-2.5-pro) and models that no catalogue prices.
MODELS: list[tuple[str, str, float]] = [
    ("openai", "gpt-4o", 10),
    ("openai", "gpt-4o-2024-08-06", 6),
    ("openai", "gpt-4o-mini", 18),
    ("openai", "gpt-4o-mini-2024-07-18", 6),
    ("openai", "o3-mini", 4),
    ("openai", "gpt-4.1", 5),
    ("azure", "gpt-4o", 3),
    ("anthropic", "claude-3-5-sonnet-20241022", 8),
    ("anthropic", "claude-sonnet-4-20250514", 7),
    ("anthropic", "claude-3-5-haiku-20241022", 6),
    ("google", "gemini-2.5-pro", 4),
    ("google", "gemini-2.5-flash", 6),
    ("deepseek", "deepseek-chat", 4),
    ("mistral", "mistral-large-latest", 2),
    ("openrouter", "meta-llama/llama-3.3-70b-instruct", 3),
    ("selfhosted", "acme-finetune-v2", 0.8),
    ("openai", "gpt-4o-turbo-preview-internal", 0.4),
]
UNPRICED_MODELS = {("selfhosted", "acme-finetune-v2"), ("openai", "gpt-4o-turbo-preview-internal")}
LONG_CONTEXT_MODELS = {"gemini-2.5-pro", "claude-sonnet-4-20250514"}
CACHE_WRITE_PROVIDERS = {"anthropic"}
REASONING_MODELS = {"o3-mini"}
FEATURES = ["chat", "search", "summarize", "code_assist", "support_bot", "translate"]
ORG_NAMES = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka"]
REGIONS = ("eu", "us", "apac")
NON_LLM = [("api_call", "requests"), ("document_processed", "pages"), ("user-login", "logins")]
# Hour-of-day weights (UTC): quiet nights, a working-day peak.
HOUR_WEIGHTS = np.array(
    [2, 1.5, 1, 1, 1, 1.5, 3, 5, 7, 9, 10, 10, 9, 10, 11, 11, 10, 9, 7, 6, 5, 4, 3, 2.5]
)
# Kinds of calls: split events, one request-split event, unsplit tokens, caller cost, non-LLM.
KINDS = ["split", "request", "unsplit", "caller_cost", "non_llm"]
KIND_WEIGHTS = np.array([0.30, 0.45, 0.05, 0.04, 0.16])
# events drawn and written at a time: ~1.5 GB of Python objects per organization's file
CHUNK_EVENTS = 5_000_000


@dataclass(frozen=True)
class GenerateResult:
    events: int
    duplicates: int
    files: list[Path]


def _weights(values: np.ndarray) -> np.ndarray:
    return values / values.sum()


def _timestamps(rng: np.random.Generator, n: int, now: datetime, days: int) -> np.ndarray:
    """Epoch seconds with daily and weekly cycles and gentle growth, all within `days` of now."""
    start = now - timedelta(days=days)
    start_midnight = datetime(start.year, start.month, start.day, tzinfo=start.tzinfo)
    day_starts = np.array(
        [(start_midnight + timedelta(days=i)).timestamp() for i in range(days + 1)]
    )
    weekday = np.array([(start_midnight + timedelta(days=i)).weekday() for i in range(days + 1)])
    day_weight = np.where(weekday >= 5, 0.45, 1.0) * np.linspace(0.8, 1.2, days + 1)
    day = rng.choice(days + 1, size=n, p=_weights(day_weight))
    hour = rng.choice(24, size=n, p=_weights(HOUR_WEIGHTS))
    seconds = day_starts[day] + hour * 3600 + rng.integers(0, 3600, size=n)
    # keep every event inside (start, now]: fold the stragglers back into range
    lo, hi = start.timestamp(), now.timestamp()
    return np.where(seconds > hi, hi - rng.integers(1, 86400, size=n), np.maximum(seconds, lo + 1))


def _iso(seconds: np.ndarray) -> list[str]:
    stamps = seconds.astype("datetime64[s]").astype(str)
    return [f"{s}Z" for s in stamps]


def _lognormal_int(rng: np.random.Generator, median: float, sigma: float, n: int) -> np.ndarray:
    return np.maximum(1, rng.lognormal(np.log(median), sigma, size=n)).astype(np.int64)


def generate_events(
    landing_dir: Path,
    *,
    events: int,
    days: int,
    orgs: int,
    seed: int,
    now: datetime,
    file_format: str = "auto",
    duplicate_share: float = 0.01,
    progress: Callable[[int], None] | None = None,
) -> GenerateResult:
    """Write `events` event bodies (exactly, duplicates included) under landing_dir/<org>/.

    Drawn and written in chunks of CHUNK_EVENTS (one file per organization and chunk, keys
    numbered on across chunks), so that memory stays bounded at any size."""
    if file_format == "auto":
        file_format = "parquet" if events > 200_000 else "jsonl"
    users_per_org = max(20, events // 150)
    files: list[Path] = []
    duplicates = 0
    for chunk, first in enumerate(range(0, events, CHUNK_EVENTS)):
        size = min(CHUNK_EVENTS, events - first)
        rng = np.random.default_rng(seed if chunk == 0 else [seed, chunk])
        rows = _draw_events(rng, size, days, orgs, now, users_per_org)
        rows["call"] += first  # keys stay unique across chunks (a chunk has ≤ size calls)
        n_dup = int(round(size * duplicate_share))
        order = np.arange(size - n_dup)
        dup_source = rng.choice(size - n_dup, size=n_dup, replace=False) if n_dup else order[:0]
        duplicates += n_dup
        suffix = f"-part{chunk:03d}" if chunk else ""
        for org_index in range(orgs):
            idx = np.concatenate([order, dup_source])
            idx = idx[rows["org"][idx] == org_index]
            if not len(idx):
                continue
            target = landing_dir / _org_id(org_index)
            target.mkdir(parents=True, exist_ok=True)
            path = target / f"events-seed{seed}-{now:%Y%m%dT%H%M%S}{suffix}.{file_format}"
            _write_file(path, rows, idx, file_format)
            files.append(path)
            if progress:
                progress(len(idx))
    return GenerateResult(events=events, duplicates=duplicates, files=files)


def _org_id(index: int) -> str:
    base = ORG_NAMES[index % len(ORG_NAMES)]
    return base if index < len(ORG_NAMES) else f"{base}-{index // len(ORG_NAMES)}"


def _draw_events(
    rng: np.random.Generator, n: int, days: int, orgs: int, now: datetime, users_per_org: int
) -> dict[str, np.ndarray]:
    """One row per event; split calls become consecutive input/output(/cache) events."""
    calls = n  # over-draw, then trim to exactly n events
    kind = rng.choice(len(KINDS), size=calls, p=KIND_WEIGHTS)
    org = rng.choice(orgs, size=calls, p=_weights(1.0 / np.arange(1, orgs + 1)))
    # heavy-tailed end users: Zipf-like weights within each organization
    user = np.minimum(rng.zipf(1.6, size=calls) - 1, users_per_org - 1)
    model = rng.choice(len(MODELS), size=calls, p=_weights(np.array([m[2] for m in MODELS])))
    feature = rng.choice(len(FEATURES), size=calls, p=_weights(np.array([6, 3, 2, 3, 2, 1.0])))
    ts = _timestamps(rng, calls, now, days)
    input_tokens = _lognormal_int(rng, 900, 1.1, calls)
    # long-context requests come whole (one event with the split): tiers need the request's input
    long_ctx = (rng.random(calls) < 0.02) & (kind == KINDS.index("request"))
    input_tokens = np.where(long_ctx, rng.integers(200_001, 600_000, size=calls), input_tokens)
    output_tokens = _lognormal_int(rng, 280, 0.9, calls)
    long_ok = np.array([m[1] in LONG_CONTEXT_MODELS for m in MODELS])[model]
    input_tokens = np.where(long_ok, input_tokens, np.minimum(input_tokens, 150_000))
    cache_read = np.where(
        rng.random(calls) < 0.35, (input_tokens * rng.random(calls)).astype(np.int64), 0
    )
    writes_ok = np.array([m[0] in CACHE_WRITE_PROVIDERS for m in MODELS])[model]
    cache_write = np.where(
        writes_ok & (rng.random(calls) < 0.15), _lognormal_int(rng, 1200, 0.8, calls), 0
    )
    reasoning = _lognormal_int(rng, 600, 1.0, calls)
    caller_cost = np.round(rng.lognormal(np.log(0.004), 1.0, size=calls), 6)
    non_llm = rng.choice(len(NON_LLM), size=calls)
    pages = rng.integers(1, 40, size=calls)

    # split calls expand into 2-4 events: input, output, then cache read / write if any
    is_split = kind == 0
    extra_parts = np.where(is_split, 1 + (cache_read > 0) + (cache_write > 0), 0)
    repeat = 1 + extra_parts
    call_of_event = np.repeat(np.arange(calls), repeat)[:n]
    part = np.arange(len(call_of_event)) - np.repeat(np.cumsum(repeat) - repeat, repeat)[:n]
    return {
        "call": call_of_event,
        "part": part,
        "kind": kind[call_of_event],
        "org": org[call_of_event],
        "user": user[call_of_event],
        "model": model[call_of_event],
        "feature": feature[call_of_event],
        "ts": ts[call_of_event],
        "input": input_tokens[call_of_event],
        "output": output_tokens[call_of_event],
        "cache_read": cache_read[call_of_event],
        "cache_write": cache_write[call_of_event],
        "reasoning": reasoning[call_of_event],
        "caller_cost": caller_cost[call_of_event],
        "non_llm": non_llm[call_of_event],
        "pages": pages[call_of_event],
    }


def _split_part(cache_read: int, cache_write: int, part: int) -> str:
    parts = ["input_tokens", "output_tokens"]
    if cache_read:
        parts.append("cache_read_tokens")
    if cache_write:
        parts.append("cache_write_tokens")
    return parts[part]


def _body(rows: dict[str, np.ndarray], i: int, stamps: dict[int, str]) -> dict[str, object]:
    call, kind = int(rows["call"][i]), KINDS[rows["kind"][i]]
    provider, model_name, _ = MODELS[rows["model"][i]]
    user = f"user_{int(rows['user'][i])}"
    key = f"gen-{call:09d}-{int(rows['part'][i])}"
    inp, out = int(rows["input"][i]), int(rows["output"][i])
    cr, cw = int(rows["cache_read"][i]), int(rows["cache_write"][i])
    inp_uncached = max(inp - cr, 0)
    metadata: dict[str, object] = {
        "model": model_name,
        "provider": provider,
        "feature": FEATURES[rows["feature"][i]],
    }
    body: dict[str, object] = {
        "eventType": "llm_call",
        "idempotencyKey": key,
        "timestamp": stamps[i],
        "userId": user,
    }
    if kind == "split":
        metric = _split_part(cr, cw, int(rows["part"][i]))
        quantity = {
            "input_tokens": inp_uncached,
            "output_tokens": out,
            "cache_read_tokens": cr,
            "cache_write_tokens": cw,
        }[metric]
        body.update(metricName=metric, quantity=quantity)
    elif kind == "request":
        split = {"inputTokens": inp_uncached, "outputTokens": out}
        if cr:
            split["cacheReadTokens"] = cr
        if cw:
            split["cacheWriteTokens"] = cw
        if model_name in REASONING_MODELS:
            split["reasoningTokens"] = int(rows["reasoning"][i])
        metadata.update(split)
        body.update(metricName="tokens", quantity=sum(split.values()))
    elif kind == "unsplit":
        body.update(metricName="tokens", quantity=inp_uncached + out)
    elif kind == "caller_cost":
        body.update(
            metricName="tokens", quantity=inp_uncached + out, costUsd=float(rows["caller_cost"][i])
        )
    else:
        event_type, metric = NON_LLM[rows["non_llm"][i]]
        body.update(
            eventType=event_type,
            metricName=metric,
            quantity=int(rows["pages"][i]) if metric == "pages" else 1,
        )
        pages = int(rows["pages"][i])
        metadata = {"feature": metadata["feature"], "region": REGIONS[pages % len(REGIONS)]}
        if event_type == "user-login":
            # the device signed in from: what a UNIQUE_COUNT metric counts
            body["value"] = f"{user}-device-{pages % 4}"
    body["metadata"] = metadata
    return body


def _write_file(path: Path, rows: dict[str, np.ndarray], idx: np.ndarray, file_format: str) -> None:
    iso = _iso(rows["ts"][idx])
    stamps = dict(zip(idx.tolist(), iso, strict=True))
    bodies = (_body(rows, i, stamps) for i in idx.tolist())
    tmp = path.with_suffix(path.suffix + ".part")
    if file_format == "jsonl":
        with tmp.open("w") as out:
            for body in bodies:
                out.write(json.dumps(body, separators=(",", ":")))
                out.write("\n")
    else:
        columns: dict[str, list[object]] = {name: [] for name in BODY_FIELDS}
        for body in bodies:
            for name, values in columns.items():
                value = body.get(name)
                values.append(
                    json.dumps(value, separators=(",", ":")) if name == "metadata" else value
                )
        table = pa.table(
            {
                name: pa.array(
                    values, type=pa.float64() if name in ("quantity", "costUsd") else pa.string()
                )
                for name, values in columns.items()
            }
        )
        pq.write_table(table, tmp)
    # landing files appear whole: a build never reads half of one
    tmp.replace(path)
