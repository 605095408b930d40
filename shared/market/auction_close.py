"""Closing auctions past their end (the auction-close job).

Most scheduler ticks find nothing due: that path is one Core query, and the ORM,
the API models and the event plumbing load only when an auction is to be settled.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shared.market.models import Auction, Item

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
    from shared.db import work

    closed: list[dict] = []
    while True:
        with work() as unit:
            ids = [row.id for row in unit.connection.execute(_DUE, {"batch": batch})]
            if ids:
                from shared.market.models import Auction

                closed += [_settle(unit.session, unit.session.get(Auction, auction_id)) for auction_id in ids]
        if len(ids) < batch:
            return closed


def _settle(session: Session, auction: Auction) -> dict:
    from shared import audit
    from shared.events import outbox
    from shared.market import auction_rules
    from shared.market.auctions import db_now, payload, rules_state
    from shared.market.models import Item

    outcome, winner = auction_rules.outcome(rules_state(auction), auction.reserve_price)
    now = db_now(session)
    auction.status, auction.outcome, auction.closed_at = "closed", outcome, now
    auction.winner_id = uuid.UUID(winner) if winner else None
    if auction.winner_id is not None:
        _hand_over(session, session.get(Item, auction.item_id, with_for_update=True), auction.winner_id, now)
    session.flush()
    audit.record(session, None, "auction.closed", "auction", auction.id, outcome=outcome,
                 winner_id=str(auction.winner_id) if auction.winner_id else None)
    outbox.emit(session, "auction.closed", "auction", auction.id,
                {**payload(auction), "outcome": outcome,
                 "winner_id": str(auction.winner_id) if auction.winner_id else None})
    return {"auction_id": str(auction.id), "outcome": outcome}


def _hand_over(session: Session, item: Item, winner_id: uuid.UUID, now: datetime) -> None:
    """A digital item (not token-linked) passes to the winner; a physical one sells a unit."""
    from shared.events import outbox
    from shared.market import items

    previous, was_low = item.status, items.is_low(item)
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
        outbox.emit(session, "item.state_changed", "item", item.id,
                    {**items.payload(item), "previous_status": previous, "action": "sell",
                     "buyer_id": str(winner_id)})
    else:
        outbox.emit(session, "item.updated", "item", item.id, {**items.payload(item), "buyer_id": str(winner_id)})
    items.alert_low_stock(session, item, was_low=was_low)
