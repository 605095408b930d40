"""ORM classes over the marketplace's tables (shared/market/tables.py), for writes."""
from __future__ import annotations

from sqlalchemy.orm import deferred

from shared.market import tables as t
from shared.models import Base


class Item(Base):
    __table__ = t.items
    search = deferred(t.items.c.search)
    __mapper_args__ = {"version_id_col": t.items.c.version}


class Favorite(Base):
    __table__ = t.favorites


class Like(Base):
    __table__ = t.likes


class AnalyticsEvent(Base):
    __table__ = t.analytics_events


class PopularityInbox(Base):
    __table__ = t.popularity_inbox


class Auction(Base):
    __table__ = t.auctions


class Bid(Base):
    __table__ = t.bids


class Order(Base):
    __table__ = t.orders


class RateLimit(Base):
    __table__ = t.rate_limits
