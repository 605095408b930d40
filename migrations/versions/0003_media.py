"""media, with user avatars and proposal covers referring to it

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("id", pg.UUID(as_uuid=True), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("owner_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("object_name", sa.String(256), nullable=False),
        sa.Column("declared_type", sa.String(64), nullable=False),
        sa.Column("max_bytes", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default=sa.text("'pending'")),
        sa.Column("reject_reason", sa.Text, nullable=True),
        sa.Column("generation", sa.BigInteger, nullable=True),
        sa.Column("format", sa.String(16), nullable=True),
        sa.Column("width", sa.Integer, nullable=True),
        sa.Column("height", sa.Integer, nullable=True),
        sa.Column("bytes", sa.BigInteger, nullable=True),
        sa.Column("dominant_color", sa.String(7), nullable=True),
        sa.Column("placeholder", sa.Text, nullable=True),
        sa.Column("variants", pg.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.CheckConstraint("status IN ('pending', 'ready', 'rejected')", name=op.f("ck_media_status")),
        sa.CheckConstraint("purpose IN ('avatar', 'cover')", name=op.f("ck_media_purpose")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], ondelete="CASCADE", name=op.f("fk_media_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media")),
        sa.UniqueConstraint("object_name", name=op.f("uq_media_object_name")),
    )
    op.create_index("ix_media_owner", "media", ["owner_id", "created_at"])
    op.add_column("users", sa.Column("avatar_media_id", pg.UUID(as_uuid=True), nullable=True))
    op.create_foreign_key(op.f("fk_users_avatar_media_id_media"), "users", "media", ["avatar_media_id"], ["id"],
                          ondelete="SET NULL")
    op.add_column("proposals", sa.Column("cover_media_id", pg.UUID(as_uuid=True), nullable=True))
    op.create_foreign_key(op.f("fk_proposals_cover_media_id_media"), "proposals", "media", ["cover_media_id"], ["id"],
                          ondelete="SET NULL")


def downgrade() -> None:
    op.drop_constraint(op.f("fk_proposals_cover_media_id_media"), "proposals", type_="foreignkey")
    op.drop_column("proposals", "cover_media_id")
    op.drop_constraint(op.f("fk_users_avatar_media_id_media"), "users", type_="foreignkey")
    op.drop_column("users", "avatar_media_id")
    op.drop_table("media")
