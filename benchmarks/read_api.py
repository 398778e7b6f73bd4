"""Read-API latency: p50 / p99 and requests/s per endpoint on a real server, against an API
without a warehouse (the same answer aggregated from the raw events for every request).

    .venv/bin/python benchmarks/read_api.py --events 1000000 --seconds 10 --connections 8

Builds a warehouse of N generated events in a temporary home (metrics created first, so the
indexed one is pre-computed), starts uvicorn (`--workers`, default 2: one per core) on a free
localhost port and loads each endpoint for `--seconds` from wrk (a C load generator;
`apt-get install wrk`) with `--connections` keep-alive connections, or from httpx clients in
this process when wrk is missing. Then, for each cost endpoint, the same answer is computed
from the landing files per request (benchmarks/floor/event_costs.sql: dedupe, split, price,
filter, aggregate) and compared with the API's; `raw_ms / p50_ms` is the speed-up. The clock is
pinned, so every repeated request is a question the answer cache has seen: the cost endpoints
are loaded a second time on a server with the cache off (`… (uncached)`), where each request
is computed again: its SQL, or for the summaries, the per-snapshot running totals in memory
(api/cost_data/period_costs.py: what a rolling window under a live clock costs). Written to
benchmarks/results/read_api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import httpx
from floor import floor_connection
from harness import PINNED_NOW, generate, home_env, print_table, run_measured, tallyhouse, wrk

from api import subprocess_server
from api.metrics import service
from api.metrics.schemas import MetricCreate
from core.control_store import engine_for
from core.metric_sandbox import SandboxLimits

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


# The same answers from raw events, per request: (SQL over floor_event_costs, its shape).
# $1 organization, then the endpoint's range; `when` is filled from the API's own answer.
RAW_ANSWERS = {
    "summary": ("total", "event_at between $2 and $3", "periodStart", "periodEnd"),
    "summary last-7-days": ("total", "event_at between $2 and $3", "periodStart", "periodEnd"),
    "by-model": ("breakdown model", "cast(event_at as date) between $2 and $3", "2026-10-01", "2026-10-31"),
    "by-provider": ("breakdown provider_ref", "cast(event_at as date) between $2 and $3", "2026-10-01", "2026-10-31"),
    "trend": ("series", "cast(event_at as date) between $2 and $3", "2026-09-25", "2026-11-24"),
    "end-user summary": ("total", "end_user_id = 'user_1' and cast(event_at as date) between $2 and $3", "2026-11-01", "2026-11-24"),
    "end-user by-model": ("breakdown model", "end_user_id = 'user_1' and cast(event_at as date) between $2 and $3", "2026-11-01", "2026-11-24"),
}  # fmt: skip
CENT = Decimal("0.01")


def _cents(value) -> float:
    return float(Decimal(value or 0).quantize(CENT, ROUND_HALF_UP))


def _raw_answer(con, shape: str, where: str, start, end):
    params = ["acme", start, end]
    if shape == "total":
        (total,) = con.execute(
            f"select sum(cost_usd) from floor_event_costs where organization_id = $1 and {where}",
            params,
        ).fetchall()[0]
        return _cents(total)
    if shape == "series":
        rows = con.execute(
            "select cast(event_at as date), sum(cost_usd), count(*) from floor_event_costs "
            f"where organization_id = $1 and {where} group by 1 order by 1",
            params,
        ).fetchall()
        return [(day.isoformat(), _cents(cost), count) for day, cost, count in rows]
    column = shape.split()[1]  # one of two fixed names above, never input
    rows = con.execute(
        f"select {column}, sum(cost_usd), count(*) from floor_event_costs "
        f"where organization_id = $1 and {column} is not null and {where} group by 1",
        params,
    ).fetchall()
    return sorted((name, _cents(cost), count) for name, cost, count in rows)


def _api_answer(shape: str, body: dict):
    if shape == "total":
        return body["totalCost"]
    if shape == "series":
        return [(p["periodStart"], p["totalCost"], p["eventCount"]) for p in body["series"]]
    key = "model" if "model" in shape else "provider"
    return sorted((b[key], b["totalCost"], b["eventCount"]) for b in body["breakdown"])


def raw_per_request(home: str, base: str, key: str, repeats: int) -> dict[str, dict]:
    """Each cost endpoint's answer computed from the landing files; median time, and whether
    it equals the API's answer."""
    results = {}
    headers = {"Authorization": f"Bearer {key}"}
    with floor_connection(home) as con:
        for name, (shape, where, start, end) in RAW_ANSWERS.items():
            body = httpx.get(base + ENDPOINTS[name], headers=headers, timeout=60).json()
            if start in body:  # a rolling window: the instants the API answered for
                start, end = (
                    datetime.fromisoformat(body[start]).replace(tzinfo=None),
                    datetime.fromisoformat(body[end]).replace(tzinfo=None),
                )
            timings = []
            for _ in range(repeats):
                started = time.perf_counter()
                raw = _raw_answer(con, shape, where, start, end)
                timings.append(time.perf_counter() - started)
            results[name] = {
                "raw_ms": round(statistics.median(timings) * 1000, 1),
                "answers_equal": raw == _api_answer(shape, body),
            }
    return results


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


