"""Funding proposals: create, edit, the lifecycle, and keyset-paginated listing."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AwareDatetime, ConfigDict, Field, field_validator
from sqlalchemy import Select, and_, func, or_, select, text, true

from shared import audit
from shared.chain.tables import investments
from shared.errors import (
    InvalidTransition,
    NotFound,
)
from shared.events import outbox
from shared.identity.access import require_owner, require_owner_or_admin, require_role
from shared.market import taxonomy
from shared.market.taxonomy import Tags
from shared.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, SortKey, keyset_page
from shared.proposals.lifecycle import proposal_payload
from shared.proposals.states import EDITABLE, TRANSITIONS, target_of
from shared.tables import proposals as proposal_table
from shared.tables import readable_columns, users
from shared.types import AmountOut, ApiModel, Currency, Description, HiddenBy, PositiveAmountIn, Slug, Title, left_out
from shared.versioning import change_state, check_editable, require_version, save_changes, versioned_etag

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row
    from sqlalchemy.orm import Session

    from shared.identity.access import Viewer
    from shared.models import Proposal, User

Status = Literal["draft", "open", "funded", "failed", "withdrawn", "closed", "cancelled"]
Sort = Literal["newest", "deadline", "most_funded"]


def _future(value: datetime) -> datetime:
    if value <= datetime.now(UTC):
        raise ValueError("the deadline must be in the future")
    return value


class ProposalIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: Description = ""
    category: Slug | None = None
    tags: Tags = []
    goal: PositiveAmountIn
    currency: Currency
    deadline: AwareDatetime

    _check_deadline = field_validator("deadline")(_future)


class ProposalPatch(ApiModel):
    """Fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    title: Title = left_out()
    description: Description = left_out()
    category: Slug | None = None
    tags: Tags = left_out()
    goal: PositiveAmountIn = left_out()
    currency: Currency = left_out()
    deadline: AwareDatetime = left_out()
    cover_media_id: uuid.UUID | None = Field(default=None, description="a processed cover upload of yours; null removes it")

    _check_deadline = field_validator("deadline")(lambda v: v if v is None else _future(v))


