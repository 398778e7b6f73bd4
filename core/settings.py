"""One settings object for every component: environment variables with the TALLYHOUSE_ prefix."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
SEEDS_DIR = PROJECT_ROOT / "seeds"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TALLYHOUSE_", extra="ignore")

    home: Path = Field(default=Path(".tallyhouse"), description="Root folder of all local state.")
    now: datetime | None = Field(
        default=None, description="Pinned 'now' (ISO-8601 instant); the system clock when unset."
    )
    memory_limit: str = Field(
        default="1152MB",
        description="DuckDB memory limit for builds (the whole build stays under ~2 GB).",
    )
    threads: int = Field(default=2, description="DuckDB threads for builds.")
    ingest_batch_events: int = Field(
        default=5_000_000,
        ge=1,
        description="About how many events of new files one ingest run takes (a backlog is "
        "ingested in several runs, each its own transaction).",
    )
    build_slice_events: int = Field(
        default=10_000_000,
        ge=1,
        description="About how many events of new ingest runs one dbt pass prices (a backlog "
        "is caught up in several passes, each spilling at most one slice).",
    )
    max_event_age_days: int = Field(
        default=400, description="How far back an event's timestamp may lie (backfills)."
    )
    max_future_seconds: int = Field(
        default=300, description="How far ahead of now an event's timestamp may lie."
    )
    snapshots_kept: int = Field(default=3, description="Serving snapshots kept after a publish.")
    store_url: str | None = Field(
        default=None,
        description="Control store (keys, metric definitions, landing inbox): a SQLAlchemy URL; "
        "sqlite:///$TALLYHOUSE_HOME/control.db when unset.",
    )
    rate_limit: float = Field(
        default=50.0, description="Requests per second per API key (bursts of 2x); 0 turns it off."
    )
    max_range_days: int = Field(
        default=400, description="Longest start_date..end_date range a read endpoint accepts."
    )
    answers_cached: int = Field(
        default=2048,
        ge=0,
        description="Cost answers each API process keeps per serving snapshot (a snapshot never "
        "changes, so a repeated question is answered from memory); 0 turns the cache off.",
    )
    engine: Literal["duckdb", "spark"] = Field(
        default="duckdb",
        description="Where dbt builds the marts: embedded DuckDB, or Apache Spark (the `spark` "
        "dbt target; raw tables exported to the lake as Parquet, marts read back to publish).",
    )
    full_refresh: bool = Field(
        default=False,
        description="Rebuild the incremental event facts from scratch (e.g. to reprice history "
        "after a price refresh); `tallyhouse build --full-refresh` sets it for one build.",
    )
    unpriced_warn_share: float = Field(
        default=0.05,
        description="Share of billable events left unpriced above which the build's "
        "unpriced_share check warns.",
    )
    metric_query_seconds: float = Field(
        default=2.0, description="Time limit of one metric SQL evaluation (then it is stopped)."
    )
    metric_query_memory: str = Field(
        default="256MB", description="DuckDB memory limit of one metric SQL evaluation."
    )
    metric_cache_rows: int = Field(
        default=1_000_000,
        ge=0,
        description="Events of the customers whose metric values were asked lately, kept in "
        "memory per server process while a snapshot is served (docs/metrics.md#how-fast).",
    )
    metric_build_seconds: float = Field(
        default=60.0,
        description="Time limit of one indexed metric's pre-computation in a build (all its "
        "customers and slices); past it the metric is skipped and answered on demand.",
    )
    metric_build_memory: str = Field(
        default="1GB",
        description="DuckDB memory limit of one indexed metric's pre-computation in a build.",
    )
    anomaly_min_usd: Decimal = Field(
        default=Decimal("1.00"),
        ge=0,
        description="The least departure from its usual cost, in USD, that makes a day an "
        "anomaly (GET /v1/cost-data/anomalies; its min_impact overrides it).",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Accept webhook URLs on private, loopback and link-local addresses (for "
        "a receiver on the same machine or network).",
    )
    webhook_retry_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A failed webhook delivery's first wait; doubled at each failure (at most "
        "an hour), times a jitter of 0.5 - 1.5, for 24 hours.",
    )
    webhook_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a server process holds a webhook delivery it is sending; past "
        "it (the process died), another one sends it.",
    )
    otlp_feature_attribute: str = Field(
        default="tallyhouse.feature",
        description="The span (or resource) attribute whose value is a GenAI span's feature, "
        "in POST /v1/traces.",
    )

    @cached_property
    def root(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def landing_dir(self) -> Path:
        return self.root / "landing"

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse" / "warehouse.duckdb"

    @property
    def lake_dir(self) -> Path:
        """Parquet files a distributed engine reads (raw/) and writes (spark-warehouse/)."""
        return self.root / "lake"

    @property
    def serving_dir(self) -> Path:
        return self.root / "serving"

    @property
    def current_snapshot(self) -> Path:
        """The stable path analysts open; a symlink to the newest published snapshot."""
        return self.serving_dir / "current.duckdb"

    @property
    def control_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.root / 'control.db'}"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def dbt_invocations_dir(self) -> Path:
        """Each dbt invocation of this home's builds logs to a folder of its own here (the
        newest few are kept): homes never share them, so builds of two homes run side by side."""
        return self.root / "dbt"

    def clock(self) -> datetime:
        """The one 'now' of the system: pinned by TALLYHOUSE_NOW, else the system clock (UTC)."""
        if self.now is None:
            return datetime.now(UTC)
        pinned = self.now if self.now.tzinfo else self.now.replace(tzinfo=UTC)
        return pinned.astimezone(UTC)


def get_settings() -> Settings:
    return Settings()
