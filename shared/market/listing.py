"""Browsing items: filters, four sort orders and keyset pagination (shared/paging.py).

Each public sort order has a partial index over exactly the public items (listed or
sold), and the query repeats that predicate, so a page deep into a million items
costs what the first one does. An owner (or an admin) filtering by that owner also
sees drafts and archived items, through the owner index.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator
from sqlalchemy import Select

from shared.market.items import Currency, ItemOut, Kind, Status, may_see_private, row_out, rows_query
from shared.market.tables import ITEM_STATUSES, PUBLIC_ITEM_STATUSES, items, public_items
from shared.market.taxonomy import TagSlug
from shared.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, SortKey, keyset_page
from shared.types import AmountIn, ApiModel, Slug

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from shared.identity.access import Viewer

Sort = Literal["newest", "popular", "price_asc", "price_desc"]


class PriceFilter(ApiModel):
    """Prices compare within one currency: a range or a price order names it."""

    currency: Currency | None = None
    min_price: AmountIn | None = None
    max_price: AmountIn | None = None

    @model_validator(mode="after")
    def _currency_for_prices(self) -> Self:
        if (self.min_price is not None or self.max_price is not None or getattr(self, "sort", None) in ("price_asc", "price_desc")) \
                and self.currency is None:
            raise ValueError("price ranges and price sorting need a currency")
        if self.min_price is not None and self.max_price is not None and self.min_price > self.max_price:
            raise ValueError("min_price is above max_price")
        return self


class ItemQuery(PriceFilter):
    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    kind: Kind | None = None
    category: Slug | None = None
    tag: TagSlug | None = None
    owner: uuid.UUID | None = None
    sort: Sort = "newest"
    cursor: Annotated[str, Field(max_length=512)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE


class ItemPage(ApiModel):
    items: list[ItemOut]
    next_cursor: str | None


def _float(value: Any) -> float:
    if not isinstance(value, int | float):
        raise ValueError("not a number")
    return float(value)


_SORTS = {
    "newest": SortKey(items.c.created_at, True, datetime.fromisoformat),
    "popular": SortKey(items.c.popularity, True, _float),
    "price_asc": SortKey(items.c.price, False, int),
    "price_desc": SortKey(items.c.price, True, int),
}


def visible_statuses(viewer: Viewer | None, owner: uuid.UUID | None) -> tuple[str, ...]:
    return ITEM_STATUSES if may_see_private(viewer, owner) else PUBLIC_ITEM_STATUSES


def _filtered(query: Select, q: ItemQuery, viewer: Viewer | None) -> Select | None:
    statuses = visible_statuses(viewer, q.owner)
    if q.status is not None and q.status not in statuses:
        return None
    if statuses == PUBLIC_ITEM_STATUSES:
        # The public partial indexes' own predicate, so the planner can use them.
        query = query.where(public_items())
    if q.status:
        query = query.where(items.c.status == q.status)
    for column, value in ((items.c.kind, q.kind), (items.c.category, q.category), (items.c.owner_id, q.owner),
                          (items.c.currency, q.currency)):
        if value is not None:
            query = query.where(column == value)
    if q.tag:
        query = query.where(items.c.tags.contains([q.tag]))
    if q.min_price is not None:
        query = query.where(items.c.price >= q.min_price)
    if q.max_price is not None:
        query = query.where(items.c.price <= q.max_price)
    return query


def list_page(conn: Connection, viewer: Viewer | None, q: ItemQuery) -> ItemPage:
    query = _filtered(rows_query(), q, viewer)
    if query is None:
        return ItemPage(items=[], next_cursor=None)
    rows, next_cursor = keyset_page(conn, query, q.sort, _SORTS[q.sort], items.c.id, q.cursor, q.limit)
    return ItemPage(items=[row_out(row) for row in rows], next_cursor=next_cursor)
