"""moderation: reports, hidden content (items, proposals, media), suspended accounts; the items' public
partial indexes now leave hidden items out

Revision ID: 0018
Revises: 0017
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_CONTENT = ("items", "proposals", "media")
# (name, columns): the items' public partial indexes, whose predicate gains "hidden IS NULL".
_PUBLIC_INDEXES = (
    ("ix_items_public_created", ["created_at", "id"]),
    ("ix_items_public_popular", ["popularity", "id"]),
    ("ix_items_public_price", ["currency", "price", "id"]),
    ("ix_items_public_category", ["category", "created_at", "id"]),
)


def _public_indexes(predicate: str) -> None:
    for name, columns in _PUBLIC_INDEXES:
        op.drop_index(name, table_name="items")
        op.create_index(name, "items", columns, postgresql_where=sa.text(predicate))


def upgrade() -> None:
    op.add_column("users", sa.Column("suspended_at", sa.DateTime(timezone=True)))
    for table in _CONTENT:
        op.add_column(table, sa.Column("hidden", sa.String(16)))
        op.add_column(table, sa.Column("hidden_at", sa.DateTime(timezone=True)))
        op.create_check_constraint(op.f(f"ck_{table}_hidden"), table, "hidden IN ('moderation', 'suspension')")
    _public_indexes("status IN ('listed', 'sold') AND hidden IS NULL")
    op.create_table(
        "reports",
        sa.Column("id", pg.UUID(as_uuid=True), server_default=sa.func.gen_random_uuid(), nullable=False),
        sa.Column("reporter_id", pg.UUID(as_uuid=True),
                  sa.ForeignKey("users.id", ondelete="SET NULL", name=op.f("fk_reports_reporter_id_users"))),
        sa.Column("target_type", sa.String(16), nullable=False),
        sa.Column("target_id", pg.UUID(as_uuid=True), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, server_default=sa.text("''"), nullable=False),
        sa.Column("status", sa.String(12), server_default=sa.text("'open'"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_by", pg.UUID(as_uuid=True),
                  sa.ForeignKey("users.id", ondelete="SET NULL", name=op.f("fk_reports_resolved_by_users"))),
        sa.Column("resolution", sa.Text),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.CheckConstraint("target_type IN ('proposal', 'item', 'media', 'user')", name=op.f("ck_reports_target_type")),
        sa.CheckConstraint("reason IN ('spam', 'abuse', 'copyright', 'fraud', 'explicit', 'other')",
                           name=op.f("ck_reports_reason")),
        sa.CheckConstraint("status IN ('open', 'actioned', 'dismissed')", name=op.f("ck_reports_status")),
        sa.CheckConstraint("char_length(note) <= 1000", name=op.f("ck_reports_note_length")),
    )
    op.create_index("ix_reports_queue", "reports", ["status", "created_at", "id"])
    op.create_index("ix_reports_target", "reports", ["target_type", "target_id"],
                    postgresql_where=sa.text("status = 'open'"))
    op.create_index("ix_reports_once", "reports", ["reporter_id", "target_type", "target_id"], unique=True,
                    postgresql_where=sa.text("status = 'open'"))


def downgrade() -> None:
    op.drop_table("reports")
    _public_indexes("status IN ('listed', 'sold')")
    for table in _CONTENT:
        op.drop_constraint(op.f(f"ck_{table}_hidden"), table)
        op.drop_column(table, "hidden_at")
        op.drop_column(table, "hidden")
    op.drop_column("users", "suspended_at")
