"""The marketplace's tables: items, reactions, analytics, auctions, bids, rate limits."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

import shared.payments.tables  # noqa: F401  (bids and orders name payment_holds)
from shared.tables import (
    Amount,
    created,
    heading_index,
    hidden,
    metadata,
    one_of,
    search_document,
    updated,
    uuid_pk,
)

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, FromClause

ITEM_KINDS = ("physical", "digital")
ITEM_STATUSES = ("draft", "listed", "sold", "archived")
AUCTION_STATUSES = ("open", "closed", "cancelled")
# payment_failed: the winner's authorisation could not be captured (decision 0027).
AUCTION_OUTCOMES = ("sold", "reserve_not_met", "no_bids", "payment_failed")
ORDER_STATUSES = ("pending", "paid", "shipped", "fulfilled", "refunding", "refunded", "cancelled")
PUBLIC_ITEM_STATUSES = ("listed", "sold")
ANALYTICS_ACTIONS = ("view", "copy")
# What anyone may see: listed or sold, and not hidden by moderation (decision 0031). The public
# partial indexes have this predicate; a query meant to use them repeats it: public_items in
# Core, public_item in raw SQL (tests/unit/test_visibility_rules.py holds the forms together).
PUBLIC_SQL = f"{one_of('status', PUBLIC_ITEM_STATUSES)} AND hidden IS NULL"
PUBLIC = text(PUBLIC_SQL)


def public_item(alias: str) -> str:
    """PUBLIC_SQL for the items row named ``alias`` in a query."""
    return f"{one_of(f'{alias}.status', PUBLIC_ITEM_STATUSES)} AND {alias}.hidden IS NULL"

items = Table(
    "items",
    metadata,
    uuid_pk(),
    Column("owner_id", ForeignKey("users.id"), nullable=False),
    Column("title", String(140), nullable=False),
    Column("description", Text, nullable=False, server_default=text("''")),
    Column("kind", String(16), nullable=False),
    Column("price", Amount, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'draft'")),
    Column("inventory", Integer),
    Column(
        "shipping_regions",
        ARRAY(String(8)), nullable=False, server_default=text("'{}'::varchar[]")),
    Column("license", Text),
    # The digital item's file: a private original, delivered by short-lived signed URL.
    Column("file_media_id", ForeignKey("media.id", ondelete="SET NULL")),
    Column(
        "media_ids",
        ARRAY(UUID(as_uuid=True)), nullable=False, server_default=text("'{}'::uuid[]")),
    Column(
        "category",
        String(32), ForeignKey("categories.slug", onupdate="CASCADE", ondelete="SET NULL")),
    Column("tags", ARRAY(String(32)), nullable=False, server_default=text("'{}'::varchar[]")),
    # A linked artwork token: its owner on chain (artwork_tokens) is the item's holder.
    Column("token_chain_id", BigInteger),
    Column("token_contract", String(42)),
    Column("token_id", Amount),
    # Off-chain holder: the artist until an auction finds a winner.
    Column("holder_id", ForeignKey("users.id")),
    Column("favorite_count", Integer, nullable=False, server_default=text("0")),
    Column("like_count", Integer, nullable=False, server_default=text("0")),
    Column("view_count", BigInteger, nullable=False, server_default=text("0")),
    Column("copy_count", BigInteger, nullable=False, server_default=text("0")),
    # log2 of the time-decayed score, anchored at a fixed epoch (shared/market/popularity.py);
    # -Infinity: nothing yet.
    Column("popularity", Float, nullable=False, server_default=text("'-Infinity'")),
    Column("version", Integer, nullable=False, server_default=text("1")),
    created("created_at"),
    updated("updated_at"),
    Column("listed_at", DateTime(timezone=True)),
    Column("sold_at", DateTime(timezone=True)),
    # The seller's own stock-keeping unit (CSV import matches on it) and the inventory at or
    # below which item.low_stock is emitted (shared/market/catalog.py, decision 0026).
    Column("sku", String(64)),
    Column("low_stock_threshold", Integer),
    *hidden(),
    search_document("item_document(title, description, tags)"),
    CheckConstraint(one_of("kind", ITEM_KINDS), name="kind"),
    CheckConstraint(one_of("status", ITEM_STATUSES), name="status"),
    CheckConstraint("price > 0", name="price_positive"),
    CheckConstraint("(kind = 'physical') = (inventory IS NOT NULL) AND coalesce(inventory, 0) >= 0",
                    name="inventory"),
    CheckConstraint("(token_chain_id IS NULL) = (token_contract IS NULL) "
                    "AND (token_contract IS NULL) = (token_id IS NULL)", name="token"),
    CheckConstraint("favorite_count >= 0 AND like_count >= 0", name="counts"),
    CheckConstraint("low_stock_threshold IS NULL OR (kind = 'physical' AND low_stock_threshold >= 0)",
                    name="low_stock_threshold"),
    Index("ix_items_search", "search", postgresql_using="gin"),
    heading_index("items", PUBLIC_SQL),
    Index("ix_items_public_created", "created_at", "id", postgresql_where=PUBLIC),
    Index("ix_items_public_popular", "popularity", "id", postgresql_where=PUBLIC),
    Index("ix_items_public_price", "currency", "price", "id", postgresql_where=PUBLIC),
    Index("ix_items_public_category", "category", "created_at", "id", postgresql_where=PUBLIC),
    Index("ix_items_owner", "owner_id", "created_at", "id"),
    # A person's collection (shared/market/personal.py).
    Index("ix_items_holder", "holder_id", postgresql_where=text("holder_id IS NOT NULL")),
    Index("ix_items_tags", "tags", postgresql_using="gin"),
    Index("ix_items_token", "token_chain_id", "token_contract", "token_id", unique=True,
          postgresql_where=text("token_id IS NOT NULL")),
    Index("ix_items_owner_sku", "owner_id", "sku", unique=True, postgresql_where=text("sku IS NOT NULL")),
)


def public_items(table: FromClause = items) -> ColumnElement[bool]:
    """PUBLIC_SQL in Core, for ``items`` or an alias of it."""
    return and_(table.c.status.in_(PUBLIC_ITEM_STATUSES), table.c.hidden.is_(None))


def _reaction(name: str) -> Table:
    """A user's mark on an item: there or not (PUT and DELETE are idempotent)."""
    return Table(
        name,
        metadata,
        Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
        Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
        created("created_at"),
        Index(f"ix_{name}_item", "item_id"),
    )


