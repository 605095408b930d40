"""Bids backed by money (decision 0027): a bid is taken only with the payment provider
holding its amount on the bidder's card, and only the leading bid keeps its hold.

    1. the bid is checked against the auction as it stands (a hopeless bid costs no call);
    2. the amount is authorised (shared/payments/holds.py commits each step on its own);
    3. the bid is decided under the auction's row lock, naming its hold; the hold of the
       bid it outbids is marked for release in the same transaction;
    4. after the commit, that hold is released. A refused bid releases its own hold at once.

No transaction is open while the provider is called: the route runs without a request
transaction (Route.transaction), so a request holds at most one pooled connection at a time.

Whatever a crash or a lost answer leaves behind, the auction-close job lets go of
(auction_close._ORPHANS, then holds.sweep): an authorised bid hold that backs no leading
bid of an open auction, and no won auction, is released.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from shared.market import auctions
from shared.payments import holds

if TYPE_CHECKING:
    import uuid

    from shared.payments.gateway import Gateway


def place_bid(bidder_id: uuid.UUID, auction_id: uuid.UUID, bid: auctions.BidIn, gateway: Gateway
              ) -> auctions.BidAccepted:
    """Each step in a unit of work of its own, none held while the provider is called."""
    from shared.db import work
    from shared.models import User
    from shared.payments import cards

    with work() as unit:
        auction = auctions.read(unit.connection, auction_id)
        auctions.refuse_hidden(unit.connection, auction.item_id)  # before the card is asked
        auctions.check_bid(auction, bidder_id, bid.amount, auctions.db_now(unit.connection))
    hold_id = cards.authorise(gateway, purpose="bid", user_id=bidder_id, amount=bid.amount,
                              currency=auction.currency, payment_method=bid.payment_method, auction_id=auction.id)
    try:
        with work() as unit:
            bidder = unit.session.get(User, bidder_id)
            accepted, outbid = auctions.place_bid(unit.session, bidder, auction_id, bid.amount, hold_id)
            if outbid is not None:
                holds.let_go(unit.connection, [outbid])
    except Exception:
        holds.give_up(hold_id, gateway)  # outbid or closed meanwhile: nothing to back
        raise
    if outbid is not None:
        holds.release([outbid], gateway)
    return accepted
