"""The notifications tables: each person's inbox, and what they chose to hear of."""
from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Column, DateTime, ForeignKey, Index, String, Table, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.notifications.kinds import KINDS
from shared.tables import created, metadata, one_of, uuid_pk

# skipped: no verified address, or the mail server refused it for good (email_error says which).
EMAIL_STATUSES = ("pending", "sent", "skipped")

# One row per (event, recipient, kind): the id is derived from the three, so a redelivered or
# replayed event can never notify twice (shared/notifications/notices.py).
notifications = Table(
    "notifications",
    metadata,
    uuid_pk(),
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    # What it is about, for the web app's link: auction, item, proposal, order or user, and its id.
    Column("subject_type", String(16), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("title", String(200), nullable=False),
    # Small, the recipient's own to see: amounts as decimal strings, a status, a counterpart's public name.
    Column("data", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    created("created_at"),
    Column("read_at", DateTime(timezone=True)),
    # NULL: no email (the kind's email is off); pending until the mail server took it (shared/notifications/mail.py).
    Column("email_status", String(8)),
    Column("email_error", Text),
    CheckConstraint(one_of("kind", tuple(KINDS)), name="kind"),
    CheckConstraint(one_of("email_status", EMAIL_STATUSES), name="email_status"),
    # The inbox, newest first, and its unread count.
    Index("ix_notifications_inbox", "user_id", text("created_at DESC"), text("id DESC")),
    Index("ix_notifications_unread", "user_id", postgresql_where=text("read_at IS NULL")),
    # An event's notices: their pending mail, their recipients' live counts (shared/live).
    Index("ix_notifications_event", "event_id"),
)

# Only the choices that differ from a kind's default (shared/notifications/kinds.py).
notification_preferences = Table(
    "notification_preferences",
    metadata,
    Column("user_id", UUID(as_uuid=True), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(32), primary_key=True),
    # False: nothing at all of this kind (no inbox entry, no email).
    Column("enabled", Boolean, nullable=False),
    Column("email", Boolean, nullable=False),
    CheckConstraint(one_of("kind", tuple(KINDS)), name="kind"),
)
