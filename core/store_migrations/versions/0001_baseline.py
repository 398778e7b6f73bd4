"""The control store as of 2026-12-07: API keys, the landing inbox, metric definitions.

An install made before migrations existed already has these tables (made by create_all):
they are left as they are, and the store is marked as being at this revision.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "api_keys" not in existing:
        op.create_table(
            "api_keys",
            sa.Column("key_id", sa.String(40), primary_key=True),
            sa.Column("key_prefix", sa.String(24), nullable=False),
            sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
            sa.Column("organization_id", sa.String(64), nullable=False, index=True),
            sa.Column("scopes", sa.String(200), nullable=False),
            sa.Column("environment", sa.String(8), nullable=False),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("revoked_at", sa.DateTime),
        )
    if "landing_events" not in existing:
        op.create_table(
            "landing_events",
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
            sqlite_autoincrement=True,
        )
    if "metric_definitions" not in existing:
        op.create_table(
            "metric_definitions",
            sa.Column("metric_id", sa.String(40), primary_key=True),
            sa.Column("organization_id", sa.String(64), nullable=False, index=True),
            sa.Column("name", sa.String(100), nullable=False),
            sa.Column("description", sa.String(1000)),
            sa.Column("query_type", sa.String(16), nullable=False),
            sa.Column("aggregation_type", sa.String(16)),
            sa.Column("event_name", sa.String(255)),
            sa.Column("value_type", sa.String(16)),
            sa.Column("sql_definition", sa.Text),
            sa.Column("version", sa.Integer, nullable=False),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("updated_at", sa.DateTime, nullable=False),
            sa.Column("deleted_at", sa.DateTime),
        )


def downgrade() -> None:
    # before the baseline there is no store: its tables go, with what they hold
    for table in ("metric_definitions", "landing_events", "api_keys"):
        op.drop_table(table)
