"""semantic search: pgvector, and the vectors of items and proposals with their HNSW indexes

Revision ID: 0019
Revises: 0018
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


class _Vector(sa.types.UserDefinedType):
    cache_ok = True

    def get_col_spec(self, **kw) -> str:
        return "vector(256)"


def upgrade() -> None:
    # pgvector is no trusted extension: Cloud SQL's migrator (cloudsqlsuperuser) creates it;
    # locally the set-up does, as the superuser (local/postgres.py), and this finds it there.
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    for table, of in (("item_vectors", "items"), ("proposal_vectors", "proposals")):
        op.create_table(
            table,
            sa.Column("id", pg.UUID(as_uuid=True),
                      sa.ForeignKey(f"{of}.id", ondelete="CASCADE", name=op.f(f"fk_{table}_id_{of}")), nullable=False),
            sa.Column("model", sa.String(64), nullable=False),
            sa.Column("dimensions", sa.SmallInteger, nullable=False),
            sa.Column("content_hash", sa.LargeBinary(32), nullable=False),
            sa.Column("embedding", _Vector(), nullable=False),
            sa.Column("embedded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        )
        op.create_index(f"ix_{table}_hnsw", table, ["embedding"], postgresql_using="hnsw",
                        postgresql_ops={"embedding": "vector_cosine_ops"})


def downgrade() -> None:
    # The extension stays: dropping it needs the superuser, and nothing else uses it then.
    op.drop_table("proposal_vectors")
    op.drop_table("item_vectors")
