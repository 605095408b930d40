"""Auctions of listed items: create, bid (concurrency-safe), cancel, close and settle."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Literal, Self

from pydantic import AwareDatetime, ConfigDict, Field, model_validator
from sqlalchemy import func, select, text

from shared import auction_rules, audit, events, items
from shared.auth import require_owner
from shared.http.pagination import PageQuery, decode_cursor, encode_cursor
from shared.http.problems import Conflict, Forbidden, InvalidTransition, NotFound
from shared.market_models import Auction, Bid, Item
from shared.types import AmountIn, AmountOut, ApiModel, PositiveAmountIn

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shared.models import User

MAX_DURATION = timedelta(days=30)
# How far in the past a start may be (clients' clocks differ a little from ours).
START_SKEW = timedelta(minutes=5)


class AuctionIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime | None = Field(default=None, description="default: now")
    ends_at: AwareDatetime
    starting_price: PositiveAmountIn
    reserve_price: AmountIn | None = Field(default=None, description="hidden minimum for a sale")
    min_increment: PositiveAmountIn
    extension_seconds: Annotated[int, Field(ge=0, le=3600)] = Field(
        default=300, description="a bid this close to the end moves the end this far past the bid")

    @model_validator(mode="after")
    def _sensible(self) -> Self:
        starts = self.starts_at or datetime.now(UTC)
        if self.starts_at is not None and self.starts_at < datetime.now(UTC) - START_SKEW:
            raise ValueError("an auction cannot start in the past")
        if self.ends_at <= starts:
            raise ValueError("the auction must end after it starts")
        if self.ends_at - starts > MAX_DURATION:
            raise ValueError(f"an auction runs at most {MAX_DURATION.days} days")
        if self.reserve_price is not None and self.reserve_price < self.starting_price:
            raise ValueError("the reserve price cannot be below the starting price")
        return self


class AuctionOut(ApiModel):
    id: uuid.UUID
    item_id: uuid.UUID
    seller_id: uuid.UUID
    currency: str
    starting_price: AmountOut
    min_increment: AmountOut
    reserve_met: bool | None = Field(description="null when there is no reserve; the reserve itself stays hidden")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    scheduled_end: AwareDatetime
    extension_seconds: int
    status: Literal["open", "closed", "cancelled"]
    current_price: AmountOut | None
    leader_id: uuid.UUID | None
    bid_count: int
    minimum_bid: AmountOut | None
    outcome: Literal["sold", "reserve_not_met", "no_bids"] | None
    winner_id: uuid.UUID | None
    closed_at: AwareDatetime | None


class BidIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    amount: PositiveAmountIn


class BidOut(ApiModel):
    id: int
    auction_id: uuid.UUID
    bidder_id: uuid.UUID
    amount: AmountOut
    placed_at: AwareDatetime


class BidQuery(PageQuery):
    pass


class BidPage(ApiModel):
    items: list[BidOut]
    next_cursor: str | None


class BidAccepted(ApiModel):
    bid: BidOut
    auction: AuctionOut


def _state(auction: Auction) -> auction_rules.AuctionState:
    return auction_rules.AuctionState(
        seller=str(auction.seller_id), starts_at=auction.starts_at, ends_at=auction.ends_at,
        starting_price=auction.starting_price, min_increment=auction.min_increment,
        extension=timedelta(seconds=auction.extension_seconds), status=auction.status,
        current_price=auction.current_price, leader=str(auction.leader_id) if auction.leader_id else None,
        bids=auction.bid_count)


def to_out(auction: Auction) -> AuctionOut:
    reserve_met = None if auction.reserve_price is None else (
        auction.current_price is not None and auction.current_price >= auction.reserve_price)
    return AuctionOut.model_validate({
        **{name: getattr(auction, name) for name in AuctionOut.model_fields
           if name not in {"reserve_met", "minimum_bid"}},
        "reserve_met": reserve_met,
        "minimum_bid": auction_rules.minimum_bid(_state(auction)) if auction.status == "open" else None,
    })


def _bid_out(bid: Bid) -> BidOut:
    return BidOut.model_validate(bid, from_attributes=True)


def _db_now(session: Session) -> datetime:
    """The database's clock: every instance decides deadlines by the same one."""
    return session.execute(select(func.clock_timestamp())).scalar_one()