favorites = _reaction("favorites")
likes = _reaction("likes")

# One counted view or copy: a viewer counts once per item, action and window.
analytics_events = Table(
    "analytics_events",
    metadata,
    Column("item_id", ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("action", String(16), primary_key=True),
    Column("viewer", String(64), primary_key=True),
    Column("window_start", DateTime(timezone=True), primary_key=True),
    created("created_at"),
    CheckConstraint(one_of("action", ANALYTICS_ACTIONS), name="action"),
    Index("ix_analytics_events_created", "created_at"),
)

# Weighted interactions waiting for the popularity job to fold them into scores.
popularity_inbox = Table(
    "popularity_inbox",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("item_id", UUID(as_uuid=True), nullable=False),
    Column("weight", Integer, nullable=False),
    created("occurred_at"),
)

auctions = Table(
    "auctions",
    metadata,
    uuid_pk(),
    Column("item_id", ForeignKey("items.id"), nullable=False),
    Column("seller_id", ForeignKey("users.id"), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("starting_price", Amount, nullable=False),
    Column("reserve_price", Amount),
    Column("min_increment", Amount, nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    # Moves later when a bid comes in the last extension_seconds (anti-sniping).
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("scheduled_end", DateTime(timezone=True), nullable=False),
    Column("extension_seconds", Integer, nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'open'")),
    Column("current_price", Amount),
    Column("leader_id", ForeignKey("users.id")),
    Column("bid_count", Integer, nullable=False, server_default=text("0")),
    Column("outcome", String(16)),
    Column("winner_id", ForeignKey("users.id")),
    Column("closed_at", DateTime(timezone=True)),
    # When its bidders and watchers were told it ends soon (once: shared/market/auction_close.py).
    Column("ending_soon_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False, server_default=text("1")),
    created("created_at"),
    CheckConstraint(one_of("status", AUCTION_STATUSES), name="status"),
    CheckConstraint(one_of("outcome", AUCTION_OUTCOMES), name="outcome"),
    CheckConstraint("starting_price > 0 AND min_increment > 0", name="prices_positive"),
    CheckConstraint("ends_at > starts_at AND ends_at >= scheduled_end", name="times"),
    CheckConstraint("extension_seconds BETWEEN 0 AND 3600", name="extension"),
    Index("ix_auctions_item", "item_id", unique=True, postgresql_where=text("status = 'open'")),
    Index("ix_auctions_due", "ends_at", postgresql_where=text("status = 'open'")),
)

# The append-only bid log (a trigger refuses UPDATE and DELETE).
bids = Table(
    "bids",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("auction_id", ForeignKey("auctions.id"), nullable=False),
    Column("bidder_id", ForeignKey("users.id"), nullable=False),
    Column("amount", Amount, nullable=False),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    # The authorisation that backs the bid (decision 0027); none on bids from before it.
    Column("hold_id", ForeignKey("payment_holds.id"), unique=True),
    UniqueConstraint("auction_id", "amount"),
)

# Purchases and won auctions: what was bought, from whom, for how much, and how far along.
orders = Table(
    "orders",
    metadata,
    uuid_pk(),
    Column("buyer_id", ForeignKey("users.id"), nullable=False),
    Column("seller_id", ForeignKey("users.id"), nullable=False),
    Column("item_id", ForeignKey("items.id"), nullable=False),
    Column("auction_id", ForeignKey("auctions.id"), unique=True),
    Column("quantity", Integer, nullable=False, server_default=text("1")),
    Column("amount", Amount, nullable=False),
    Column("fee", Amount, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    # Paid by card (an authorisation held with the provider) or on chain (a sale of the market
    # contract, decision 0028), never both.
    Column("hold_id", ForeignKey("payment_holds.id"), unique=True),
    Column("chain_id", BigInteger),
    Column("sale_contract", String(42)),
    Column("sale_id", Amount),
    # The sale's buyer on chain, as the order was made for them (shared/market/chain_sales.py).
    Column("buyer_wallet", String(42)),
    # Where a physical item goes (the buyer's and seller's to see only), and how it went.
    Column("shipping", JSONB),
    Column("carrier", String(64)),
    Column("tracking", String(128)),
    # A digital item's downloads through this order, capped (shared/market/orders.py).
    Column("downloads", Integer, nullable=False, server_default=text("0")),
    Column("paid_at", DateTime(timezone=True)),
    Column("shipped_at", DateTime(timezone=True)),
    Column("fulfilled_at", DateTime(timezone=True)),
    Column("refunded_at", DateTime(timezone=True)),
    created("created_at"),
    updated("updated_at"),
    CheckConstraint(one_of("status", ORDER_STATUSES), name="status"),
    CheckConstraint("quantity > 0 AND amount > 0 AND fee >= 0 AND fee <= amount", name="amounts"),
    CheckConstraint("downloads >= 0", name="downloads"),
    CheckConstraint("(hold_id IS NULL) <> (sale_id IS NULL) AND (sale_id IS NULL) = (chain_id IS NULL) "
                    "AND (sale_id IS NULL) = (sale_contract IS NULL) AND (sale_id IS NULL) = (buyer_wallet IS NULL)",
                    name="paid_one_way"),
    UniqueConstraint("chain_id", "sale_contract", "sale_id"),
    Index("ix_orders_buyer", "buyer_id", "created_at", "id"),
    Index("ix_orders_seller", "seller_id", "created_at", "id"),
    # The auction-close job asks each minute whether money is pending.
    Index("ix_orders_pending", "created_at", postgresql_where=text("status = 'pending'")),
)

SALE_KINDS = ("fixed", "auction")
SALE_STATUSES = ("open", "sold", "unsold", "cancelled")

# Artwork tokens on sale for ETH through the market contract (contracts/ArtworkMarket.sol), as
# its indexed events say: a function of web3_transactions, derived again for every sale a
# stored or rolled-back block touches (shared/market/chain_sales.py). Addresses, not users:
# whose wallet an address is can change; readers join users.wallet_address.
chain_sales = Table(
    "chain_sales",
    metadata,
    Column("chain_id", BigInteger, primary_key=True),
    Column("contract", String(42), primary_key=True),
    Column("sale_id", Amount, primary_key=True),
    Column("seller", String(42), nullable=False),
    Column("token_contract", String(42), nullable=False),
    Column("token_id", Amount, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("price", Amount, nullable=False),  # the price, or an auction's lowest first bid
    Column("ends_at", DateTime(timezone=True)),  # an auction's end, later after late bids
    Column("status", String(16), nullable=False),
    Column("bidder", String(42)),
    Column("bid", Amount),
    Column("bids", Integer, nullable=False),
    Column("buyer", String(42)),
    Column("amount", Amount),
    Column("fee", Amount),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    # The block of its latest event: a rollback to before it derives the sale again.
    Column("last_block", BigInteger, nullable=False),
    CheckConstraint(one_of("kind", SALE_KINDS), name="kind"),
    CheckConstraint(one_of("status", SALE_STATUSES), name="status"),
    Index("ix_chain_sales_token", "chain_id", "token_contract", "token_id", "opened_at"),
    Index("ix_chain_sales_last_block", "chain_id", "last_block"),
)

# GCRA state per key: the theoretical arrival time of the next request (shared/http/rate_limit.py).
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("tat", DateTime(timezone=True), nullable=False),
    prefixes=["UNLOGGED"],
)
