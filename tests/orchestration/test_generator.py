"""The synthetic event generator: deterministic, realistic in the ways the warehouse needs."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from orchestration.lib.generator import UNPRICED_MODELS, generate_events

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def _bodies(result) -> list[dict]:
    bodies = []
    for path in result.files:
        bodies.extend(json.loads(line) for line in path.read_text().splitlines())
    return bodies


def test_same_seed_same_bytes(tmp_path: Path):
    a = generate_events(tmp_path / "a", events=3000, days=30, orgs=2, seed=5, now=NOW)
    b = generate_events(tmp_path / "b", events=3000, days=30, orgs=2, seed=5, now=NOW)
    c = generate_events(tmp_path / "c", events=3000, days=30, orgs=2, seed=6, now=NOW)
    read = lambda r: [p.read_bytes() for p in r.files]  # noqa: E731
    assert read(a) == read(b)
    assert read(a) != read(c)


def test_counts_and_shape(tmp_path: Path):
    result = generate_events(tmp_path, events=5000, days=60, orgs=3, seed=1, now=NOW)
    bodies = _bodies(result)
    assert len(bodies) == 5000
    keys = Counter(b["idempotencyKey"] for b in bodies)
    assert sum(n - 1 for n in keys.values()) == result.duplicates == 50
    assert len(result.files) == 3
    stamps = [datetime.fromisoformat(b["timestamp"].replace("Z", "+00:00")) for b in bodies]
    assert min(stamps) > NOW - timedelta(days=60) and max(stamps) <= NOW
    metrics = Counter(b["metricName"] for b in bodies)
    assert {"tokens", "input_tokens", "output_tokens", "cache_read_tokens", "requests"} <= set(
        metrics
    )
    models = {(b["metadata"].get("provider"), b["metadata"].get("model")) for b in bodies}
    assert ("openai", "gpt-4o-2024-08-06") in models
    assert models & UNPRICED_MODELS
    assert any("inputTokens" in b["metadata"] for b in bodies)
    assert any("costUsd" in b for b in bodies)


def test_working_hours_and_weekdays_are_busier(tmp_path: Path):
    bodies = _bodies(generate_events(tmp_path, events=20000, days=56, orgs=1, seed=3, now=NOW))
    stamps = [datetime.fromisoformat(b["timestamp"].replace("Z", "+00:00")) for b in bodies]
    by_hour = Counter(s.hour for s in stamps)
    assert by_hour[14] > 3 * by_hour[3]
    weekday = sum(1 for s in stamps if s.weekday() < 5) / 5
    weekend = sum(1 for s in stamps if s.weekday() >= 5) / 2
    assert weekday > 1.5 * weekend


def test_end_users_are_heavy_tailed(tmp_path: Path):
    bodies = _bodies(generate_events(tmp_path, events=20000, days=30, orgs=1, seed=3, now=NOW))
    per_user = sorted(Counter(b["userId"] for b in bodies).values(), reverse=True)
    top_tenth = sum(per_user[: max(1, len(per_user) // 10)])
    assert top_tenth > 0.5 * sum(per_user)


def test_large_sizes_are_written_as_parquet(tmp_path: Path):
    result = generate_events(
        tmp_path, events=1000, days=10, orgs=1, seed=1, now=NOW, file_format="parquet"
    )
    table = pq.read_table(result.files[0])
    assert table.num_rows == 1000
    assert set(table.column_names) >= {
        "eventType",
        "metricName",
        "quantity",
        "idempotencyKey",
        "metadata",
    }


def test_large_sizes_are_drawn_in_chunks_with_keys_numbered_on(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("orchestration.lib.generator.CHUNK_EVENTS", 1000)
    result = generate_events(tmp_path, events=2500, days=30, orgs=2, seed=1, now=NOW)
    bodies = _bodies(result)
    assert len(bodies) == 2500
    # 1% repeated within each chunk (10 + 10 + 5), none across chunks
    keys = Counter(b["idempotencyKey"] for b in bodies)
    assert sum(n - 1 for n in keys.values()) == result.duplicates == 25
    assert len(result.files) == 6  # 2 organizations × 3 chunks
    assert sorted(p.name for p in result.files if p.parent.name == "acme") == [
        "events-seed1-20261124T120000-part001.jsonl",
        "events-seed1-20261124T120000-part002.jsonl",
        "events-seed1-20261124T120000.jsonl",
    ]
