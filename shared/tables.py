"""The relational schema as SQLAlchemy Core tables.

Alembic migrations in migrations/ are the only way the schema changes; a test
proves these tables and the migrated database agree. Reads build their queries on
these tables alone; the ORM classes in shared/models.py map onto them for the writes
that need a unit of work, so a cold start that only reads never imports the ORM.
"""
from __future__ import annotations

import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    and_,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSON, JSONB, TSVECTOR, UUID
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, FromClause

USER_ROLES = ("artist", "investor", "collector")
WALLET_CHAINS = ("ethereum", "solana")
SOLANA_ADDRESS = "solana_address ~ '^[1-9A-HJ-NP-Za-km-z]{32,44}$'"
PROPOSAL_STATUSES = ("draft", "open", "funded", "failed", "withdrawn", "closed", "cancelled")
# Why content is out of public sight (shared/moderation, decision 0031): an administrator hid
# it, or its author is suspended. NULL: visible.
HIDDEN_BY = ("moderation", "suspension")
# A proposal anyone may find: published, not hidden.
PUBLIC_PROPOSAL = "status <> 'draft' AND hidden IS NULL"
# A person others may see and meet: neither erased nor suspended. Text for raw SQL (search, the
# graph); Core queries use active_user, the same rule.
ACTIVE_USER = "deleted_at IS NULL AND suspended_at IS NULL"


def active_user_row(alias: str) -> str:
    """ACTIVE_USER for the users row named ``alias`` in a query."""
    return f"{alias}.deleted_at IS NULL AND {alias}.suspended_at IS NULL"

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


class Amount(TypeDecorator[int]):
    """An integer amount in minor units or wei: NUMERIC(78,0) holds any uint256."""

    impl = Numeric(78, 0)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(int(value))

    def process_result_value(self, value: Decimal | None, dialect: Any) -> int | None:
        return None if value is None else int(value)


def uuid_pk() -> Column[uuid.UUID]:
    return Column("id", UUID(as_uuid=True), primary_key=True, default=uuid.uuid4,
                  server_default=func.gen_random_uuid())


def created(name: str) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=False, server_default=func.now())


def updated(name: str) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now())


def hidden() -> list[Any]:
    """The moderation columns of a table of public content: why it is hidden, and since when."""
    return [Column("hidden", String(16)), Column("hidden_at", DateTime(timezone=True)),
            CheckConstraint(one_of("hidden", HIDDEN_BY), name="hidden")]


# The heading of a search document: its title and tags (weights A and B; an artist's name). Search
# ranks a match there above any match in the body alone, and finds it by its own GIN index
# (shared/market/search.py, decision 0033).
HEADING = "ts_filter(search, '{a,b}')"


def heading_index(table: str, where: str | None = None) -> Index:
    return Index(f"ix_{table}_heading", text(HEADING), postgresql_using="gin",
                 postgresql_where=text(where) if where else None)


def search_document(expression: str) -> Column[Any]:
    """The full-text search vector PostgreSQL computes from the row (reads never select it)."""
    return Column("search", TSVECTOR, Computed(expression, persisted=True), nullable=False)


def readable_columns(table: Table) -> list[Column[Any]]:
    """A table's columns as reads select them: all but the search vector."""
    return [column for column in table.c if column.key != "search"]


def one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


