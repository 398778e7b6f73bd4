"""Dashboard pages under load: each page's HTML, with the data it shows, p99 at N events.

    .venv/bin/python benchmarks/dashboard.py --events 10000000
    .venv/bin/python benchmarks/dashboard.py --home DIR     # a home built before (kept)

In a home of N generated events built with read_api.py's metrics (or `--home`), starts
uvicorn (`--workers`, default 2), signs in to the dashboard with a key of the organization and
loads each page from wrk with the session cookie, `--connections` for `--seconds`. `cold_ms`
is the page's first answer after the server started (it reads what the page needs into the
process). A page is rendered on every request (nothing caches HTML); the API's answers under
it are those of the API, cached per snapshot as the API caches them. The target: p99 at most
100 ms at 10M events (docs/dashboard.md). Written to benchmarks/results/dashboard.json.
"""

from __future__ import annotations

import time

import httpx
from harness import loaded_reads_main, run_measured, tallyhouse, wrk
from metric_values import BUSY, ORG

from api import subprocess_server

PAGES = {
    "overview": "/dashboard",
    "explain": "/dashboard/explain",
    "anomalies by model": "/dashboard/anomalies?by=model",
    "end user": f"/dashboard/end-user?id={BUSY}",
    "metrics": "/dashboard/metrics?metric={metric}",
    "limits": "/dashboard/limits",
}


def measure(home: str, env: dict, ids: dict, *, unbuilt: int, seconds: int, connections: int,
            workers: int, only: str | None) -> list[dict]:  # fmt: skip
    _, _, key = run_measured(
        tallyhouse("keys", "create", "--org", ORG, "--scopes",
                   "costs:read,metrics:read,limits:read"), env,
    )  # fmt: skip
    key = key.strip()
    server, base = subprocess_server.start(env, workers=workers)
    rows = []
    try:
        signed = httpx.post(f"{base}/dashboard/login", data={"api_key": key})
        cookie = "; ".join(f"{name}={value}" for name, value in signed.cookies.items())
        metric = next(iter(ids.values()))
        for name, path in PAGES.items():
            if only and only not in name:
                continue
            url = base + path.format(metric=metric)
            started = time.perf_counter()
            first = httpx.get(url, headers={"Cookie": cookie}, timeout=120)
            cold = (time.perf_counter() - started) * 1000
            assert first.status_code == 200, (name, first.text[:300])
            loaded = wrk(url, key, connections, seconds, cookie=cookie)
            rows.append({"page": name, "bytes": len(first.content), "cold_ms": round(cold, 1),
                         **loaded})  # fmt: skip
    finally:
        server.terminate()
        server.wait()
    return rows


if __name__ == "__main__":
    loaded_reads_main(__doc__, "dashboard", measure)
