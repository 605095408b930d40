"""Orders: what a buyer bought (buy-now, or a won auction), paid by a captured card
authorisation, fulfilled by shipping or by downloads, refunded by the seller (decision 0027).

    pending --(captured)--> paid --(seller ships)--> shipped --(buyer confirms)--> fulfilled
       '--(capture refused)--> cancelled      paid|shipped|fulfilled --(seller refunds)--> refunding --> refunded
    a digital item's order is fulfilled by its first download (at most MAX_DOWNLOADS).

Stock is taken when the order is made, in the same transaction (a guarded UPDATE: two
buyers of the last unit cannot both have it), and given back if the payment fails. The
money is taken after that transaction commits (``collect``): a crash between the two
leaves a ``pending`` order whose hold is ``capturing``, which the auction-close job's next
tick collects. Only the buyer and the seller ever see an order.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AwareDatetime, ConfigDict, Field, StringConstraints
from sqlalchemy import or_, select, text

from shared import audit
from shared.chain.ids import platform_uuid
from shared.db import work
from shared.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from shared.events import outbox
from shared.market import items
from shared.market.order_events import payload
from shared.market.tables import orders
from shared.paging import PageQuery, decode_cursor, encode_cursor
from shared.payments import holds, ledger
from shared.types import LINE_PATTERN, AmountOut, ApiModel

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

    from shared.identity.access import Viewer
    from shared.market.models import Item, Order
    from shared.models import User
    from shared.payments.gateway import Gateway

MAX_QUANTITY = 100
# A digital item's file, through one order: enough for a few devices, not a mirror.
MAX_DOWNLOADS = 5
_Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120,
                                         pattern=r"^[^\x00-\x1f\x7f]+$")]


class Shipping(ApiModel):
    model_config = ConfigDict(extra="forbid")

    name: _Line
    line1: _Line
    line2: _Line | None = None
    city: _Line
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9 -]{2,12}$")]
    country: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")]


class OrderIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    item_id: uuid.UUID
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)] = 1
    payment_method: Annotated[str, Field(pattern=r"^pm_[A-Za-z0-9_]{1,200}$")] = Field(
        description="the card to pay with (a Stripe PaymentMethod id, from Stripe.js)")
    shipping: Shipping | None = Field(default=None, description="required for a physical item, in its regions")


class ShipIn(ApiModel):
    model_config = ConfigDict(extra="forbid")

    carrier: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                              pattern=LINE_PATTERN)]
    tracking: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9-]{1,128}$")] | None = None


class OrderOut(ApiModel):
    id: uuid.UUID
    item_id: uuid.UUID
    item_title: str = Field(description="the item's title now (the order outlives its listing)")
    item_kind: Literal["physical", "digital"]
    buyer_id: uuid.UUID
    seller_id: uuid.UUID
    auction_id: uuid.UUID | None
    sale_id: uuid.UUID | None = Field(description="paid on chain: the market contract's sale (GET "
                                                    "/api/items/{id}/sales; decision 0028); null: paid by card")
    quantity: int
    amount: AmountOut
    fee: AmountOut
    currency: str
    status: Literal["pending", "paid", "shipped", "fulfilled", "refunding", "refunded", "cancelled"]
    shipping: Shipping | None
    carrier: str | None
    tracking: str | None
    downloads_left: int | None = Field(description="a digital item's downloads still allowed through this order")
    created_at: AwareDatetime
    paid_at: AwareDatetime | None
    shipped_at: AwareDatetime | None
    fulfilled_at: AwareDatetime | None
    refunded_at: AwareDatetime | None


class OrderQuery(PageQuery):
    role: Literal["buyer", "seller"] = Field(default="buyer", description="orders you bought, or sold")


class OrderPage(ApiModel):
    items: list[OrderOut]
    next_cursor: str | None


class Balance(ApiModel):
    currency: str
    amount: AmountOut = Field(description="what your sales earned, less the platform's fee and refunds")


class Balances(ApiModel):
    items: list[Balance]


def to_out(row: Any) -> OrderOut:
    """An order row joined with its item's title and kind (``_columns``)."""
    return OrderOut.model_validate({
        **{name: getattr(row, name) for name in OrderOut.model_fields if name not in ("downloads_left", "sale_id")},
        "sale_id": None if row.sale_id is None else platform_uuid(int(row.sale_id)),  # stored as the uint256
        "downloads_left": MAX_DOWNLOADS - row.downloads if row.item_kind == "digital" else None})


