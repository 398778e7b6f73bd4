"""The long-lived builder on a built home: micro-builds and freshness.

    .venv/bin/python benchmarks/builder.py --home DIR [--micro 3] [--fresh 20]

With `tallyhouse build --watch` running beside the API (uvicorn, 2 workers), on the same cores:

1. **micro-builds**: `--micro` + 1 times, once the builder is idle, 1,000 new events land as
   files (5 organizations); the builder's own wall time for the build (its `succeeded in … s`)
   and the time from the first file written to the snapshot with its events published. The
   first build of a builder parses the dbt project: it is reported apart.
2. **freshness**: `--fresh` events posted one at a time through the write API at random
   moments (0 – 4 s apart), each timed from its acknowledgment to its row in the served
   snapshot's `fct_usage_costs` (looked for every 0.2 s); p50, p95 and the slowest.

Printed as a table and written to benchmarks/results/builder.json (run.py calls `measure`).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import subprocess
import threading
import time
from pathlib import Path

import duckdb
import httpx
from harness import add_new_events, home_env, print_table, run_measured, tallyhouse

from api import subprocess_server

BUILD_LINE = re.compile(r"build \w+ succeeded in ([\d.]+) s")
ORG = "acme"


def _served_keys(home: str, organization: str, prefix: str) -> set[str]:
    snapshot = Path(home) / "serving" / "current.duckdb"
    try:
        with duckdb.connect(str(snapshot), read_only=True) as con:
            rows = con.execute(
                "select idempotency_key from fct_usage_costs where organization_id = $1 "
                "and starts_with(idempotency_key, $2)",
                [organization, prefix],
            ).fetchall()
    except duckdb.Error:  # between a publish's swap and its file being readable
        return set()
    return {row[0] for row in rows}


def _wait(condition, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)


def _builds(output: Path) -> list[float]:
    return [float(seconds) for seconds in BUILD_LINE.findall(output.read_text())]


def micro_builds(home: str, output: Path, count: int, events: int) -> list[dict[str, object]]:
    rows = []
    for number in range(count + 1):
        before = len(_builds(output))
        tag = f"micro-{number}-{time.time_ns()}"
        started = time.monotonic()
        written = add_new_events(home, events, tag=tag, seed=100 + number)
        # the builder prints its build's line once the snapshot is published
        _wait(lambda seen=before: len(_builds(output)) > seen, "the builder's build")
        served_s = time.monotonic() - started
        build_s = _builds(output)[before]
        rows.append({
            "what": "micro-build" + (" (first: parses the project)" if number == 0 else ""),
            "events": written, "build_s": build_s, "landed_to_served_s": round(served_s, 2),
        })  # fmt: skip
        print(f"  micro-build {number}: {build_s} s in the builder, {served_s:.1f} s to served")
        time.sleep(1.5)  # idle again
    return rows


def freshness(home: str, base: str, key: str, count: int) -> dict[str, object]:
    """`count` events posted at random moments; seconds from each acknowledgment to served."""
    acknowledged: dict[str, float] = {}
    served: dict[str, float] = {}
    prefix = f"fresh-{time.time_ns()}-"
    done = threading.Event()

    def look() -> None:
        while not done.is_set():
            for found in _served_keys(home, ORG, prefix) - served.keys():
                served[found] = time.monotonic()
            time.sleep(0.2)

    watcher = threading.Thread(target=look)
    watcher.start()
    rng = random.Random(7)
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http:
            for number in range(count):
                time.sleep(rng.uniform(0, 4))
                event = {
                    "eventType": "llm_call", "metricName": "tokens", "quantity": 100,
                    "idempotencyKey": f"{prefix}{number}", "costUsd": 0.01,
                    "timestamp": "2026-11-24T11:00:00Z",
                }  # fmt: skip
                http.post("/v1/usage/events", json=event, timeout=30).raise_for_status()
                acknowledged[event["idempotencyKey"]] = time.monotonic()
        _wait(lambda: served.keys() >= acknowledged.keys(), "every posted event served")
    finally:
        done.set()
        watcher.join()
    delays = sorted(served[k] - acknowledged[k] for k in acknowledged)
    return {
        "what": "freshness (acknowledged → served)",
        "events": count,
        "p50_s": round(statistics.median(delays), 2),
        "p95_s": round(delays[max(0, round(0.95 * len(delays)) - 1)], 2),
        "max_s": round(delays[-1], 2),
    }


def measure(home: str, env: dict, *, micro: int, micro_events: int, fresh: int,
            workers: int) -> list[dict[str, object]]:  # fmt: skip
    _, _, key = run_measured(
        tallyhouse("keys", "create", "--org", ORG, "--scopes", "usage:write"), env
    )
    output = Path(home) / "builder.out"
    with output.open("w") as out:
        builder = subprocess.Popen(
            tallyhouse("build", "--watch"), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    server, base = subprocess_server.start(env, workers=workers)
    try:
        _wait(lambda: "watching" in output.read_text(), "the builder's first look")
        rows = micro_builds(home, output, micro, micro_events)
        rows.append(freshness(home, base, key.strip(), fresh))
        print(f"  freshness: p95 {rows[-1]['p95_s']} s")
    finally:
        builder.terminate()
        builder.wait(timeout=300)
        server.terminate()
        server.wait(timeout=10)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", required=True, help="a built home")
    parser.add_argument("--micro", type=int, default=3)
    parser.add_argument("--micro-events", type=int, default=1000)
    parser.add_argument("--fresh", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    env = home_env(options.home, TALLYHOUSE_RATE_LIMIT="0")
    rows = measure(
        options.home, env, micro=options.micro, micro_events=options.micro_events,
        fresh=options.fresh, workers=options.workers,
    )  # fmt: skip
    print_table(rows, "builder")


if __name__ == "__main__":
    main()
