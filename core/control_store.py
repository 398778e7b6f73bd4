"""The control store: API keys, metric definitions and the landing inbox, in one SQL database.

SQLite (WAL, synchronous=FULL) by default; PostgreSQL or any SQLAlchemy URL through
TALLYHOUSE_STORE_URL. The schema is SQLAlchemy Core, so the same code runs on both. It
changes only through migrations (core/store_migrations/versions, Alembic): every process
that opens the store (serve, build, keys, `tallyhouse store upgrade`) first brings it to the
newest revision, one process at a time (docs/operations.md#control-store).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import sqlalchemy as sa

metadata = sa.MetaData()

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(40), primary_key=True),
    sa.Column("key_prefix", sa.String(24), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("organization_id", sa.String(64), nullable=False, index=True),
    sa.Column("scopes", sa.String(200), nullable=False),
    sa.Column("environment", sa.String(8), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("revoked_at", sa.DateTime),
)

# Every accepted API event, committed before the API answers; the ingest asset takes new rows
# by `seq` (a watermark kept in the warehouse, advanced in the same transaction as the rows).
landing_events = sa.Table(
    "landing_events",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("organization_id", sa.String(64), nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=False),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("organization_id", "idempotency_key", name="landing_events_key"),
    # an organization's events after a sequence number (api/metrics/live.py)
    sa.Index("landing_events_org_seq", "organization_id", "seq"),
    sqlite_autoincrement=True,
)

# Metric definitions of every organization; a deleted one keeps its row (deleted_at set).
metric_definitions = sa.Table(
    "metric_definitions",
    metadata,
    sa.Column("metric_id", sa.String(40), primary_key=True),
    sa.Column("organization_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("description", sa.String(1000)),
    sa.Column("query_type", sa.String(16), nullable=False),
    sa.Column("aggregation_type", sa.String(16)),
    sa.Column("event_name", sa.String(255)),
    sa.Column("value_type", sa.String(16)),
    sa.Column("sql_definition", sa.Text),
    # bumped by every update: a pre-computed value counts only for the version it was built from
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("deleted_at", sa.DateTime),
)


# Limits of every organization (api/limits): a budget or an entitlement over a window; a
# deleted one keeps its row (deleted_at set). The amount is kept as text: exact, any store.
limit_definitions = sa.Table(
    "limit_definitions",
    metadata,
    sa.Column("limit_id", sa.String(40), primary_key=True),
    sa.Column("organization_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("subject_type", sa.String(16), nullable=False),
    sa.Column("subject_id", sa.String(255)),
    sa.Column("measure_type", sa.String(16), nullable=False),
    sa.Column("metric_id", sa.String(40)),
    sa.Column("window_type", sa.String(16), nullable=False),
    sa.Column("window_days", sa.Integer),
    sa.Column("limit_amount", sa.String(64), nullable=False),
    sa.Column("thresholds", sa.String(200), nullable=False),
    sa.Column("hard", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("deleted_at", sa.DateTime),
)


# A limit's alerts: one per (limit, subject, period, threshold), whoever records it first
# (api/limits/alerts.py); `subject_key` is the subject id, '' for the organization.
limit_alerts = sa.Table(
    "limit_alerts",
    metadata,
    sa.Column("alert_id", sa.String(40), primary_key=True),
    sa.Column("organization_id", sa.String(64), nullable=False),
    sa.Column("limit_id", sa.String(40), nullable=False),
    sa.Column("subject_key", sa.String(255), nullable=False),
    sa.Column("period_start", sa.DateTime, nullable=False),
    sa.Column("threshold", sa.Integer, nullable=False),
    sa.Column("usage", sa.String(64), nullable=False),
    sa.Column("limit_amount", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint(
        "limit_id", "subject_key", "period_start", "threshold", name="limit_alerts_once"
    ),
    sa.Index("limit_alerts_by_organization", "organization_id", "created_at"),
)


# Webhook endpoints of every organization (api/limits/webhooks.py); a deleted one keeps its row.
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("endpoint_id", sa.String(40), primary_key=True),
    sa.Column("organization_id", sa.String(64), nullable=False, index=True),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("description", sa.String(500)),
    sa.Column("secret", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("deleted_at", sa.DateTime),
)

# One delivery per (alert, endpoint), made with the alert; a worker claims a due one for a
# while (lease_until), POSTs it, and records every attempt in webhook_attempts.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("delivery_id", sa.String(40), primary_key=True),
    sa.Column("organization_id", sa.String(64), nullable=False),
    sa.Column("endpoint_id", sa.String(40), nullable=False),
    sa.Column("alert_id", sa.String(40), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the same on every attempt
    sa.Column("status", sa.String(16), nullable=False),  # pending | delivered | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime, nullable=False),
    sa.Column("lease_until", sa.DateTime),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("alert_id", "endpoint_id", name="webhook_deliveries_once"),
    sa.Index("webhook_deliveries_due", "status", "next_attempt_at"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("attempt_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(40), nullable=False, index=True),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("attempted_at", sa.DateTime, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.String(500)),
)

# Each organization's settings (core/organizations.py); an organization without a row has the
# defaults (time zone UTC).
organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("organization_id", sa.String(64), primary_key=True),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)


@cache
def engine_for(url: str) -> sa.Engine:
    """The store's engine for this process, the store brought to the newest revision."""
    engine = new_engine(url)
    upgrade_store(engine)
    return engine


def new_engine(url: str) -> sa.Engine:
    """An engine on the store as it is (`tallyhouse store upgrade` looks before it leaps)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, pool_size=20, max_overflow=20, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=20)
    return engine


MIGRATIONS = Path(__file__).parent / "store_migrations"


def store_revision(engine: sa.Engine) -> str | None:
    """The revision the store is at (None: a store made before migrations, or a new one)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as con:
        return MigrationContext.configure(con).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def upgrade_store(engine: sa.Engine) -> tuple[str | None, str]:
    """Bring the store to the newest revision; (before, after). Processes that start at once
    take turns (a file lock beside a SQLite store, an advisory lock on PostgreSQL), and each
    sees what the one before it did."""
    head = head_revision()
    before = store_revision(engine)
    if before == head:
        return before, head
    from alembic import command
    from alembic.config import Config

    with _migration_lock(engine), engine.begin() as con:
        if engine.dialect.name == "postgresql":
            con.execute(sa.text("select pg_advisory_xact_lock(7261224)"))
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = con
        command.upgrade(config, "head")
    return before, head


@contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[None]:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer; synchronous=FULL: a commit is on disk when it returns
    cursor.execute("pragma journal_mode=wal")
    cursor.execute("pragma synchronous=full")
    cursor.execute("pragma busy_timeout=30000")
    cursor.close()
