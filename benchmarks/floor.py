"""The build against the floor and against pandas, from the same landing files.

    .venv/bin/python benchmarks/floor.py --events 1000000

Generates N events (Parquet), runs `tallyhouse build`, then (1) the floor: one hand-written
DuckDB query from the landing files to the daily cost mart (benchmarks/floor/daily_costs.sql,
same memory limit and threads as the build), and (2) the same mart in pandas
(benchmarks/floor/pandas_daily_costs.py). Each runs in its own process; wall time and peak
RSS are measured. Both results are compared with the build's fct_daily_costs per
(date, organization, end user): events and cost must match exactly. Written to
benchmarks/results/floor.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import duckdb
from harness import ROOT, generate, home_env, print_table, run_measured, tallyhouse

EVENT_COSTS_SQL = ROOT / "benchmarks" / "floor" / "event_costs.sql"
FLOOR_SQL = ROOT / "benchmarks" / "floor" / "daily_costs.sql"
PANDAS_SCRIPT = ROOT / "benchmarks" / "floor" / "pandas_daily_costs.py"
FLOOR_RUNNER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], config={"memory_limit": "2GB", "threads": 2})
for name, value in zip(("landing_glob", "prices_csv", "model_map_csv"), sys.argv[4:7]):
    con.execute(f"set variable {name} = ?", [value])
con.execute(open(sys.argv[2]).read())
con.execute(open(sys.argv[3]).read())
"""
BUILD_DAILY = """
select cost_date, organization_id, end_user_id, sum(event_count) as event_count,
    sum(cost_usd) as cost_usd
from fct_daily_costs group by all
"""


def _mismatches(con: duckdb.DuckDBPyConnection, left: str, right: str) -> int:
    return sum(
        con.execute(f"select count(*) from ({a} except all {b})").fetchone()[0]
        for a, b in ((left, right), (right, left))
    )


def floor_inputs(home: str) -> list[str]:
    """The floor's inputs: landing files, the price seed, and the build's model-name map."""
    root = Path(home)
    model_map = root / "model_map.csv"
    with duckdb.connect(str(root / "warehouse" / "warehouse.duckdb")) as warehouse:
        warehouse.execute(
            "copy (select model_ref, provider_ref, price_provider_id, model_id "
            f"from intermediate.int_model_refs_resolved) to '{model_map}' (header)"
        )
    return [str(root / "landing" / "*" / "*.parquet"), str(ROOT / "seeds" / "model_prices.csv"), str(model_map)]  # fmt: skip


def floor_connection(home: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the floor's per-event costs as a view over the landing files."""
    con = duckdb.connect(config={"memory_limit": "2GB", "threads": 2})
    for name, value in zip(("landing_glob", "prices_csv", "model_map_csv"), floor_inputs(home), strict=True):  # fmt: skip
        con.execute(f"set variable {name} = ?", [value])
    con.execute(EVENT_COSTS_SQL.read_text())
    return con


def run_floor(home: str, env: dict[str, str]) -> dict[str, object]:
    """The floor in its own process; its daily mart compared with the build's."""
    root = Path(home)
    floor_db = root / "floor.duckdb"
    floor_db.unlink(missing_ok=True)
    seconds, peak, _ = run_measured(
        [sys.executable, "-c", FLOOR_RUNNER, str(floor_db), str(EVENT_COSTS_SQL), str(FLOOR_SQL), *floor_inputs(home)],
        env,
    )  # fmt: skip
    with duckdb.connect(str(root / "serving" / "current.duckdb"), read_only=True) as con:
        con.execute(f"attach '{floor_db}' as floor (read_only)")
        rows = "select cost_date, organization_id, end_user_id, event_count, cost_usd from floor.floor_daily_costs"  # fmt: skip
        differing = _mismatches(con, BUILD_DAILY, rows)
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak / 2**20), "rows_differing": differing}  # fmt: skip


def run_pandas(home: str, env: dict[str, str]) -> dict[str, object]:
    """The pandas script in its own process; its daily mart compared with the build's."""
    root = Path(home)
    out = root / "pandas_daily.parquet"
    _, prices, model_map = floor_inputs(home)
    seconds, peak, _ = run_measured(
        [sys.executable, str(PANDAS_SCRIPT), str(root / "landing"), prices, model_map, str(out)],
        env,
    )
    with duckdb.connect(str(root / "serving" / "current.duckdb"), read_only=True) as con:
        rows = (
            'select cost_date, organization_id, "userId", event_count, '
            f"cast(cost_usd as decimal(38, 18)) from read_parquet('{out}')"
        )
        differing = _mismatches(con, BUILD_DAILY, rows)
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak / 2**20), "rows_differing": differing}  # fmt: skip


def measure(events: int) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory(prefix="tallyhouse-floor-") as home:
        env = home_env(home)
        generate(env, events, file_format="parquet")
        build_s, build_peak, _ = run_measured(tallyhouse("build"), env)
        floor = run_floor(home, env)
        pandas = run_pandas(home, env)
    build = {"seconds": round(build_s, 2), "peak_rss_mb": round(build_peak / 2**20), "rows_differing": 0}  # fmt: skip
    return [
        {"events": events, "what": what, **figures, "vs_build": round(figures["seconds"] / build_s, 3)}
        for what, figures in (("tallyhouse build", build), ("floor (one DuckDB query)", floor), ("pandas script", pandas))
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, action="append", help="sizes (repeatable)")
    options = parser.parse_args()
    print_table([r for n in (options.events or [1_000_000]) for r in measure(n)], "floor")


if __name__ == "__main__":
    main()
