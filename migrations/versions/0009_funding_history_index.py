"""funding history: index the indexed events by proposal in the history's order

Revision ID: 0009
Revises: 0008
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = ["proposal_id", "block_time", "chain_id", "block_number", "log_index"]


def upgrade() -> None:
    # GET /api/proposals/{id}/fundings reads one proposal's events newest first (a backward scan).
    op.create_index("ix_web3_transactions_proposal", "web3_transactions", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_web3_transactions_proposal", table_name="web3_transactions")
