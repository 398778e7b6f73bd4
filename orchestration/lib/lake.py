"""The lake: Parquet files shared with a distributed engine (Apache Spark).

Ingest always lands events in the embedded warehouse's raw layer (one transaction, exactly
once). To build on Spark, the raw tables are exported here as Parquet (the dbt project's
on-run-start hook registers them as Spark tables); Spark writes its marts as Parquet under
spark-warehouse/, and publishing reads them back into the warehouse's marts schema, so the
serving snapshot, the API and analysts see the same tables whichever engine built them.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

# the raw tables dbt reads (its sources), exported for Spark; dbt registers the same list
# (`lake_tables`, dbt_project/macros/lake.sql)
RAW_TABLES = ("usage_events", "organization_timezones")


def export_raw(warehouse: duckdb.DuckDBPyConnection, lake_dir: Path) -> dict[str, int]:
    """raw.<table> → lake/raw/<table>/*.parquet, replacing the previous export."""
    counts = {}
    for table in RAW_TABLES:
        target = lake_dir / "raw" / table
        target.mkdir(parents=True, exist_ok=True)
        # identifiers are constants above; the path is ours
        warehouse.execute(
            f"copy raw.{table} to '{target}' (format parquet, per_thread_output true, overwrite true)"
        )
        counts[table] = warehouse.execute(f"select count(*) from raw.{table}").fetchone()[0]
    return counts


def spark_marts(lake_dir: Path) -> dict[str, Path]:
    """The marts Spark built: name → folder of Parquet files."""
    folder = lake_dir / "spark-warehouse" / "marts.db"
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_dir()} if folder.exists() else {}


def mart_query(warehouse: duckdb.DuckDBPyConnection, folder: Path) -> str:
    """A mart Spark wrote, as the embedded warehouse types it.

    Spark's TIMESTAMP is an instant, written as UTC-adjusted Parquet; the marts hold UTC wall
    times (TIMESTAMP): convert back, in the connection's UTC time zone.
    """
    source = f"read_parquet('{folder}/*.parquet')"
    columns = warehouse.execute(f"describe select * from {source}").fetchall()
    select = ", ".join(
        f'cast("{name}" as timestamp) as "{name}"'
        if kind == "TIMESTAMP WITH TIME ZONE"
        else f'"{name}"'
        for name, kind, *_ in columns
    )
    return f"select {select} from {source}"


def load_marts(warehouse: duckdb.DuckDBPyConnection, lake_dir: Path) -> dict[str, int]:
    """Replace the warehouse's marts with the ones Spark wrote, in one transaction."""
    marts = spark_marts(lake_dir)
    counts = {}
    warehouse.execute("begin transaction")
    try:
        warehouse.execute("create schema if not exists marts")
        for name, folder in marts.items():
            warehouse.execute(
                f"create or replace table marts.{name} as {mart_query(warehouse, folder)}"
            )
            counts[name] = warehouse.execute(f"select count(*) from marts.{name}").fetchone()[0]
        warehouse.execute("commit")
    except BaseException:
        warehouse.execute("rollback")
        raise
    return counts