users = Table(
    "users",
    metadata,
    uuid_pk(),
    # NULL once the account is erased: the row stays for financial history.
    Column("firebase_uid", String(128), unique=True),
    Column("email", String(320)),
    Column("display_name", String(80)),
    Column("role", String(16), nullable=False),
    Column("is_admin", Boolean, nullable=False, server_default=text("false")),
    # Whether others may see whom this person follows (shared/people/follows.py, decision 0030).
    Column("follows_public", Boolean, nullable=False, server_default=text("false")),
    Column("bio", Text),
    Column("links", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("avatar_url", Text),
    Column(
        "avatar_media_id",
        ForeignKey("media.id", ondelete="SET NULL", use_alter=True)
    ),
    Column("wallet_address", String(42), unique=True),
    # A Solana wallet (base58 of 32 bytes), beside the Ethereum one (shared/people/wallets.py).
    Column("solana_address", String(44), unique=True),
    created("created_at"),
    updated("updated_at"),
    Column("deleted_at", DateTime(timezone=True)),
    # Set while an administrator has suspended the account: its tokens are refused, its content hidden.
    Column("suspended_at", DateTime(timezone=True)),
    search_document("user_document(display_name, bio)"),
    CheckConstraint(one_of("role", USER_ROLES), name="role"),
    CheckConstraint(SOLANA_ADDRESS, name="solana_address"),
    Index("ix_users_search", "search", postgresql_using="gin"),
    heading_index("users", "role = 'artist'"),
)


def active_user(table: FromClause = users) -> ColumnElement[bool]:
    """ACTIVE_USER in Core, for ``users`` or an alias of it."""
    return and_(table.c.deleted_at.is_(None), table.c.suspended_at.is_(None))


follows = Table(
    "follows",
    metadata,
    Column(
        "follower_id",
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    Column(
        "followee_id",
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    created("created_at"),
    CheckConstraint("follower_id <> followee_id", name="not_self"),
    Index("ix_follows_followee_id", "followee_id"),
)

proposals = Table(
    "proposals",
    metadata,
    uuid_pk(),
    Column("owner_id", ForeignKey("users.id"), nullable=False),
    Column("title", String(140), nullable=False),
    Column("description", Text, nullable=False, server_default=text("''")),
    Column(
        "category",
        String(64), ForeignKey("categories.slug", onupdate="CASCADE", ondelete="SET NULL")),
    Column(
        "tags",
        ARRAY(String(32)), nullable=False, server_default=text("'{}'::varchar[]")
    ),
    Column("goal", Amount, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'draft'")),
    # Derived from chain events by the indexer; read-only for the API.
    Column("raised_total", Amount, nullable=False, server_default=text("0")),
    Column("version", Integer, nullable=False, server_default=text("1")),
    created("created_at"),
    updated("updated_at"),
    Column("published_at", DateTime(timezone=True)),
    Column("cover_media_id", ForeignKey("media.id", ondelete="SET NULL")),
    *hidden(),
    search_document("proposal_document(title, description, tags)"),
    CheckConstraint(one_of("status", PROPOSAL_STATUSES), name="status"),
    CheckConstraint("goal > 0", name="goal_positive"),
    CheckConstraint("raised_total >= 0", name="raised_not_negative"),
    Index("ix_proposals_created", "created_at", "id"),
    Index("ix_proposals_deadline", "deadline", "id"),
    Index("ix_proposals_raised", "raised_total", "id"),
    Index("ix_proposals_owner", "owner_id", "created_at"),
    # What the chain's clock may move: open past the deadline, failed before it after a reorg.
    Index("ix_proposals_chain_clock", "deadline", postgresql_where=text("status IN ('open', 'failed')")),
    Index("ix_proposals_category", "category"),
    Index("ix_proposals_tags", "tags", postgresql_using="gin"),
    Index("ix_proposals_search", "search", postgresql_using="gin"),
    heading_index("proposals", PUBLIC_PROPOSAL),
)

# The platform's switches, one row. Maintenance: while maintenance_until is ahead, the API
# refuses writes (shared/maintenance.py, set by infra.datamove).
platform_state = Table(
    "platform_state",
    metadata,
    Column("id", Boolean, primary_key=True, server_default=text("true")),
    Column("maintenance_until", DateTime(timezone=True)),
    Column("maintenance_reason", Text),
    CheckConstraint("id", name="one_row"),
)

# The typo dictionary: words of titles, tags and names (triggers keep it, migration 0008).
search_words = Table(
    "search_words",
    metadata,
    Column("word", String(64), primary_key=True),
    Index("ix_search_words_trgm", "word", postgresql_using="gin", postgresql_ops={"word": "gin_trgm_ops"}),
)

# Admin-managed; items and proposals name one by its slug.
categories = Table(
    "categories",
    metadata,
    Column("slug", String(32), primary_key=True),
    Column("name", String(80), nullable=False),
    Column("sort_order", Integer, nullable=False, server_default=text("0")),
    created("created_at"),
    updated("updated_at"),
)

# Every tag in use, with how many items and proposals carry it.
tags = Table(
    "tags",
    metadata,
    Column("slug", String(32), primary_key=True),
    Column("usage_count", Integer, nullable=False, server_default=text("0")),
    created("created_at"),
    CheckConstraint("usage_count >= 0", name="usage_not_negative"),
    Index("ix_tags_usage", "usage_count"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    created("occurred_at"),
    Column("actor_id", UUID(as_uuid=True)),
    Column("action", String(64), nullable=False),
    Column("entity_type", String(32), nullable=False),
    Column("entity_id", String(64), nullable=False),
    Column(
        "details",
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    ),
    Index("ix_audit_log_entity", "entity_type", "entity_id", "occurred_at"),
)

# An event written in the same transaction as the change it describes.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("topic", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    # json, not jsonb: kept as the producer wrote it, never queried inside (migration 0006).
    Column("envelope", JSON, nullable=False),
    Column("published_at", DateTime(timezone=True)),
    Column("publish_attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
)

# What each consumer has applied, recorded in the same transaction as the effect.
processed_events = Table(
    "processed_events",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    created("processed_at"),
)

MEDIA_STATUSES = ("pending", "ready", "rejected")
MEDIA_PURPOSES = ("avatar", "cover", "item", "artwork")


# An uploaded image: the private original and, once processed, its public variants.
media = Table(
    "media",
    metadata,
    uuid_pk(),
    Column("owner_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("object_name", String(256), nullable=False, unique=True),
    Column("declared_type", String(64), nullable=False),
    Column("max_bytes", BigInteger, nullable=False),
    Column("status", String(16), nullable=False, server_default=text("'pending'")),
    Column("reject_reason", Text),
    Column("generation", BigInteger),
    Column("format", String(16)),
    Column("width", Integer),
    Column("height", Integer),
    Column("bytes", BigInteger),
    Column("dominant_color", String(7)),
    Column("placeholder", Text),
    Column("variants", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    # An artwork's original as buyers receive it (metadata removed), in the private uploads
    # bucket at a pinned generation (media/processing.py, market/delivery.py).
    Column("original_object", String(256)),
    Column("original_generation", BigInteger),
    created("created_at"),
    updated("updated_at"),
    *hidden(),
    CheckConstraint(one_of("status", MEDIA_STATUSES), name="status"),
    CheckConstraint(one_of("purpose", MEDIA_PURPOSES), name="purpose"),
    Index("ix_media_owner", "owner_id", "created_at"),
)

# A single-use Sign-In with Ethereum nonce issued to one user for one address.
# Erased profiles whose sign-in account Firebase has yet to delete: the uid waits here, and
# only here, until it has (people/users.py, finish_account_deletion).
account_deletions = Table(
    "account_deletions",
    metadata,
    Column("firebase_uid", String(128), primary_key=True),
    created("requested_at"),
)

wallet_challenges = Table(
    "wallet_challenges",
    metadata,
    Column("nonce", String(32), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("chain", String(8), nullable=False, server_default=text("'ethereum'")),
    Column("address", String(44), nullable=False),
    Column("message", Text, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Index("ix_wallet_challenges_user", "user_id", "issued_at"),
    CheckConstraint(one_of("chain", WALLET_CHAINS), name="chain"),
)
