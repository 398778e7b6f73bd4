"""Limits: budgets and entitlements over a window (api/limits, docs/limits.md).

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "limit_definitions",
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


def downgrade() -> None:
    op.drop_table("limit_definitions")