# -- making orders -------------------------------------------------------------------------

def buy(buyer: Viewer, data: OrderIn, gateway: Gateway, fee_bps: int, request_key: str | None = None) -> uuid.UUID:
    """Buy now: the amount authorised, then the stock taken and the order made in one
    transaction, then the money taken; the order's id. Each step in a unit of work of its
    own, none held while the provider is called (bidding.py says why).

    ``request_key`` (the buyer's Idempotency-Key): a purchase sent again with it is answered
    as it was the first time (its order, or its refusal) and nothing is authorised twice."""
    from shared.payments import cards

    if request_key is not None:
        with work() as unit:
            replayed = _replayed(unit.connection, buyer.id, request_key, data)
        if replayed is not None:
            return replayed
    with work() as unit:
        item, _, _ = items.get(unit.session, data.item_id, buyer)
        amount = _check_purchase(item, buyer, data, items.open_auction(unit.session, item.id))
        currency = item.currency
    hold_id = cards.authorise(gateway, purpose="purchase", user_id=buyer.id, amount=amount, currency=currency,
                              payment_method=data.payment_method, request_key=request_key)
    try:
        with work() as unit:
            locked, _, _ = items.get(unit.session, data.item_id, buyer, for_update=True)
            if _check_purchase(locked, buyer, data, items.open_auction(unit.session, locked.id)) != amount:
                raise Conflict("the price changed while you paid; nothing was charged")
            if not take_stock(unit.session, locked, data.quantity, buyer.id):
                raise Conflict("sold out while you paid; nothing was charged")
            shipping = data.shipping.model_dump(exclude_none=True) if data.shipping else None
            order = open_order(unit.session, item=locked, buyer_id=buyer.id, quantity=data.quantity, amount=amount,
                               fee_bps=fee_bps, hold_id=hold_id, shipping=shipping)
            audit.record(unit.session, buyer, "order.created", "order", order.id, item_id=str(locked.id))
            outbox.emit(unit.session, "order.created", "order", order.id, payload(order))
            order_id = order.id
    except Exception:
        holds.give_up(hold_id, gateway)
        raise
    finished = collect(gateway, only=order_id)
    if any(done["status"] == "cancelled" for done in finished):  # refused: the stock is back, the order a record
        from shared.errors import PaymentDeclined

        raise PaymentDeclined("the payment could not be taken; nothing was charged")
    return order_id


_REPLAY = """
SELECT h.status AS hold_status, o.id AS order_id, o.status, o.item_id, o.quantity
FROM payment_holds h LEFT JOIN orders o ON o.hold_id = h.id
WHERE h.user_id = :user AND h.request_key = :key
"""


def _replayed(conn: Connection, buyer_id: uuid.UUID, request_key: str, data: OrderIn) -> uuid.UUID | None:
    """The order a purchase with this key made before, or the refusal it met; None if none was made."""
    from shared.errors import PaymentDeclined

    first = conn.execute(text(_REPLAY), {"user": buyer_id, "key": request_key}).one_or_none()
    if first is None:
        return None
    if first.order_id is None:
        if first.hold_status == "failed":
            raise PaymentDeclined("your card was not authorised for this amount; nothing was charged")
        # Authorised but no order: under way, or refused before the order (the hold is let go).
        raise Conflict("a purchase with this Idempotency-Key is under way or was refused; see your orders")
    if (first.item_id, first.quantity) != (data.item_id, data.quantity):
        raise ValidationFailed("this Idempotency-Key named another purchase: use a new key for a new one")
    if first.status == "cancelled":  # the money could not be taken
        raise PaymentDeclined("the payment could not be taken; nothing was charged")
    return first.order_id


