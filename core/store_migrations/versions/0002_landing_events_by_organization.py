"""An index of the landing inbox by organization and sequence number: a metric value reads the
organization's events after the snapshot's reach (api/metrics/live.py) on every request.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_index("landing_events_org_seq", "landing_events", ["organization_id", "seq"])


def downgrade() -> None:
    op.drop_index("landing_events_org_seq", table_name="landing_events")
