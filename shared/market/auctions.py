"""Auctions of listed items: create, bid (concurrency-safe), cancel; closing is shared/market/auction_close.py."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Literal, Self

from pydantic import AwareDatetime, ConfigDict, Field, model_validator
from sqlalchemy import func, select

from shared import audit
from shared.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from shared.events import outbox
from shared.identity.access import require_owner
from shared.market import auction_rules, items
from shared.market.tables import auctions, bids
from shared.market.tables import items as item_table
from shared.paging import PageQuery, id_keyset_page
from shared.payments import holds
from shared.payments.gateway import MAX_CARD_AMOUNT
from shared.types import AmountIn, AmountOut, ApiModel, PositiveAmountIn

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row
    from sqlalchemy.orm import Session

    from shared.identity.access import Viewer
    from shared.market.models import Auction, Bid
    from shared.models import User

# A card authorisation lasts seven days at Stripe: the leader's must still be there at the
# end, with a day to spare for the capture's retries (decision 0027).
MAX_DURATION = timedelta(days=6)
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
    outcome: Literal["sold", "reserve_not_met", "no_bids", "payment_failed"] | None
    winner_id: uuid.UUID | None
    closed_at: AwareDatetime | None


class BidIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    amount: PositiveAmountIn
    payment_method: Annotated[str, Field(pattern=r"^pm_[A-Za-z0-9_]{1,200}$")] = Field(
        description="the card to authorise the bid's amount on (a Stripe PaymentMethod id, from Stripe.js); "
                    "the authorisation is released when you are outbid and captured if you win")


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


def rules_state(auction: Auction | Row) -> auction_rules.AuctionState:
    return auction_rules.AuctionState(
        seller=str(auction.seller_id), starts_at=auction.starts_at, ends_at=auction.ends_at,
        starting_price=auction.starting_price, min_increment=auction.min_increment,
        extension=timedelta(seconds=auction.extension_seconds), status=auction.status,
        current_price=auction.current_price, leader=str(auction.leader_id) if auction.leader_id else None,
        bids=auction.bid_count)


def to_out(auction: Auction | Row) -> AuctionOut:
    reserve_met = None if auction.reserve_price is None else (
        auction.current_price is not None and auction.current_price >= auction.reserve_price)
    return AuctionOut.model_validate({
        **{name: getattr(auction, name) for name in AuctionOut.model_fields
           if name not in {"reserve_met", "minimum_bid"}},
        "reserve_met": reserve_met,
        "minimum_bid": auction_rules.minimum_bid(rules_state(auction)) if auction.status == "open" else None,
    })


def _bid_out(bid: Bid | Row) -> BidOut:
    return BidOut.model_validate(bid, from_attributes=True)


def db_now(db: Connection | Session) -> datetime:
    """The database's clock: every instance decides deadlines by the same one."""
    return db.execute(select(func.clock_timestamp())).scalar_one()


def read(db: Connection | Session, auction_id: uuid.UUID) -> Row:
    auction = db.execute(select(auctions).where(auctions.c.id == auction_id)).one_or_none()
    if auction is None:
        raise NotFound("no such auction")
    return auction


def read_visible(conn: Connection, auction_id: uuid.UUID, viewer: Viewer | None) -> Row:
    """An auction whose item the viewer may see (a hidden item's auction is out of sight with it)."""
    auction = read(conn, auction_id)
    try:
        items.read(conn, auction.item_id, viewer)
    except NotFound:
        raise NotFound("no such auction") from None
    return auction


def refuse_hidden(db: Connection | Session, item_id: uuid.UUID) -> None:
    """An item an administrator hid takes no new auction and no bid (one running still closes)."""
    if db.execute(select(item_table.c.hidden).where(item_table.c.id == item_id)).scalar_one_or_none():
        raise Conflict("an administrator took this item out of public sight: it takes no auction or bid")


def get(session: Session, auction_id: uuid.UUID, *, for_update: bool = False) -> Auction:
    """An auction as an ORM object to change."""
    from shared.market.models import Auction

    query = select(Auction).where(Auction.id == auction_id)
    if for_update:
        query = query.with_for_update()
    auction = session.scalars(query).one_or_none()
    if auction is None:
        raise NotFound("no such auction")
    return auction


class AuctionList(ApiModel):
    items: list[AuctionOut]


def of_item(conn: Connection, item_id: uuid.UUID, limit: int = 20) -> AuctionList:
    """An item's auctions, the newest first (at most one is open at a time)."""
    found = conn.execute(select(auctions).where(auctions.c.item_id == item_id)
                         .order_by(auctions.c.starts_at.desc(), auctions.c.id.desc()).limit(limit))
    return AuctionList(items=[to_out(auction) for auction in found])


