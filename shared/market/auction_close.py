"""Closing auctions past their end, and the money around them (the auction-close job).

Closing decides the outcome; when there is a winner, the item's unit is taken for them and
a pending order made with their bid's hold, in the closing transaction. Then the job takes
the money of every pending order (shared/market/orders.py ``collect``: outside any
transaction; a capture the provider refuses cancels the order, gives the stock back and
ends the auction ``payment_failed``, decision 0027), and lets go of authorisations that
back nothing any more (_ORPHANS, holds.sweep).

After closing, each tick tells the bidders and watchers of an auction that ends within
ENDING_SOON that it does (``auction.ending_soon``, once per auction: an anti-sniping
extension does not announce it again).

Most scheduler ticks find nothing due: that path is a few Core queries, and the ORM,
the API models, the payment library and the event plumbing load only when needed.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shared.market.models import Auction
    from shared.payments.gateway import Gateway

_DUE = text("""
    SELECT id FROM auctions WHERE status = 'open' AND ends_at <= clock_timestamp()
    ORDER BY ends_at LIMIT :batch FOR UPDATE SKIP LOCKED
""")
# Marked and announced in one statement, so two runs never announce one auction twice.
ENDING_SOON = "15 minutes"
_ENDING_SOON = text("""
    UPDATE auctions SET ending_soon_at = clock_timestamp()
    WHERE id IN (SELECT id FROM auctions WHERE status = 'open' AND ending_soon_at IS NULL
                   AND ends_at <= clock_timestamp() + CAST(:window AS interval) AND ends_at > clock_timestamp()
                 ORDER BY ends_at LIMIT :batch FOR UPDATE SKIP LOCKED)
    RETURNING id, item_id, seller_id, status, ends_at, current_price, currency, leader_id
""")
# What the job may have to do about money, each as one cheap question first.
_COLLECTABLE = text("SELECT EXISTS (SELECT 1 FROM orders WHERE status = 'pending')")
_UNSETTLED = text("""
    SELECT EXISTS (SELECT 1 FROM payment_holds WHERE status IN ('pending', 'releasing', 'refunding'))
        OR EXISTS (SELECT 1 FROM payouts WHERE status = 'pending')
        -- a refund made whose order a crash left unmarked
        OR EXISTS (SELECT 1 FROM payment_holds h JOIN orders o ON o.hold_id = h.id
                   WHERE h.status = 'refunded' AND o.status <> 'refunded')
""")
# Authorised bid holds that back nothing: not the leading bid of an open auction, not the
# winner's of a closed one (those are capturing or captured by then). The grace period
# spares a request that has authorised and is still deciding its bid (bidding.py).
_ORPHANS = text("""
    UPDATE payment_holds h SET status = 'releasing', updated_at = now()
    WHERE h.purpose = 'bid' AND h.status = 'authorised' AND h.updated_at < now() - CAST(:stale AS interval)
      AND NOT EXISTS (SELECT 1 FROM bids b JOIN auctions a ON a.id = b.auction_id
                      WHERE b.hold_id = h.id AND a.status = 'open' AND a.current_price = b.amount)
""")


def run(gateway_factory: Callable[[], Gateway], fee_bps: int) -> list[dict]:
    """One tick of the job: close what is due, take the money of pending orders, let go of
    what backs nothing any more. The gateway, the ORM and the orders' models load only when
    a payment is to be touched (payouts a provider outage left pending are retried here too)."""
    from shared.db import work
    from shared.payments.holds import STALE

    closed = close_due(fee_bps)
    with work() as unit:
        collectable = unit.connection.execute(_COLLECTABLE).scalar_one()
    if collectable:
        from shared.market import orders

        orders.collect(gateway_factory())
    with work() as unit:
        orphans = unit.connection.execute(_ORPHANS, {"stale": STALE}).rowcount
        unsettled = unit.connection.execute(_UNSETTLED).scalar_one()
    if orphans or unsettled:
        from shared.market import orders
        from shared.payments import holds, payouts

        gateway = gateway_factory()
        holds.sweep(gateway)
        orders.finish_refunds()
        payouts.retry_pending(gateway)
    # Last: a failure here (raised, so the tick is retried) never keeps an auction from closing.
    announce_ending()
    return closed


def announce_ending(*, batch: int = 200) -> int:
    """Announce the auctions that end within ENDING_SOON and were not announced yet. The
    events are left to the outbox relay (a minute at most): the job has no session to publish
    after commit with, and the warning is a quarter of an hour ahead."""
    from shared.db import work

    announced = 0
    while True:
        with work() as unit:
            rows = unit.connection.execute(_ENDING_SOON, {"window": ENDING_SOON, "batch": batch}).all()
            if rows:
                from shared.events import outbox
                from shared.market.auctions import payload

                for row in rows:
                    outbox.record(unit.connection, "auction.ending_soon", "auction", row.id, payload(row))
        announced += len(rows)
        if len(rows) < batch:
            return announced


def close_due(fee_bps: int, *, batch: int = 50) -> list[dict]:
    """Close every auction past its end: the winner, if the reserve is met, gets an order.

    Each batch is one transaction; due auctions another run holds are skipped (SKIP
    LOCKED) and a bid that extended an auction meanwhile keeps it open (the row is
    re-checked under the lock).
    """
    from shared.db import work

    closed: list[dict] = []
    while True:
        with work() as unit:
            ids = [row.id for row in unit.connection.execute(_DUE, {"batch": batch})]
            if ids:
                from shared.market.models import Auction

                closed += [_settle(unit.session, unit.session.get(Auction, auction_id), fee_bps)
                           for auction_id in ids]
        if len(ids) < batch:
            return closed


def _settle(session: Session, auction: Auction, fee_bps: int) -> dict:
    from shared import audit
    from shared.events import outbox
    from shared.market import auction_rules, orders
    from shared.market.auctions import db_now, leading_hold, payload, rules_state
    from shared.market.models import Item
    from shared.payments import holds

    outcome, winner = auction_rules.outcome(rules_state(auction), auction.reserve_price)
    hold_id = leading_hold(session, auction)
    auction.status, auction.outcome, auction.closed_at = "closed", outcome, db_now(session)
    auction.winner_id = uuid.UUID(winner) if winner else None
    if auction.winner_id is not None:
        item = session.get(Item, auction.item_id, with_for_update=True)
        backed = hold_id is not None and holds.status_of(session.connection(), hold_id) == "authorised"
        if backed and orders.take_stock(session, item, 1, auction.winner_id):
            orders.open_order(session, item=item, buyer_id=auction.winner_id, quantity=1,
                              amount=auction.current_price, fee_bps=fee_bps, hold_id=hold_id, auction_id=auction.id)
        else:  # a bid from before bids were backed, its hold lapsed, or no unit left: nothing to sell
            auction.outcome, auction.winner_id = "payment_failed", None
            if hold_id is not None:
                holds.let_go(session.connection(), [hold_id])
    elif hold_id is not None:  # reserve not met: the leader's money goes back
        holds.let_go(session.connection(), [hold_id])
    session.flush()
    audit.record(session, None, "auction.closed", "auction", auction.id, outcome=auction.outcome,
                 winner_id=str(auction.winner_id) if auction.winner_id else None)
    outbox.emit(session, "auction.closed", "auction", auction.id,
                {**payload(auction), "outcome": auction.outcome,
                 "winner_id": str(auction.winner_id) if auction.winner_id else None})
    return {"auction_id": str(auction.id), "outcome": auction.outcome}
