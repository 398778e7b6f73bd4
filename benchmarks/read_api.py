"""Read-API latency benchmark: p50 / p99 and requests/s per endpoint on a real server.

    .venv/bin/python benchmarks/read_api.py --events 1000000 --requests 2000 --concurrency 8

Builds a warehouse of N generated events in a temporary home, starts uvicorn (one worker)
on a free localhost port, then sends each endpoint's requests from `concurrency` concurrent
HTTP/1.1 keep-alive clients (httpx, one process) and measures client-side latency.
Written to benchmarks/results/read_api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import datetime

import httpx
from harness import PINNED_NOW, generate, home_env, print_table, run_measured, tallyhouse

from api import subprocess_server
from api.metrics import service
from api.metrics.schemas import MetricCreate
from orchestration.lib.control_store import engine_for
from orchestration.lib.metric_sandbox import SandboxLimits

ENDPOINTS = {
    "ping": "/v1/ping",
    "summary": "/v1/cost-data/summary?time_window=current-period",
    "summary last-7-days": "/v1/cost-data/summary?time_window=last-7-days",
    "by-model": "/v1/cost-data/by-model?start_date=2026-10-01&end_date=2026-10-31",
    "by-provider": "/v1/cost-data/by-provider?start_date=2026-10-01&end_date=2026-10-31",
    "trend": "/v1/cost-data/trend?start_date=2026-09-25&end_date=2026-11-24",
    "end-user summary": "/v1/end-user-costs/user_1/summary?start_date=2026-11-01&end_date=2026-11-24",
    "end-user by-model": "/v1/end-user-costs/user_1/by-model?start_date=2026-11-01&end_date=2026-11-24",
}

# Created before the build, so the build pre-computes the indexed one.
METRICS = {
    "simple": MetricCreate(
        name="Pages", queryType="simple", aggregationType="SUM",
        eventName="document_processed", valueType="NUMERIC",
    ),
    "simple unique": MetricCreate(
        name="Devices", queryType="simple", aggregationType="UNIQUE_COUNT",
        eventName="user-login", valueType="STRING",
    ),
    "indexed": MetricCreate(
        name="EU pages", queryType="indexed",
        sqlDefinition="select sum(event_value) from filtered_events "
        "where event_name = 'document_processed' and properties->>'region' = 'eu'",
    ),
    "complex": MetricCreate(
        name="EU logins", queryType="complex",
        sqlDefinition="select count(*) from filtered_events "
        "where event_name = 'user-login' and properties->>'region' = 'eu'",
    ),
}  # fmt: skip
METRIC_READS = {
    "metric simple ALL": ("simple", ""),
    "metric simple 30 days": ("simple", "&timeframe=RELATIVE&days=30"),
    "metric simple unique ALL": ("simple unique", ""),
    "metric indexed ALL (pre-computed)": ("indexed", ""),
    "metric indexed 30 days (pre-computed)": ("indexed", "&timeframe=RELATIVE&days=30"),
    "metric indexed 14 days (on demand)": ("indexed", "&timeframe=RELATIVE&days=14"),
    "metric complex ALL": ("complex", ""),
}


def _create_metrics(home: str) -> dict[str, str]:
    store = engine_for(f"sqlite:///{home}/control.db")
    now = datetime.fromisoformat(PINNED_NOW)
    return {
        name: service.create_metric(store, "acme", body, now, SandboxLimits()).metric_id
        for name, body in METRICS.items()
    }


async def _load(
    base: str, path: str, key: str, requests: int, concurrency: int
) -> dict[str, object]:
    latencies: list[float] = []
    failures = 0
    queue = iter(range(requests))

    async def client() -> None:
        nonlocal failures
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {key}"}
        ) as http:
            for _ in queue:
                started = time.perf_counter()
                response = await http.get(path)
                latencies.append(time.perf_counter() - started)
                failures += response.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "p50_ms": round(quantiles[49] * 1000, 2),
        "p99_ms": round(quantiles[98] * 1000, 2),
        "requests_per_s": round(requests / elapsed),
        "failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tallyhouse-bench-") as home:
        env = home_env(home, TALLYHOUSE_RATE_LIMIT="0")
        generate(env, options.events)
        metric_ids = _create_metrics(home)
        run_measured(tallyhouse("build"), env)
        _, _, key = run_measured(
            tallyhouse("keys", "create", "--org", "acme", "--scopes", "costs:read,metrics:read"),
            env,
        )
        endpoints = dict(ENDPOINTS)
        for name, (metric, timeframe) in METRIC_READS.items():
            endpoints[name] = f"/v1/metrics/{metric_ids[metric]}/value?customerId=user_1{timeframe}"
        server, base = subprocess_server.start(env)
        try:
            rows = []
            for name, path in endpoints.items():
                asyncio.run(_load(base, path, key.strip(), 50, options.concurrency))  # warm up
                result = asyncio.run(
                    _load(base, path, key.strip(), options.requests, options.concurrency)
                )
                rows.append({"endpoint": name, "events": options.events, **result})
        finally:
            server.terminate()
            server.wait(timeout=10)
    print_table(rows, "read_api")


if __name__ == "__main__":
    main()
