"""outbox.envelope as json: the outbox is a queue, never queried inside its envelopes

Storing the producer's text as is (json) instead of parsing it into jsonb makes
bulk announcements (the chain indexer writes one per log) and the relay's reads
cheaper; see docs/decisions/0010-indexer-throughput.md.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("outbox", "envelope", type_=pg.JSON, postgresql_using="envelope::json",
                    existing_nullable=False)


def downgrade() -> None:
    op.alter_column("outbox", "envelope", type_=pg.JSONB, postgresql_using="envelope::jsonb",
                    existing_nullable=False)
