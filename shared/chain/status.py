"""GET /api/chain/status: how far the indexer is on each chain.

Read from the database only: the head is the one the indexer last saw, with its
time, so that the API never waits on (or needs credentials for) a chain node.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import AwareDatetime, Field
from sqlalchemy import text

from shared.types import ApiModel

if TYPE_CHECKING:
    from sqlalchemy import Connection


class ChainStatus(ApiModel):
    chain_id: int
    checkpoint: int
    head: int | None
    lag: int | None
    head_seen_at: AwareDatetime | None
    reorgs: int
    last_error: str | None
    node_behind: bool = Field(description=(
        "the node's head is behind the checkpoint (a lagging node, or a reorg to a shorter chain): the "
        "fundings of the blocks after the head are unverified until the node passes the checkpoint again"))


class ChainStatusPage(ApiModel):
    chains: list[ChainStatus]


def chain_status(conn: Connection) -> ChainStatusPage:
    rows = conn.execute(text(
        "SELECT chain_id, block_number, head_block, head_seen_at, reorgs, last_error "
        "FROM indexer_checkpoints ORDER BY chain_id")).all()
    return ChainStatusPage(chains=[
        ChainStatus(chain_id=row.chain_id, checkpoint=row.block_number, head=row.head_block,
                    lag=None if row.head_block is None else max(0, row.head_block - row.block_number),
                    head_seen_at=row.head_seen_at, reorgs=row.reorgs, last_error=row.last_error,
                    node_behind=row.head_block is not None and row.head_block < row.block_number)
        for row in rows
    ])
