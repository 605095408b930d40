"""wallet_challenges: single-use Sign-In with Ethereum nonces

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wallet_challenges",
        sa.Column("nonce", sa.String(32), nullable=False),
        sa.Column("user_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name=op.f("fk_wallet_challenges_user_id_users")),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_wallet_challenges")),
    )
    op.create_index("ix_wallet_challenges_user", "wallet_challenges", ["user_id", "issued_at"])


def downgrade() -> None:
    op.drop_table("wallet_challenges")