def get(session: Session, auction_id: uuid.UUID, *, for_update: bool = False) -> Auction:
    query = select(Auction).where(Auction.id == auction_id)
    if for_update:
        query = query.with_for_update()
    auction = session.scalars(query).one_or_none()
    if auction is None:
        raise NotFound("no such auction")
    return auction


class AuctionList(ApiModel):
    items: list[AuctionOut]


def of_item(session: Session, item_id: uuid.UUID, limit: int = 20) -> AuctionList:
    """An item's auctions, the newest first (at most one is open at a time)."""
    found = session.scalars(select(Auction).where(Auction.item_id == item_id)
                            .order_by(Auction.starts_at.desc(), Auction.id.desc()).limit(limit))
    return AuctionList(items=[to_out(auction) for auction in found])


def create(session: Session, seller: User, item_id: uuid.UUID, data: AuctionIn) -> Auction:
    item, _, _ = items.get(session, item_id, seller, for_update=True)
    require_owner(seller, item.owner_id)
    if item.status != "listed":
        raise InvalidTransition(f"only a listed item can be auctioned; this one is {item.status}")
    if items.open_auction(session, item.id) is not None:
        raise Conflict("this item already has an auction running")
    starts_at = data.starts_at or _db_now(session)
    auction = Auction(item_id=item.id, seller_id=seller.id, currency=item.currency,
                      starting_price=data.starting_price, reserve_price=data.reserve_price,
                      min_increment=data.min_increment, starts_at=starts_at, ends_at=data.ends_at,
                      scheduled_end=data.ends_at, extension_seconds=data.extension_seconds)
    session.add(auction)
    session.flush()
    session.refresh(auction)
    audit.record(session, seller, "auction.created", "auction", auction.id, item_id=str(item.id))
    events.emit(session, "auction.created", "auction", auction.id, _payload(auction))
    return auction


def _payload(auction: Auction) -> dict:
    return {"id": str(auction.id), "item_id": str(auction.item_id), "seller_id": str(auction.seller_id),
            "status": auction.status, "ends_at": auction.ends_at.isoformat(),
            "current_price": None if auction.current_price is None else str(auction.current_price),
            "currency": auction.currency, "leader_id": str(auction.leader_id) if auction.leader_id else None}


_REFUSALS = {"own-item": Forbidden}


def place_bid(session: Session, bidder: User, auction_id: uuid.UUID, amount: int) -> BidAccepted:
    """Decide a bid against the locked auction: one bid per auction at a time."""
    auction = get(session, auction_id, for_update=True)
    now = _db_now(session)
    try:
        state = auction_rules.place(_state(auction), str(bidder.id), amount, now)
    except auction_rules.BidRefused as refused:
        problem = _REFUSALS.get(refused.code, Conflict)
        raise problem(str(refused)) from None
    bid = Bid(auction_id=auction.id, bidder_id=bidder.id, amount=amount, placed_at=now)
    session.add(bid)
    auction.current_price, auction.leader_id = state.current_price, bidder.id
    auction.bid_count, auction.ends_at = state.bids, state.ends_at
    auction.version += 1
    session.flush()
    audit.record(session, bidder, "auction.bid", "auction", auction.id, amount=str(amount), bid_id=bid.id)
    events.emit(session, "auction.bid_placed", "auction", auction.id,
                {**_payload(auction), "bid_id": bid.id, "bidder_id": str(bidder.id), "amount": str(amount)})
    return BidAccepted(bid=_bid_out(bid), auction=to_out(auction))


