"""chain lifecycle: proposals that failed or were paid out, block times, and the campaign operator's sends

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_STATUSES = "status IN ('draft', 'open', 'funded', 'failed', 'withdrawn', 'closed', 'cancelled')"
_BEFORE = "status IN ('draft', 'open', 'funded', 'closed', 'cancelled')"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_proposals_status"), "proposals", type_="check")
    op.create_check_constraint(op.f("ck_proposals_status"), "proposals", _STATUSES)
    # The proposals the chain's clock may move (open past its deadline, failed before it after a reorg).
    op.create_index("ix_proposals_chain_clock", "proposals", ["deadline"],
                    postgresql_where=sa.text("status IN ('open', 'failed')"))
    # A proposal's campaign and its payout, found without reading its fundings (the lifecycle,
    # the operator, settlement and the cancel rule ask on every commit or request).
    op.create_index("ix_web3_transactions_campaign", "web3_transactions", ["proposal_id", "chain_id", "event"],
                    postgresql_where=sa.text("event IN ('CampaignOpened', 'Withdrawn')"))
    # A block's time: the chain's clock after a rollback to it.
    op.add_column("chain_blocks", sa.Column("time", sa.DateTime(timezone=True)))
    op.create_table(
        "campaign_sends",
        sa.Column("proposal_id", UUID(as_uuid=True), nullable=False),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("sender", sa.String(42), nullable=False),
        sa.Column("nonce", sa.BigInteger, nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("max_fee_per_gas", sa.Numeric(78, 0), nullable=False),
        sa.Column("priority_fee_per_gas", sa.Numeric(78, 0), nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        # open: openCampaign; filler: a 0-value transfer to itself that takes a nonce whose
        # proposal no longer wants its campaign (the account's later nonces wait on it).
        sa.Column("purpose", sa.String(8), nullable=False, server_default=sa.text("'open'")),
        sa.Column("reverted_at", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.ForeignKeyConstraint(["proposal_id"], ["proposals.id"], name=op.f("fk_campaign_sends_proposal_id_proposals"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tx_hash", name=op.f("pk_campaign_sends")),
        sa.CheckConstraint("purpose IN ('open', 'filler')", name=op.f("ck_campaign_sends_purpose")),
    )
    op.create_index("ix_campaign_sends_proposal", "campaign_sends", ["proposal_id", "sent_at"])
    op.create_index("ix_campaign_sends_nonce", "campaign_sends", ["chain_id", "sender", "nonce"])


def downgrade() -> None:
    op.drop_table("campaign_sends")
    op.drop_column("chain_blocks", "time")
    op.drop_index("ix_web3_transactions_campaign", "web3_transactions")
    op.drop_index("ix_proposals_chain_clock", "proposals")
    op.execute("UPDATE proposals SET status = 'closed' WHERE status IN ('failed', 'withdrawn')")
    op.drop_constraint(op.f("ck_proposals_status"), "proposals", type_="check")
    op.create_check_constraint(op.f("ck_proposals_status"), "proposals", _BEFORE)
