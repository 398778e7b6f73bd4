"""Connections to the DuckDB warehouse, configured the same way everywhere."""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect(path: Path | str, *, memory_limit: str, threads: int, read_only: bool = False):
    """A DuckDB connection in UTC that never downloads an extension."""
    if not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(
        str(path),
        read_only=read_only,
        config={
            "memory_limit": memory_limit,
            "threads": threads,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": True,
            "TimeZone": "UTC",
            # lets big inserts and copies stream and spill within memory_limit; every order
            # we rely on is an explicit ORDER BY
            "preserve_insertion_order": False,
        },
    )
