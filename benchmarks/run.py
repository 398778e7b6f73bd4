"""Every benchmark figure, measured in one run: one table per part, one JSON.

    .venv/bin/python benchmarks/run.py --events 1000000 --events 10000000

For each size, in one home: generate N events (Parquet, 60 days, 5 organizations, metrics
created first) → the cold build (ingest → dbt → publish: wall time, events/s, peak RSS of the
process tree) → the floor (one DuckDB query) and the pandas script from the same landing files,
each compared row by row with the build's daily mart → the read API under load (wrk), and
each cost endpoint's answer aggregated from the raw events per request → the no-op build →
1% new events and the incremental build (marginal ratio), then 1% more (its publish recycles
the first snapshot: the home keeps 2) → metric values with 10,000 acknowledged but unbuilt
events, each answer checked against the oracle (metric_values.py) → limit status checks of
each kind, each usage checked against an oracle (limits.py) → the long-lived builder (`tallyhouse build
--watch` beside the API): micro-builds of 1,000 events and the freshness of events posted
through the API (builder.py). Then once: the ingest API (wrk). Last, the issue's targets, each
with its figure from this run (`targets`).
Printed as tables and written to benchmarks/results/run.json.

The pandas script holds every event in memory (~3.5 GB per million); above
--pandas-max-events (default 2,000,000) it is not run, and the table says so. Above
--reads-max-events (default 10,000,000) the read API part is left out (its raw per-request
answers would each scan every landing file): a 100M run measures the builds and the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time

import psutil
from builder import measure as measure_builder
from floor import run_floor, run_pandas
from harness import (
    add_new_events,
    generate,
    home_env,
    print_table,
    run_measured,
    tallyhouse,
    write_json,
)
from ingest_api import measure as measure_ingest
from limits import measure as measure_limits
from metric_values import measure as measure_metric_values
from read_api import create_metrics
from read_api import measure as measure_reads


def _build(env: dict[str, str], *options: str) -> tuple[float, int]:
    seconds, peak, _ = run_measured(tallyhouse("build", *options), env)
    return seconds, peak


def measure_size(events: int, options: argparse.Namespace) -> dict[str, object]:
    home = tempfile.mkdtemp(prefix="tallyhouse-bench-", dir=options.work_dir)
    try:
        env = home_env(home, TALLYHOUSE_RATE_LIMIT="0", TALLYHOUSE_SNAPSHOTS_KEPT="2")
        if options.landing:  # files generated before (same size and seed), hard-linked
            shutil.copytree(options.landing, f"{home}/landing", copy_function=os.link)
            generate_s = 0.0
        else:
            print(f"[{events:,}] generating", flush=True)
            generate_s = generate(env, events)
        metric_ids = create_metrics(home)
        print(f"[{events:,}] cold build", flush=True)
        cold_s, cold_peak = _build(env)
        print(f"[{events:,}] cold build: {cold_s:.1f} s, peak RSS {cold_peak / 2**20:,.0f} MB")
        cold = {
            "generate_s": round(generate_s, 2),
            "cold_build_s": round(cold_s, 2),
            "events_per_s": round(events / cold_s),
            "cold_peak_rss_mb": round(cold_peak / 2**20),
        }
        if options.cold_only:
            skipped = {"skipped": "--cold-only"}
            return {
                "events": events, "build": cold, "floor": skipped, "pandas": skipped,
                "read_api": [], "metric_values": [], "limits": [], "builder": [],
                "home": home if options.keep else None,
            }  # fmt: skip
        print(f"[{events:,}] floor and pandas", flush=True)
        floor = run_floor(home, env)
        pandas = run_pandas(home, env) if events <= options.pandas_max_events else None
        reads = []
        loaded = events <= options.reads_max_events and not options.builds_only
        if loaded:
            print(f"[{events:,}] read API", flush=True)
            reads = measure_reads(
                home, env, metric_ids, seconds=options.seconds, connections=options.connections,
                workers=options.workers, raw_repeats=options.raw_repeats,
            )  # fmt: skip
        print(f"[{events:,}] no-op and +1% builds", flush=True)
        noop_s, noop_peak = _build(env)
        # what a schedule's run costs when nothing is new: Dagster and dbt start-up, no models
        noop_run_s, _ = _build(env, "--always-run")
        add_new_events(home, events // 100)
        plus_s, plus_peak = _build(env)
        # once more: this publish recycles the first snapshot (2 kept), as every publish of a
        # home that has built a few times does; the first +1% copies the served one
        add_new_events(home, events // 100, tag="again", seed=3)
        again_s, _ = _build(env)
        metric_values, limits, builder = [], [], []
        if loaded:  # its unbuilt events are never built
            print(f"[{events:,}] metric values with unbuilt events", flush=True)
            metric_values = measure_metric_values(
                home, env, metric_ids, unbuilt=10_000, seconds=options.seconds,
                connections=options.connections, workers=options.workers,
            )  # fmt: skip
            print(f"[{events:,}] limit status checks", flush=True)
            limits = measure_limits(
                home, env, metric_ids, unbuilt=10_000, seconds=options.seconds,
                connections=options.connections, workers=options.workers,
            )  # fmt: skip
        if events <= options.reads_max_events:  # last: it builds the events posted above
            print(f"[{events:,}] the long-lived builder", flush=True)
            builder = measure_builder(
                home, env, micro=options.micro, micro_events=1_000, fresh=options.fresh,
                workers=options.workers,
            )  # fmt: skip
    finally:
        if not options.keep:
            shutil.rmtree(home, ignore_errors=True)
    return {
        "events": events,
        "build": {
            **cold,
            "noop_build_s": round(noop_s, 2),
            "noop_peak_rss_mb": round(noop_peak / 2**20),
            "noop_run_s": round(noop_run_s, 2),
            "plus_1pct_build_s": round(plus_s, 2),
            "plus_1pct_peak_rss_mb": round(plus_peak / 2**20),
            "marginal_ratio": round((plus_s - noop_s) / (cold_s - noop_s), 4),
            # the same with the no-op run's start-up taken out of both
            "marginal_ratio_vs_noop_run": round((plus_s - noop_run_s) / (cold_s - noop_run_s), 4),
            "plus_1pct_again_build_s": round(again_s, 2),
            "marginal_ratio_again": round((again_s - noop_s) / (cold_s - noop_s), 4),
        },
        "floor": {**floor, "build_vs_floor": round(cold_s / floor["seconds"], 2)},
        "pandas": (
            {**pandas, "pandas_vs_build": round(pandas["seconds"] / cold_s, 3)}
            if pandas
            else {"skipped": f"over --pandas-max-events {options.pandas_max_events:,}"}
        ),
        "read_api": reads,
        "metric_values": metric_values,
        "limits": limits,
        "builder": builder,
        "home": home if options.keep else None,
    }


def _at(sizes: list[dict], events: int) -> dict | None:
    return next((size for size in sizes if size["events"] == events), None)


def targets(sizes: list[dict]) -> list[dict[str, object]]:
    """The build-speed targets (docs: benchmarks/README.md), each with this run's figure."""
    rows = []

    def row(target: str, limit: float, figure: float | None, at_most: bool = True) -> None:
        met = None if figure is None else (figure <= limit if at_most else figure >= limit)
        sign = "≤" if at_most else "≥"
        rows.append({
            "target": f"{target} {sign} {limit:g}", "figure": "-" if figure is None else figure,
            "met": "-" if met is None else ("met" if met else "missed"),
        })  # fmt: skip

    for events, limit in ((10_000_000, 2.0), (1_000_000, 4.0)):
        size = _at(sizes, events)
        row(
            f"cold build / floor at {events:,}", limit, size and size["floor"].get("build_vs_floor")
        )
    size = _at(sizes, 1_000_000)
    pandas = size and size["pandas"].get("pandas_vs_build")
    row("pandas / cold build at 1,000,000", 2, pandas, at_most=False)
    size = _at(sizes, 10_000_000)
    row("+1% marginal ratio at 10,000,000", 0.05, size and size["build"]["marginal_ratio"])
    builds = [r for r in (size or {}).get("builder", []) if r["what"] == "micro-build"]
    row("micro-build (s) at 10,000,000", 5, max((r["build_s"] for r in builds), default=None))
    fresh = [r for r in (size or {}).get("builder", []) if "p95_s" in r]
    row("freshness p95 (s) at 10,000,000", 30, fresh[0]["p95_s"] if fresh else None)
    for size in sizes:
        if "noop_build_s" in size["build"]:
            row(f"no-op build (s) at {size['events']:,}", 2, size["build"]["noop_build_s"])
    for size in sizes:
        build = size["build"]
        peak = max(build.get(k, 0) for k in ("cold_peak_rss_mb", "plus_1pct_peak_rss_mb"))
        row(f"peak memory (MB) at {size['events']:,}", 2048, peak)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, action="append", help="sizes (repeatable)")
    parser.add_argument("--seconds", type=int, default=10, help="wrk load per endpoint")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (reads)")
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--raw-repeats", type=int, default=3, help="raw answers per endpoint")
    parser.add_argument("--pandas-max-events", type=int, default=2_000_000)
    parser.add_argument("--reads-max-events", type=int, default=10_000_000)
    parser.add_argument(
        "--builds-only",
        action="store_true",
        help="leave out the read API, metric values and limits (the builds, floor, pandas and "
        "the long-lived builder only: every figure of the build-speed targets)",
    )
    parser.add_argument(
        "--cold-only",
        action="store_true",
        help="generate and build once (wall time and peak memory), nothing after: the 100M "
        "memory figure without the disk and hours of the rest (a 100M home is ~45 GB)",
    )
    parser.add_argument("--skip-ingest", action="store_true", help="leave out the ingest API")
    parser.add_argument("--micro", type=int, default=3, help="the builder's micro-builds")
    parser.add_argument("--fresh", type=int, default=20, help="events timed to be served")
    parser.add_argument("--work-dir", default=None, help="where homes are made (default: tmp)")
    parser.add_argument("--keep", action="store_true", help="keep each size's home")
    parser.add_argument(
        "--landing", default=None, help="landing files of a kept home to use instead of generating"
    )
    options = parser.parse_args()

    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sizes = []
    for events in options.events or [1_000_000]:
        sizes.append(measure_size(events, options))
        # each size's figures as soon as they are measured (a 100M run takes an hour)
        figures = sizes[-1].items()
        print(
            json.dumps(
                {
                    k: v
                    for k, v in figures
                    if k not in ("read_api", "metric_values", "limits", "builder")
                }
            )
        )
    ingest = (
        None if options.skip_ingest else measure_ingest(options.workers, options.connections, 10)
    )
    print_table([{"events": s["events"], **s["build"]} for s in sizes])
    print()
    print_table(
        [
            {
                "events": s["events"],
                "what": what,
                **{k: v for k, v in part.items() if k != "skipped"},
            }
            for s in sizes
            for what, part in (("floor", s["floor"]), ("pandas", s["pandas"]))
            if "skipped" not in part
        ]  # fmt: skip
    )
    print()
    print_table([{"events": s["events"], **row} for s in sizes for row in s["read_api"]])
    print()
    print_table([{"events": s["events"], **row} for s in sizes for row in s["metric_values"]])
    print()
    print_table([{"events": s["events"], **row} for s in sizes for row in s["limits"]])
    print()
    print_table([{"events": s["events"], **row} for s in sizes for row in s["builder"]])
    if ingest:
        print()
        print_table(ingest)
    print()
    print_table(targets(sizes))
    path = write_json(
        "run",
        {
            "started": started,
            "commit": subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
            ).stdout.strip(),
            "machine": {
                "cpus": os.cpu_count(),
                "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                "python": platform.python_version(),
            },
            "sizes": sizes,
            "ingest_api": ingest,
            "targets": targets(sizes),
        },
    )
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
