"""The caller's own lists of the marketplace: favourites, likes, the collection (items they
hold) and their bids. Private to the caller (decision 0023: likes and favourites are nobody
else's business): every query is bound to the caller's id, and no route shows them to others.

An item the caller marked that its seller has since made a draft or archived, or that an
administrator hid, is left out, as everywhere else the public reads items; the caller's own
items are always there. The collection and the bids are records of what the caller owns and
offered: they keep a hidden item (decision 0031).
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import AwareDatetime
from sqlalchemy import and_, or_, select, tuple_

from shared.chain.tables import artwork_tokens
from shared.market.items import row_out, rows_query
from shared.market.listing import ItemPage
from shared.market.tables import auctions, bids, favorites, items, likes, public_items
from shared.paging import PageQuery, SortKey, id_keyset_page, keyset_page
from shared.types import AmountOut, ApiModel

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shared.identity.access import Viewer

Reaction = Literal["favorites", "likes"]
_REACTIONS = {"favorites": favorites, "likes": likes}


def _visible(viewer: Viewer):
    return or_(public_items(), items.c.owner_id == viewer.id)


def reacted(conn: Connection, viewer: Viewer, reaction: Reaction, query: PageQuery) -> ItemPage:
    """The items the caller favourited (or liked), the latest mark first."""
    table = _REACTIONS[reaction]
    marked_at = table.c.created_at.label("marked_at")
    rows_select = (rows_query().add_columns(marked_at)
                   .join(table, and_(table.c.item_id == items.c.id, table.c.user_id == viewer.id))
                   .where(_visible(viewer)))
    rows, next_cursor = keyset_page(conn, rows_select, f"my-{reaction}",
                                    SortKey(marked_at, True, datetime.fromisoformat), items.c.id,
                                    query.cursor, query.limit)
    return ItemPage(items=[row_out(row) for row in rows], next_cursor=next_cursor)


def collection(conn: Connection, viewer: Viewer, query: PageQuery) -> ItemPage:
    """The items the caller holds: won or bought units handed over, and tokens their linked
    wallet owns on chain (shared/market/holders.py), newest item first."""
    held = and_(items.c.token_id.is_(None), items.c.holder_id == viewer.id)
    if viewer.wallet_address:
        tokens = select(artwork_tokens.c.chain_id, artwork_tokens.c.contract, artwork_tokens.c.token_id).where(
            artwork_tokens.c.owner == viewer.wallet_address)
        held = or_(held, tuple_(items.c.token_chain_id, items.c.token_contract, items.c.token_id).in_(tokens))
    rows, next_cursor = keyset_page(conn, rows_query().where(held), "my-collection",
                                    SortKey(items.c.created_at, True, datetime.fromisoformat), items.c.id,
                                    query.cursor, query.limit)
    return ItemPage(items=[row_out(row) for row in rows], next_cursor=next_cursor)


class MyBidOut(ApiModel):
    id: int
    auction_id: uuid.UUID
    item_id: uuid.UUID
    title: str
    amount: AmountOut
    currency: str
    placed_at: AwareDatetime
    auction_status: Literal["open", "closed", "cancelled"]
    ends_at: AwareDatetime
    leading: bool
    won: bool


class MyBidPage(ApiModel):
    items: list[MyBidOut]
    next_cursor: str | None


def my_bids(conn: Connection, viewer: Viewer, query: PageQuery) -> MyBidPage:
    """The caller's bids, newest first, each with where its auction stands."""
    rows_select = (select(bids.c.id, bids.c.auction_id, auctions.c.item_id, items.c.title, bids.c.amount,
                          auctions.c.currency, bids.c.placed_at, auctions.c.status.label("auction_status"),
                          auctions.c.ends_at, auctions.c.leader_id, auctions.c.current_price, auctions.c.winner_id)
                   .join(auctions, auctions.c.id == bids.c.auction_id).join(items, items.c.id == auctions.c.item_id)
                   .where(bids.c.bidder_id == viewer.id))
    rows, next_cursor = id_keyset_page(conn, rows_select, "my-bids", bids.c.id, query.cursor, query.limit)
    page = [MyBidOut(id=row.id, auction_id=row.auction_id, item_id=row.item_id, title=row.title, amount=row.amount,
                     currency=row.currency, placed_at=row.placed_at, auction_status=row.auction_status,
                     ends_at=row.ends_at, won=row.winner_id == viewer.id,
                     leading=row.auction_status == "open" and row.leader_id == viewer.id
                     and row.current_price == row.amount)
            for row in rows]
    return MyBidPage(items=page, next_cursor=next_cursor)