class ProposalOut(ApiModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    owner_name: str | None
    title: str
    description: str
    category: str | None
    tags: list[str]
    goal: AmountOut
    currency: str
    deadline: AwareDatetime
    status: Status
    raised_total: AmountOut
    backers: int = Field(description="how many wallets have funded it on chain (refunded ones too)")
    version: int
    created_at: AwareDatetime
    updated_at: AwareDatetime
    published_at: AwareDatetime | None
    cover_media_id: uuid.UUID | None
    hidden: HiddenBy | None = Field(default=None, description="why it is out of public sight: an administrator "
                                    "hid it, or its author is suspended (only the author and admins see it then)")


class ProposalQuery(ApiModel):
    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    category: Slug | None = None
    tag: Slug | None = None
    owner: uuid.UUID | None = None
    sort: Sort = "newest"
    cursor: Annotated[str, Field(max_length=512)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE


class ProposalPage(ApiModel):
    items: list[ProposalOut]
    next_cursor: str | None


def etag(proposal: Proposal | Row, backers: int) -> str:
    return versioned_etag(proposal.version, f"{proposal.raised_total}.{backers}")


def to_out(proposal: Proposal | Row, owner_name: str | None, backers: int) -> ProposalOut:
    fields = {c: getattr(proposal, c) for c in ProposalOut.model_fields if c not in {"owner_name", "backers"}}
    return ProposalOut.model_validate({**fields, "owner_name": owner_name, "backers": backers})


def row_out(row: Row) -> ProposalOut:
    return to_out(row, row.owner_name, row.backers)


def backers_of(proposal_id):
    """How many distinct wallets funded the proposal (ix_investments_proposal): a correlated
    subquery when ``proposal_id`` is the proposals' column, a scalar query for one id."""
    return (select(func.count(investments.c.backer.distinct()))
            .where(investments.c.proposal_id == proposal_id, investments.c.funded > 0)
            .scalar_subquery())


def backer_count(db: Connection | Session, proposal_id: uuid.UUID) -> int:
    return db.execute(select(backers_of(proposal_id))).scalar_one()


def visible_to(viewer: Viewer | None, *, hidden_too: bool = False):
    """Who sees which proposals: everyone all but drafts and hidden ones (decision 0031), owners
    their own too, admins all. ``hidden_too``: hidden ones as well (a backer's own position and
    refund: their money is in it, whatever an administrator decided about its page)."""
    public = proposal_table.c.status != "draft"
    if not hidden_too:
        public = and_(public, proposal_table.c.hidden.is_(None))
    if viewer is not None and viewer.is_admin:
        return true()
    if viewer is None:
        return public
    return or_(public, proposal_table.c.owner_id == viewer.id)


def _rows_query() -> Select:
    """Proposal rows with their owner's name and backer count."""
    return (select(*readable_columns(proposal_table), users.c.display_name.label("owner_name"),
                   backers_of(proposal_table.c.id).label("backers"))
            .join(users, users.c.id == proposal_table.c.owner_id))


def read(db: Connection | Session, proposal_id: uuid.UUID, viewer: Viewer | None, *, hidden_too: bool = False) -> Row:
    """One proposal the viewer may see, as a row of _rows_query()."""
    row = db.execute(_rows_query().where(proposal_table.c.id == proposal_id,
                                         visible_to(viewer, hidden_too=hidden_too))).one_or_none()
    if row is None:
        raise NotFound("no such proposal")
    return row


def get(session: Session, proposal_id: uuid.UUID, viewer: Viewer | None, *,
        for_update: bool = False) -> tuple[Proposal, str | None]:
    """One proposal as an ORM object to change, with its owner's name."""
    from shared.models import Proposal

    query = (
        select(Proposal, users.c.display_name)
        .join(users, users.c.id == Proposal.owner_id)
        .where(Proposal.id == proposal_id, visible_to(viewer))
    )
    if for_update:
        query = query.with_for_update(of=Proposal)
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFound("no such proposal")
    return row[0], row[1]


def create(session: Session, owner: User, data: ProposalIn) -> Proposal:
    from shared.models import Proposal

    require_role(owner, "artist")
    taxonomy.require_category(session, data.category)
    proposal = Proposal(owner_id=owner.id, **data.model_dump())
    taxonomy.retag(session, [], proposal.tags)
    session.add(proposal)
    session.flush()
    session.refresh(proposal)
    audit.record(session, owner, "proposal.created", "proposal", proposal.id)
    outbox.emit(session, "proposal.created", "proposal", proposal.id, proposal_payload(proposal))
    return proposal


def check_if_match(proposal: Proposal, if_match: str | None) -> None:
    require_version(proposal.version, if_match)


def update(session: Session, user: User, proposal: Proposal, patch: ProposalPatch) -> Proposal:
    require_owner(user, proposal.owner_id)
    changes = patch.model_dump(exclude_unset=True)
    check_editable("proposal", proposal.status, changes, EDITABLE)
    if not changes:
        return proposal
    if changes.get("cover_media_id"):
        from shared.media import media  # only this path needs it: keeps the function's import small

        media.attachable(session, user, changes["cover_media_id"], "cover")
    if changes.get("category"):
        taxonomy.require_category(session, changes["category"])
    if "tags" in changes:
        taxonomy.retag(session, proposal.tags, changes["tags"])
    save_changes(session, user, proposal, "proposal", changes, proposal_payload, changed=list(changes))
    return proposal


_CHAIN_LOCKED = ("cancel", "close")


def _campaign_on_chain(session: Session, proposal_id: uuid.UUID) -> bool:
    """Its campaign is indexed, or the operator has sent (and not seen revert) the transaction
    that opens it: mined but not yet confirmed, it may already hold money. The operator locks
    the proposal's row to record a send, so this check and a send never cross."""
    return session.execute(text(
        "SELECT EXISTS (SELECT 1 FROM web3_transactions WHERE proposal_id = :id AND event = 'CampaignOpened') "
        "OR EXISTS (SELECT 1 FROM campaign_sends s WHERE s.proposal_id = :id AND s.purpose = 'open' "
        "AND s.reverted_at IS NULL AND NOT EXISTS (SELECT 1 FROM campaign_sends f WHERE f.chain_id = s.chain_id "
        "AND f.sender = s.sender AND f.nonce = s.nonce AND f.purpose = 'filler'))"), {"id": proposal_id}).scalar_one()


def transition(session: Session, user: User, proposal: Proposal, action: str) -> Proposal:
    spec = TRANSITIONS[action]
    if spec.actor == "owner":
        require_owner(user, proposal.owner_id)
    else:
        require_owner_or_admin(user, proposal.owner_id)
    target = target_of(action, proposal.status)
    if target is None:
        raise InvalidTransition(f"cannot {action} a proposal that is {proposal.status}")
    if action == "publish" and proposal.deadline <= datetime.now(UTC):
        raise InvalidTransition("the deadline has passed: move it before publishing")
    if action in _CHAIN_LOCKED and _campaign_on_chain(session, proposal.id):
        # The contract knows no "closed": backers' money would stay on chain with the API
        # refusing to say how to take it out. From here the chain decides (decision 0025).
        raise InvalidTransition(f"its campaign is open on chain, so the chain decides its state now: it cannot be "
                                f"{TRANSITIONS[action].target} (it becomes funded or failed, and the money is "
                                f"withdrawn or refunded)")
    change_state(session, user, proposal, "proposal", action, target, proposal_payload,
                 also={"published_at": datetime.now(UTC)} if target == "open" else None)
    return proposal



_SORTS = {
    "newest": SortKey(proposal_table.c.created_at, True, datetime.fromisoformat),
    "deadline": SortKey(proposal_table.c.deadline, False, datetime.fromisoformat),
    "most_funded": SortKey(proposal_table.c.raised_total, True, int),
}


def list_page(conn: Connection, viewer: Viewer | None, q: ProposalQuery) -> ProposalPage:
    query = _rows_query().where(visible_to(viewer))
    columns = proposal_table.c
    if q.status:
        query = query.where(columns.status == q.status)
    if q.category:
        query = query.where(columns.category == q.category)
    if q.tag:
        query = query.where(columns.tags.contains([q.tag]))
    if q.owner:
        query = query.where(columns.owner_id == q.owner)
    rows, next_cursor = keyset_page(conn, query, q.sort, _SORTS[q.sort], columns.id, q.cursor, q.limit)
    return ProposalPage(items=[row_out(row) for row in rows], next_cursor=next_cursor)