def _check_purchase(item: Item | Any, buyer: Viewer, data: OrderIn, open_auction: uuid.UUID | None) -> int:
    """The purchase's amount, or the problem that refuses it."""
    from shared.market.auctions import require_card_amount, require_card_currency

    if item.status != "listed":
        raise InvalidTransition(f"this item is {item.status}, not for sale")
    if item.owner_id == buyer.id:
        raise Forbidden("you cannot buy your own item")
    if open_auction is not None:
        raise Conflict("this item is being auctioned: bid instead")
    require_card_currency(item.currency)
    if item.kind == "digital":
        if data.quantity != 1:
            raise ValidationFailed("a digital item is sold one at a time")
        if data.shipping is not None:
            raise ValidationFailed("a digital item is not shipped")
    else:
        if data.shipping is None:
            raise ValidationFailed("a physical item needs a shipping address")
        regions = item.shipping_regions
        if regions and "WW" not in regions and data.shipping.country not in regions:
            raise ValidationFailed(f"this item ships to {', '.join(item.shipping_regions)} only")
        if (item.inventory or 0) < data.quantity:
            raise Conflict(f"only {item.inventory or 0} left")
    amount = item.price * data.quantity
    require_card_amount(amount)
    return amount


def take_stock(session: Session, item: Item, quantity: int, buyer_id: uuid.UUID) -> bool:
    """Take ``quantity`` of a locked item for an order; False if it is not there to take."""
    previous, was_low = item.status, items.is_low(item)
    if item.status != "listed":
        return False
    if item.kind == "digital":
        item.status, item.sold_at = "sold", datetime.now(UTC)
    else:
        if (item.inventory or 0) < quantity:
            return False
        item.inventory -= quantity
        if item.inventory == 0:
            item.status, item.sold_at = "sold", datetime.now(UTC)
    session.flush()
    _item_changed(session, item, previous, "sell", buyer_id)
    items.alert_low_stock(session, item, was_low=was_low)
    return True


def _give_back_stock(session: Session, item: Item, quantity: int) -> None:
    previous = item.status
    if item.kind == "physical":
        item.inventory = (item.inventory or 0) + quantity
    if item.status == "sold":
        item.status, item.sold_at = "listed", None
    session.flush()
    _item_changed(session, item, previous, "restock", None)


def _item_changed(session: Session, item: Item, previous: str, action: str, buyer_id: uuid.UUID | None) -> None:
    extra = {"buyer_id": str(buyer_id)} if buyer_id else {}
    if item.status != previous:
        outbox.emit(session, "item.state_changed", "item", item.id,
                    {**items.payload(item), "previous_status": previous, "action": action, **extra})
    else:
        outbox.emit(session, "item.updated", "item", item.id, {**items.payload(item), **extra})


def open_order(session: Session, *, item: Item, buyer_id: uuid.UUID, quantity: int, amount: int, fee_bps: int,
               hold_id: uuid.UUID, auction_id: uuid.UUID | None = None,
               shipping: dict[str, Any] | None = None) -> Order:
    """A pending order whose hold is to be captured (the hold goes ``capturing`` with it)."""
    from shared.market.models import Order

    if not holds.start_capture(session.connection(), hold_id):
        raise Conflict("the payment's authorisation is no longer there")
    order = Order(buyer_id=buyer_id, seller_id=item.owner_id, item_id=item.id, auction_id=auction_id,
                  quantity=quantity, amount=amount, fee=ledger.fee_of(amount, fee_bps), currency=item.currency,
                  hold_id=hold_id, shipping=shipping)
    session.add(order)
    session.flush()
    session.refresh(order)
    return order


# -- taking the money ------------------------------------------------------------------------

# Pending orders whose capture is to be tried (``only``: one of them), oldest try first: an
# order whose capture keeps failing (each try touches its hold) waits behind the others.
_CAPTURABLE = """
    SELECT o.id, o.hold_id FROM orders o JOIN payment_holds h ON h.id = o.hold_id
    WHERE o.status = 'pending' AND h.status = 'capturing' AND (CAST(:only AS uuid) IS NULL OR o.id = :only)
    ORDER BY h.updated_at LIMIT :batch
"""


def collect(gateway: Gateway, *, only: uuid.UUID | None = None, batch: int = 50) -> list[dict]:
    """Take the money of pending orders (``only``: one of them) and finish each once."""

    with work() as unit:
        pending = list(unit.connection.execute(text(_CAPTURABLE), {"only": only, "batch": batch}))
    for _, hold_id in pending:
        holds.capture(hold_id, gateway)
    return finish_settled(only=only, batch=batch)