def load(base: str, path: str, key: str, seconds: int, connections: int) -> dict[str, object]:
    asyncio.run(_load(base, path, key, 50, connections))  # warm up
    if shutil.which("wrk"):
        return wrk(base + path, key, connections, seconds)
    return asyncio.run(_load(base, path, key, 200 * seconds, connections))


def measure(
    home: str,
    env: dict[str, str],
    metric_ids: dict[str, str],
    *,
    seconds: int,
    connections: int,
    workers: int,
    raw_repeats: int,
) -> list[dict[str, object]]:
    """Every read endpoint under load, then the raw-events answers (a built home, server started)."""
    _, _, key = run_measured(
        tallyhouse("keys", "create", "--org", "acme", "--scopes", "costs:read,metrics:read"), env
    )
    key = key.strip()
    endpoints = dict(ENDPOINTS)
    for name, (metric, timeframe) in METRIC_READS.items():
        endpoints[name] = f"/v1/metrics/{metric_ids[metric]}/value?customerId=user_1{timeframe}"
    rows = []
    # the cost endpoints again on a server without its answer cache: every request is computed
    uncached = {f"{name} (uncached)": ENDPOINTS[name] for name in RAW_ANSWERS}
    for server_env, paths in (
        (env, endpoints),
        ({**env, "TALLYHOUSE_ANSWERS_CACHED": "0"}, uncached),
    ):
        server, base = subprocess_server.start(server_env, workers=workers)
        try:
            rows += [
                {"endpoint": name, **load(base, path, key, seconds, connections)}
                for name, path in paths.items()
            ]
            if paths is endpoints:
                raw = raw_per_request(home, base, key, raw_repeats)
        finally:
            server.terminate()
            server.wait(timeout=10)
    for row in rows:
        figures = raw.get(row["endpoint"].removesuffix(" (uncached)"))
        row["raw_ms"] = figures["raw_ms"] if figures else "-"
        row["raw_vs_api_p50"] = round(figures["raw_ms"] / row["p50_ms"]) if figures else "-"
        row["answers_equal"] = figures["answers_equal"] if figures else "-"
    return rows


def create_metrics(home: str) -> dict[str, str]:
    store = engine_for(f"sqlite:///{home}/control.db")
    now = datetime.fromisoformat(PINNED_NOW)
    return {
        name: service.create_metric(store, "acme", body, now, SandboxLimits()).metric_id
        for name, body in METRICS.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10, help="load per endpoint")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--raw-repeats", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tallyhouse-bench-") as home:
        env = home_env(home, TALLYHOUSE_RATE_LIMIT="0")
        generate(env, options.events)
        metric_ids = create_metrics(home)
        run_measured(tallyhouse("build"), env)
        rows = measure(
            home, env, metric_ids, seconds=options.seconds, connections=options.connections,
            workers=options.workers, raw_repeats=options.raw_repeats,
        )  # fmt: skip
    print_table([{"events": options.events, **row} for row in rows], "read_api")


if __name__ == "__main__":
    main()
