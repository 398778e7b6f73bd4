"""Shared pieces of the benchmarks: a home with generated data, measured commands, tables."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import psutil

from orchestration.lib.generator import generate_events

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


def generate(
    env: dict[str, str], events: int, days: int = 60, orgs: int = 5, file_format: str = "parquet"
) -> float:
    seconds, _, _ = run_measured(
        tallyhouse(
            "generate", "--events", str(events), "--days", str(days), "--orgs", str(orgs),
            "--seed", "1", "--format", file_format,
        ),
        env,
    )  # fmt: skip
    return seconds


def wrk(
    url: str,
    key: str,
    connections: int,
    seconds: int,
    script: Path | None = None,
    expected: str | None = None,
    cookie: str | None = None,
) -> dict[str, object]:
    """Load from wrk (a C load generator, so that the server is what is measured): GET `url`,
    or the requests a Lua `script` makes; latency percentiles and requests/s from its report.
    With `expected` (a body), every answer is compared with it (wrk/checked_get.lua). With
    `cookie`, that Cookie header instead of the key (the dashboard's session)."""
    if expected is not None:
        script = Path(__file__).parent / "wrk" / "checked_get.lua"
    # a script sets its own headers (from TALLYHOUSE_KEY)
    credential = f"Cookie: {cookie}" if cookie else f"Authorization: Bearer {key}"
    lua = ["-s", str(script)] if script else ["-H", credential]
    output = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", *lua, url],
        env={**os.environ, "TALLYHOUSE_KEY": key, "TALLYHOUSE_EXPECTED": expected or ""},
        capture_output=True,
        text=True,
        check=True,
    ).stdout  # fmt: skip

    def ms(label: str) -> float:
        value = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", output)
        number, unit = float(value.group(1)), value.group(2)
        return round(number * {"us": 0.001, "ms": 1, "s": 1000}[unit], 2)

    failures = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    mismatched = re.search(r"Mismatched answers: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "requests_per_s": round(float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))),
        "p50_ms": ms("50%"),
        "p99_ms": ms("99%"),
        "failures": (int(failures.group(1)) if failures else 0)
        + (sum(int(n) for n in errors.groups()) if errors else 0),
        **({"wrong_answers": int(mismatched.group(1))} if mismatched else {}),
    }  # fmt: skip


def print_table(rows: list[dict[str, object]], name: str | None = None) -> None:
    """Print rows as a table; with a name, also write them to benchmarks/results/NAME.json."""
    columns = list(dict.fromkeys(c for row in rows for c in row))
    rows = [{c: row.get(c, "-") for c in columns} for row in rows]
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    print(" | ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(row[c]).rjust(w) for c, w in zip(columns, widths, strict=True)))
    if name is not None:
        write_json(name, rows)


def write_json(name: str, data: object) -> Path:
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def add_new_events(home: str, events: int, tag: str = "later", seed: int = 2) -> int:
    """`events` more events with keys never seen (a later week's traffic), as JSONL files
    named and keyed by `tag`."""
    batch = Path(home) / "batch"
    shutil.rmtree(batch, ignore_errors=True)
    generate_events(
        batch, events=events, days=7, orgs=5, seed=seed, now=datetime.fromisoformat(PINNED_NOW),
        file_format="jsonl",
    )  # fmt: skip
    for source in batch.rglob("*.jsonl"):
        target = Path(home) / "landing" / source.parent.name / f"{tag}.jsonl"
        with source.open() as lines, target.open("w") as out:
            for line in lines:
                body = json.loads(line)
                body["idempotencyKey"] = f"{tag}-" + body["idempotencyKey"]
                out.write(json.dumps(body) + "\n")
    return events


def loaded_reads_main(doc: str, name: str, measure: Callable[..., list[dict]]) -> None:
    """The command line of a benchmark that loads reads of a built home with unbuilt events
    (metric_values.py, limits.py): a home of --events generated events built with read_api's
    metrics (or --home, one built before, kept), then `measure`'s table."""
    from read_api import create_metrics  # read_api imports this module

    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--home", help="a home built before with read_api's metrics (kept)")
    parser.add_argument("--unbuilt", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10, help="load per read")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", help="only the reads whose name contains this")
    options = parser.parse_args()
    home = options.home or tempfile.mkdtemp(prefix="tallyhouse-bench-")
    try:
        env = home_env(home, TALLYHOUSE_RATE_LIMIT="0")
        ids_file = Path(home) / "benchmark_metrics.json"
        if options.home:
            ids = json.loads(ids_file.read_text())
        else:
            generate(env, options.events)
            ids = create_metrics(home)
            ids_file.write_text(json.dumps(ids))
            run_measured(tallyhouse("build"), env)
        rows = measure(
            home, env, ids, unbuilt=options.unbuilt, seconds=options.seconds,
            connections=options.connections, workers=options.workers, only=options.only,
        )  # fmt: skip
    finally:
        if not options.home:
            shutil.rmtree(home, ignore_errors=True)
    print_table(rows, name)
