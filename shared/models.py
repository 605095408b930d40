"""The relational schema as SQLAlchemy models.

Alembic migrations in migrations/ are the only way the schema changes; a test
proves these models and the migrated database agree.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSON, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

USER_ROLES = ("artist", "investor", "collector")
PROPOSAL_STATUSES = ("draft", "open", "funded", "closed", "cancelled")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Amount(TypeDecorator[int]):
    """An integer amount in minor units or wei: NUMERIC(78,0) holds any uint256."""

    impl = Numeric(78, 0)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(int(value))

    def process_result_value(self, value: Decimal | None, dialect: Any) -> int | None:
        return None if value is None else int(value)


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), primary_key=True, default=uuid.uuid4, server_default=func.gen_random_uuid()
    )


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


def _updated() -> Mapped[datetime]:
    return mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )


def search_document(expression: str) -> Mapped[Any]:
    """The full-text search vector PostgreSQL computes from the row (never loaded by the ORM)."""
    return mapped_column(TSVECTOR, Computed(expression, persisted=True), nullable=False, deferred=True)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_one_of("role", USER_ROLES), name="role"),
        Index("ix_users_search", "search", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    # NULL once the account is erased: the row stays for financial history.
    firebase_uid: Mapped[str | None] = mapped_column(String(128), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str | None] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    bio: Mapped[str | None] = mapped_column(Text)
    links: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    avatar_url: Mapped[str | None] = mapped_column(Text)
    avatar_media_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("media.id", ondelete="SET NULL", use_alter=True)
    )
    wallet_address: Mapped[str | None] = mapped_column(String(42), unique=True)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    search: Mapped[Any] = search_document("user_document(display_name, bio)")


class Follow(Base):
    __tablename__ = "follows"
    __table_args__ = (
        CheckConstraint("follower_id <> followee_id", name="not_self"),
        Index("ix_follows_followee_id", "followee_id"),
    )

    follower_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    followee_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = _created()


class Proposal(Base):
    __tablename__ = "proposals"
    __table_args__ = (
        CheckConstraint(_one_of("status", PROPOSAL_STATUSES), name="status"),
        CheckConstraint("goal > 0", name="goal_positive"),
        CheckConstraint("raised_total >= 0", name="raised_not_negative"),
        Index("ix_proposals_created", "created_at", "id"),
        Index("ix_proposals_deadline", "deadline", "id"),
        Index("ix_proposals_raised", "raised_total", "id"),
        Index("ix_proposals_owner", "owner_id", "created_at"),
        Index("ix_proposals_category", "category"),
        Index("ix_proposals_tags", "tags", postgresql_using="gin"),
        Index("ix_proposals_search", "search", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), nullable=False)
    title: Mapped[str] = mapped_column(String(140), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("''"))
    category: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("categories.slug", onupdate="CASCADE", ondelete="SET NULL"))
    tags: Mapped[list[str]] = mapped_column(
        ARRAY(String(32)), nullable=False, server_default=text("'{}'::varchar[]")
    )
    goal: Mapped[int] = mapped_column(Amount, nullable=False)
    currency: Mapped[str] = mapped_column(String(8), nullable=False)
    deadline: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default=text("'draft'"))
    # Derived from chain events by the indexer; read-only for the API.
    raised_total: Mapped[int] = mapped_column(Amount, nullable=False, server_default=text("0"))
    version: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("1"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cover_media_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("media.id", ondelete="SET NULL"))
    search: Mapped[Any] = search_document("proposal_document(title, description, tags)")

    __mapper_args__ = {"version_id_col": version}


class SearchWord(Base):
    """The typo dictionary: words of titles, tags and names (triggers keep it, migration 0008)."""

    __tablename__ = "search_words"
    __table_args__ = (
        Index("ix_search_words_trgm", "word", postgresql_using="gin", postgresql_ops={"word": "gin_trgm_ops"}),
    )

    word: Mapped[str] = mapped_column(String(64), primary_key=True)


class Category(Base):
    """Admin-managed; items and proposals name one by its slug."""

    __tablename__ = "categories"

    slug: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    sort_order: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Tag(Base):
    """Every tag in use, with how many items and proposals carry it."""

    __tablename__ = "tags"
    __table_args__ = (
        CheckConstraint("usage_count >= 0", name="usage_not_negative"),
        Index("ix_tags_usage", "usage_count"),
    )

    slug: Mapped[str] = mapped_column(String(32), primary_key=True)
    usage_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    created_at: Mapped[datetime] = _created()


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    occurred_at: Mapped[datetime] = _created()
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    entity_type: Mapped[str] = mapped_column(String(32), nullable=False)
    entity_id: Mapped[str] = mapped_column(String(64), nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=text("'{}'::jsonb")
    )


class OutboxEntry(Base):
    """An event written in the same transaction as the change it describes."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), nullable=False, unique=True)
    topic: Mapped[str] = mapped_column(String(64), nullable=False)
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # json, not jsonb: kept as the producer wrote it, never queried inside (migration 0006).
    envelope: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    publish_attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)


class ProcessedEvent(Base):
    """What each consumer has applied, recorded in the same transaction as the effect."""

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    processed_at: Mapped[datetime] = _created()


MEDIA_STATUSES = ("pending", "ready", "rejected")
MEDIA_PURPOSES = ("avatar", "cover", "item", "artwork")


class Media(Base):
    """An uploaded image: the private original and, once processed, its public variants."""

    __tablename__ = "media"
    __table_args__ = (
        CheckConstraint(_one_of("status", MEDIA_STATUSES), name="status"),
        CheckConstraint(_one_of("purpose", MEDIA_PURPOSES), name="purpose"),
        Index("ix_media_owner", "owner_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    object_name: Mapped[str] = mapped_column(String(256), nullable=False, unique=True)
    declared_type: Mapped[str] = mapped_column(String(64), nullable=False)
    max_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, server_default=text("'pending'"))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    generation: Mapped[int | None] = mapped_column(BigInteger)
    format: Mapped[str | None] = mapped_column(String(16))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    dominant_color: Mapped[str | None] = mapped_column(String(7))
    placeholder: Mapped[str | None] = mapped_column(Text)
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class WalletChallenge(Base):
    """A single-use Sign-In with Ethereum nonce issued to one user for one address."""

    __tablename__ = "wallet_challenges"
    __table_args__ = (Index("ix_wallet_challenges_user", "user_id", "issued_at"),)

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    address: Mapped[str] = mapped_column(String(42), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