def create(session: Session, seller: User, item_id: uuid.UUID, data: AuctionIn) -> Auction:
    from shared.market.models import Auction

    item, _, _ = items.get(session, item_id, seller, for_update=True)
    require_owner(seller, item.owner_id)
    if item.status != "listed":
        raise InvalidTransition(f"only a listed item can be auctioned; this one is {item.status}")
    if items.open_auction(session, item.id) is not None:
        raise Conflict("this item already has an auction running")
    refuse_hidden(session, item.id)
    require_card_currency(item.currency)
    for price in (data.starting_price, data.reserve_price):
        require_card_amount(price)
    starts_at = data.starts_at or db_now(session)
    auction = Auction(item_id=item.id, seller_id=seller.id, currency=item.currency,
                      starting_price=data.starting_price, reserve_price=data.reserve_price,
                      min_increment=data.min_increment, starts_at=starts_at, ends_at=data.ends_at,
                      scheduled_end=data.ends_at, extension_seconds=data.extension_seconds)
    session.add(auction)
    session.flush()
    session.refresh(auction)
    audit.record(session, seller, "auction.created", "auction", auction.id, item_id=str(item.id))
    outbox.emit(session, "auction.created", "auction", auction.id, payload(auction))
    return auction


def payload(auction: Auction) -> dict:
    return {"id": str(auction.id), "item_id": str(auction.item_id), "seller_id": str(auction.seller_id),
            "status": auction.status, "ends_at": auction.ends_at.isoformat(),
            "current_price": None if auction.current_price is None else str(auction.current_price),
            "currency": auction.currency, "leader_id": str(auction.leader_id) if auction.leader_id else None}


def require_card_currency(currency: str) -> None:
    """Only card currencies are auctioned and bought here: an item priced in ETH is sold through
    the market contract, which escrows its bids (decision 0028: POST /api/items/{id}/sales)."""
    if currency == "ETH":
        raise Conflict("an item priced in ETH is sold and auctioned on chain, from a wallet: "
                       "see the item's sales for ETH")


def require_card_amount(amount: int | None) -> None:
    if amount is not None and amount > MAX_CARD_AMOUNT:
        raise ValidationFailed(f"a card payment is at most {MAX_CARD_AMOUNT} minor units")


_REFUSALS = {"own-item": Forbidden}


def check_bid(auction: Auction | Row, bidder_id: uuid.UUID, amount: int, now: datetime) -> auction_rules.AuctionState:
    """The auction after the bid, or the problem that refuses it."""
    require_card_currency(auction.currency)
    require_card_amount(amount)
    try:
        return auction_rules.place(rules_state(auction), str(bidder_id), amount, now)
    except auction_rules.BidRefused as refused:
        problem = _REFUSALS.get(refused.code, Conflict)
        raise problem(str(refused)) from None


def place_bid(session: Session, bidder: User, auction_id: uuid.UUID, amount: int,
              hold_id: uuid.UUID | None) -> tuple[BidAccepted, uuid.UUID | None]:
    """Decide a bid backed by ``hold_id`` against the locked auction, one bid per auction at a
    time; the accepted bid and the hold of the bid it outbids (no longer backing anything)."""
    from shared.market.models import Bid

    auction = get(session, auction_id, for_update=True)
    refuse_hidden(session, auction.item_id)
    now = db_now(session)
    state = check_bid(auction, bidder.id, amount, now)
    if hold_id is not None and not holds.still_authorised(session.connection(), hold_id):
        raise Conflict("the card's authorisation lapsed before the bid was decided; nothing was charged")
    outbid, previous_leader = leading_hold(session, auction), auction.leader_id
    bid = Bid(auction_id=auction.id, bidder_id=bidder.id, amount=amount, placed_at=now, hold_id=hold_id)
    session.add(bid)
    auction.current_price, auction.leader_id = state.current_price, bidder.id
    auction.bid_count, auction.ends_at = state.bids, state.ends_at
    auction.version += 1
    session.flush()
    audit.record(session, bidder, "auction.bid", "auction", auction.id, amount=str(amount), bid_id=bid.id)
    outbox.emit(session, "auction.bid_placed", "auction", auction.id,
                {**payload(auction), "bid_id": bid.id, "bidder_id": str(bidder.id), "amount": str(amount),
                 "previous_leader_id": str(previous_leader) if previous_leader else None})
    return BidAccepted(bid=_bid_out(bid), auction=to_out(auction)), outbid


def leading_hold(db: Connection | Session, auction: Auction | Row) -> uuid.UUID | None:
    """The hold behind the auction's leading bid (each price level is bid once)."""
    if auction.current_price is None:
        return None
    return db.execute(select(bids.c.hold_id).where(bids.c.auction_id == auction.id,
                                                   bids.c.amount == auction.current_price)).scalar_one_or_none()


def cancel(session: Session, user: User, auction_id: uuid.UUID) -> Auction:
    auction = get(session, auction_id, for_update=True)
    require_owner(user, auction.seller_id)
    if auction.status != "open":
        raise InvalidTransition(f"the auction is {auction.status}")
    if auction.bid_count:
        raise InvalidTransition("an auction with bids runs to its end")
    auction.status, auction.closed_at = "cancelled", db_now(session)
    session.flush()
    audit.record(session, user, "auction.cancelled", "auction", auction.id)
    outbox.emit(session, "auction.cancelled", "auction", auction.id, payload(auction))
    return auction


def bids_page(conn: Connection, auction_id: uuid.UUID, q: BidQuery, viewer: Viewer | None) -> BidPage:
    read_visible(conn, auction_id, viewer)
    rows, next_cursor = id_keyset_page(conn, select(bids).where(bids.c.auction_id == auction_id), "bids", bids.c.id,
                                       q.cursor, q.limit)
    return BidPage(items=[_bid_out(b) for b in rows], next_cursor=next_cursor)
