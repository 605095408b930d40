"""The caller's own side of proposals: what their linked wallet backed (its positions, with
what it may take back) and the proposals they made, drafts too. Only ever the caller's:
the wallet is the one linked to the caller's profile now, read with the positions."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import AwareDatetime, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from shared.chain.tables import investments
from shared.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageQuery, SortKey, keyset_page
from shared.proposals.proposals import ProposalPage, ProposalQuery, Sort, Status, list_page, visible_to
from shared.tables import proposals, users
from shared.types import AmountOut, ApiModel

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shared.identity.access import Viewer

FUNDINGS_CURSOR = "my-fundings"


class MyFundingsQuery(PageQuery):
    pass


class PositionOut(ApiModel):
    proposal_id: uuid.UUID
    title: str
    status: Status
    currency: str
    goal: AmountOut
    raised_total: AmountOut
    deadline: AwareDatetime
    funded: AmountOut = Field(description="wei the caller's wallet gave this proposal")
    refunded: AmountOut = Field(description="wei it took back")
    refundable: AmountOut = Field(description="wei it may take back now: what it gave and has not taken back, "
                                              "once the proposal has failed (GET /api/proposals/{id}/refund)")
    last_tx_hash: str | None = Field(description="the wallet's latest funding transaction")


class PositionPage(ApiModel):
    items: list[PositionOut]
    next_cursor: str | None


class MyProposalsQuery(ApiModel):
    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    sort: Sort = "newest"
    cursor: Annotated[str, Field(max_length=512)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE


def _positions(viewer: Viewer):
    """The caller's wallet's positions, one per proposal (summed over chains, should it have several)."""
    latest = aggregate_order_by(investments.c.last_tx_hash, investments.c.chain_id.desc())
    return (select(investments.c.proposal_id, func.sum(investments.c.funded).label("funded"),
                   func.sum(investments.c.refunded).label("refunded"),
                   func.array_agg(latest)[1].label("last_tx_hash"))
            .join(users, users.c.wallet_address == investments.c.backer)  # ix_investments_backer
            .where(users.c.id == viewer.id, users.c.deleted_at.is_(None), investments.c.proposal_id.is_not(None))
            .group_by(investments.c.proposal_id)
            .subquery("positions"))


def fundings(conn: Connection, viewer: Viewer, query: MyFundingsQuery) -> PositionPage:
    """What the caller's linked wallet backed, newest proposals first (none without a wallet)."""
    positions = _positions(viewer)
    columns = proposals.c
    rows_query = (select(columns.id, columns.title, columns.status, columns.currency, columns.goal,
                         columns.raised_total, columns.deadline, columns.created_at, positions.c.funded,
                         positions.c.refunded, positions.c.last_tx_hash)
                  .join(positions, positions.c.proposal_id == columns.id)
                  .where(visible_to(viewer, hidden_too=True)))
    rows, next_cursor = keyset_page(conn, rows_query, FUNDINGS_CURSOR,
                                    SortKey(columns.created_at, True, datetime.fromisoformat), columns.id,
                                    query.cursor, query.limit)
    return PositionPage(items=[_position(row) for row in rows], next_cursor=next_cursor)


def _position(row) -> PositionOut:
    funded, refunded = int(row.funded), int(row.refunded)
    return PositionOut(proposal_id=row.id, title=row.title, status=row.status, currency=row.currency, goal=row.goal,
                       raised_total=row.raised_total, deadline=row.deadline, funded=funded, refunded=refunded,
                       refundable=max(funded - refunded, 0) if row.status == "failed" else 0,
                       last_tx_hash=row.last_tx_hash)


def own_proposals(conn: Connection, viewer: Viewer, query: MyProposalsQuery) -> ProposalPage:
    """The caller's proposals in every status, drafts too, each with its total and backers."""
    return list_page(conn, viewer, ProposalQuery(owner=viewer.id, **query.model_dump()))
