"""Shared pieces of the benchmarks: a home with generated data, measured commands, tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PINNED_NOW = "2026-11-24T12:00:00Z"


def home_env(home: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "TALLYHOUSE_HOME": home,
        "TALLYHOUSE_NOW": PINNED_NOW,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **extra,
    }


def tallyhouse(*args: str) -> list[str]:
    return [str(BIN / "tallyhouse"), *args]


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (bytes) of the whole process tree, and stdout of one command."""
    started = time.perf_counter()
    process = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
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
    stdout, stderr = process.communicate()
    done.set()
    sampler.join()
    if process.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{stderr.decode()[-3000:]}")
    return time.perf_counter() - started, peak, stdout.decode()


def generate(env: dict[str, str], events: int, days: int = 60, orgs: int = 5) -> float:
    seconds, _, _ = run_measured(
        tallyhouse(
            "generate",
            "--events",
            str(events),
            "--days",
            str(days),
            "--orgs",
            str(orgs),
            "--seed",
            "1",
        ),
        env,
    )
    return seconds


def print_table(rows: list[dict[str, object]], name: str) -> None:
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    print(" | ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(row[c]).rjust(w) for c, w in zip(columns, widths, strict=True)))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(rows, indent=2))
