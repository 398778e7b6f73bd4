"""Full-build benchmark: generate N events, then time `tallyhouse build` and its peak memory.

    .venv/bin/python benchmarks/build_warehouse.py --events 1000000 [--events 100000 ...]

For each size: generate time, the cold build (everything new), the no-op build (nothing
new), events/s, and the peak resident memory of the whole build process tree (the Dagster
process and the dbt subprocess, sampled every 50 ms). Also written to
benchmarks/results/build_warehouse.json.
"""

from __future__ import annotations

import argparse
import tempfile

from harness import generate, home_env, print_table, run_measured, tallyhouse


def measure(events: int, days: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="tallyhouse-bench-") as home:
        env = home_env(home)
        generate_s = generate(env, events, days)
        cold_s, cold_peak, _ = run_measured(tallyhouse("build"), env)
        noop_s, noop_peak, _ = run_measured(tallyhouse("build"), env)
        return {
            "events": events,
            "generate_s": round(generate_s, 2),
            "build_s": round(cold_s, 2),
            "events_per_s": round(events / cold_s),
            "peak_rss_mb": round(cold_peak / 2**20),
            "noop_build_s": round(noop_s, 2),
            "noop_peak_rss_mb": round(noop_peak / 2**20),
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
