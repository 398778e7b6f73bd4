"""SQL lives in .sql files beside the code that runs it."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def load_sql(folder: Path, name: str) -> str:
    return (folder / "sql" / f"{name}.sql").read_text()
