"""users, follows, proposals, audit_log

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

NOW = sa.text("now()")


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    ]


def _uuid_pk() -> sa.Column:
    return sa.Column("id", pg.UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()"))


def upgrade() -> None:
    op.create_table(
        "users",
        _uuid_pk(),
        sa.Column("firebase_uid", sa.String(128), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("display_name", sa.String(80), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("bio", sa.Text, nullable=True),
        sa.Column("links", pg.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("avatar_url", sa.Text, nullable=True),
        sa.Column("wallet_address", sa.String(42), nullable=True),
        *_timestamps(),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('artist', 'investor', 'collector')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("firebase_uid", name=op.f("uq_users_firebase_uid")),
        sa.UniqueConstraint("wallet_address", name=op.f("uq_users_wallet_address")),
    )
    op.create_table(
        "follows",
        sa.Column("follower_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("followee_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint("follower_id <> followee_id", name=op.f("ck_follows_not_self")),
        sa.ForeignKeyConstraint(["follower_id"], ["users.id"], ondelete="CASCADE", name=op.f("fk_follows_follower_id_users")),
        sa.ForeignKeyConstraint(["followee_id"], ["users.id"], ondelete="CASCADE", name=op.f("fk_follows_followee_id_users")),
        sa.PrimaryKeyConstraint("follower_id", "followee_id", name=op.f("pk_follows")),
    )
    op.create_index("ix_follows_followee_id", "follows", ["followee_id"])
    op.create_table(
        "proposals",
        _uuid_pk(),
        sa.Column("owner_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("title", sa.String(140), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=sa.text("''")),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("tags", pg.ARRAY(sa.String(32)), nullable=False, server_default=sa.text("'{}'::varchar[]")),
        sa.Column("goal", sa.Numeric(78, 0), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default=sa.text("'draft'")),
        sa.Column("raised_total", sa.Numeric(78, 0), nullable=False, server_default=sa.text("0")),
        sa.Column("version", sa.Integer, nullable=False, server_default=sa.text("1")),
        *_timestamps(),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'open', 'funded', 'closed', 'cancelled')", name=op.f("ck_proposals_status")
        ),
        sa.CheckConstraint("goal > 0", name=op.f("ck_proposals_goal_positive")),
        sa.CheckConstraint("raised_total >= 0", name=op.f("ck_proposals_raised_not_negative")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_proposals_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
    )
    op.create_index("ix_proposals_created", "proposals", ["created_at", "id"])
    op.create_index("ix_proposals_deadline", "proposals", ["deadline", "id"])
    op.create_index("ix_proposals_raised", "proposals", ["raised_total", "id"])
    op.create_index("ix_proposals_owner", "proposals", ["owner_id", "created_at"])
    op.create_index("ix_proposals_category", "proposals", ["category"])
    op.create_index("ix_proposals_tags", "proposals", ["tags"], postgresql_using="gin")
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("actor_id", pg.UUID(as_uuid=True), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity_type", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=False),
        sa.Column("details", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_entity", "audit_log", ["entity_type", "entity_id", "occurred_at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("proposals")
    op.drop_table("follows")
    op.drop_table("users")
