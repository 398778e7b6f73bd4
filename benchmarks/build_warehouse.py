"""Full-build benchmark: generate N events, then time `tallyhouse build` and its peak memory.

    .venv/bin/python benchmarks/build_warehouse.py --events 1000000 [--events 100000 ...]

For each size: generate time, the cold build (everything new), the no-op build (nothing
new), the incremental build after 1% new events are added, events/s, the marginal cost ratio
(incremental - no-op) / (full - no-op), and the peak resident memory of the whole build
process tree (the Dagster process and the dbt subprocess, sampled every 50 ms). Also
written to benchmarks/results/build_warehouse.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import datetime
from pathlib import Path

from harness import PINNED_NOW, generate, home_env, print_table, run_measured, tallyhouse

from orchestration.lib.generator import generate_events


def add_new_events(home: str, events: int) -> int:
    """`events` more events with keys never seen (a later day's traffic), as JSONL files."""
    batch = Path(home) / "batch"
    generate_events(
        batch, events=events, days=7, orgs=5, seed=2, now=datetime.fromisoformat(PINNED_NOW),
        file_format="jsonl",
    )  # fmt: skip
    for source in batch.rglob("*.jsonl"):
        target = Path(home) / "landing" / source.parent.name / "later.jsonl"
        with source.open() as lines, target.open("w") as out:
            for line in lines:
                body = json.loads(line)
                body["idempotencyKey"] = "later-" + body["idempotencyKey"]
                out.write(json.dumps(body) + "\n")
    return events


def measure(events: int, days: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="tallyhouse-bench-") as home:
        env = home_env(home)
        generate_s = generate(env, events, days)
        cold_s, cold_peak, _ = run_measured(tallyhouse("build"), env)
        noop_s, noop_peak, _ = run_measured(tallyhouse("build"), env)
        add_new_events(home, events // 100)
        incremental_s, incremental_peak, _ = run_measured(tallyhouse("build"), env)
        return {
            "events": events,
            "generate_s": round(generate_s, 2),
            "build_s": round(cold_s, 2),
            "events_per_s": round(events / cold_s),
            "peak_rss_mb": round(cold_peak / 2**20),
            "noop_build_s": round(noop_s, 2),
            "noop_peak_rss_mb": round(noop_peak / 2**20),
            "plus_1pct_build_s": round(incremental_s, 2),
            "plus_1pct_peak_rss_mb": round(incremental_peak / 2**20),
            "marginal_ratio": round((incremental_s - noop_s) / (cold_s - noop_s), 3),
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, action="append", help="sizes to measure (repeatable)")
    parser.add_argument("--days", type=int, default=60)
    options = parser.parse_args()
    print_table(
        [measure(n, options.days) for n in (options.events or [1_000_000])], "build_warehouse"
    )


if __name__ == "__main__":
    main()
