"""A proposal's on-chain funding history: the Funded and Refunded events the indexer
stored, newest first, with the platform user behind each backer's wallet where one is
linked. Keyset-paged on (block time, chain, block, log index): the chains' own order,
across chains by time."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime, Field
from sqlalchemy import text

from shared.paging import PageQuery, decode_cursor, encode_cursor
from shared.types import AmountOut, ApiModel

if TYPE_CHECKING:
    from sqlalchemy import Connection

CURSOR_KIND = "fundings"
# Checksummed addresses on both sides (the indexer and wallet linking both write EIP-55).
_HISTORY_SQL = """
SELECT t.event, t.args->>'backer' AS backer, t.amount, t.tx_hash, t.block_number, t.log_index, t.block_time,
       t.chain_id, u.id AS user_id, u.display_name
  FROM web3_transactions t
  LEFT JOIN users u ON u.wallet_address = t.args->>'backer' AND u.deleted_at IS NULL AND u.suspended_at IS NULL
 WHERE t.proposal_id = :proposal_id AND t.event IN ('Funded', 'Refunded')
   {after}
 ORDER BY t.block_time DESC, t.chain_id DESC, t.block_number DESC, t.log_index DESC
 LIMIT :limit
"""


class FundingQuery(PageQuery):
    pass


class FundingOut(ApiModel):
    kind: Literal["funded", "refunded"]
    backer: str = Field(description="the backer's wallet address (EIP-55)")
    backer_user_id: uuid.UUID | None = Field(description="the platform user who linked that wallet, if any")
    backer_name: str | None
    amount: AmountOut = Field(description="wei")
    chain_id: int
    tx_hash: str
    block_number: int
    block_time: AwareDatetime


class FundingPage(ApiModel):
    items: list[FundingOut]
    next_cursor: str | None


def history(conn: Connection, proposal_id: uuid.UUID, query: FundingQuery) -> FundingPage:
    params: dict[str, object] = {"proposal_id": proposal_id, "limit": query.limit + 1}
    after = ""
    if query.cursor:
        keys = decode_cursor(query.cursor, CURSOR_KIND, [_aware, int, int, int])
        params.update(zip(("after_time", "after_chain", "after_block", "after_log"), keys, strict=True))
        after = ("AND (t.block_time, t.chain_id, t.block_number, t.log_index)"
                 " < (:after_time, :after_chain, :after_block, :after_log)")
    rows = conn.execute(text(_HISTORY_SQL.format(after=after)), params).all()
    page = [_out(row) for row in rows[:query.limit]]
    more = len(rows) > query.limit
    last = rows[query.limit - 1] if more else None
    cursor = encode_cursor(CURSOR_KIND, [last.block_time.isoformat(), last.chain_id, last.block_number, last.log_index]) \
        if last else None
    return FundingPage(items=page, next_cursor=cursor)


def _aware(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("not an aware time")
    return moment


def _out(row) -> FundingOut:
    return FundingOut(kind="funded" if row.event == "Funded" else "refunded", backer=row.backer,
                      backer_user_id=row.user_id, backer_name=row.display_name, amount=int(row.amount),
                      chain_id=row.chain_id, tx_hash=row.tx_hash, block_number=row.block_number,
                      block_time=row.block_time)