def finish_settled(*, only: uuid.UUID | None = None, batch: int = 50) -> list[dict]:
    """Finish the pending orders whose money the provider has taken or refused (our capture's
    answer, or its webhook event): no call to the provider."""

    with work() as unit:
        settled = list(unit.connection.execute(text(
            "SELECT o.id, h.status FROM orders o JOIN payment_holds h ON h.id = o.hold_id "
            "WHERE o.status = 'pending' AND h.status IN ('captured', 'failed') "
            "AND (CAST(:only AS uuid) IS NULL OR o.id = :only) ORDER BY o.created_at LIMIT :batch"),
            {"only": only, "batch": batch}))
    finished = []
    for order_id, status in settled:
        with work() as unit:
            finished.append(finish(unit.session, order_id, paid=status == "captured"))
    return finished


def finish(session: Session, order_id: uuid.UUID, *, paid: bool) -> dict:
    """The order paid (posted to the ledger, the item delivered) or cancelled (stock given back;
    a won auction ends unsold)."""
    from shared.market.auctions import payload as auction_payload
    from shared.market.models import Auction, Item, Order

    order = session.get(Order, order_id, with_for_update=True)
    if order.status != "pending":  # another run finished it
        return {"order_id": str(order_id), "status": order.status}
    item = session.get(Item, order.item_id, with_for_update=True)
    if paid:
        order.status, order.paid_at = "paid", datetime.now(UTC)
        ledger.post(session.connection(), key=f"sale:{order.id}", kind="sale", currency=order.currency,
                    legs=ledger.sale(order.buyer_id, order.seller_id, order.amount, order.fee),
                    order_id=order.id, hold_id=order.hold_id)
        if item.kind == "digital" and item.token_id is None:
            item.holder_id = order.buyer_id  # a token-linked item follows the token's transfer on chain
    else:
        order.status = "cancelled"
        _give_back_stock(session, item, order.quantity)
        if order.auction_id is not None:
            auction = session.get(Auction, order.auction_id, with_for_update=True)
            auction.outcome, auction.winner_id = "payment_failed", None
            session.flush()
            outbox.emit(session, "auction.payment_failed", "auction", auction.id, auction_payload(auction))
    session.flush()
    outbox.emit(session, f"order.{order.status}", "order", order.id, payload(order))
    return {"order_id": str(order.id), "status": order.status}


# -- reading ---------------------------------------------------------------------------------

def _columns():
    from shared.market.tables import items as item_table

    return select(orders, item_table.c.title.label("item_title"), item_table.c.kind.label("item_kind")).join(
        item_table, item_table.c.id == orders.c.item_id)


def read(conn: Connection, user_id: uuid.UUID, order_id: uuid.UUID) -> OrderOut:
    """One order, for its buyer or seller; anyone else is told there is no such order."""
    row = conn.execute(_columns().where(orders.c.id == order_id,
                                        or_(orders.c.buyer_id == user_id, orders.c.seller_id == user_id))
                       ).one_or_none()
    if row is None:
        raise NotFound("no such order")
    return to_out(row)


def page(conn: Connection, user_id: uuid.UUID, q: OrderQuery) -> OrderPage:
    party = orders.c.buyer_id if q.role == "buyer" else orders.c.seller_id
    query = _columns().where(party == user_id)
    if q.cursor:
        created, last_id = decode_cursor(q.cursor, f"orders-{q.role}", [datetime.fromisoformat, uuid.UUID])
        query = query.where((orders.c.created_at, orders.c.id) < (created, last_id))
    rows = conn.execute(query.order_by(orders.c.created_at.desc(), orders.c.id.desc()).limit(q.limit + 1)).all()
    last = rows[q.limit - 1] if len(rows) > q.limit else None
    return OrderPage(items=[to_out(row) for row in rows[: q.limit]],
                     next_cursor=encode_cursor(f"orders-{q.role}", [last.created_at.isoformat(), last.id])
                     if last else None)


def balances(conn: Connection, user_id: uuid.UUID) -> Balances:
    return Balances(items=[Balance(currency=currency, amount=amount)
                           for currency, amount in ledger.balances(conn, ledger.seller(user_id)).items()])


# -- fulfilment and refunds ------------------------------------------------------------------

def locked(session: Session, user: User | Viewer, order_id: uuid.UUID, party: str) -> Order:
    from shared.market.models import Order

    order = session.get(Order, order_id, with_for_update=True)
    if order is None or user.id not in (order.buyer_id, order.seller_id):
        raise NotFound("no such order")
    if getattr(order, f"{party}_id") != user.id:
        raise Forbidden(f"only the order's {party} may do this")
    return order


