"""Queries live in .sql files beside the service that runs them."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def query(package_dir: str, name: str) -> str:
    return (Path(package_dir) / "queries" / f"{name}.sql").read_text()
