"""A limit's alerts, each recorded once (api/limits/alerts.py, docs/limits.md#alerts).

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "limit_alerts",
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
    )
    op.create_index(
        "limit_alerts_by_organization", "limit_alerts", ["organization_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("limit_alerts")