def cancel(session: Session, user: User, auction_id: uuid.UUID) -> Auction:
    auction = get(session, auction_id, for_update=True)
    require_owner(user, auction.seller_id)
    if auction.status != "open":
        raise InvalidTransition(f"the auction is {auction.status}")
    if auction.bid_count:
        raise InvalidTransition("an auction with bids runs to its end")
    auction.status, auction.closed_at = "cancelled", _db_now(session)
    session.flush()
    audit.record(session, user, "auction.cancelled", "auction", auction.id)
    events.emit(session, "auction.cancelled", "auction", auction.id, _payload(auction))
    return auction


def bids_page(session: Session, auction_id: uuid.UUID, q: BidQuery) -> BidPage:
    get(session, auction_id)
    query = select(Bid).where(Bid.auction_id == auction_id)
    if q.cursor:
        (last_id,) = decode_cursor(q.cursor, "bids", [int])
        query = query.where(Bid.id < last_id)
    rows = session.scalars(query.order_by(Bid.id.desc()).limit(q.limit + 1)).all()
    page = [_bid_out(b) for b in rows[: q.limit]]
    return BidPage(items=page, next_cursor=encode_cursor("bids", [rows[q.limit - 1].id]) if len(rows) > q.limit else None)


# -- closing (the auction-close job) ---------------------------------------------------------

_DUE = text("""
    SELECT id FROM auctions WHERE status = 'open' AND ends_at <= clock_timestamp()
    ORDER BY ends_at LIMIT :batch FOR UPDATE SKIP LOCKED
""")


def close_due(*, batch: int = 50) -> list[dict]:
    """Close every auction past its end: the winner, if the reserve is met, gets the item.

    Each batch is one transaction; due auctions another run holds are skipped (SKIP
    LOCKED) and a bid that extended an auction meanwhile keeps it open (the row is
    re-checked under the lock).
    """
    from shared.db import transaction

    closed: list[dict] = []
    while True:
        with transaction() as session:
            ids = [row.id for row in session.execute(_DUE, {"batch": batch})]
            closed += [_settle(session, session.get(Auction, auction_id)) for auction_id in ids]
        if len(ids) < batch:
            return closed


def _settle(session: Session, auction: Auction) -> dict:
    outcome, winner = auction_rules.outcome(_state(auction), auction.reserve_price)
    now = _db_now(session)
    auction.status, auction.outcome, auction.closed_at = "closed", outcome, now
    auction.winner_id = uuid.UUID(winner) if winner else None
    if auction.winner_id is not None:
        _hand_over(session, session.get(Item, auction.item_id, with_for_update=True), auction.winner_id, now)
    session.flush()
    audit.record(session, None, "auction.closed", "auction", auction.id, outcome=outcome,
                 winner_id=str(auction.winner_id) if auction.winner_id else None)
    events.emit(session, "auction.closed", "auction", auction.id,
                {**_payload(auction), "outcome": outcome,
                 "winner_id": str(auction.winner_id) if auction.winner_id else None})
    return {"auction_id": str(auction.id), "outcome": outcome}


def _hand_over(session: Session, item: Item, winner_id: uuid.UUID, now: datetime) -> None:
    """A digital item (not token-linked) passes to the winner; a physical one sells a unit."""
    previous = item.status
    if item.kind == "digital":
        if item.token_id is None:
            item.holder_id = winner_id  # a token-linked item follows the token's transfer on chain
        item.status, item.sold_at = "sold", now
    else:
        item.inventory = max(0, (item.inventory or 0) - 1)
        if item.inventory == 0:
            item.status, item.sold_at = "sold", now
    session.flush()
    if item.status != previous:
        events.emit(session, "item.state_changed", "item", item.id,
                    {**items.payload(item), "previous_status": previous, "action": "sell",
                     "buyer_id": str(winner_id)})
    else:
        events.emit(session, "item.updated", "item", item.id, {**items.payload(item), "buyer_id": str(winner_id)})
