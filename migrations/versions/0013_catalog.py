"""seller catalog: items get the seller's SKU (unique per seller) and a low-stock threshold

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("items", sa.Column("sku", sa.String(64)))
    op.add_column("items", sa.Column("low_stock_threshold", sa.Integer))
    op.create_check_constraint(op.f("ck_items_low_stock_threshold"), "items",
                               "low_stock_threshold IS NULL OR (kind = 'physical' AND low_stock_threshold >= 0)")
    op.create_index("ix_items_owner_sku", "items", ["owner_id", "sku"], unique=True,
                    postgresql_where=sa.text("sku IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_items_owner_sku", "items")
    op.drop_constraint(op.f("ck_items_low_stock_threshold"), "items", type_="check")
    op.drop_column("items", "low_stock_threshold")
    op.drop_column("items", "sku")
