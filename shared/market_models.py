"""The marketplace's tables: items, reactions, analytics, auctions, bids, rate limits."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.models import Amount, Base, _created, _one_of, _updated, _uuid_pk, search_document

ITEM_KINDS = ("physical", "digital")
ITEM_STATUSES = ("draft", "listed", "sold", "archived")
AUCTION_STATUSES = ("open", "closed", "cancelled")
AUCTION_OUTCOMES = ("sold", "reserve_not_met", "no_bids")
PUBLIC_ITEM_STATUSES = ("listed", "sold")
ANALYTICS_ACTIONS = ("view", "copy")
PUBLIC = text("status IN ('listed', 'sold')")


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        CheckConstraint(_one_of("kind", ITEM_KINDS), name="kind"),
        CheckConstraint(_one_of("status", ITEM_STATUSES), name="status"),
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("(kind = 'physical') = (inventory IS NOT NULL) AND coalesce(inventory, 0) >= 0",
                        name="inventory"),
        CheckConstraint("(token_chain_id IS NULL) = (token_contract IS NULL) "
                        "AND (token_contract IS NULL) = (token_id IS NULL)", name="token"),
        CheckConstraint("favorite_count >= 0 AND like_count >= 0", name="counts"),
        Index("ix_items_search", "search", postgresql_using="gin"),
        Index("ix_items_public_created", "created_at", "id", postgresql_where=PUBLIC),
        Index("ix_items_public_popular", "popularity", "id", postgresql_where=PUBLIC),
        Index("ix_items_public_price", "currency", "price", "id", postgresql_where=PUBLIC),
        Index("ix_items_public_category", "category", "created_at", "id", postgresql_where=PUBLIC),
        Index("ix_items_owner", "owner_id", "created_at", "id"),
        Index("ix_items_tags", "tags", postgresql_using="gin"),
        Index("ix_items_token", "token_chain_id", "token_contract", "token_id", unique=True,
              postgresql_where=text("token_id IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), nullable=False)
    title: Mapped[str] = mapped_column(String(140), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("''"))
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    price: Mapped[int] = mapped_column(Amount, nullable=False)
    currency: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default=text("'draft'"))
    inventory: Mapped[int | None] = mapped_column(Integer)
    shipping_regions: Mapped[list[str]] = mapped_column(
        ARRAY(String(8)), nullable=False, server_default=text("'{}'::varchar[]"))
    license: Mapped[str | None] = mapped_column(Text)
    # The digital item's file: a private original, delivered by short-lived signed URL.
    file_media_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("media.id", ondelete="SET NULL"))
    media_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), nullable=False, server_default=text("'{}'::uuid[]"))
    category: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("categories.slug", onupdate="CASCADE", ondelete="SET NULL"))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False, server_default=text("'{}'::varchar[]"))
    # A linked artwork token: its owner on chain (artwork_tokens) is the item's holder.
    token_chain_id: Mapped[int | None] = mapped_column(BigInteger)
    token_contract: Mapped[str | None] = mapped_column(String(42))
    token_id: Mapped[int | None] = mapped_column(Amount)
    # Off-chain holder: the artist until an auction finds a winner.
    holder_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    favorite_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    like_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    view_count: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    copy_count: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    # log2 of the time-decayed score, anchored at a fixed epoch (shared/popularity.py);
    # -Infinity: nothing yet.
    popularity: Mapped[float] = mapped_column(Float, nullable=False, server_default=text("'-Infinity'"))
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    listed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sold_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    search: Mapped[Any] = search_document("item_document(title, description, tags)")

    __mapper_args__ = {"version_id_col": version}


class _Reaction:
    """A user's mark on an item: there or not (PUT and DELETE are idempotent)."""

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = _created()


class Favorite(_Reaction, Base):
    __tablename__ = "favorites"
    __table_args__ = (Index("ix_favorites_item", "item_id"),)


class Like(_Reaction, Base):
    __tablename__ = "likes"
    __table_args__ = (Index("ix_likes_item", "item_id"),)


class AnalyticsEvent(Base):
    """One counted view or copy: a viewer counts once per item, action and window."""

    __tablename__ = "analytics_events"
    __table_args__ = (
        CheckConstraint(_one_of("action", ANALYTICS_ACTIONS), name="action"),
        Index("ix_analytics_events_created", "created_at"),
    )

    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    action: Mapped[str] = mapped_column(String(16), primary_key=True)
    viewer: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    created_at: Mapped[datetime] = _created()


class PopularityInbox(Base):
    """Weighted interactions waiting for the popularity job to fold them into scores."""

    __tablename__ = "popularity_inbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    item_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False)
    weight: Mapped[int] = mapped_column(Integer, nullable=False)
    occurred_at: Mapped[datetime] = _created()


class Auction(Base):
    __tablename__ = "auctions"
    __table_args__ = (
        CheckConstraint(_one_of("status", AUCTION_STATUSES), name="status"),
        CheckConstraint(_one_of("outcome", AUCTION_OUTCOMES), name="outcome"),
        CheckConstraint("starting_price > 0 AND min_increment > 0", name="prices_positive"),
        CheckConstraint("ends_at > starts_at AND ends_at >= scheduled_end", name="times"),
        CheckConstraint("extension_seconds BETWEEN 0 AND 3600", name="extension"),
        Index("ix_auctions_item", "item_id", unique=True, postgresql_where=text("status = 'open'")),
        Index("ix_auctions_due", "ends_at", postgresql_where=text("status = 'open'")),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    item_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("items.id"), nullable=False)
    seller_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), nullable=False)
    currency: Mapped[str] = mapped_column(String(8), nullable=False)
    starting_price: Mapped[int] = mapped_column(Amount, nullable=False)
    reserve_price: Mapped[int | None] = mapped_column(Amount)
    min_increment: Mapped[int] = mapped_column(Amount, nullable=False)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Moves later when a bid comes in the last extension_seconds (anti-sniping).
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    scheduled_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    extension_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default=text("'open'"))
    current_price: Mapped[int | None] = mapped_column(Amount)
    leader_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    bid_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    outcome: Mapped[str | None] = mapped_column(String(16))
    winner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    created_at: Mapped[datetime] = _created()


class Bid(Base):
    """The append-only bid log (a trigger refuses UPDATE and DELETE)."""

    __tablename__ = "bids"
    __table_args__ = (UniqueConstraint("auction_id", "amount"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    auction_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auctions.id"), nullable=False)
    bidder_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), nullable=False)
    amount: Mapped[int] = mapped_column(Amount, nullable=False)
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class RateLimit(Base):
    """GCRA state per key: the theoretical arrival time of the next request (shared/rate_limit.py)."""

    __tablename__ = "rate_limits"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    tat: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
