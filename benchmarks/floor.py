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
from harness import ROOT, home_env, print_table, run_measured, tallyhouse

FLOOR_SQL = ROOT / "benchmarks" / "floor" / "daily_costs.sql"
PANDAS_SCRIPT = ROOT / "benchmarks" / "floor" / "pandas_daily_costs.py"
FLOOR_RUNNER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], config={"memory_limit": "2GB", "threads": 2})
for name, value in zip(("landing_glob", "prices_csv", "model_map_csv"), sys.argv[3:6]):
    con.execute(f"set variable {name} = ?", [value])
con.execute(open(sys.argv[2]).read())
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


def measure(events: int) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory(prefix="tallyhouse-floor-") as home:
        env = home_env(home)
        run_measured(
            tallyhouse("generate", "--events", str(events), "--orgs", "5", "--seed", "1",
                       "--format", "parquet"),
            env,
        )  # fmt: skip
        build_s, build_peak, _ = run_measured(tallyhouse("build"), env)
        root = Path(home)
        model_map = root / "model_map.csv"
        with duckdb.connect(str(root / "warehouse" / "warehouse.duckdb")) as warehouse:
            warehouse.execute(
                "copy (select model_ref, provider_ref, price_provider_id, model_id "
                f"from intermediate.int_model_refs_resolved) to '{model_map}' (header)"
            )
        floor_db = root / "floor.duckdb"
        inputs = [str(root / "landing" / "*" / "*.parquet"), str(ROOT / "seeds" / "model_prices.csv"), str(model_map)]  # fmt: skip
        floor_s, floor_peak, _ = run_measured(
            [sys.executable, "-c", FLOOR_RUNNER, str(floor_db), str(FLOOR_SQL), *inputs], env
        )
        pandas_out = root / "pandas_daily.parquet"
        pandas_s, pandas_peak, _ = run_measured(
            [
                sys.executable,
                str(PANDAS_SCRIPT),
                str(root / "landing"),
                inputs[1],
                inputs[2],
                str(pandas_out),
            ],  # fmt: skip
            env,
        )
        with duckdb.connect(str(root / "serving" / "current.duckdb"), read_only=True) as con:
            con.execute(f"attach '{floor_db}' as floor (read_only)")
            floor_rows = "select cost_date, organization_id, end_user_id, event_count, cost_usd from floor.floor_daily_costs"  # fmt: skip
            pandas_rows = (
                'select cost_date, organization_id, "userId", event_count, '
                f"cast(cost_usd as decimal(38, 18)) from read_parquet('{pandas_out}')"
            )
            floor_diff = _mismatches(con, BUILD_DAILY, floor_rows)
            pandas_diff = _mismatches(con, BUILD_DAILY, pandas_rows)
    row = {"events": events}
    return [
        {
            **row,
            "what": "tallyhouse build",
            "seconds": round(build_s, 2),
            "peak_rss_mb": round(build_peak / 2**20),
            "vs_build": 1.0,
            "rows_differing": 0,
        },  # fmt: skip
        {
            **row,
            "what": "floor (one DuckDB query)",
            "seconds": round(floor_s, 2),
            "peak_rss_mb": round(floor_peak / 2**20),
            "vs_build": round(floor_s / build_s, 3),
            "rows_differing": floor_diff,
        },  # fmt: skip
        {
            **row,
            "what": "pandas script",
            "seconds": round(pandas_s, 2),
            "peak_rss_mb": round(pandas_peak / 2**20),
            "vs_build": round(pandas_s / build_s, 3),
            "rows_differing": pandas_diff,
        },  # fmt: skip
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, action="append", help="sizes (repeatable)")
    options = parser.parse_args()
    print_table([r for n in (options.events or [1_000_000]) for r in measure(n)], "floor")


if __name__ == "__main__":
    main()
