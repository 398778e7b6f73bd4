"""The metric sandbox's cost: on-demand values (each evaluated in a sandbox worker process)
and a build's pre-computation of an indexed metric, on a generated home.

    .venv/bin/python benchmarks/metric_sandbox.py [--events 20000] [--requests 300]

Prints one table: the on-demand latency of a complex metric (in-process requests, so the
figures are the server's own work), and the build's time for the indexed metric.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from benchmarks.harness import PINNED_NOW, print_table

SQL = (
    "select sum(event_value) from filtered_events "
    "where event_name = 'document_processed' and properties->>'region' = 'eu'"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=300)
    options = parser.parse_args()
    os.environ.update(
        TALLYHOUSE_HOME=tempfile.mkdtemp(prefix="tallyhouse-sandbox-"),
        TALLYHOUSE_NOW=PINNED_NOW,
        TALLYHOUSE_RATE_LIMIT="0",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    from api.keys.service import create_key
    from api.main import create_app
    from api.metrics.schemas import MetricCreate
    from api.metrics.service import create_metric
    from core.control_store import engine_for
    from core.metric_sandbox import SandboxLimits
    from core.settings import Settings
    from orchestration.build import run_build
    from orchestration.lib.generator import generate_events

    settings = Settings()
    store = engine_for(settings.control_store_url)
    generate_events(
        settings.landing_dir, events=options.events, days=60, orgs=3, seed=7,
        now=settings.clock(), file_format="jsonl",
    )  # fmt: skip
    indexed = create_metric(
        store, "acme", MetricCreate(name="EU pages", queryType="indexed", sqlDefinition=SQL),
        settings.clock(), SandboxLimits(),
    )  # fmt: skip
    log = Path(settings.root) / "logs" / "benchmark-build.log"
    summary = run_build(settings, log_file=log)
    assert summary.success, log
    precompute = _seconds_of(log, "fct_metric_values")
    key = create_key(store, "acme", ["metrics:read", "metrics:write"], "test", settings.clock())[1]
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings)) as client:
        complex_id = client.post(
            "/v1/metrics",
            headers=headers,
            json={"name": "EU pages, on demand", "queryType": "complex", "sqlDefinition": SQL},
        ).json()["id"]
        for _ in range(20):  # the workers start, the snapshot is cached
            client.get(f"/v1/metrics/{complex_id}/value?customerId=user_0", headers=headers)
        latencies = []
        for index in range(options.requests):
            started = time.perf_counter()
            answer = client.get(
                f"/v1/metrics/{complex_id}/value?customerId=user_{index % 20}", headers=headers
            )
            latencies.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
    latencies.sort()
    print_table(
        [
            {
                "events": f"{options.events:,}",
                "on-demand requests": options.requests,
                "p50 ms": f"{statistics.median(latencies):.2f}",
                "p99 ms": f"{latencies[int(len(latencies) * 0.99) - 1]:.2f}",
                "max ms": f"{latencies[-1]:.2f}",
                "pre-computation s": precompute,
                "indexed metric": indexed.metric_id,
            }
        ]
    )


def _seconds_of(log: Path, step: str) -> str:
    """The step's duration as Dagster logged it ("Finished execution of step ... in 1.2s")."""
    for line in log.read_text().splitlines():
        if f'Finished execution of step "{step}"' in line:
            return line.rsplit(" in ", 1)[1].rstrip(".")
    return "-"


if __name__ == "__main__":
    main()
