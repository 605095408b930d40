"""Settling a campaign on chain: what a wallet must send to take the money out of
ProposalFunding (contracts/ProposalFunding.sol). The API signs nothing and sends nothing:
it answers with the transaction (contract, call data, value) for the artist's or the
backer's own wallet to sign.

    withdraw(proposalId)  the artist, once the proposal is ``funded``: pays what was raised
    refund(proposalId)    each backer, once the proposal is ``failed``: pays back what they gave

Both come from what the indexer stored: the campaign is the proposal's CampaignOpened event
(its chain, contract and artist; the latest if a proposal has several), the amounts are the
``investments`` on that chain. The on-chain proposal id is the proposal's UUID as an integer.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import Field
from sqlalchemy import text

from shared.chain.abi import checksum, encode_call
from shared.errors import InvalidTransition
from shared.identity.access import require_owner
from shared.proposals import proposals
from shared.types import AmountOut, ApiModel

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shared.identity.access import Viewer

WITHDRAW = "withdraw(uint256)"
REFUND = "refund(uint256)"

# The index ix_web3_transactions_proposal orders a proposal's events by time.
_CAMPAIGN_SQL = """
SELECT chain_id, contract, args->>'artist' AS artist
  FROM web3_transactions
 WHERE proposal_id = :proposal_id AND event = 'CampaignOpened'
 ORDER BY block_time DESC, chain_id DESC, block_number DESC, log_index DESC
 LIMIT 1
"""
_RAISED_SQL = """
SELECT coalesce(sum(funded), 0) FROM investments WHERE proposal_id = :proposal_id AND chain_id = :chain_id
"""
# The caller's wallet as it is now (the viewer's row may be remembered for a few seconds).
_POSITION_SQL = """
SELECT u.wallet_address AS backer, i.funded, i.refunded
  FROM users u
  LEFT JOIN investments i ON i.chain_id = :chain_id AND i.onchain_proposal_id = CAST(:onchain_id AS numeric)
                         AND i.backer = u.wallet_address
 WHERE u.id = :user_id
"""


class SettlementCall(ApiModel):
    """A contract call for the caller's wallet to sign and send (eth_sendTransaction's fields)."""

    chain_id: int = Field(description="the chain to send it on")
    to: str = Field(description="the funding contract (EIP-55)")
    data: str = Field(description="0x-hex call data", pattern="^0x[0-9a-f]*$")
    value: AmountOut = Field(description="wei to send with it: none")
    amount: AmountOut = Field(description="wei the contract will pay the sender, as indexed")


class WithdrawalOut(SettlementCall):
    artist: str = Field(description="the wallet the campaign pays, the only one that may send this (EIP-55)")


class RefundOut(SettlementCall):
    backer: str = Field(description="the caller's linked wallet, the one that must send this (EIP-55)")


@dataclass(frozen=True)
class Campaign:
    chain_id: int
    contract: str
    artist: str


def campaign(conn: Connection, proposal_id: uuid.UUID) -> Campaign:
    row = conn.execute(text(_CAMPAIGN_SQL), {"proposal_id": proposal_id}).one_or_none()
    if row is None:
        raise InvalidTransition("this proposal has no campaign on chain")
    return Campaign(row.chain_id, checksum(row.contract), checksum(row.artist))


def withdrawal(conn: Connection, proposal_id: uuid.UUID, viewer: Viewer) -> WithdrawalOut:
    """The artist's withdrawal of a ``funded`` proposal (the owner's only)."""
    proposal = proposals.read(conn, proposal_id, viewer)
    require_owner(viewer, proposal.owner_id)
    if proposal.status != "funded":
        raise InvalidTransition(f"only a funded proposal can be withdrawn; this one is {proposal.status}")
    found = campaign(conn, proposal.id)
    raised = conn.execute(text(_RAISED_SQL), {"proposal_id": proposal.id, "chain_id": found.chain_id}).scalar_one()
    return WithdrawalOut(chain_id=found.chain_id, to=found.contract, data=encode_call(WITHDRAW, proposal.id.int), value=0,
                         amount=int(raised), artist=found.artist)


def refund(conn: Connection, proposal_id: uuid.UUID, viewer: Viewer) -> RefundOut:
    """The caller's refund from a ``failed`` proposal, for their linked wallet (hidden or not)."""
    proposal = proposals.read(conn, proposal_id, viewer, hidden_too=True)
    if proposal.status != "failed":
        raise InvalidTransition(f"refunds open when a proposal has failed; this one is {proposal.status}")
    found = campaign(conn, proposal.id)
    position = conn.execute(text(_POSITION_SQL), {"chain_id": found.chain_id, "onchain_id": str(proposal.id.int),
                                                  "user_id": viewer.id}).one()
    if position.backer is None:
        raise InvalidTransition("link the wallet you funded with first")
    refundable = int(position.funded or 0) - int(position.refunded or 0)
    if refundable <= 0:
        raise InvalidTransition(f"nothing of {position.backer} is left to refund in this proposal")
    return RefundOut(chain_id=found.chain_id, to=found.contract, data=encode_call(REFUND, proposal.id.int), value=0,
                     amount=refundable, backer=position.backer)