def _kind(session: Session, order: Order) -> str:
    from shared.market.models import Item

    return session.get(Item, order.item_id).kind


def changed(session: Session, user: User, order: Order, action: str) -> OrderOut:
    session.flush()
    audit.record(session, user, f"order.{action}", "order", order.id)
    outbox.emit(session, f"order.{order.status}", "order", order.id, payload(order))
    return read(session.connection(), user.id, order.id)


def ship(session: Session, seller: User, order_id: uuid.UUID, data: ShipIn) -> OrderOut:
    order = locked(session, seller, order_id, "seller")
    if _kind(session, order) != "physical":
        raise InvalidTransition("a digital item is delivered by download, not shipped")
    if order.status != "paid":
        raise InvalidTransition(f"the order is {order.status}")
    order.status, order.shipped_at, order.carrier, order.tracking = "shipped", datetime.now(UTC), data.carrier, \
        data.tracking
    return changed(session, seller, order, "shipped")


def confirm(session: Session, buyer: User, order_id: uuid.UUID) -> OrderOut:
    order = locked(session, buyer, order_id, "buyer")
    if order.status != "shipped":
        raise InvalidTransition(f"the order is {order.status}; only a shipped order can be confirmed")
    order.status, order.fulfilled_at = "fulfilled", datetime.now(UTC)
    return changed(session, buyer, order, "fulfilled")


def refund(seller: Viewer, order_id: uuid.UUID, gateway: Gateway) -> None:
    """Give a paid order's money back: marked (and committed) first, then the provider asked,
    then the order refunded. A refund the provider could not make yet stays ``refunding``
    for the auction-close job's sweep, which finishes the order too (``finish_refunds``)."""

    with work() as unit:
        order = locked(unit.session, seller, order_id, "seller")
        if order.status not in ("paid", "shipped", "fulfilled"):
            raise InvalidTransition(f"the order is {order.status}")
        if order.hold_id is None:
            raise Conflict("this order was paid on chain, where the market contract keeps no refund: "
                           "the seller may send the ETH back from their wallet")
        if not holds.start_refund(unit.connection, order.hold_id):
            raise Conflict("this order's payment is already being refunded")
        # Nothing more is shipped, confirmed or downloaded while the money goes back.
        order.status = "refunding"
        audit.record(unit.session, seller, "order.refund_requested", "order", order.id)
        hold_id = order.hold_id
    if holds.refund(hold_id, gateway) == "refunded":
        with work() as unit:
            complete_refund(unit.session, order_id)


def finish_refunds() -> int:
    """Orders whose money went back (a refund the sweep made) and are not yet marked so."""

    with work() as unit:
        due = list(unit.connection.execute(text(
            "SELECT o.id FROM orders o JOIN payment_holds h ON h.id = o.hold_id "
            "WHERE h.status = 'refunded' AND o.status <> 'refunded' LIMIT 100")).scalars())
    for order_id in due:
        with work() as unit:
            complete_refund(unit.session, order_id)
    return len(due)


def complete_refund(session: Session, order_id: uuid.UUID) -> None:
    """Once the provider has given the money back: the order refunded, the ledger reversed,
    unshipped stock given back; once."""
    from shared.market.models import Item, Order

    order = session.get(Order, order_id, with_for_update=True)
    if holds.status_of(session.connection(), order.hold_id) != "refunded" or order.status == "refunded":
        return
    legs = [(account, -amount) for account, amount in ledger.sale(order.buyer_id, order.seller_id, order.amount,
                                                                    order.fee)]
    ledger.post(session.connection(), key=f"refund:{order.id}", kind="refund", currency=order.currency, legs=legs,
                order_id=order.id, hold_id=order.hold_id)
    item = session.get(Item, order.item_id, with_for_update=True)
    if order.shipped_at is None and order.downloads == 0:  # never delivered: the stock is still the seller's
        _give_back_stock(session, item, order.quantity)
    if item.kind == "digital" and item.holder_id == order.buyer_id:
        item.holder_id = None
    order.status, order.refunded_at = "refunded", datetime.now(UTC)
    session.flush()
    outbox.emit(session, "order.refunded", "order", order.id, payload(order))
