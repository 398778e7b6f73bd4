"""The shared core: settings and the clock, the control store, the event contract, metric SQL
and its sandbox, the price catalogue, DuckDB and SQL helpers. The API (`api/`) and the
pipeline (`orchestration/`) import it and never each other; it imports neither FastAPI,
Dagster nor dbt (the import contracts in pyproject.toml, checked by `./dev test`)."""
