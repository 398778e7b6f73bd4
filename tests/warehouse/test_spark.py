"""The same dbt project on Apache Spark (dbt-spark, local session): identical marts."""

from __future__ import annotations

import time
from decimal import Decimal

import duckdb
import pytest

from core.settings import Settings
from orchestration.build import run_build
from orchestration.lib.lake import mart_query, spark_marts

pytestmark = pytest.mark.slow
# written by the build beside dbt, not by dbt: metric SQL is DuckDB SQL, so on another engine
# the values are left empty and dim_metrics says why (docs/scale-out.md)
BESIDE_DBT = ("dim_metrics", "fct_metric_values")


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(name, kind) for name, kind, *_ in con.execute(f"describe {relation}").fetchall()]


def test_spark_builds_every_mart_with_identical_rows(home_copy, built_home, monkeypatch):
    monkeypatch.setenv("TALLYHOUSE_ENGINE", "spark")
    settings = Settings()
    assert settings.engine == "spark"
    started = time.perf_counter()
    summary = run_build(settings)
    elapsed = time.perf_counter() - started
    assert summary.success and summary.snapshot_version is not None
    print(f"fixture build on local Spark: {elapsed:.1f} s")  # shown with -s; in the closing note

    duckdb_settings, duckdb_summary = built_home
    lake = spark_marts(settings.lake_dir)
    with duckdb.connect(str(duckdb_settings.current_snapshot), read_only=True) as embedded:
        marts = [
            name
            for (name,) in embedded.execute(
                "select table_name from information_schema.tables "
                "where table_name like 'fct_%' or table_name like 'dim_%' order by 1"
            ).fetchall()
        ]
        marts = [name for name in marts if name not in BESIDE_DBT]
        assert sorted(lake) == marts
        embedded.execute("set TimeZone = 'UTC'")
        for name in marts:
            on_spark = f"({mart_query(embedded, lake[name])})"
            # same columns, same types (DECIMAL precision and scale included)
            assert _columns(embedded, f"select * from {on_spark}") == _columns(embedded, name), name
            rows = embedded.execute(f"select count(*) from {name}").fetchone()[0]
            assert rows > 0, name
            for left, right in ((name, on_spark), (on_spark, name)):
                differing = embedded.execute(
                    f"select count(*) from (from {left} except all from {right})"
                ).fetchone()[0]
                assert differing == 0, f"{name}: {differing} of {rows} rows differ"

    # the snapshot published from Spark's marts answers like the embedded one
    with duckdb.connect(str(settings.current_snapshot), read_only=True) as published:
        total = published.execute("select sum(cost_usd) from fct_usage_costs").fetchone()[0]
        values = published.execute("select count(*) from fct_metric_values").fetchone()[0]
        reasons = published.execute(
            "select distinct not_precomputed_reason from dim_metrics "
            "where query_type = 'indexed' and not precompute_failed"
        ).fetchall()
    assert total == Decimal(duckdb_summary.cost_usd_total)
    assert values == 0
    assert reasons == [("pre-computed on the embedded engine (DuckDB) only",)]
