"""What a domain event means to each person it concerns: the notices it makes, and recording
them once in each recipient's inbox.

``notices_for`` reads what the event names (an item's title, an auction's bidders, a proposal's
backers) and answers one notice per (recipient, kind); ``record`` keeps those their recipients
want (shared/notifications/preferences.py) in the consumer's transaction. A notice's id is a
function of the event, the recipient and the kind, so a redelivered or replayed event finds its
rows there already. Nobody hears of their own act, and only active profiles hear of anything.

Privacy (decision 0029): a notice says only what its recipient may know. Bid notices carry
prices, not bidders (a seller hears of each bid's amount; an outbid bidder hears the new
price); a new follower is named to the person followed, who may see their own followers
(decision 0023); orders name the item, never the other party's address.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import insert

from shared.chain.tables import investments
from shared.market.tables import bids, favorites, items
from shared.notifications.preferences import wanted
from shared.notifications.tables import notifications
from shared.tables import active_user, proposals, users

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shared.events.envelope import EventEnvelope

NAMESPACE = uuid.UUID("6f0c1a64-2d8e-4f57-9b8a-7c1e0d5b3a29")
TITLE_MAX = 200
# Shown in full up to here; notice titles quote a user's own words.
QUOTE_MAX = 80


@dataclass(frozen=True)
class Notice:
    user_id: uuid.UUID
    kind: str
    subject_type: str
    subject_id: str
    title: str
    data: dict[str, str | None] = field(default_factory=dict)


def notice_id(event_id: uuid.UUID, user_id: uuid.UUID, kind: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{event_id}:{user_id}:{kind}")


def record(conn: Connection, envelope: EventEnvelope) -> int:
    """The event's notices into their recipients' inboxes, once; how many were new."""
    if envelope.type == "user.deleted":
        _forget(conn, uuid.UUID(envelope.payload["id"]))
        return 0
    notices = _active(conn, notices_for(conn, envelope))
    choices = wanted(conn, [(n.user_id, n.kind) for n in notices])
    rows = [{"id": notice_id(envelope.event_id, n.user_id, n.kind), "user_id": n.user_id, "kind": n.kind,
             "event_id": envelope.event_id, "subject_type": n.subject_type, "subject_id": n.subject_id,
             "title": n.title[:TITLE_MAX], "data": n.data,
             "email_status": "pending" if choices[(n.user_id, n.kind)].email else None}
            for n in notices if choices[(n.user_id, n.kind)].enabled and not _repeat(conn, n)]
    if not rows:
        return 0
    return len(conn.execute(insert(notifications).values(rows).on_conflict_do_nothing()
                            .returning(notifications.c.id)).all())


def notices_for(conn: Connection, envelope: EventEnvelope) -> list[Notice]:
    """Every notice the event makes, before anyone's preferences; none for events no one hears of."""
    make = _MAKERS.get(envelope.type)
    return make(conn, envelope.payload) if make else []


def _active(conn: Connection, notices: list[Notice]) -> list[Notice]:
    recipients = {n.user_id for n in notices}
    if not recipients:
        return []
    active = set(conn.execute(select(users.c.id).where(users.c.id.in_(recipients), active_user())).scalars())
    return [n for n in notices if n.user_id in active]


def _repeat(conn: Connection, notice: Notice) -> bool:
    """A follow undone and made again is not news while its first notice is unread."""
    if notice.kind != "new_follower":
        return False
    return conn.execute(select(notifications.c.id).where(
        notifications.c.user_id == notice.user_id, notifications.c.kind == notice.kind,
        notifications.c.subject_id == notice.subject_id, notifications.c.read_at.is_(None)).limit(1)).first() is not None


def _forget(conn: Connection, user_id: uuid.UUID) -> None:
    """An erased account's inbox and choices go with its personal data (decision 0005), and so
    do the notices that named it to others."""
    from shared.notifications.tables import notification_preferences

    conn.execute(notifications.delete().where(notifications.c.user_id == user_id))
    conn.execute(notification_preferences.delete().where(notification_preferences.c.user_id == user_id))
    # Others' notices about the account (its follows) named it: they go too.
    conn.execute(notifications.delete().where(notifications.c.subject_type == "user",
                                              notifications.c.subject_id == str(user_id)))


# -- the events ----------------------------------------------------------------------------------

