"""request keys: a purchase's Idempotency-Key, on the hold it made

Revision ID: 0016
Revises: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("payment_holds", sa.Column("request_key", sa.String(64)))
    op.create_index("ix_payment_holds_request_key", "payment_holds", ["user_id", "request_key"], unique=True,
                    postgresql_where=sa.text("request_key IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_payment_holds_request_key", "payment_holds")
    op.drop_column("payment_holds", "request_key")
