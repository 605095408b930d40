"""notifications and personal lists: each person's inbox, their choices per kind, auctions' ending-soon mark,
whether a person's follows are public, the index of held items

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_KINDS = ("kind IN ('outbid', 'bid_received', 'auction_won', 'auction_lost', 'auction_ended', 'proposal_funded', "
          "'proposal_failed', 'proposal_update', 'new_follower', 'order', 'low_stock', 'auction_ending')")


def _user(table: str) -> sa.Column:
    return sa.Column("user_id", pg.UUID(as_uuid=True),
                     sa.ForeignKey("users.id", ondelete="CASCADE", name=op.f(f"fk_{table}_user_id_users")),
                     nullable=False)


def upgrade() -> None:
    op.add_column("auctions", sa.Column("ending_soon_at", sa.DateTime(timezone=True)))
    op.add_column("users", sa.Column("follows_public", sa.Boolean, server_default=sa.text("false"), nullable=False))
    op.create_index("ix_items_holder", "items", ["holder_id"], postgresql_where=sa.text("holder_id IS NOT NULL"))
    op.create_table(
        "notifications",
        sa.Column("id", pg.UUID(as_uuid=True), server_default=sa.func.gen_random_uuid(), nullable=False),
        _user("notifications"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("event_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("subject_type", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("data", pg.JSONB, server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.Column("email_status", sa.String(8)),
        sa.Column("email_error", sa.Text),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.CheckConstraint(_KINDS, name=op.f("ck_notifications_kind")),
        sa.CheckConstraint("email_status IN ('pending', 'sent', 'skipped')", name=op.f("ck_notifications_email_status")),
    )
    op.create_index("ix_notifications_inbox", "notifications", ["user_id", sa.text("created_at DESC"), sa.text("id DESC")])
    op.create_index("ix_notifications_unread", "notifications", ["user_id"], postgresql_where=sa.text("read_at IS NULL"))
    op.create_index("ix_notifications_event", "notifications", ["event_id"])
    op.create_table(
        "notification_preferences",
        _user("notification_preferences"),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("email", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "kind", name=op.f("pk_notification_preferences")),
        sa.CheckConstraint(_KINDS, name=op.f("ck_notification_preferences_kind")),
    )


def downgrade() -> None:
    op.drop_table("notification_preferences")
    op.drop_table("notifications")
    op.drop_index("ix_items_holder", "items")
    op.drop_column("users", "follows_public")
    op.drop_column("auctions", "ending_soon_at")