def _uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _quote(title: str | None) -> str:
    title = (title or "an item").strip()
    return f"“{title[:QUOTE_MAX - 1]}…”" if len(title) > QUOTE_MAX else f"“{title}”"


def _item_title(conn: Connection, item_id: object) -> str:
    found = _uuid(item_id)
    title = conn.execute(select(items.c.title).where(items.c.id == found)).scalar_one_or_none() if found else None
    return _quote(title)


def _money(payload: dict, key: str) -> dict[str, str | None]:
    """An amount, its currency and the item it is for (the web app links to the item)."""
    return {"amount": payload.get(key), "currency": payload.get("currency"), "item_id": payload.get("item_id")}


def _bid_placed(conn: Connection, p: dict) -> list[Notice]:
    title, auction = _item_title(conn, p.get("item_id")), str(p.get("id"))
    found: list[Notice] = []
    previous, bidder = _uuid(p.get("previous_leader_id")), _uuid(p.get("bidder_id"))
    if previous and previous != bidder:
        found.append(Notice(previous, "outbid", "auction", auction, f"You were outbid on {title}",
                            {**_money(p, "amount"), "ends_at": p.get("ends_at")}))
    if seller := _uuid(p.get("seller_id")):
        found.append(Notice(seller, "bid_received", "auction", auction, f"A new bid on {title}",
                            {**_money(p, "amount"), "ends_at": p.get("ends_at")}))
    return found


_ENDINGS = {"sold": "sold", "reserve_not_met": "ended below its reserve price", "no_bids": "ended without bids",
            "payment_failed": "ended unsold: the winning bidder's card could not be charged"}


def _auction_closed(conn: Connection, p: dict) -> list[Notice]:
    title, auction, outcome = _item_title(conn, p.get("item_id")), str(p.get("id")), p.get("outcome")
    data = {**_money(p, "current_price"), "outcome": outcome}
    # A failed payment unseats the winner: the leader is the bidder whose card was refused.
    winner = _uuid(p.get("leader_id")) if outcome == "payment_failed" else _uuid(p.get("winner_id"))
    found = []
    if seller := _uuid(p.get("seller_id")):
        found.append(Notice(seller, "auction_ended", "auction", auction,
                            f"Your auction of {title} {_ENDINGS.get(str(outcome), 'ended')}", data))
    if winner and outcome == "sold":
        found.append(Notice(winner, "auction_won", "auction", auction, f"You won {title}", data))
    elif winner and outcome == "payment_failed":
        found.append(Notice(winner, "auction_won", "auction", auction,
                            f"Your card could not be charged for {title}: the auction ended unsold", data))
    if outcome != "payment_failed":
        lost = "went to another bidder" if outcome == "sold" else _ENDINGS.get(str(outcome), "ended")
        found += [Notice(bidder, "auction_lost", "auction", auction, f"{title} {lost}", data)
                  for bidder in _bidders(conn, _uuid(p.get("id"))) if bidder != winner]
    return found


def _ending_soon(conn: Connection, p: dict) -> list[Notice]:
    """Everyone who bid, and everyone keeping the item among their favourites, but its seller."""
    auction, item, seller = _uuid(p.get("id")), _uuid(p.get("item_id")), _uuid(p.get("seller_id"))
    # Those keeping it among their favourites hear of it while it is in sight; bidders always (their money is in it).
    watchers = set(conn.execute(select(favorites.c.user_id).join(items, items.c.id == favorites.c.item_id).where(
        favorites.c.item_id == item, items.c.hidden.is_(None))).scalars()) if item else set()
    title = f"Bidding on {_item_title(conn, item)} ends soon"
    data = {**_money(p, "current_price"), "ends_at": p.get("ends_at")}
    return [Notice(person, "auction_ending", "auction", str(auction), title, data)
            for person in {*_bidders(conn, auction), *watchers} if person != seller]


def _bidders(conn: Connection, auction_id: uuid.UUID | None) -> list[uuid.UUID]:
    if auction_id is None:
        return []
    return list(conn.execute(select(bids.c.bidder_id).where(bids.c.auction_id == auction_id).distinct()).scalars())


def _backers(conn: Connection, proposal_id: uuid.UUID) -> list[uuid.UUID]:
    """The profiles whose linked wallet backed the proposal and has money in it or had."""
    return list(conn.execute(
        select(users.c.id).distinct()
        .join(investments, and_(investments.c.backer == users.c.wallet_address,
                                investments.c.proposal_id == proposal_id))
        .where(investments.c.funded > 0)).scalars())


