"""SQL lives in .sql files beside the code that runs it: one loader for every layer."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def load_sql(folder: Path | str, name: str) -> str:
    """The text of `folder/name.sql` (read once per process)."""
    return (Path(folder) / f"{name}.sql").read_text()
