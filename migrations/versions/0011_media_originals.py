"""media originals: where an artwork's cleaned original lives (the object and its generation)

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The file a buyer downloads: written by image-processing, never by an upload URL.
    op.add_column("media", sa.Column("original_object", sa.String(256)))
    op.add_column("media", sa.Column("original_generation", sa.BigInteger))


def downgrade() -> None:
    op.drop_column("media", "original_generation")
    op.drop_column("media", "original_object")