_PROPOSAL_STATES = {"funded": ("proposal_funded", "{title} reached its goal"),
                    "failed": ("proposal_failed", "{title} missed its goal: backers may take their funds back")}


def _proposal_state(conn: Connection, p: dict) -> list[Notice]:
    known = _PROPOSAL_STATES.get(str(p.get("status")))
    proposal = _uuid(p.get("id"))
    if known is None or proposal is None:
        return []
    kind, words = known
    title = words.format(title=_quote(p.get("title")))
    people = {*_backers(conn, proposal), *filter(None, [_uuid(p.get("owner_id"))])}
    return [Notice(person, kind, "proposal", str(proposal), title, {"status": p.get("status")}) for person in people]


def _proposal_updated(conn: Connection, p: dict) -> list[Notice]:
    proposal, owner = _uuid(p.get("id")), _uuid(p.get("owner_id"))
    if proposal is None or conn.execute(select(proposals.c.hidden).where(proposals.c.id == proposal)).scalar():
        return []  # a hidden proposal's page is out of its backers' sight: no news of it
    title = f"{_quote(p.get('title'))} was updated by its artist"
    return [Notice(backer, "proposal_update", "proposal", str(proposal), title, {"version": str(p.get("version"))})
            for backer in _backers(conn, proposal) if backer != owner]


def _follow_created(conn: Connection, p: dict) -> list[Notice]:
    follower, followee = _uuid(p.get("follower_id")), _uuid(p.get("followee_id"))
    if follower is None or followee is None or follower == followee:
        return []
    name = conn.execute(select(users.c.display_name).where(users.c.id == follower)).scalar_one_or_none()
    return [Notice(followee, "new_follower", "user", str(follower), f"{name or 'Someone'} followed you",
                   {"display_name": name})]


# Who hears of each order state, and in what words: (recipient role, title).
_ORDER_STATES: dict[str, list[tuple[str, str]]] = {
    "order.paid": [("buyer", "Your order of {title} is paid"), ("seller", "{title} sold: an order to fulfil")],
    "order.shipped": [("buyer", "Your order of {title} was shipped")],
    "order.fulfilled": [("seller", "Your sale of {title} is complete")],
    "order.refunded": [("buyer", "Your order of {title} was refunded"),
                       ("seller", "The order of {title} was refunded")],
    "order.cancelled": [("buyer", "Your order of {title} was cancelled"),
                        ("seller", "The order of {title} was cancelled")],
}


def _order(event_type: str) -> Callable[[Connection, dict], list[Notice]]:
    def make(conn: Connection, p: dict) -> list[Notice]:
        title, order = _item_title(conn, p.get("item_id")), str(p.get("id"))
        data = {**_money(p, "amount"), "status": p.get("status")}
        return [Notice(person, "order", "order", order, words.format(title=title), data)
                for role, words in _ORDER_STATES[event_type] if (person := _uuid(p.get(f"{role}_id")))]

    return make


def _low_stock(conn: Connection, p: dict) -> list[Notice]:
    owner = _uuid(p.get("owner_id"))
    if owner is None:
        return []
    return [Notice(owner, "low_stock", "item", str(p.get("id")),
                   f"{_quote(p.get('title'))} is low on stock: {p.get('inventory')} left",
                   {"inventory": str(p.get("inventory")), "low_stock_threshold": str(p.get("low_stock_threshold"))})]


_MAKERS: dict[str, Callable[[Connection, dict], list[Notice]]] = {
    "auction.bid_placed": _bid_placed,
    "auction.ending_soon": _ending_soon,
    "auction.closed": _auction_closed,
    # Carries the auction's fields only: its outcome is the event's name.
    "auction.payment_failed": lambda conn, p: _auction_closed(conn, {**p, "outcome": "payment_failed"}),
    "proposal.state_changed": _proposal_state,
    "proposal.updated": _proposal_updated,
    "follow.created": _follow_created,
    **{event_type: _order(event_type) for event_type in _ORDER_STATES},
    "item.low_stock": _low_stock,
}
# What the notifications function listens to (functions.yaml's subscription filter agrees: a test).
EVENT_TYPES: tuple[str, ...] = (*_MAKERS, "user.deleted")

