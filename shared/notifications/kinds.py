"""The kinds of notification: what each is about and whether it emails by default.

A kind is what a person chooses to hear of or not (GET/PUT /api/me/notification-preferences);
``shared/notifications/notices.py`` says which events make which kinds, for whom.
"""
from __future__ import annotations

from dataclasses import dataclass

# The event a person's reading makes (inbox.mark_read): the notifications function then sets
# their live unread count (shared/live/documents.py).
READ = "notifications.read"


@dataclass(frozen=True)
class Kind:
    description: str
    # Email by default: what a person would be sorry to hear of late (money, a lost lead).
    email: bool


KINDS: dict[str, Kind] = {
    "outbid": Kind("another bid passed yours", email=True),
    "bid_received": Kind("a bid on your auction", email=False),
    "auction_won": Kind("you won an auction", email=True),
    "auction_ending": Kind("an auction you bid on or keep among your favourites ends within 15 minutes",
                           email=False),
    "auction_lost": Kind("an auction you bid on went to someone else", email=False),
    "auction_ended": Kind("your auction ended", email=True),
    "proposal_funded": Kind("a proposal you made or backed reached its goal", email=True),
    "proposal_failed": Kind("a proposal you made or backed missed its goal; backers may take their funds back",
                            email=True),
    "proposal_update": Kind("a proposal you backed changed", email=False),
    "new_follower": Kind("someone followed you", email=False),
    "order": Kind("an order of yours changed state (paid, shipped, delivered, refunded, cancelled)", email=True),
    "low_stock": Kind("an item's inventory fell to its low-stock threshold", email=True),
}
