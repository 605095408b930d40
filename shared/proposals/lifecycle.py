"""What the chain decides about proposals: funded, failed, withdrawn, and back after a reorg.

A proposal in one of the chain's states (states.CHAIN_STATES) is in the state its campaign
is in on the indexed chain, computed from what the indexer stored and its clock (the time
of the newest indexed block), in the order the contract checks them:

    a confirmed Withdrawn event            -> withdrawn
    confirmed fundings (gross) >= the goal -> funded
    the chain's clock >= the deadline      -> failed (the contract's refund opens then)
    otherwise                              -> open

Only proposals with a campaign on the chain being indexed are judged by it (one chain per
proposal: the operator opens campaigns on CHAIN_ID's chain). A proposal whose campaign was
never opened (its artist linked no wallet in time) stays open until its artist closes it.

The chain-indexer function hands ``follow_chain`` to the indexer (shared/chain/store.py's
``Follow``: the chain package knows no proposals), which calls it in the transaction that
stores or rolls back blocks, so a state and the events that caused it commit together, and a rollback moves
the state back in the same transaction as it removes the events. Only ETH proposals
have campaigns; the goal and deadline are the proposal's, which are frozen once it is
open and are what the operator opened the campaign with (decision 0025).
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import text

from shared.events import outbox
from shared.proposals.states import CHAIN_STATES, chain_action

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shared.chain.store import Moved

CHAIN_CURRENCY = "ETH"
_STATES = ", ".join(f"'{state}'" for state in sorted(CHAIN_STATES))

# Candidates: the proposals the stored or removed events concern, and those the clock moved
# past (or, after a rollback, back before) their deadline (partial index ix_proposals_chain_clock).
_DERIVED = f"""
WITH candidates AS (
    SELECT id FROM proposals WHERE id = ANY(CAST(:touched AS uuid[]))
    UNION
    SELECT id FROM proposals WHERE status = 'open' AND deadline <= CAST(:clock AS timestamptz)
    UNION
    SELECT id FROM proposals WHERE status = 'failed' AND deadline > CAST(:clock AS timestamptz)
)
SELECT p.id, p.status AS previous, CASE
    WHEN EXISTS (SELECT 1 FROM web3_transactions w WHERE w.proposal_id = p.id AND w.chain_id = :chain
                 AND w.contract = :funding AND w.event = 'Withdrawn') THEN 'withdrawn'
    WHEN (SELECT coalesce(sum(i.funded), 0) FROM investments i
          WHERE i.proposal_id = p.id AND i.chain_id = :chain) >= p.goal THEN 'funded'
    -- No clock (rolled back to before every kept block): the deadline's verdict stands as it was.
    WHEN p.deadline <= CAST(:clock AS timestamptz)
         OR (CAST(:clock AS timestamptz) IS NULL AND p.status = 'failed') THEN 'failed'
    ELSE 'open' END AS status
FROM proposals p JOIN candidates c ON c.id = p.id
WHERE p.status IN ({_STATES}) AND p.currency = '{CHAIN_CURRENCY}'
  -- Only the chain that holds its campaign judges a proposal (the operator opens one, on CHAIN_ID).
  AND EXISTS (SELECT 1 FROM web3_transactions w WHERE w.proposal_id = p.id AND w.chain_id = :chain
              AND w.contract = :funding AND w.event = 'CampaignOpened')
"""
_MOVE = """
UPDATE proposals SET status = :status, version = version + 1, updated_at = now()
WHERE id = :id AND status = :previous
RETURNING id, owner_id, title, category, tags, status, goal, currency, deadline, version, raised_total
"""


def follow_chain(conn: Connection, moved: Moved) -> list[tuple[uuid.UUID, str, str]]:
    """Move every concerned proposal to the state the indexed chain gives it, each move
    with its ``proposal.state_changed`` event; returns (id, previous, status) per move."""
    funding, chain_id, block_number = moved.contracts.funding, moved.chain_id, moved.last_block
    if funding is None:
        return []
    rows = conn.execute(text(_DERIVED), {"touched": [str(p) for p in moved.proposals], "clock": moved.clock,
                                         "chain": chain_id, "funding": funding}).all()
    moves = []
    for row in rows:
        if row.status == row.previous:
            continue
        action = chain_action(row.previous, row.status)
        moved = conn.execute(text(_MOVE), {"id": row.id, "status": row.status, "previous": row.previous}).one_or_none()
        if moved is None:
            continue  # an HTTP transition got there first (it is no longer in a chain state)
        outbox.record(conn, "proposal.state_changed", "proposal", moved.id, {
            **proposal_payload(moved), "previous_status": row.previous, "action": action,
            "chain_id": chain_id, "block_number": block_number, "raised_total": str(moved.raised_total)})
        moves.append((moved.id, row.previous, row.status))
    return moves


def proposal_payload(proposal) -> dict:
    """The event view of a proposal (an ORM object or a row); amounts as decimal strings, like the API."""
    return {
        "id": str(proposal.id),
        "owner_id": str(proposal.owner_id),
        "title": proposal.title,
        "category": proposal.category,
        "tags": list(proposal.tags),
        "status": proposal.status,
        "goal": str(proposal.goal),
        "currency": proposal.currency,
        "deadline": proposal.deadline.isoformat(),
        "version": proposal.version,
    }
