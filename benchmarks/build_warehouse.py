"""Full-build benchmark: generate N events, then time `tallyhouse build` and its peak memory.

    ./dev bench-build            # 1M events (default)
    .venv/bin/python benchmarks/build_warehouse.py --events 1000000 --events 100000

Prints a table (and writes benchmarks/results/build_warehouse.json): for each size, the
generate time, the cold build (everything new), the no-op build (nothing new), events/s,
and the peak resident memory of the whole build process tree (sampled every 50 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of the process tree of one command."""
    started = time.perf_counter()
    process = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        parent = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [parent, *parent.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    done.set()
    sampler.join()
    if process.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{stderr.decode()[-3000:]}")
    return time.perf_counter() - started, peak


def measure(events: int, days: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="tallyhouse-bench-") as home:
        env = {
            **os.environ,
            "TALLYHOUSE_HOME": home,
            "TALLYHOUSE_NOW": "2026-11-24T12:00:00Z",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        tallyhouse = str(BIN / "tallyhouse")
        generate_s, _ = run_measured(
            [
                tallyhouse,
                "generate",
                "--events",
                str(events),
                "--days",
                str(days),
                "--orgs",
                "5",
                "--seed",
                "1",
            ],
            env,
        )
        cold_s, cold_peak = run_measured([tallyhouse, "build"], env)
        noop_s, noop_peak = run_measured([tallyhouse, "build"], env)
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
    rows = [measure(n, options.days) for n in (options.events or [1_000_000])]
    columns = list(rows[0])
    print(" | ".join(f"{c:>16}" for c in columns))
    for row in rows:
        print(" | ".join(f"{row[c]:>16}" for c in columns))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "build_warehouse.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
