"""maintenance mode: the platform's switches, one row; while maintenance_until is ahead the API
refuses writes (shared/maintenance.py)

Revision ID: 0022
Revises: 0021
"""
import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_state",
        sa.Column("id", sa.Boolean, server_default=sa.text("true"), nullable=False),
        sa.Column("maintenance_until", sa.DateTime(timezone=True)),
        sa.Column("maintenance_reason", sa.Text),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_state")),
        sa.CheckConstraint("id", name=op.f("ck_platform_state_one_row")),
    )
    op.execute("INSERT INTO platform_state (id) VALUES (true)")


def downgrade() -> None:
    op.drop_table("platform_state")
