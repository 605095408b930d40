"""Tables of the background jobs: the chain indexer's raw events, recent block hashes,
checkpoints and derived rows (investments, artwork ownership), and the graph sync's state."""
from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.tables import Amount, metadata, updated

HASH = String(66)
ADDRESS = String(42)


# One decoded contract log; (chain_id, tx_hash, log_index) identifies it on a chain.
web3_transactions = Table(
    "web3_transactions",
    metadata,
    Column("chain_id", BigInteger, primary_key=True),
    Column("tx_hash", HASH, primary_key=True),
    Column("log_index", Integer, primary_key=True),
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", HASH, nullable=False),
    Column("block_time", DateTime(timezone=True), nullable=False),
    Column("contract", ADDRESS, nullable=False),
    Column("event", String(64), nullable=False),
    # uint256 arguments as decimal strings: JSON numbers would lose precision.
    Column("args", JSONB, nullable=False),
    Column("amount", Amount),
    # The platform proposal a funding event concerns (its on-chain id is the UUID's integer).
    Column("proposal_id", UUID(as_uuid=True)),
    Index("ix_web3_transactions_chain_block", "chain_id", "block_number"),
    # A proposal's funding history, newest first (shared/proposals/fundings.py).
    Index("ix_web3_transactions_proposal", "proposal_id", "block_time", "chain_id", "block_number", "log_index"),
    # A proposal's campaign and payout without reading its fundings (lifecycle, operator, settlement).
    Index("ix_web3_transactions_campaign", "proposal_id", "chain_id", "event",
          postgresql_where=text("event IN ('CampaignOpened', 'Withdrawn')")),
    # A market sale's events, whatever blocks they are in (shared/market/chain_sales.py).
    Index("ix_web3_transactions_sale", "chain_id", "contract", text("((args->>'saleId')::numeric)"),
          postgresql_where=text("event IN ('SaleOpened', 'BidPlaced', 'SaleSettled', 'SaleCancelled')")),
)

# Hashes of recently indexed blocks: what reorg detection compares with the node.
chain_blocks = Table(
    "chain_blocks",
    metadata,
    Column("chain_id", BigInteger, primary_key=True),
    Column("number", BigInteger, primary_key=True),
    Column("hash", HASH, nullable=False),
    Column("parent_hash", HASH, nullable=False),
    # The chain's clock: a proposal's deadline passes when an indexed block's time reaches it.
    Column("time", DateTime(timezone=True)),
)

indexer_checkpoints = Table(
    "indexer_checkpoints",
    metadata,
    Column("chain_id", BigInteger, primary_key=True),
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", HASH),
    Column("head_block", BigInteger),
    Column("head_seen_at", DateTime(timezone=True)),
    # The adaptive block range carries over to the next tick.
    Column("range_size", Integer),
    Column("reorgs", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    updated("updated_at"),
)

# A backer's position in one campaign, derived from Funded and Refunded events.
investments = Table(
    "investments",
    metadata,
    Column("chain_id", BigInteger, primary_key=True),
    Column("onchain_proposal_id", Amount, primary_key=True),
    Column("backer", ADDRESS, primary_key=True),
    Column("proposal_id", UUID(as_uuid=True)),
    Column("funded", Amount, nullable=False),
    Column("refunded", Amount, nullable=False),
    Column("events", Integer, nullable=False),
    # The backer's latest Funded transaction in this campaign.
    Column("last_tx_hash", HASH),
    Index("ix_investments_proposal", "proposal_id"),
    Index("ix_investments_backer", "backer"),
)

# Current owner of each artwork token, derived from ERC-721 Transfer events.
artwork_tokens = Table(
    "artwork_tokens",
    metadata,
    Column("chain_id", BigInteger, primary_key=True),
    Column("contract", ADDRESS, primary_key=True),
    Column("token_id", Amount, primary_key=True),
    Column("owner", ADDRESS, nullable=False),
    Column("block_number", BigInteger, nullable=False),
    Column("log_index", Integer, nullable=False),
    Index("ix_artwork_tokens_owner", "owner"),
)

# The graph reconcile's progress: a watermark per synced table, and the last full run.
graph_sync_state = Table(
    "graph_sync_state",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("watermark_at", DateTime(timezone=True)),
    Column("watermark_id", String(64)),
    Column("full_at", DateTime(timezone=True)),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    updated("updated_at"),
)

# Every transaction the campaign operator signed, written before it is sent: after a crash
# the next run finds it (mined, pending, or unknown to the node and sent again), and a
# stuck one is replaced at the same nonce with higher fees (shared/chain/operator.py).
campaign_sends = Table(
    "campaign_sends",
    metadata,
    Column("tx_hash", HASH, primary_key=True),
    Column("proposal_id", ForeignKey("proposals.id", ondelete="CASCADE"), nullable=False),
    Column("chain_id", BigInteger, nullable=False),
    Column("sender", ADDRESS, nullable=False),
    Column("nonce", BigInteger, nullable=False),
    Column("max_fee_per_gas", Amount, nullable=False),
    Column("priority_fee_per_gas", Amount, nullable=False),
    Column("raw", Text, nullable=False),
    # open: openCampaign; filler: a 0-value transfer to itself that takes a nonce whose
    # proposal no longer wants its campaign (the account's later nonces wait on it).
    Column("purpose", String(8), nullable=False, server_default=text("'open'")),
    # When a mined openCampaign was seen to revert: the proposal is left for a person.
    Column("reverted_at", DateTime(timezone=True)),
    Column("sent_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    CheckConstraint("purpose IN ('open', 'filler')", name="purpose"),
    Index("ix_campaign_sends_proposal", "proposal_id", "sent_at"),
    Index("ix_campaign_sends_nonce", "chain_id", "sender", "nonce"),
)
