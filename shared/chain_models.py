"""Tables of the background jobs: the chain indexer's raw events, recent block hashes,
checkpoints and derived rows (investments, artwork ownership), and the graph sync's state.

Kept apart from shared/models.py so that the HTTP functions, which never touch
these tables through the ORM, do not pay for building them at cold start.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.models import Amount, Base, _updated

HASH = String(66)
ADDRESS = String(42)


class Web3Transaction(Base):
    """One decoded contract log; (chain_id, tx_hash, log_index) identifies it on a chain."""

    __tablename__ = "web3_transactions"
    __table_args__ = (
        Index("ix_web3_transactions_chain_block", "chain_id", "block_number"),
        # A proposal's funding history, newest first (shared/fundings.py).
        Index("ix_web3_transactions_proposal", "proposal_id", "block_time", "chain_id", "block_number", "log_index"),
    )

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tx_hash: Mapped[str] = mapped_column(HASH, primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    block_hash: Mapped[str] = mapped_column(HASH, nullable=False)
    block_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    contract: Mapped[str] = mapped_column(ADDRESS, nullable=False)
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    # uint256 arguments as decimal strings: JSON numbers would lose precision.
    args: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    amount: Mapped[int | None] = mapped_column(Amount)
    # The platform proposal a funding event concerns (its on-chain id is the UUID's integer).
    proposal_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class ChainBlock(Base):
    """Hashes of recently indexed blocks: what reorg detection compares with the node."""

    __tablename__ = "chain_blocks"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[str] = mapped_column(HASH, nullable=False)
    parent_hash: Mapped[str] = mapped_column(HASH, nullable=False)


class IndexerCheckpoint(Base):
    __tablename__ = "indexer_checkpoints"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    block_hash: Mapped[str | None] = mapped_column(HASH)
    head_block: Mapped[int | None] = mapped_column(BigInteger)
    head_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The adaptive block range carries over to the next tick.
    range_size: Mapped[int | None] = mapped_column(Integer)
    reorgs: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = _updated()


class Investment(Base):
    """A backer's position in one campaign, derived from Funded and Refunded events."""

    __tablename__ = "investments"
    __table_args__ = (
        Index("ix_investments_proposal", "proposal_id"),
        Index("ix_investments_backer", "backer"),
    )

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    onchain_proposal_id: Mapped[int] = mapped_column(Amount, primary_key=True)
    backer: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    proposal_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    funded: Mapped[int] = mapped_column(Amount, nullable=False)
    refunded: Mapped[int] = mapped_column(Amount, nullable=False)
    events: Mapped[int] = mapped_column(Integer, nullable=False)
    # The backer's latest Funded transaction in this campaign.
    last_tx_hash: Mapped[str | None] = mapped_column(HASH)


class ArtworkToken(Base):
    """Current owner of each artwork token, derived from ERC-721 Transfer events."""

    __tablename__ = "artwork_tokens"
    __table_args__ = (Index("ix_artwork_tokens_owner", "owner"),)

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contract: Mapped[str] = mapped_column(ADDRESS, primary_key=True)
    token_id: Mapped[int] = mapped_column(Amount, primary_key=True)
    owner: Mapped[str] = mapped_column(ADDRESS, nullable=False)
    block_number: Mapped[int] = mapped_column(BigInteger, nullable=False)
    log_index: Mapped[int] = mapped_column(Integer, nullable=False)


class GraphSyncState(Base):
    """The graph reconcile's progress: a watermark per synced table, and the last full run."""

    __tablename__ = "graph_sync_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    watermark_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    watermark_id: Mapped[str | None] = mapped_column(String(64))
    full_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))
    updated_at: Mapped[datetime] = _updated()
