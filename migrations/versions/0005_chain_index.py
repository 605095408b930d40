"""chain index: web3_transactions, chain_blocks, indexer_checkpoints, investments, artwork_tokens

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UINT256 = sa.Numeric(78, 0)
HASH = sa.String(66)
ADDRESS = sa.String(42)


def upgrade() -> None:
    op.create_table(
        "web3_transactions",
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("block_hash", HASH, nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tx_hash", HASH, nullable=False),
        sa.Column("log_index", sa.Integer, nullable=False),
        sa.Column("contract", ADDRESS, nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("args", pg.JSONB, nullable=False),
        sa.Column("amount", UINT256, nullable=True),
        sa.Column("proposal_id", pg.UUID(as_uuid=True), nullable=True),
        # The log's identity on its chain is the key: no surrogate id, one index less to write.
        sa.PrimaryKeyConstraint("chain_id", "tx_hash", "log_index", name=op.f("pk_web3_transactions")),
    )
    op.create_index("ix_web3_transactions_chain_block", "web3_transactions", ["chain_id", "block_number"])
    op.create_table(
        "chain_blocks",
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("number", sa.BigInteger, nullable=False),
        sa.Column("hash", HASH, nullable=False),
        sa.Column("parent_hash", HASH, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "number", name=op.f("pk_chain_blocks")),
    )
    op.create_table(
        "indexer_checkpoints",
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("block_hash", HASH, nullable=True),
        sa.Column("head_block", sa.BigInteger, nullable=True),
        sa.Column("head_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("range_size", sa.Integer, nullable=True),
        sa.Column("reorgs", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("chain_id", name=op.f("pk_indexer_checkpoints")),
    )
    op.create_table(
        "investments",
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("onchain_proposal_id", UINT256, nullable=False),
        sa.Column("backer", ADDRESS, nullable=False),
        sa.Column("proposal_id", pg.UUID(as_uuid=True), nullable=True),
        sa.Column("funded", UINT256, nullable=False),
        sa.Column("refunded", UINT256, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("last_tx_hash", HASH, nullable=True),
        sa.PrimaryKeyConstraint("chain_id", "onchain_proposal_id", "backer", name=op.f("pk_investments")),
    )
    op.create_index("ix_investments_proposal", "investments", ["proposal_id"])
    op.create_index("ix_investments_backer", "investments", ["backer"])
    op.create_table(
        "artwork_tokens",
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("contract", ADDRESS, nullable=False),
        sa.Column("token_id", UINT256, nullable=False),
        sa.Column("owner", ADDRESS, nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("log_index", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "contract", "token_id", name=op.f("pk_artwork_tokens")),
    )
    op.create_index("ix_artwork_tokens_owner", "artwork_tokens", ["owner"])


def downgrade() -> None:
    for table in ("artwork_tokens", "investments", "indexer_checkpoints", "chain_blocks", "web3_transactions"):
        op.drop_table(table)
