"""Funding proposals: create, edit, the lifecycle, and keyset-paginated listing."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AwareDatetime, ConfigDict, Field, field_validator
from sqlalchemy import Select, or_, select, true

from shared import audit, events, taxonomy
from shared.auth import require_owner, require_owner_or_admin, require_role
from shared.db import flush_versioned
from shared.http.caching import require_version, versioned_etag
from shared.http.keyset import SortKey, keyset_page
from shared.http.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from shared.http.problems import (
    Conflict,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from shared.models import Proposal, User
from shared.proposal_states import EDITABLE, TRANSITIONS, target_of
from shared.taxonomy import Tags
from shared.types import AmountOut, ApiModel, Currency, Description, PositiveAmountIn, Slug, Title

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

Status = Literal["draft", "open", "funded", "closed", "cancelled"]
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

    title: Title | None = None
    description: Description | None = None
    category: Slug | None = None
    tags: Tags | None = None
    goal: PositiveAmountIn | None = None
    currency: Currency | None = None
    deadline: AwareDatetime | None = None
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
    version: int
    created_at: AwareDatetime
    updated_at: AwareDatetime
    published_at: AwareDatetime | None
    cover_media_id: uuid.UUID | None


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


def etag(proposal: Proposal) -> str:
    return versioned_etag(proposal.version, str(proposal.raised_total))


def to_out(proposal: Proposal, owner_name: str | None) -> ProposalOut:
    return ProposalOut.model_validate(
        {**{c: getattr(proposal, c) for c in ProposalOut.model_fields if c != "owner_name"}, "owner_name": owner_name}
    )


def _visible(viewer: User | None):
    if viewer is not None and viewer.is_admin:
        return true()
    if viewer is None:
        return Proposal.status != "draft"
    return or_(Proposal.status != "draft", Proposal.owner_id == viewer.id)


def proposal_payload(proposal: Proposal) -> dict:
    """The event view of a proposal; amounts as decimal strings, like the API."""
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


def get(session: Session, proposal_id: uuid.UUID, viewer: User | None, *, for_update: bool = False) -> tuple[Proposal, str | None]:
    query = (
        select(Proposal, User.display_name)
        .join(User, User.id == Proposal.owner_id)
        .where(Proposal.id == proposal_id, _visible(viewer))
    )
    if for_update:
        query = query.with_for_update(of=Proposal)
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFound("no such proposal")
    return row[0], row[1]


def create(session: Session, owner: User, data: ProposalIn) -> Proposal:
    require_role(owner, "artist")
    taxonomy.require_category(session, data.category)
    proposal = Proposal(owner_id=owner.id, **data.model_dump())
    taxonomy.retag(session, [], proposal.tags)
    session.add(proposal)
    session.flush()
    session.refresh(proposal)
    audit.record(session, owner, "proposal.created", "proposal", proposal.id)
    events.emit(session, "proposal.created", "proposal", proposal.id, proposal_payload(proposal))
    return proposal


def check_if_match(proposal: Proposal, if_match: str | None) -> None:
    require_version(proposal.version, if_match)


def update(session: Session, user: User, proposal: Proposal, patch: ProposalPatch) -> Proposal:
    require_owner(user, proposal.owner_id)
    changes = patch.model_dump(exclude_unset=True)
    for field in ("title", "description", "tags", "goal", "currency", "deadline"):
        if field in changes and changes[field] is None:
            raise ValidationFailed(f"{field} cannot be cleared")
    frozen = set(changes) - EDITABLE.get(proposal.status, frozenset())
    if frozen:
        raise Conflict(f"a proposal that is {proposal.status} cannot change {', '.join(sorted(frozen))}")
    if not changes:
        return proposal
    if changes.get("cover_media_id"):
        from shared import media  # only this path needs it: keeps the function's import small

        media.attachable(session, user, changes["cover_media_id"], "cover")
    if changes.get("category"):
        taxonomy.require_category(session, changes["category"])
    if "tags" in changes:
        taxonomy.retag(session, proposal.tags, changes["tags"])
    for field, value in changes.items():
        setattr(proposal, field, value)
    flush_versioned(session, proposal, "proposal")
    audit.record(session, user, "proposal.updated", "proposal", proposal.id, fields=sorted(changes))
    events.emit(session, "proposal.updated", "proposal", proposal.id, proposal_payload(proposal))
    return proposal


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
    previous = proposal.status
    proposal.status = target
    if target == "open":
        proposal.published_at = datetime.now(UTC)
    flush_versioned(session, proposal, "proposal")
    audit.record(session, user, f"proposal.{action}", "proposal", proposal.id, previous=previous, status=target)
    events.emit(session, "proposal.state_changed", "proposal", proposal.id,
                {**proposal_payload(proposal), "previous_status": previous, "action": action})
    return proposal



_SORTS = {
    "newest": SortKey(Proposal.created_at, True, datetime.fromisoformat),
    "deadline": SortKey(Proposal.deadline, False, datetime.fromisoformat),
    "most_funded": SortKey(Proposal.raised_total, True, int),
}


def list_page(session: Session, viewer: User | None, q: ProposalQuery) -> ProposalPage:
    query: Select = (
        select(Proposal, User.display_name).join(User, User.id == Proposal.owner_id).where(_visible(viewer))
    )
    if q.status:
        query = query.where(Proposal.status == q.status)
    if q.category:
        query = query.where(Proposal.category == q.category)
    if q.tag:
        query = query.where(Proposal.tags.contains([q.tag]))
    if q.owner:
        query = query.where(Proposal.owner_id == q.owner)
    rows, next_cursor = keyset_page(session, query, q.sort, _SORTS[q.sort], Proposal.id, q.cursor, q.limit)
    return ProposalPage(items=[to_out(p, name) for p, name in rows], next_cursor=next_cursor)
