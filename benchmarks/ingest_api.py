"""Write-API throughput: events/s through the batch endpoint and requests/s for single events.

    .venv/bin/python benchmarks/ingest_api.py --workers 2 --concurrency 4 [--client wrk|python]

Starts uvicorn on a free localhost port with a fresh home (SQLite landing store, WAL,
synchronous=FULL: every answer is on disk), then sends 1,000-event batches (concurrency
connections) and single events (4 x concurrency connections), every idempotency key new. The
load comes from wrk (a C load generator, `apt-get install wrk`, Lua scripts in wrk/) when it
is installed, else from httpx clients in one Python process on the same cores.
Written to benchmarks/results/ingest_api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from harness import home_env, print_table, run_measured, tallyhouse, wrk

from api import subprocess_server


def _event(i: int, prefix: str) -> dict:
    return {
        "eventType": "llm_call",
        "metricName": "tokens",
        "quantity": 1000 + i % 500,
        "idempotencyKey": f"{prefix}-{i}",
        "timestamp": "2026-11-24T11:00:00Z",
        "userId": f"user_{i % 97}",
        "metadata": {
            "model": "gpt-4o-mini",
            "provider": "openai",
            "inputTokens": 800,
            "outputTokens": 200,
        },
    }


async def _send(
    base: str, key: str, path: str, payloads: list[bytes], concurrency: int
) -> dict[str, float]:
    latencies: list[float] = []
    failures = 0
    queue = iter(payloads)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def client() -> None:
        nonlocal failures
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as http:
            for payload in queue:
                started = time.perf_counter()
                response = await http.post(path, content=payload)
                latencies.append(time.perf_counter() - started)
                failures += response.status_code not in (200, 201)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(payloads),
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(payloads) / elapsed),
        "p50_ms": round(q[49] * 1000, 2),
        "p99_ms": round(q[98] * 1000, 2),
        "failures": failures,
    }


WRK_SCRIPTS = Path(__file__).resolve().parent / "wrk"


def _python_client(base: str, key: str, options: argparse.Namespace) -> tuple[dict, dict]:
    batches = [
        json.dumps({"events": [_event(b * 1000 + i, "b") for i in range(1000)]}).encode()
        for b in range(options.batches)
    ]
    singles = [json.dumps(_event(i, "s")).encode() for i in range(options.singles)]
    batch = asyncio.run(_send(base, key, "/v1/usage/events/batch", batches, options.concurrency))
    single = asyncio.run(_send(base, key, "/v1/usage/events", singles, options.concurrency * 2))
    return batch, single


def _wrk_load(base: str, key: str, concurrency: int, seconds: int) -> tuple[dict, dict]:
    batch = wrk(base, key, concurrency, seconds, WRK_SCRIPTS / "batch.lua")
    single = wrk(base, key, concurrency * 4, seconds, WRK_SCRIPTS / "single_event.lua")
    return batch, single


def ingest_rows(batch: dict, single: dict) -> list[dict[str, object]]:
    return [
        {"endpoint": "batch (1,000 events)", **batch, "events_per_s": round(batch["requests_per_s"] * 1000)},
        {"endpoint": "single event", **single, "events_per_s": single["requests_per_s"]},
    ]  # fmt: skip


def measure(workers: int, concurrency: int, seconds: int) -> list[dict[str, object]]:
    """The ingest figures with wrk, on a fresh home (what benchmarks/run.py calls)."""
    with tempfile.TemporaryDirectory(prefix="tallyhouse-bench-") as home:
        env = home_env(home, TALLYHOUSE_RATE_LIMIT="0")
        _, _, key = run_measured(
            tallyhouse("keys", "create", "--org", "acme", "--scopes", "usage:write"), env
        )
        server, base = subprocess_server.start(env, workers=workers)
        try:
            return ingest_rows(*_wrk_load(base, key.strip(), concurrency, seconds))
        finally:
            server.terminate()
            server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--singles", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--client",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="wrk (apt-get install wrk) measures the server; python also works everywhere",
    )
    parser.add_argument("--seconds", type=int, default=8, help="duration of each wrk run")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tallyhouse-bench-") as home:
        env = home_env(home, TALLYHOUSE_RATE_LIMIT="0")
        _, _, key = run_measured(
            tallyhouse("keys", "create", "--org", "acme", "--scopes", "usage:write"), env
        )
        server, base = subprocess_server.start(env, workers=options.workers)
        try:
            if options.client == "wrk":
                batch, single = _wrk_load(base, key.strip(), options.concurrency, options.seconds)
            else:
                batch, single = _python_client(base, key.strip(), options)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print_table(ingest_rows(batch, single), "ingest_api")


if __name__ == "__main__":
    main()
